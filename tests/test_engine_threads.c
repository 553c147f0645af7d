/* test_engine_threads.c - an engine's thread count is its own: two engines of different sizes
 * in one process run their passes on their own numbers of threads, in turn and from threads of
 * their own, leave the caller's OpenMP setting as it was, and give the same maps as alone. */
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include "test_support.h"
#include "xai_engine.h"
#include "xai_status.h"

/* A saliency rule that also records how many threads a parallel region gets inside the engine. */
static _Thread_local int seen_threads;

static void probing_backward(const float *restrict y, const float *restrict g, float *restrict dx, size_t n, float lo,
                             float hi)
{
    int team = 0;
#pragma omp parallel
    {
#pragma omp master
        team = omp_get_num_threads();
    }
    seen_threads = team;
    xai_rule_saliency.activation_backward(y, g, dx, n, lo, hi);
}

static const xai_rule probing = {"probing", "saliency, counting threads", probing_backward, NULL};

enum { BATCH = 2 };

typedef struct {
    xai_engine *e;
    const float *input;
    float *map;
    int threads_seen, status;
} pass;

/* A forward and a probing backward; what the rule saw. */
static void *run_pass(void *arg)
{
    pass *p = arg;
    float logits[BATCH * 10];
    int targets[BATCH] = {1, 7};
    seen_threads = 0;
    p->status = xai_engine_forward(p->e, p->input, logits) || xai_engine_backward(p->e, &probing, targets, p->map);
    p->threads_seen = seen_threads;
    return NULL;
}

Test(engine_threads, two_engines_keep_their_own_thread_counts, .timeout = 120)
{
    xai_graph *g = test_model("resnet-tiny", 11, 0, 0);
    const xai_value *in = &g->values[g->input];
    size_t image = (size_t)in->c * in->h * in->w;
    float *input = malloc(BATCH * image * sizeof(float));
    test_normal_floats(input, BATCH * image, 3);
    float *alone[2], *mixed[2];
    omp_set_num_threads(3); /* the caller's own setting */
    xai_engine *engines[2];
    const int threads[2] = {1, 2};
    for (int k = 0; k < 2; k++) {
        alone[k] = malloc(BATCH * image * sizeof(float));
        mixed[k] = malloc(BATCH * image * sizeof(float));
        cr_assert_eq(xai_engine_create(&engines[k], g, BATCH, threads[k]), XAI_OK, "%s", xai_last_error());
        cr_expect_eq(omp_get_max_threads(), 3, "creating an engine of %d threads changed the caller's", threads[k]);
    }
    /* In turn: each pass runs on its engine's threads, whatever ran before it. */
    for (int round = 0; round < 2; round++)
        for (int k = 0; k < 2; k++) {
            pass p = {engines[k], input, round ? mixed[k] : alone[k], 0, 0};
            run_pass(&p);
            cr_assert_eq(p.status, XAI_OK, "%s", xai_last_error());
            cr_expect_eq(p.threads_seen, threads[k], "an engine of %d threads ran its rule on %d", threads[k],
                         p.threads_seen);
            cr_expect_eq(omp_get_max_threads(), 3, "a pass changed the caller's thread count");
        }
    for (int k = 0; k < 2; k++)
        cr_expect_eq(memcmp(alone[k], mixed[k], BATCH * image * sizeof(float)), 0, "engine %d's map moved", k);
    /* At once, from two threads of the process. */
    pass passes[2];
    pthread_t workers[2];
    for (int k = 0; k < 2; k++) {
        passes[k] = (pass){engines[k], input, mixed[k], 0, 0};
        cr_assert_eq(pthread_create(&workers[k], NULL, run_pass, &passes[k]), 0);
    }
    for (int k = 0; k < 2; k++) {
        pthread_join(workers[k], NULL);
        cr_expect_eq(passes[k].status, XAI_OK);
        cr_expect_eq(passes[k].threads_seen, threads[k], "from a thread: %d threads, not %d", passes[k].threads_seen,
                     threads[k]);
        cr_expect_eq(memcmp(alone[k], mixed[k], BATCH * image * sizeof(float)), 0, "engine %d's map moved", k);
    }
    for (int k = 0; k < 2; k++) xai_engine_destroy(engines[k]), free(alone[k]), free(mixed[k]);
    free(input);
    xai_graph_free(g);
}
