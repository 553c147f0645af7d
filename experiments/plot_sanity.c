/* plot_sanity.c - the figures of a `xaibench sanity` file (xai_plot.h): sanity_maps, the
 * paper's figure 2 layout for the first image (rows: methods; columns: the original maps, then
 * each step, its layers named above), and sanity_curves, each similarity measure against the
 * layers randomized, one line per method with the mean and its 95 % bootstrap interval over the
 * images. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "plot_gnuplot.h"
#include "xai_evaluate.h"
#include "xai_plot.h"
#include "xai_sanity_store.h"
#include "xai_status.h"
#include "xai_visualize.h"

/* One node name for a column title: its scopes without those that only prefix the next one,
 * the op dropped, the last two kept ("/layer4/layer4.0/downsample/downsample.0/Conv" ->
 * "layer4.0/downsample.0", "/fc/Gemm" -> "fc", "conv17" stays). */
static void short_name(const char *name, size_t len, char *out, size_t size)
{
    char copy[256], *parts[32];
    int n = 0;
    snprintf(copy, sizeof copy, "%.*s", (int)(len < 255 ? len : 255), name);
    for (char *t = strtok(copy, "/"); t && n < 32; t = strtok(NULL, "/")) parts[n++] = t;
    if (n > 1) n--; /* the op */
    int kept = 0;
    for (int k = 0; k < n; k++)
        if (k + 1 == n || strncmp(parts[k], parts[k + 1], strlen(parts[k])) != 0) parts[kept++] = parts[k];
    out[0] = '\0';
    for (int first = kept > 2 ? kept - 2 : 0, k = first; k < kept; k++) {
        if (k > first) strncat(out, "/", size - strlen(out) - 1);
        strncat(out, parts[k], size - strlen(out) - 1);
    }
}

/* A step's label for gnuplot's words: each node name shortened (a block: "first..last"), quotes
 * and spaces made harmless. */
static void short_label(const char *label, char *out, size_t size)
{
    const char *dots = strstr(label, "..");
    char first[64], last[64] = "";
    short_name(label, dots ? (size_t)(dots - label) : strlen(label), first, sizeof first);
    if (dots) short_name(dots + 2, strlen(dots + 2), last, sizeof last);
    snprintf(out, size, "%s%s%s", first, dots ? ".." : "", last);
    for (char *c = out; *c; c++)
        if (*c == '\'' || *c == '"' || *c == ' ') *c = '_';
}

/* The first image's |map| at every step, each shown as the run's figures show a map. */
static int maps_figure(const char *path, const char *outdir, const char *data, const xai_sanity_info *info)
{
    size_t plane = (size_t)info->height * info->width, steps = (size_t)info->n_steps;
    float *maps = xai_malloc(steps * plane * sizeof(float)), *shown = xai_malloc(plane * sizeof(float));
    char *labels = xai_calloc(steps, 160), *names = xai_calloc((size_t)info->n_methods, 64);
    int status = maps && shown && labels && names ? XAI_OK : XAI_ERR;
    for (int m = 0; !status && m < info->n_methods; m++) {
        char name[256];
        snprintf(name, sizeof name, "/figure/%s", info->methods[m]);
        status = xai_sanity_store_read(path, name, 0, maps, (long long)(steps * plane));
        for (size_t s = 0; !status && s < steps; s++) {
            xai_visualize(maps + s * plane, 1, plane, XAI_REDUCE_SUM, XAI_SIGN_ABSOLUTE, 2.0, shown);
            char *file = xai_format("%s/sanity_s%zu_m%d.f32", data, s + 1, m + 1);
            status = file ? plot_write_raw(file, shown, plane * sizeof(float)) : XAI_ERR;
            free(file);
        }
        strcat(strcat(names, m ? " " : ""), info->methods[m]);
    }
    for (int s = 0; !status && s < info->n_steps; s++) {
        char label[140];
        short_label(info->labels[s], label, sizeof label);
        strcat(strcat(labels, s ? " " : ""), label);
    }
    char *vars = status ? NULL
                        : xai_format("dir='%s'; steps=%d; n=%d; names='%s'; labels='%s'; size=%d", data, info->n_steps,
                                     info->n_methods, names, labels, info->height);
    char *stem = xai_format("%s/sanity_maps", outdir);
    if (!status) status = vars && stem ? plot_gnuplot("sanity_maps.gp", vars, stem) : XAI_ERR;
    free(maps), free(shown), free(labels), free(names), free(vars), free(stem);
    return status;
}

/* sanity_curves.txt: per step, its number, then per method and measure the mean, low, high. */
static int curves_figure(const char *path, const char *outdir, const char *data, const xai_sanity_info *info)
{
    size_t cells = (size_t)info->n_steps * info->n_images;
    double *values = xai_malloc((size_t)info->n_methods * XAI_SANITY_MEASURES * cells * sizeof(double));
    char *file = xai_format("%s/sanity_curves.txt", data), *names = xai_calloc((size_t)info->n_methods, 64);
    char *xtics = xai_calloc((size_t)info->n_steps, 160);
    int status = values && file && names && xtics ? XAI_OK : XAI_ERR;
    for (int m = 0; !status && m < info->n_methods; m++)
        for (int k = 0; !status && k < XAI_SANITY_MEASURES; k++) {
            char name[256];
            snprintf(name, sizeof name, "/similarity/%s/%s", info->methods[m], xai_sanity_measures[k]);
            status = xai_sanity_store_read(path, name, 1, values + ((size_t)m * XAI_SANITY_MEASURES + k) * cells,
                                           (long long)cells);
        }
    FILE *out = status ? NULL : fopen(file, "w");
    if (!status && !out) status = xai_fail("%s: cannot create: %s", file, strerror(errno));
    for (int s = 0; out && s < info->n_steps; s++) {
        fprintf(out, "%d", s);
        for (int m = 0; m < info->n_methods; m++)
            for (int k = 0; k < XAI_SANITY_MEASURES; k++) {
                xai_summary sum;
                xai_summarize(values + ((size_t)m * XAI_SANITY_MEASURES + k) * cells + (size_t)s * info->n_images,
                              info->n_images, &sum);
                fprintf(out, " %.9g %.9g %.9g", sum.mean, sum.low, sum.high);
            }
        fprintf(out, "\n");
    }
    if (out && fclose(out) != 0) status = xai_fail("%s: cannot write (disk full?)", file);
    for (int m = 0; !status && m < info->n_methods; m++) strcat(strcat(names, m ? " " : ""), info->methods[m]);
    for (int s = 0; !status && s < info->n_steps; s++) {
        char label[140];
        short_label(info->labels[s], label, sizeof label);
        char tic[160];
        snprintf(tic, sizeof tic, "%s\"%s\" %d", s ? ", " : "", label, s);
        strcat(xtics, tic);
    }
    char *vars = status ? NULL
                        : xai_format("file='%s'; n=%d; names='%s'; images=%d; set xtics (%s)", file, info->n_methods,
                                     names, info->n_images, xtics);
    char *stem = xai_format("%s/sanity_curves", outdir);
    if (!status) status = vars && stem ? plot_gnuplot("sanity_curves.gp", vars, stem) : XAI_ERR;
    free(values), free(file), free(names), free(xtics), free(vars), free(stem);
    return status;
}

int xai_plot_sanity(const char *path, const char *outdir)
{
    xai_sanity_info info;
    if (xai_sanity_store_info(path, &info)) return XAI_ERR;
    char *data = xai_format("%s/data", outdir);
    int status = data ? XAI_OK : XAI_ERR;
    if (!status && ((mkdir(outdir, 0755) && errno != EEXIST) || (mkdir(data, 0755) && errno != EEXIST)))
        status = xai_fail("%s: cannot create: %s", outdir, strerror(errno));
    if (!status) status = maps_figure(path, outdir, data, &info);
    if (!status) status = curves_figure(path, outdir, data, &info);
    free(data);
    xai_sanity_info_free(&info);
    return status;
}
