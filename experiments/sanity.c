/* sanity.c - `xaibench sanity` (see xai_sanity.h): the original maps, then after each
 * randomization step the same images' maps and their similarity to the originals. The engines
 * are built once; a step re-initializes its layers in the graph and has the engines take the new
 * weights into the primitives they have. When the images fit one batch, a step's forward reruns
 * only from the first layer it changed (the values below it still hold). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xai_clock.h"
#include "xai_driver.h"
#include "xai_provenance.h"
#include "xai_sanity.h"
#include "xai_sanity_store.h"
#include "xai_similarity.h"
#include "xai_status.h"
#include "xai_team.h"

typedef struct {
    const xai_sanity_config *c;
    xai_graph *g;
    xai_sanity_plan plan;
    float **saved_weight, **saved_bias; /* per plan node: the trained weights (independent mode) */
    char *dirty;                        /* per graph node: changed since the engines took it */
    xai_driver *driver;
    const xai_team *team;
    int own_first, own_end;             /* this rank's images */
    int batch, threads, channels, height, width;
    size_t plane, image;
    float *maps[XAI_METHODS_MAX], *heat[XAI_METHODS_MAX], *logits;
    int *targets, *chosen;
    /* [this rank's images][plane] per method: the original maps' ranks, and |map| scaled to [0, 1] */
    float *original_abs_ranks[XAI_METHODS_MAX], *original_signed_ranks[XAI_METHODS_MAX];
    float *original_scaled[XAI_METHODS_MAX];
    double *similarity[XAI_METHODS_MAX]; /* [measures][images] of the step */
    float *figure[XAI_METHODS_MAX];      /* [plane]: the first image's |map| */
    float *work;                         /* per thread: the metrics' scratch */
    size_t work_floats;
    xai_sanity_store *store;
} sanity;

static size_t weight_floats(const xai_node *n)
{
    return (size_t)n->out_channels * (n->in_channels / (n->op == XAI_OP_CONV ? n->group : 1)) *
           (n->op == XAI_OP_CONV ? (size_t)n->kernel_h * n->kernel_w : 1);
}

/* A copy of every plan node's trained weight and bias. */
static int save_weights(sanity *s)
{
    int n = s->plan.n_nodes;
    s->saved_weight = xai_calloc((size_t)n, sizeof *s->saved_weight);
    s->saved_bias = xai_calloc((size_t)n, sizeof *s->saved_bias);
    if (!s->saved_weight || !s->saved_bias) return XAI_ERR;
    for (int k = 0; k < n; k++) {
        const xai_node *node = &s->g->nodes[s->plan.nodes[k]];
        size_t w = weight_floats(node), b = (size_t)node->out_channels;
        if (!(s->saved_weight[k] = xai_malloc(w * sizeof(float))) || !(s->saved_bias[k] = xai_malloc(b * sizeof(float))))
            return XAI_ERR;
        memcpy(s->saved_weight[k], node->weight, w * sizeof(float));
        memcpy(s->saved_bias[k], node->bias, b * sizeof(float));
    }
    return XAI_OK;
}

/* The graph as step `step` (1-based; 0 the original) leaves it, from the state of step - 1. */
static void apply_step(sanity *s, int step)
{
    const xai_sanity_plan *p = &s->plan;
    if (s->c->mode == XAI_SANITY_INDEPENDENT && step >= 2)
        for (int k = p->first[step - 2]; k < p->first[step - 2] + p->count[step - 2]; k++) {
            xai_node *node = &s->g->nodes[p->nodes[k]];
            memcpy(node->weight, s->saved_weight[k], weight_floats(node) * sizeof(float));
            memcpy(node->bias, s->saved_bias[k], (size_t)node->out_channels * sizeof(float));
            s->dirty[p->nodes[k]] = 1;
        }
    for (int k = p->first[step - 1]; k < p->first[step - 1] + p->count[step - 1]; k++) {
        xai_sanity_reinit(s->g, p->nodes[k], s->c->seed);
        s->dirty[p->nodes[k]] = 1;
    }
}

static int take_weights(sanity *s)
{
    for (int i = 0; i < s->g->n_nodes; i++)
        if (s->dirty[i]) {
            if (xai_driver_reload_weights(s->driver, i)) return XAI_ERR;
            s->dirty[i] = 0;
        }
    return XAI_OK;
}

/* A map [C][plane] as the paper's two images of it: sum_c |m_c| and sum_c m_c. */
static void flatten_map(const float *map, int channels, size_t plane, float *absolute, float *sign)
{
    for (size_t p = 0; p < plane; p++) absolute[p] = sign[p] = 0;
    for (int c = 0; c < channels; c++)
        for (size_t p = 0; p < plane; p++) absolute[p] += fabsf(map[c * plane + p]), sign[p] += map[c * plane + p];
}

enum { SPEARMAN_ABS, SPEARMAN_SIGNED, SSIM }; /* the measures, as xai_sanity_measures lists them */

/* Measure `measure` of image `image`'s map of method m against the original one; the original
 * step keeps what the later ones compare with (the ranks of |map| and of the signed map, |map|
 * scaled to [0, 1]). */
static void compare(sanity *s, int m, int image, int measure, const float *map, int channels, int original,
                    float *work)
{
    size_t plane = s->plane, at = (size_t)(image - s->own_first) * plane; /* the originals: this rank's images */
    float *absolute = work, *sign = absolute + plane, *scaled = sign + plane, *rank_work = scaled + plane;
    double *ssim_work = (double *)(work + ((3 * plane + xai_spearman_work_floats(plane) + 1) & ~(size_t)1));
    double *out = s->similarity[m] + (size_t)measure * s->c->n_images + image;
    flatten_map(map, channels, plane, absolute, sign);
    const float *compared = measure == SPEARMAN_ABS ? absolute : sign;
    float *kept = measure == SPEARMAN_ABS ? s->original_abs_ranks[m] : measure == SPEARMAN_SIGNED
                                                                          ? s->original_signed_ranks[m]
                                                                          : s->original_scaled[m];
    if (measure == SSIM) {
        xai_scale_unit(absolute, plane, scaled);
        if (original) memcpy(kept + at, scaled, plane * sizeof(float));
        *out = xai_ssim(scaled, kept + at, s->height, s->width, 1.0, ssim_work);
    } else {
        if (original) xai_ranks(compared, plane, kept + at, rank_work);
        *out = xai_spearman_ranked(kept + at, compared, plane, rank_work);
    }
    if (image == 0 && measure == SPEARMAN_ABS) memcpy(s->figure[m], absolute, plane * sizeof(float));
}

/* Every image's maps at the graph's current weights, compared with the originals; the
 * original step (0) makes those and chooses the targets. */
static int explain_all(sanity *s, int step)
{
    const xai_sanity_config *c = s->c;
    for (int m = 0; m < c->n_methods; m++) /* the other ranks' images stay 0 for the team's sum */
        memset(s->similarity[m], 0, XAI_SANITY_MEASURES * (size_t)c->n_images * sizeof(double));
    for (int first = s->own_first; first < s->own_end; first += s->batch) {
        int count = s->own_end - first < s->batch ? s->own_end - first : s->batch;
        xai_driver_batch rows = {.input = c->inputs + (size_t)first * s->image, .count = count,
                                 .targets = step ? s->targets + first : NULL, .chosen = s->chosen, .logits = s->logits,
                                 .maps = s->maps, .heatmaps = s->heat,
                                 .same_input = step > 0 && count == s->own_end - s->own_first};
        if (xai_driver_explain(s->driver, &rows)) return XAI_ERR;
        for (int k = 0; step == 0 && k < count; k++) s->targets[first + k] = s->chosen[k];
#pragma omp parallel for collapse(3) schedule(dynamic) num_threads(s->threads)
        for (int m = 0; m < c->n_methods; m++)
            for (int k = 0; k < count; k++)
                for (int measure = 0; measure < XAI_SANITY_MEASURES; measure++) {
                    int channels = xai_driver_map_channels(s->driver, m);
                    compare(s, m, first + k, measure, s->maps[m] + (size_t)k * channels * s->plane, channels,
                            step == 0, s->work + (size_t)omp_get_thread_num() * s->work_floats);
                }
    }
    return XAI_OK;
}

/* The settings a resumed run must share. */
static char *settings_text(const sanity *s, const char *sha)
{
    const xai_sanity_config *c = s->c;
    char *params = xai_driver_describe(c->methods, c->n_methods, c->params);
    size_t size = 512 + (params ? strlen(params) : 0);
    for (int k = 0; k < c->n_images; k++) size += strlen(c->images[k]) + 8;
    for (int m = 0; m < c->n_methods; m++) size += strlen(c->methods[m]->name) + 1;
    char *text = params ? xai_calloc(size, 1) : NULL;
    if (text) {
        int at = snprintf(text, size, "model_sha256=%s\nmode=%s\ngranularity=%s\nseed=%llu\nmethods=", sha,
                          c->mode == XAI_SANITY_CASCADING ? "cascading" : "independent",
                          c->granularity == XAI_SANITY_LAYER ? "layer" : "block", (unsigned long long)c->seed);
        for (int m = 0; m < c->n_methods; m++)
            at += snprintf(text + at, size - at, "%s%s", m ? "," : "", c->methods[m]->name);
        at += snprintf(text + at, size - at, "\n%s", params);
        for (int k = 0; k < c->n_images; k++) at += snprintf(text + at, size - at, "image=%s\n", c->images[k]);
    }
    free(params);
    return text;
}

static int set_up(sanity *s)
{
    const xai_sanity_config *c = s->c;
    const xai_value *in = &s->g->values[s->g->input];
    s->channels = in->c, s->height = in->h, s->width = in->w;
    s->plane = (size_t)in->h * in->w, s->image = xai_value_size(in);
    /* rank r: images ceil(N r / size) .. ceil(N (r + 1) / size) - 1, so that rank 0, which writes
     * the file's figure data, holds the first image */
    long long n = c->n_images, size = s->team->size, rank = s->team->rank;
    s->own_first = (int)((n * rank + size - 1) / size), s->own_end = (int)((n * (rank + 1) + size - 1) / size);
    int own = s->own_end - s->own_first;
    s->batch = c->batch < own ? c->batch : own > 0 ? own : 1;
    if (xai_sanity_plan_make(&s->plan, s->g, c->granularity) || save_weights(s)) return XAI_ERR;
    xai_driver_config dc = {.methods = c->methods, .n_methods = c->n_methods, .params = c->params,
                            .batch = s->batch, .threads = c->threads, .keep_weights = 1};
    if (xai_driver_create(&s->driver, s->g, &dc)) return XAI_ERR;
    int classes = xai_graph_outputs(s->g);
    s->threads = c->threads > 0 ? c->threads : omp_get_max_threads();
    s->dirty = xai_calloc((size_t)s->g->n_nodes, 1);
    s->logits = xai_malloc((size_t)s->batch * classes * sizeof(float));
    s->targets = xai_calloc((size_t)c->n_images, sizeof(int));
    s->chosen = xai_malloc((size_t)s->batch * sizeof(int));
    s->work_floats = (3 * s->plane + xai_spearman_work_floats(s->plane) + 2 * xai_ssim_work_doubles(s->width) + 2) &
                     ~(size_t)1; /* even: each thread's doubles stay aligned */
    s->work = xai_malloc((size_t)s->threads * s->work_floats * sizeof(float));
    if (!s->dirty || !s->logits || !s->targets || !s->chosen || !s->work) return XAI_ERR;
    for (int m = 0; m < c->n_methods; m++) {
        size_t channels = (size_t)xai_driver_map_channels(s->driver, m), images = (size_t)c->n_images;
        size_t own_images = (size_t)(own > 0 ? own : 1);
        if (!(s->maps[m] = xai_malloc((size_t)s->batch * channels * s->plane * sizeof(float))) ||
            !(s->heat[m] = xai_malloc((size_t)s->batch * s->plane * sizeof(float))) ||
            !(s->original_abs_ranks[m] = xai_malloc(own_images * s->plane * sizeof(float))) ||
            !(s->original_signed_ranks[m] = xai_malloc(own_images * s->plane * sizeof(float))) ||
            !(s->original_scaled[m] = xai_malloc(own_images * s->plane * sizeof(float))) ||
            !(s->similarity[m] = xai_malloc(XAI_SANITY_MEASURES * images * sizeof(double))) ||
            !(s->figure[m] = xai_malloc(s->plane * sizeof(float))))
            return XAI_ERR;
    }
    return XAI_OK;
}

static int open_store(sanity *s, int *steps_done)
{
    const xai_sanity_config *c = s->c;
    char sha[65];
    if (xai_sha256_file(c->model, sha)) return XAI_ERR;
    const char **labels = xai_malloc((size_t)(1 + s->plan.n_steps) * sizeof *labels), *names[XAI_METHODS_MAX];
    char *settings = labels ? settings_text(s, sha) : NULL;
    if (!settings) return free(labels), XAI_ERR;
    labels[0] = "original";
    for (int k = 0; k < s->plan.n_steps; k++) labels[1 + k] = s->plan.label[k];
    for (int m = 0; m < c->n_methods; m++) names[m] = c->methods[m]->name;
    xai_sanity_shape shape = {.n_steps = 1 + s->plan.n_steps, .n_images = c->n_images, .height = s->height,
                              .width = s->width, .n_methods = c->n_methods, .methods = names, .labels = labels,
                              .images = c->images, .settings = settings};
    int status = s->team->rank == 0 ? xai_sanity_store_open(&s->store, c->output, &shape, steps_done) : XAI_OK;
    if (!status && s->team->rank == 0)
        status = xai_sanity_store_provenance(s->store, c->model, sha, c->threads, c->argc, c->argv);
    free(settings), free(labels);
    long long done = s->team->rank == 0 ? *steps_done : 0; /* rank 0's count, to every rank */
    if ((status = xai_team_agree(s->team, status)) || xai_team_sum(s->team, &done, 1)) return XAI_ERR;
    *steps_done = (int)done;
    return XAI_OK;
}

/* One line per step: its layers and each method's mean similarity over the images. */
static void report(const sanity *s, int step, double seconds)
{
    const xai_sanity_config *c = s->c;
    printf("step %d/%d %s (%.2f s):", step, s->plan.n_steps, step ? s->plan.label[step - 1] : "original", seconds);
    for (int m = 0; m < c->n_methods; m++) {
        double mean[XAI_SANITY_MEASURES] = {0};
        for (int k = 0; k < XAI_SANITY_MEASURES; k++) {
            for (int i = 0; i < c->n_images; i++) mean[k] += s->similarity[m][(size_t)k * c->n_images + i];
            mean[k] /= c->n_images;
        }
        printf(" %s %.3f/%.3f/%.3f", c->methods[m]->name, mean[0], mean[1], mean[2]);
    }
    printf("\n");
    fflush(stdout);
}

static void tear_down(sanity *s)
{
    xai_sanity_store_abort(s->store);
    xai_driver_destroy(s->driver);
    for (int k = 0; s->saved_weight && k < s->plan.n_nodes; k++) free(s->saved_weight[k]);
    for (int k = 0; s->saved_bias && k < s->plan.n_nodes; k++) free(s->saved_bias[k]);
    free(s->saved_weight), free(s->saved_bias), free(s->dirty), free(s->logits), free(s->targets), free(s->chosen);
    free(s->work);
    for (int m = 0; m < XAI_METHODS_MAX; m++) {
        free(s->maps[m]), free(s->heat[m]), free(s->original_abs_ranks[m]), free(s->original_signed_ranks[m]);
        free(s->original_scaled[m]);
        free(s->similarity[m]), free(s->figure[m]);
    }
    xai_sanity_plan_free(&s->plan);
}

/* The step's numbers of every rank's images in every rank's arrays (the others' are 0). */
static int gather(sanity *s, int step)
{
    const xai_sanity_config *c = s->c;
    for (int m = 0; m < c->n_methods; m++)
        if (xai_team_sum_doubles(s->team, s->similarity[m], XAI_SANITY_MEASURES * c->n_images)) return XAI_ERR;
    if (step || s->team->size == 1) return XAI_OK;
    long long *targets = xai_calloc((size_t)c->n_images, sizeof *targets);
    if (!targets) return XAI_ERR;
    for (int i = s->own_first; i < s->own_end; i++) targets[i] = s->targets[i];
    int status = xai_team_sum(s->team, targets, c->n_images);
    for (int i = 0; !status && i < c->n_images; i++) s->targets[i] = (int)targets[i];
    free(targets);
    return status;
}

int xai_sanity_run(const xai_sanity_config *c, xai_graph *g)
{
    static const xai_team alone = {.rank = 0, .size = 1};
    sanity s = {.c = c, .g = g, .team = c->team ? c->team : &alone};
    int steps_done = 0, status = xai_team_agree(s.team, set_up(&s));
    if (!status) status = open_store(&s, &steps_done);
    int lead = s.team->rank == 0; /* the rank that writes the file and the progress lines */
    if (!status && steps_done && lead)
        printf("resuming %s.parts: %d of %d steps done\n", c->output, steps_done, 1 + s.plan.n_steps);
    /* The originals are always made again: every later step is compared with them. */
    for (int step = 0; !status && step <= s.plan.n_steps; step++) {
        double started = xai_now_seconds();
        if (step) apply_step(&s, step);
        if (step && step < steps_done) continue;
        status = take_weights(&s);
        if (!status) status = explain_all(&s, step);
        if ((status = xai_team_agree(s.team, status)) || (status = gather(&s, step))) break;
        if (step >= steps_done && lead)
            status = xai_sanity_store_write_step(s.store, step, (const double *const *)s.similarity,
                                                 (const float *const *)s.figure, step == 0 ? s.targets : NULL);
        if (!status && step >= steps_done && lead) report(&s, step, xai_now_seconds() - started);
        status = xai_team_agree(s.team, status);
    }
    if (!status && lead) {
        status = xai_sanity_store_close(s.store);
        s.store = NULL;
        if (!status) printf("wrote %s\n", c->output);
    }
    status = xai_team_agree(s.team, status);
    tear_down(&s);
    return status;
}
