/* test_engine_vs_reference.c - the oneDNN engine against the double-precision reference engine
 * on ResNet18 at 224x224 and on resnet-tiny: logits to 1e-4 relative and, for each method,
 * max |difference| <= 1e-4 x max |map|, at batch 1 and batch 3. Also: the maps of one shared
 * forward equal those of a fresh forward per method, bit for bit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "test_support.h"
#include "xai_engine.h"
#include "xai_reference.h"
#include "xai_status.h"

#define N_METHODS 3

static const xai_method *const methods[N_METHODS] = {&xai_method_saliency, &xai_method_deconvnet,
                                                     &xai_method_guided_backprop};

/* Reference results for `batch` images: logits and one map per method. */
typedef struct {
    double *logits, *maps[N_METHODS];
    int *targets;
} reference_result;

/* Reference forward and the three maps; targets: the top class, or the second one for odd
 * images (so that maps for other classes than the top one are checked too); NULL targets are
 * chosen that way and stored, given ones are used as they are. */
static void reference_run(const xai_graph *g, const double *in, int batch, reference_result *r,
                          const int *targets)
{
    size_t image = xai_value_size(&g->values[g->input]);
    int classes = g->values[g->output].c;
    r->logits = malloc((size_t)batch * classes * sizeof(double));
    r->targets = malloc((size_t)batch * sizeof(int));
    xai_reference *ref;
    cr_assert_eq(xai_reference_create(&ref, g, batch), XAI_OK, "%s", xai_last_error());
    cr_assert_eq(xai_reference_forward(ref, in, r->logits), XAI_OK, "%s", xai_last_error());
    for (int n = 0; n < batch; n++) {
        const double *row = r->logits + (size_t)n * classes;
        int best = 0, second = 1;
        for (int k = 0; k < classes; k++)
            if (row[k] > row[best]) best = k;
        if (second == best) second = 0;
        for (int k = 0; k < classes; k++)
            if (k != best && row[k] > row[second]) second = k;
        r->targets[n] = targets ? targets[n] : n % 2 ? second : best;
    }
    for (int m = 0; m < N_METHODS; m++) {
        r->maps[m] = malloc((size_t)batch * image * sizeof(double));
        cr_assert_eq(xai_reference_backward(ref, methods[m], r->targets, r->maps[m]), XAI_OK);
    }
    xai_reference_destroy(ref);
}

static void reference_free(reference_result *r)
{
    free(r->logits);
    free(r->targets);
    for (int m = 0; m < N_METHODS; m++) free(r->maps[m]);
}

/* A float engine and the double reference take the same ReLU and max-pool decisions except
 * where a pre-activation (or two pooled values) lie within float rounding of each other; there
 * the two functions legitimately differ. An input is well conditioned when the reference's
 * own maps move by less than 1e-5 x max |map| under a relative input perturbation of 1e-6
 * (the size of float rounding): on such inputs the engine must agree to 1e-4 x max |map|. */
static int well_conditioned(const reference_result *r, const reference_result *perturbed,
                            int n, size_t image)
{
    for (int m = 0; m < N_METHODS; m++) {
        double diff = 0.0, top = 0.0;
        for (size_t k = n * image; k < (n + 1) * image; k++) {
            diff = fmax(diff, fabs(r->maps[m][k] - perturbed->maps[m][k]));
            top = fmax(top, fabs(r->maps[m][k]));
        }
        if (diff > 1e-5 * top) return 0;
    }
    return 1;
}

/* Run the fast engine on the first `batch` images and compare with the reference. */
static void compare(const xai_graph *g, const float *input, int batch, const reference_result *r)
{
    size_t image = xai_value_size(&g->values[g->input]);
    int classes = g->values[g->output].c;
    xai_engine *e;
    cr_assert_eq(xai_engine_create(&e, g, batch, 0), XAI_OK, "%s", xai_last_error());
    cr_assert_null(strstr(xai_engine_kernels(e), " ref:"), "slow reference kernels chosen:\n%s",
                   xai_engine_kernels(e));
    float *logits = malloc((size_t)batch * classes * sizeof(float));
    float *maps[N_METHODS];
    int chosen[8];
    for (int m = 0; m < N_METHODS; m++) maps[m] = malloc((size_t)batch * image * sizeof(float));
    xai_explain_request rq = {input, N_METHODS, methods, r->targets, chosen, logits, maps, NULL, NULL};
    cr_assert_eq(xai_engine_explain(e, &rq), XAI_OK, "%s", xai_last_error());

    double top = 0.0;
    for (size_t k = 0; k < (size_t)batch * classes; k++) top = fmax(top, fabs(r->logits[k]));
    double logit_diff = test_max_abs_diff_fd(logits, r->logits, (size_t)batch * classes, NULL);
    cr_expect_leq(logit_diff, 1e-4 * top, "batch %d: logits differ by %g (max |logit| %g)", batch,
                  logit_diff, top);
    for (int m = 0; m < N_METHODS; m++)
        for (int n = 0; n < batch; n++) {
            double max_map;
            double diff = test_max_abs_diff_fd(maps[m] + n * image, r->maps[m] + n * image, image, &max_map);
            cr_expect_gt(max_map, 0.0, "%s: image %d: the reference map is all zero", methods[m]->name, n);
            cr_expect_leq(diff, 1e-4 * max_map, "%s, batch %d, image %d: max |diff| %g > 1e-4 x %g",
                          methods[m]->name, batch, n, diff, max_map);
        }
    for (int m = 0; m < N_METHODS; m++) free(maps[m]);
    free(logits);
    xai_engine_destroy(e);
}

static void engine_matches_reference(const char *arch, uint64_t seed)
{
    enum { CANDIDATES = 6, CHOSEN = 3 };
    xai_graph *g = test_model(arch, seed, 1, 0);
    size_t image = xai_value_size(&g->values[g->input]);
    float *candidates = malloc(CANDIDATES * image * sizeof(float));
    float *noise = malloc(CANDIDATES * image * sizeof(float));
    double *in = malloc(CANDIDATES * image * sizeof(double));
    test_normal_floats(candidates, CANDIDATES * image, seed + 100);
    test_normal_floats(noise, CANDIDATES * image, seed + 200);
    reference_result r, perturbed;
    for (size_t k = 0; k < CANDIDATES * image; k++) in[k] = candidates[k];
    reference_run(g, in, CANDIDATES, &r, NULL);
    for (size_t k = 0; k < CANDIDATES * image; k++) in[k] = candidates[k] * (1.0 + 1e-6 * noise[k]);
    reference_run(g, in, CANDIDATES, &perturbed, r.targets);

    /* The first three well-conditioned candidates form the test batch. */
    int chosen[CHOSEN], n_chosen = 0;
    for (int n = 0; n < CANDIDATES && n_chosen < CHOSEN; n++)
        if (well_conditioned(&r, &perturbed, n, image)) chosen[n_chosen++] = n;
        else cr_log_info("%s: candidate %d has a decision within float rounding; not compared", arch, n);
    cr_assert_eq(n_chosen, CHOSEN, "%s: only %d of %d inputs are well conditioned", arch, n_chosen, CANDIDATES);
    int classes = g->values[g->output].c;
    float *input = malloc(CHOSEN * image * sizeof(float));
    reference_result subset = {malloc(CHOSEN * classes * sizeof(double)), {NULL}, malloc(CHOSEN * sizeof(int))};
    for (int m = 0; m < N_METHODS; m++) subset.maps[m] = malloc(CHOSEN * image * sizeof(double));
    for (int k = 0; k < CHOSEN; k++) {
        int n = chosen[k];
        memcpy(input + k * image, candidates + n * image, image * sizeof(float));
        memcpy(subset.logits + k * classes, r.logits + n * classes, classes * sizeof(double));
        subset.targets[k] = r.targets[n];
        for (int m = 0; m < N_METHODS; m++)
            memcpy(subset.maps[m] + k * image, r.maps[m] + n * image, image * sizeof(double));
    }
    compare(g, input, CHOSEN, &subset);
    compare(g, input, 1, &subset); /* the first image alone: reference results are per image */
    reference_free(&subset);
    reference_free(&r);
    reference_free(&perturbed);
    free(input);
    free(in);
    free(noise);
    free(candidates);
    xai_graph_free(g);
}

Test(engine_vs_reference, resnet_tiny) { engine_matches_reference("resnet-tiny", 7); }

Test(engine_vs_reference, resnet18_224, .timeout = 600) { engine_matches_reference("resnet18", 0); }

Test(engine_vs_reference, shared_forward_equals_separate_forwards)
{
    xai_graph *g = test_model("resnet-tiny", 3, 1, 0);
    size_t image = xai_value_size(&g->values[g->input]);
    int batch = 2;
    float *input = malloc(batch * image * sizeof(float));
    test_normal_floats(input, batch * image, 11);
    xai_engine *e;
    cr_assert_eq(xai_engine_create(&e, g, batch, 0), XAI_OK, "%s", xai_last_error());
    float *shared[N_METHODS], *single = malloc(batch * image * sizeof(float));
    float logits[2 * 10];
    int targets[2] = {-1, 4}, chosen[2];
    for (int m = 0; m < N_METHODS; m++) shared[m] = malloc(batch * image * sizeof(float));
    xai_explain_request rq = {input, N_METHODS, methods, targets, chosen, logits, shared, NULL, NULL};
    cr_assert_eq(xai_engine_explain(e, &rq), XAI_OK, "%s", xai_last_error());
    cr_assert_eq(chosen[1], 4);
    for (int m = 0; m < N_METHODS; m++) {
        /* A forward with other data in between: no state may leak into the next map. */
        float *other = malloc(batch * image * sizeof(float));
        test_normal_floats(other, batch * image, 99 + m);
        cr_assert_eq(xai_engine_forward(e, other, NULL), XAI_OK);
        cr_assert_eq(xai_engine_backward(e, methods[m], chosen, single), XAI_OK);
        cr_assert_eq(xai_engine_forward(e, input, NULL), XAI_OK);
        cr_assert_eq(xai_engine_backward(e, methods[m], chosen, single), XAI_OK);
        cr_expect_eq(memcmp(single, shared[m], batch * image * sizeof(float)), 0,
                     "%s: shared-forward map differs from its own forward's", methods[m]->name);
        free(other);
        free(shared[m]);
    }
    free(single);
    free(input);
    xai_engine_destroy(e);
    xai_graph_free(g);
}

Test(engine_vs_reference, consuming_engine_gives_the_same_maps)
{
    xai_graph *kept = test_model("resnet-tiny", 8, 0, 0), *consumed = test_model("resnet-tiny", 8, 0, 0);
    size_t image = xai_value_size(&kept->values[kept->input]);
    float *input = malloc(2 * image * sizeof(float)), *a = malloc(2 * image * sizeof(float)), *b = malloc(2 * image * sizeof(float));
    test_normal_floats(input, 2 * image, 5);
    xai_engine *e1, *e2;
    cr_assert_eq(xai_engine_create(&e1, kept, 2, 0), XAI_OK, "%s", xai_last_error());
    cr_assert_eq(xai_engine_create_consuming(&e2, consumed, 2, 0), XAI_OK, "%s", xai_last_error());
    for (int i = 0; i < consumed->n_nodes; i++) cr_expect_null(consumed->nodes[i].weight);
    int targets[2] = {1, 7};
    cr_assert_eq(xai_engine_forward(e1, input, NULL), XAI_OK);
    cr_assert_eq(xai_engine_forward(e2, input, NULL), XAI_OK);
    for (int m = 0; m < N_METHODS; m++) {
        cr_assert_eq(xai_engine_backward(e1, methods[m], targets, a), XAI_OK);
        cr_assert_eq(xai_engine_backward(e2, methods[m], targets, b), XAI_OK);
        cr_expect_eq(memcmp(a, b, 2 * image * sizeof(float)), 0, "%s differs", methods[m]->name);
    }
    xai_engine *e3;
    cr_expect_eq(xai_engine_create(&e3, consumed, 1, 0), XAI_ERR, "an engine from freed weights");
    xai_engine_destroy(e1);
    xai_engine_destroy(e2);
    free(input), free(a), free(b);
    xai_graph_free(kept);
    xai_graph_free(consumed);
}
