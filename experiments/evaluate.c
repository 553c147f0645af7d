/* evaluate.c - `xaibench metrics` (see xai_evaluate.h): read heat maps, boxes, inputs and
 * targets from a result file, score them, write the scores back and summarize them.
 * Faithfulness (Petsiuk et al. 2018): pixels are removed (deletion: set to 0, the data set mean
 * after normalization) or revealed (insertion: from an all-zero input) in order of the heat map,
 * in `steps` equal parts; the target's softmax probability along the way is the curve, whose
 * area is the score. The steps + 1 images of a curve go through the engine as one batch. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xai_engine.h"
#include "xai_evaluate.h"
#include "xai_image.h"
#include "xai_metrics.h"
#include "xai_rng.h"
#include "xai_status.h"
#include "xai_store.h"

enum { TV, HIGH_FREQ, COMPLEXITY, LAPLACIAN, SPARSENESS, MASS, RANK, POINTING, DELETION, INSERTION, N_METRICS };
static const char *const metric_names[N_METRICS] = {
    "total_variation", "high_frequency_energy", "complexity", "laplacian_variance", "sparseness",
    "mass_in_box", "rank_in_box", "pointing_game", "deletion_auc", "insertion_auc"};

static int compare_doubles(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

double xai_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, compare_doubles);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void xai_summarize(const double *values, int n, xai_summary *out)
{
    enum { RESAMPLES = 1000 };
    double *v = xai_malloc(((size_t)n + 1) * sizeof *v), *means = xai_malloc(RESAMPLES * sizeof *means);
    int m = 0;
    for (int i = 0; v && i < n; i++)
        if (!isnan(values[i])) v[m++] = values[i];
    *out = (xai_summary){m, NAN, NAN, NAN, NAN};
    if (m && means) {
        double sum = 0.0;
        for (int i = 0; i < m; i++) sum += v[i];
        out->mean = sum / m;
        xai_rng rng;
        xai_rng_seed(&rng, 2024);
        for (int r = 0; r < RESAMPLES; r++) {
            double s = 0.0;
            for (int i = 0; i < m; i++) s += v[(int)(xai_rng_uniform(&rng) * m)];
            means[r] = s / m;
        }
        qsort(means, RESAMPLES, sizeof *means, compare_doubles);
        out->low = means[(int)(0.025 * RESAMPLES)];
        out->high = means[(int)(0.975 * RESAMPLES) - 1];
        out->median = xai_median(v, m);
    }
    free(v);
    free(means);
}

/* Probability of `target` from logits (a stable softmax). */
static double probability(const float *logits, int classes, int target)
{
    double top = logits[0], sum = 0.0;
    for (int k = 1; k < classes; k++) top = fmax(top, logits[k]);
    for (int k = 0; k < classes; k++) sum += exp(logits[k] - top);
    return exp(logits[target] - top) / sum;
}

/* Deletion and insertion AUC of one heat map on one input. */
static int faithfulness(xai_engine *e, const float *input, const float *heat, int target, int channels, int h,
                        int w, int steps, int classes, float *batch, float *logits, int *order, double *curve,
                        double *deletion, double *insertion)
{
    size_t plane = (size_t)h * w, image = channels * plane;
    xai_metric_pixel_order(heat, plane, order);
    for (int pass = 0; pass < 2; pass++) {
        for (int s = 0; s <= steps; s++) {
            float *x = batch + (size_t)s * image;
            size_t changed = plane * s / steps;
            if (pass == 0) memcpy(x, input, image * sizeof(float));
            else memset(x, 0, image * sizeof(float));
            for (size_t r = 0; r < changed; r++)
                for (int c = 0; c < channels; c++) {
                    size_t at = c * plane + order[r];
                    x[at] = pass == 0 ? 0.f : input[at];
                }
        }
        if (xai_engine_forward(e, batch, logits)) return XAI_ERR;
        for (int s = 0; s <= steps; s++) curve[s] = probability(logits + (size_t)s * classes, classes, target);
        *(pass == 0 ? deletion : insertion) = xai_metric_auc(curve, steps + 1);
    }
    return XAI_OK;
}

/* What scoring a file needs: its data, and for faithfulness the model, an engine and buffers. */
typedef struct {
    const xai_evaluate_options *o;
    xai_store *store;
    const xai_store_shape *shape;
    long long n;
    size_t plane;
    float *input, *boxes, *heat; /* boxes: NULL for a file without them (explain's) */
    int *targets;
    double *scores;              /* [metric][image] */
    xai_graph *g;
    xai_engine *e;
    int classes, label_offset;
    float *batch, *logits;       /* the steps + 1 images of a curve */
    int *order;
    double *curve;
    char *csv_path;
    FILE *csv;
} evaluation;

/* The file, its inputs, targets and boxes; old scores go. */
static int open_run(evaluation *v)
{
    if (xai_store_open(&v->store, v->o->run, XAI_STORE_UPDATE)) return XAI_ERR;
    v->shape = xai_store_shape_of(v->store);
    v->n = v->shape->rows;
    v->plane = (size_t)v->shape->height * v->shape->width;
    size_t image = (size_t)v->shape->channels * v->plane;
    v->targets = xai_malloc(((size_t)v->n + 1) * sizeof *v->targets);
    v->input = xai_malloc(((size_t)v->n * image + 1) * sizeof *v->input);
    v->heat = xai_malloc(((size_t)v->n * v->plane + 1) * sizeof *v->heat);
    v->scores = xai_malloc(((size_t)N_METRICS * v->n + 1) * sizeof *v->scores);
    if (!v->targets || !v->input || !v->heat || !v->scores || xai_store_read(v->store, "/target", 0, v->n, v->targets) ||
        xai_store_read(v->store, "/input", 0, v->n, v->input))
        return XAI_ERR;
    if (xai_store_has(v->store, "/images/bbox_frame") &&
        (!(v->boxes = xai_malloc(((size_t)v->n * 4 + 1) * sizeof *v->boxes)) ||
         xai_store_read(v->store, "/images/bbox_frame", 0, v->n, v->boxes)))
        return XAI_ERR;
    return xai_store_clear_metrics(v->store); /* scores are replaced */
}

/* The model (--model, else the file's model_path) and an engine for a curve's images. */
static int open_model(evaluation *v)
{
    int steps = v->o->faithfulness_steps;
    if (steps <= 0 || v->n == 0) return XAI_OK;
    char *recorded = NULL;
    const char *path = v->o->model;
    if (!path && xai_store_get_attribute(v->store, "model_path", &recorded)) return XAI_ERR;
    if (!path) path = recorded;
    int status = path ? XAI_OK : xai_fail("%s: no model_path attribute; give --model or --steps 0", v->o->run);
    if (status == XAI_OK) status = xai_graph_load(&v->g, path, NULL);
    free(recorded);
    xai_transform t;
    if (status == XAI_OK) status = xai_transform_for_model(&t, v->g);
    if (status) return status;
    v->classes = xai_graph_outputs(v->g);
    v->label_offset = t.label_offset;
    if (xai_engine_create_consuming(&v->e, v->g, steps + 1, v->o->threads)) return XAI_ERR;
    v->batch = xai_malloc((size_t)(steps + 1) * v->shape->channels * v->plane * sizeof(float));
    v->logits = xai_malloc((size_t)(steps + 1) * v->classes * sizeof(float));
    v->order = xai_malloc(v->plane * sizeof(int));
    v->curve = xai_malloc((size_t)(steps + 1) * sizeof(double));
    return v->batch && v->logits && v->order && v->curve ? XAI_OK : XAI_ERR;
}

/* The summary table's CSV: --csv, else RUN with .h5 replaced by .metrics.csv. */
static int open_csv(evaluation *v)
{
    if (v->o->csv) v->csv_path = xai_strdup(v->o->csv);
    else {
        size_t n = strlen(v->o->run);
        if (n > 3 && !strcmp(v->o->run + n - 3, ".h5")) n -= 3;
        v->csv_path = xai_format("%.*s.metrics.csv", (int)n, v->o->run);
    }
    if (!v->csv_path) return XAI_ERR;
    if (!(v->csv = fopen(v->csv_path, "w"))) return xai_fail("%s: cannot create: %s", v->csv_path, strerror(errno));
    fprintf(v->csv, "method,metric,n,mean,median,ci95_low,ci95_high\n");
    return XAI_OK;
}

/* Every metric of every image for the heat maps in v->heat. */
static int score_maps(evaluation *v)
{
    long long n = v->n;
    int h = v->shape->height, w = v->shape->width;
#pragma omp parallel for schedule(dynamic)
    for (long long i = 0; i < n; i++) {
        const float *a = v->heat + i * v->plane;
        double *s = v->scores;
        s[TV * n + i] = xai_metric_total_variation(a, h, w);
        s[HIGH_FREQ * n + i] = xai_metric_high_frequency(a, h, w, 0.25);
        s[COMPLEXITY * n + i] = xai_metric_complexity(a, v->plane);
        s[LAPLACIAN * n + i] = xai_metric_laplacian_variance(a, h, w);
        s[SPARSENESS * n + i] = xai_metric_sparseness(a, v->plane);
        const xai_box *box = v->boxes ? (const xai_box *)(v->boxes + i * 4) : NULL;
        int has_box = box && !isnan(box->x0) && box->x1 > box->x0 && box->y1 > box->y0;
        s[MASS * n + i] = has_box ? xai_metric_mass_in_box(a, h, w, box) : NAN;
        s[RANK * n + i] = has_box ? xai_metric_rank_in_box(a, h, w, box) : NAN;
        s[POINTING * n + i] = has_box ? xai_metric_pointing_game(a, h, w, box) : NAN;
    }
    int status = XAI_OK, steps = v->o->faithfulness_steps;
    size_t image = (size_t)v->shape->channels * v->plane;
    for (long long i = 0; i < n && status == XAI_OK; i++) {
        v->scores[DELETION * n + i] = v->scores[INSERTION * n + i] = NAN;
        int target = v->targets[i] + v->label_offset;
        if (v->e && v->targets[i] >= 0 && target < v->classes)
            status = faithfulness(v->e, v->input + i * image, v->heat + i * v->plane, target, v->shape->channels, h, w,
                                  steps, v->classes, v->batch, v->logits, v->order, v->curve,
                                  &v->scores[DELETION * n + i], &v->scores[INSERTION * n + i]);
    }
    return status;
}

/* One method: its scores into the file, their summary printed and into the CSV. */
static int evaluate_method(evaluation *v, const char *method)
{
    char *name = xai_format("/heatmaps/%s", method);
    int status = name ? xai_store_read(v->store, name, 0, v->n, v->heat) : XAI_ERR;
    free(name);
    if (status == XAI_OK) status = score_maps(v);
    for (int k = 0; k < N_METRICS && status == XAI_OK; k++) {
        const double *scores = v->scores + k * v->n;
        status = xai_store_write_metric(v->store, method, metric_names[k], scores);
        xai_summary sum;
        xai_summarize(scores, (int)v->n, &sum);
        printf("%-16s %-22s %5d %10.4g %10.4g   [%9.4g, %9.4g]\n", method, metric_names[k], sum.n, sum.mean,
               sum.median, sum.low, sum.high);
        fprintf(v->csv, "%s,%s,%d,%.9g,%.9g,%.9g,%.9g\n", method, metric_names[k], sum.n, sum.mean, sum.median,
                sum.low, sum.high);
    }
    return status;
}

int xai_evaluate(const xai_evaluate_options *o)
{
    evaluation v = {.o = o};
    int status = open_run(&v);
    if (status == XAI_OK) status = open_model(&v);
    if (status == XAI_OK) status = open_csv(&v);
    if (status == XAI_OK)
        printf("%-16s %-22s %5s %10s %10s %23s\n", "method", "metric", "n", "mean", "median", "95% CI of the mean");
    for (int m = 0; status == XAI_OK && m < v.shape->n_methods; m++) status = evaluate_method(&v, v.shape->methods[m]);
    if (v.csv && fclose(v.csv) != 0 && status == XAI_OK) status = xai_fail("%s: cannot write (disk full?)", v.csv_path);
    if (v.store && status == XAI_OK) status = xai_store_close(v.store);
    else xai_store_abort(v.store);
    if (status == XAI_OK) printf("wrote /metrics/<method>/<metric> to %s and the summary to %s\n", o->run, v.csv_path);
    free(v.input), free(v.boxes), free(v.heat), free(v.targets), free(v.scores);
    free(v.batch), free(v.logits), free(v.order), free(v.curve), free(v.csv_path);
    xai_engine_destroy(v.e);
    xai_graph_free(v.g);
    return status;
}
