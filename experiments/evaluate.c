/* evaluate.c - `xaibench metrics` (see xai_evaluate.h): read heat maps, boxes, inputs and
 * targets from a result file, score them, write the scores back and summarize them.
 * Faithfulness (Petsiuk et al. 2018): pixels are removed (deletion: set to 0, the data set mean
 * after normalization) or revealed (insertion: from an all-zero input) in order of the heat map,
 * in `steps` equal parts; the target's softmax probability along the way is the curve, whose
 * area is the score. The steps + 1 images of a curve go through the engine as one batch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "xai_engine.h"
#include "xai_evaluate.h"
#include "xai_image.h"
#include "xai_method.h"
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

/* Read a whole dataset in the given memory type; NULL (no error) when absent. */
static void *read_dataset(hid_t f, const char *name, hid_t type, size_t element, hsize_t *rows)
{
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0) return NULL;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT), s = H5Dget_space(d);
    size_t count = (size_t)H5Sget_simple_extent_npoints(s);
    hsize_t dims[8];
    H5Sget_simple_extent_dims(s, dims, NULL);
    *rows = dims[0];
    void *data = xai_malloc(count * element + 1);
    if (data && H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
        free(data);
        data = NULL;
    }
    H5Sclose(s);
    H5Dclose(d);
    return data;
}

static herr_t list_methods(hid_t group, const char *name, const H5L_info_t *info, void *data)
{
    (void)group, (void)info;
    char **names = data;
    int n = 0;
    while (n < XAI_METHODS_MAX && names[n]) n++;
    if (n == XAI_METHODS_MAX) return 1;
    names[n] = xai_strdup(name);
    return names[n] ? 0 : -1;
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

static int write_scores(hid_t f, const char *method, int metric, const double *scores, hsize_t n)
{
    char name[256];
    snprintf(name, sizeof name, "/metrics/%s/%s", method, metric_names[metric]);
    hid_t links = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(links, 1);
    hid_t space = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(f, name, H5T_NATIVE_DOUBLE, space, links, H5P_DEFAULT, H5P_DEFAULT);
    herr_t w = d >= 0 ? H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, scores) : -1;
    if (d >= 0) H5Dclose(d);
    H5Sclose(space);
    H5Pclose(links);
    return w < 0 ? xai_fail("cannot write %s (disk full?)", name) : XAI_OK;
}

int xai_evaluate(const xai_evaluate_options *o)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(o->run, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) return xai_fail("%s: cannot open as an HDF5 result file for writing", o->run);
    char *methods[XAI_METHODS_MAX + 1] = {NULL};
    int status = XAI_OK, n_methods = 0;
    hsize_t n = 0, rows;
    float *input = NULL, *boxes = NULL, *heat = NULL;
    int *targets = NULL;
    double *scores = NULL;
    xai_graph *g = NULL;
    xai_engine *e = NULL;
    FILE *csv = NULL;
    hid_t group = H5Gopen2(f, "/heatmaps", H5P_DEFAULT);
    if (group < 0 || H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, NULL, list_methods, methods) < 0) {
        status = xai_fail("%s: no /heatmaps (not an xaibench result file)", o->run);
        goto done;
    }
    H5Gclose(group);
    while (n_methods < XAI_METHODS_MAX && methods[n_methods]) n_methods++;
    int dims_ok = 1;
    hsize_t input_dims[4] = {0};
    hid_t din = H5Dopen2(f, "/input", H5P_DEFAULT);
    if (din >= 0) {
        hid_t s = H5Dget_space(din);
        dims_ok = H5Sget_simple_extent_ndims(s) == 4;
        H5Sget_simple_extent_dims(s, input_dims, NULL);
        H5Sclose(s);
        H5Dclose(din);
    }
    if (din < 0 || !dims_ok || !(targets = read_dataset(f, "/target", H5T_NATIVE_INT, sizeof(int), &n)) ||
        !(input = read_dataset(f, "/input", H5T_NATIVE_FLOAT, sizeof(float), &rows))) {
        status = xai_fail("%s: no readable /input and /target", o->run);
        goto done;
    }
    int channels = (int)input_dims[1], h = (int)input_dims[2], w = (int)input_dims[3];
    size_t plane = (size_t)h * w;
    boxes = read_dataset(f, "/images/bbox_frame", H5T_NATIVE_FLOAT, sizeof(float), &rows); /* may be absent */
    if (H5Lexists(f, "/metrics", H5P_DEFAULT) > 0) H5Ldelete(f, "/metrics", H5P_DEFAULT); /* scores are replaced */

    int steps = o->faithfulness_steps, classes = 0, label_offset = 0;
    float *batch = NULL, *logits = NULL;
    int *order = NULL;
    double *curve = NULL;
    if (steps > 0 && n > 0) {
        char model[4096];
        const char *path = o->model;
        if (!path && xai_h5_string_attribute(f, "model_path", model, sizeof model) == XAI_OK) path = model;
        if (!path) {
            status = xai_fail("%s: no model_path attribute; give --model or --steps 0", o->run);
            goto done;
        }
        if (xai_graph_load(&g, path, NULL) || xai_engine_create_consuming(&e, g, steps + 1, o->threads)) {
            status = XAI_ERR;
            goto done;
        }
        classes = xai_graph_outputs(g);
        xai_transform t;
        if (xai_transform_for_model(&t, g)) {
            status = XAI_ERR;
            goto done;
        }
        label_offset = t.label_offset;
        batch = xai_malloc((size_t)(steps + 1) * channels * plane * sizeof(float));
        logits = xai_malloc((size_t)(steps + 1) * classes * sizeof(float));
        order = xai_malloc(plane * sizeof(int));
        curve = xai_malloc((size_t)(steps + 1) * sizeof(double));
        if (!batch || !logits || !order || !curve) status = xai_fail("out of memory");
    }
    char csv_path[4096];
    if (o->csv) snprintf(csv_path, sizeof csv_path, "%s", o->csv);
    else {
        snprintf(csv_path, sizeof csv_path, "%s", o->run);
        char *dot = strrchr(csv_path, '.');
        if (dot && !strcmp(dot, ".h5")) *dot = '\0';
        strncat(csv_path, ".metrics.csv", sizeof csv_path - strlen(csv_path) - 1);
    }
    if (status == XAI_OK && !(csv = fopen(csv_path, "w"))) status = xai_fail("%s: cannot create", csv_path);
    if (csv) fprintf(csv, "method,metric,n,mean,median,ci95_low,ci95_high\n");
    printf("%-16s %-22s %5s %10s %10s %23s\n", "method", "metric", "n", "mean", "median", "95% CI of the mean");
    scores = xai_malloc((size_t)N_METRICS * (n ? n : 1) * sizeof(double));
    if (!scores) status = xai_fail("out of memory");
    for (int m = 0; m < n_methods && status == XAI_OK; m++) {
        char name[256];
        snprintf(name, sizeof name, "/heatmaps/%s", methods[m]);
        free(heat);
        if (!(heat = read_dataset(f, name, H5T_NATIVE_FLOAT, sizeof(float), &rows)) || rows != n) {
            status = xai_fail("%s: %s does not match /target", o->run, name);
            break;
        }
#pragma omp parallel for schedule(dynamic)
        for (hsize_t i = 0; i < n; i++) {
            const float *a = heat + i * plane;
            double *s = scores;
            s[TV * n + i] = xai_metric_total_variation(a, h, w);
            s[HIGH_FREQ * n + i] = xai_metric_high_frequency(a, h, w, 0.25);
            s[COMPLEXITY * n + i] = xai_metric_complexity(a, plane);
            s[LAPLACIAN * n + i] = xai_metric_laplacian_variance(a, h, w);
            s[SPARSENESS * n + i] = xai_metric_sparseness(a, plane);
            const xai_box *box = boxes ? (const xai_box *)(boxes + i * 4) : NULL;
            int has_box = box && !isnan(box->x0) && box->x1 > box->x0 && box->y1 > box->y0;
            s[MASS * n + i] = has_box ? xai_metric_mass_in_box(a, h, w, box) : NAN;
            s[RANK * n + i] = has_box ? xai_metric_rank_in_box(a, h, w, box) : NAN;
            s[POINTING * n + i] = has_box ? xai_metric_pointing_game(a, h, w, box) : NAN;
        }
        for (hsize_t i = 0; i < n && status == XAI_OK; i++) {
            scores[DELETION * n + i] = scores[INSERTION * n + i] = NAN;
            if (steps > 0 && targets[i] >= 0 && targets[i] + label_offset < classes)
                status = faithfulness(e, input + i * channels * plane, heat + i * plane, targets[i] + label_offset, channels, h, w,
                                      steps, classes, batch, logits, order, curve, &scores[DELETION * n + i],
                                      &scores[INSERTION * n + i]);
        }
        for (int k = 0; k < N_METRICS && status == XAI_OK; k++) {
            status = write_scores(f, methods[m], k, scores + k * n, n);
            xai_summary sum;
            xai_summarize(scores + k * n, (int)n, &sum);
            printf("%-16s %-22s %5d %10.4g %10.4g   [%9.4g, %9.4g]\n", methods[m], metric_names[k], sum.n, sum.mean,
                   sum.median, sum.low, sum.high);
            if (csv) fprintf(csv, "%s,%s,%d,%.9g,%.9g,%.9g,%.9g\n", methods[m], metric_names[k], sum.n, sum.mean,
                             sum.median, sum.low, sum.high);
        }
    }
    if (status == XAI_OK) printf("wrote /metrics/<method>/<metric> to %s and the summary to %s\n", o->run, csv_path);
    free(batch), free(logits), free(order), free(curve);
done:
    if (csv && fclose(csv) != 0 && status == XAI_OK) status = xai_fail("%s: cannot write (disk full?)", csv_path);
    for (int m = 0; methods[m]; m++) free(methods[m]);
    free(input), free(boxes), free(heat), free(targets), free(scores);
    xai_engine_destroy(e);
    xai_graph_free(g);
    if (H5Fclose(f) < 0 && status == XAI_OK) status = xai_fail("%s: cannot finish writing (disk full?)", o->run);
    return status;
}
