/* plot.c - data files for the gnuplot scripts of experiments/ and the gnuplot calls (see
 * xai_plot.h). Images are written raw: RGB bytes for the crop the model saw (denormalized with
 * the ImageNet mean and std), float32 [0,1] for each map after xai_visualize. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "plot_gnuplot.h"
#include "xai_classes.h"
#include "xai_plot.h"
#include "xai_status.h"
#include "xai_store.h"

#ifndef XAI_GNUPLOT_DIR
#define XAI_GNUPLOT_DIR "experiments"
#endif

int plot_write_raw(const char *path, const void *data, size_t bytes)
{
    FILE *f = fopen(path, "wb");
    if (!f) return xai_fail("%s: cannot create: %s", path, strerror(errno));
    int bad = fwrite(data, 1, bytes, f) != bytes;
    bad |= fclose(f) != 0;
    return bad ? xai_fail("%s: cannot write (disk full?)", path) : XAI_OK;
}

char *plot_string(const char *text)
{
    char *out = xai_malloc(2 * strlen(text) + 3), *o = out;
    if (!out) return NULL;
    *o++ = '\'';
    for (const char *c = text; *c; c++) {
        if (*c == '\'') *o++ = '\'';
        *o++ = *c == '\n' ? ' ' : *c;
    }
    *o++ = '\'';
    *o = '\0';
    return out;
}

/* OUTDIR/data/NAME.vars.gp for the figure OUTDIR/NAME: the variables, as gnuplot lines. */
static char *write_vars(const char *vars, const char *out_stem)
{
    const char *slash = strrchr(out_stem, '/');
    int dir_length = slash ? (int)(slash - out_stem) : 1;
    char *path = xai_format("%.*s/data/%s.vars.gp", dir_length, slash ? out_stem : ".", slash ? slash + 1 : out_stem);
    char *lines = xai_format("%s\n", vars);
    if (path && (!lines || plot_write_raw(path, lines, strlen(lines)))) free(path), path = NULL;
    free(lines);
    return path;
}

int plot_gnuplot(const char *script, const char *vars, const char *out_stem)
{
    const char *dir = getenv("XAI_GNUPLOT_DIR") ? getenv("XAI_GNUPLOT_DIR") : XAI_GNUPLOT_DIR;
    static const char *const terms[2] = {"png", "pdf"};
    char *vars_path = write_vars(vars, out_stem);
    int status = vars_path ? XAI_OK : XAI_ERR;
    for (int t = 0; t < 2 && status == XAI_OK; t++) {
        char *command = xai_format("gnuplot -e \"term='%s'; out='%s.%s'\" '%s' '%s/%s' 2>&1", terms[t], out_stem,
                                   terms[t], vars_path, dir, script);
        char *made = xai_format("%s.%s", out_stem, terms[t]);
        FILE *p = command && made ? popen(command, "r") : NULL;
        char message[512] = "";
        size_t got = p ? fread(message, 1, sizeof message - 1, p) : 0;
        message[got] = '\0';
        message[strcspn(message, "\n")] = '\0';
        struct stat st;
        if (!command || !made) status = XAI_ERR;
        else if (!p || pclose(p) != 0)
            status = xai_fail("%s: gnuplot failed%s%s", made, *message ? ": " : " (is gnuplot installed?)", message);
        else if (stat(made, &st) != 0 || st.st_size == 0)
            status = xai_fail("%s: gnuplot wrote nothing", made);
        free(command);
        free(made);
    }
    free(vars_path);
    return status;
}

/* What the figures of one file need. */
typedef struct {
    const xai_plot_options *o;
    xai_store *store;
    const xai_store_shape *shape;
    char **methods;   /* in the seed's order first */
    char *names;      /* the methods, space-separated, for gnuplot */
    char *data;       /* OUTDIR/data: the raw images gnuplot reads */
    int *targets;
    float mean[3], std[3];
} plotting;

/* "r,g,b" of a root attribute (the transform's mean or std), or `fallback`. */
static int triple_attribute(xai_store *store, const char *key, const float *fallback, float *out)
{
    char *text = NULL;
    memcpy(out, fallback, 3 * sizeof(float));
    if (xai_store_get_attribute(store, key, &text)) return XAI_ERR;
    if (text) sscanf(text, "%f,%f,%f", &out[0], &out[1], &out[2]);
    free(text);
    return XAI_OK;
}

/* Where method `name` is in the file's own order (its map_channels). */
static int method_index(const plotting *p, const char *name)
{
    for (int m = 0; m < p->shape->n_methods; m++)
        if (!strcmp(p->shape->methods[m], name)) return m;
    return 0;
}

/* Crop image i as RGB bytes at rgb_path (the input denormalized with the file's mean and std),
 * and each method's map as a [0,1] display image at map_pattern (%d: the method's number). */
static int write_image_data(const plotting *p, int i, const char *rgb_path, const char *map_pattern)
{
    size_t plane = (size_t)p->shape->height * p->shape->width;
    float *input = xai_malloc(3 * plane * sizeof(float)), *map = xai_malloc(3 * plane * sizeof(float));
    float *shown = xai_malloc(plane * sizeof(float));
    unsigned char *rgb = xai_malloc(3 * plane);
    int status = input && map && shown && rgb ? XAI_OK : XAI_ERR;
    if (status == XAI_OK) status = xai_store_read(p->store, "/input", i, 1, input);
    for (size_t k = 0; status == XAI_OK && k < plane; k++)
        for (int c = 0; c < 3; c++) {
            float v = (input[c * plane + k] * p->std[c] + p->mean[c]) * 255.f;
            rgb[3 * k + c] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : lrintf(v));
        }
    if (status == XAI_OK) status = plot_write_raw(rgb_path, rgb, 3 * plane);
    for (int m = 0; p->methods[m] && status == XAI_OK; m++) {
        char *name = xai_format("/maps/%s", p->methods[m]), *path = xai_format(map_pattern, m + 1);
        status = name && path ? xai_store_read(p->store, name, i, 1, map) : XAI_ERR;
        if (status == XAI_OK) { /* three channels, or one (grad_cam) */
            xai_visualize(map, p->shape->map_channels[method_index(p, p->methods[m])], plane, p->o->reduce, p->o->sign,
                          2.0, shown);
            status = plot_write_raw(path, shown, plane * sizeof(float));
        }
        free(name);
        free(path);
    }
    free(input), free(map), free(shown), free(rgb);
    return status;
}

/* A class label for titles, as people write it: the ImageNet name when the model has 1000
 * outputs, with the table's underscores (folder names) as spaces. */
static void class_label(int target, int classes, char *out, size_t size)
{
    if (classes >= XAI_IMAGENET_CLASSES && target >= 0 && target < XAI_IMAGENET_CLASSES)
        snprintf(out, size, "%s", xai_imagenet_name(target));
    else snprintf(out, size, "class %d", target);
    for (char *c = out; *c; c++)
        if (*c == '_') *c = ' ';
}

/* The file's methods in the seed's order first (deconvnet, guided backprop, saliency), then the
 * others, and their names as gnuplot's words. */
static int order_methods(plotting *p)
{
    static const char *const seed[3] = {"deconvnet", "guided_backprop", "saliency"};
    int n = p->shape->n_methods, k = 0;
    size_t bytes = 1;
    if (!(p->methods = xai_calloc((size_t)n + 1, sizeof *p->methods))) return XAI_ERR;
    for (int s = 0; s < 3; s++)
        for (int m = 0; m < n; m++)
            if (!strcmp(p->shape->methods[m], seed[s])) p->methods[k++] = (char *)p->shape->methods[m];
    for (int m = 0; m < n; m++) {
        int seen = 0;
        for (int j = 0; j < k; j++) seen |= p->methods[j] == p->shape->methods[m];
        if (!seen) p->methods[k++] = (char *)p->shape->methods[m];
        bytes += strlen(p->shape->methods[m]) + 1;
    }
    if (!(p->names = xai_calloc(bytes, 1))) return XAI_ERR;
    for (int m = 0; m < n; m++) strcat(strcat(p->names, m ? " " : ""), p->methods[m]);
    return XAI_OK;
}

/* The file name of image i's source (run files); plot_string quotes it for gnuplot. */
static int source_name(const plotting *p, int i, char *out)
{
    out[0] = '\0';
    if (!xai_store_has(p->store, "/images/path")) return XAI_OK;
    if (xai_store_read(p->store, "/images/path", i, 1, out)) return XAI_ERR;
    out[XAI_STORE_PATH_BYTES - 1] = '\0';
    char *slash = strrchr(out, '/');
    if (slash) memmove(out, slash + 1, strlen(slash));
    return XAI_OK;
}

/* One image: original crop | one panel per method. */
static int figure1(const plotting *p)
{
    int i = p->o->image, classes = p->shape->classes;
    char label[256], source[XAI_STORE_PATH_BYTES];
    char *rgb = xai_format("%s/original.rgb", p->data), *pattern = xai_format("%s/map%%d.f32", p->data);
    int status = rgb && pattern ? write_image_data(p, i, rgb, pattern) : XAI_ERR;
    if (status == XAI_OK) status = source_name(p, i, source);
    class_label(p->targets[i], classes, label, sizeof label);
    char *title = xai_format("%s%s%s", label, *source ? " - " : "", source), *quoted = title ? plot_string(title) : NULL;
    char *vars = status || !quoted ? NULL
                                   : xai_format("dir='%s'; n=%d; names='%s'; size=%d; title=%s; caption='%s'", p->data,
                                                p->shape->n_methods, p->names, p->shape->height, quoted,
                                                xai_visualize_caption(p->o->reduce, p->o->sign));
    free(title), free(quoted);
    char *stem = xai_format("%s/figure1", p->o->outdir);
    if (status == XAI_OK) status = vars && stem ? plot_gnuplot("figure1.gp", vars, stem) : XAI_ERR;
    free(rgb), free(pattern), free(vars), free(stem);
    return status;
}

/* Several images (rows) x methods; row r's title is row_title[r], its image's explained class. */
static int grid(const plotting *p)
{
    int rows = p->o->grid_images > 0 ? p->o->grid_images : 6;
    if (rows > p->shape->rows) rows = (int)p->shape->rows;
    char *titles = xai_calloc((size_t)rows, 2 * 256 + 4);
    int status = titles ? XAI_OK : XAI_ERR;
    for (int r = 1; r <= rows && status == XAI_OK; r++) {
        char *rgb = xai_format("%s/image%d.rgb", p->data, r), *pattern = xai_format("%s/map%d_%%d.f32", p->data, r);
        char label[256];
        status = rgb && pattern ? write_image_data(p, r - 1, rgb, pattern) : XAI_ERR;
        class_label(p->targets[r - 1], p->shape->classes, label, sizeof label);
        char *quoted = plot_string(label);
        if (quoted) strcat(strcat(titles, r > 1 ? ", " : ""), quoted);
        else status = XAI_ERR;
        free(rgb), free(pattern), free(quoted);
    }
    char *vars = status ? NULL
                        : xai_format("dir='%s'; rows=%d; n=%d; names='%s'; array row_title[%d] = [%s]; size=%d; "
                                     "caption='%s'",
                                     p->data, rows, p->shape->n_methods, p->names, rows, titles, p->shape->height,
                                     xai_visualize_caption(p->o->reduce, p->o->sign));
    char *stem = xai_format("%s/grid", p->o->outdir);
    if (status == XAI_OK) status = vars && stem ? plot_gnuplot("grid.gp", vars, stem) : XAI_ERR;
    free(titles), free(vars), free(stem);
    return status;
}

static const char *const metrics[] = {"total_variation", "high_frequency_energy", "complexity", "laplacian_variance",
                                      "sparseness", "mass_in_box", "rank_in_box", "pointing_game", "deletion_auc",
                                      "insertion_auc"};
#define N_METRICS (int)(sizeof metrics / sizeof *metrics)

/* The values of one metric of one method (NaNs left out) as lines of `path`; how many. */
static int write_metric_values(const plotting *p, const char *method, const char *metric, const char *path,
                               int *values)
{
    char *name = xai_format("/metrics/%s/%s", method, metric);
    double *v = xai_malloc(((size_t)p->shape->rows + 1) * sizeof *v);
    FILE *out = fopen(path, "w");
    int status = name && v ? XAI_OK : XAI_ERR;
    if (!out && status == XAI_OK) status = xai_fail("%s: cannot create: %s", path, strerror(errno));
    if (status == XAI_OK && xai_store_has(p->store, name) &&
        (status = xai_store_read(p->store, name, 0, p->shape->rows, v)) == XAI_OK)
        for (long long i = 0; i < p->shape->rows; i++)
            if (!isnan(v[i])) fprintf(out, "%.9g\n", v[i]), ++*values;
    if (out && fclose(out) != 0 && status == XAI_OK) status = xai_fail("%s: cannot write (disk full?)", path);
    free(name);
    free(v);
    return status;
}

/* Per-metric distributions per method, one panel per metric that has values (localisation
 * needs boxes, faithfulness a model); nothing before `xaibench metrics` has run. */
static int boxplots(const plotting *p)
{
    int status = XAI_OK, drawn = 0, n = p->shape->n_methods;
    char words[N_METRICS * 24] = "";
    for (int j = 0; j < N_METRICS && status == XAI_OK; j++) {
        int values = 0;
        for (int m = 0; m < n && status == XAI_OK; m++) {
            char *path = xai_format("%s/metric%d_method%d.txt", p->data, drawn + 1, m + 1);
            status = path ? write_metric_values(p, p->methods[m], metrics[j], path, &values) : XAI_ERR;
            free(path);
        }
        if (values) strcat(strcat(words, drawn++ ? " " : ""), metrics[j]);
    }
    if (status || !drawn) return status;
    char *vars = xai_format("dir='%s'; metrics='%s'; names='%s'; m=%d; n=%d; title='per-image metrics (docs/metrics.md)'",
                            p->data, words, p->names, drawn, n);
    char *stem = xai_format("%s/boxplots", p->o->outdir);
    status = vars && stem ? plot_gnuplot("boxplots.gp", vars, stem) : XAI_ERR;
    free(vars), free(stem);
    return status;
}

/* The file, checked to hold what the figures need, and the output folders. */
static int open_plotting(plotting *p)
{
    static const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f}, imagenet_std[3] = {0.229f, 0.224f, 0.225f};
    const xai_plot_options *o = p->o;
    if (xai_store_open(&p->store, o->run, XAI_STORE_READ)) return XAI_ERR;
    p->shape = xai_store_shape_of(p->store);
    if (p->shape->width != p->shape->height || p->shape->channels != 3)
        return xai_fail("%s: figures need square RGB inputs", o->run);
    if (o->image < 0 || o->image >= p->shape->rows)
        return xai_fail("--image %d: the file holds images 0..%lld", o->image, p->shape->rows - 1);
    if (order_methods(p) || triple_attribute(p->store, "mean", imagenet_mean, p->mean) ||
        triple_attribute(p->store, "std", imagenet_std, p->std))
        return XAI_ERR;
    if (!(p->targets = xai_malloc((size_t)p->shape->rows * sizeof *p->targets)) ||
        xai_store_read(p->store, "/target", 0, p->shape->rows, p->targets) ||
        !(p->data = xai_format("%s/data", o->outdir)))
        return XAI_ERR;
    if ((mkdir(o->outdir, 0755) && errno != EEXIST) || (mkdir(p->data, 0755) && errno != EEXIST))
        return xai_fail("%s: cannot create: %s", o->outdir, strerror(errno));
    return XAI_OK;
}

int xai_plot(const xai_plot_options *o)
{
    plotting p = {.o = o};
    int status = open_plotting(&p) || figure1(&p) || grid(&p) || boxplots(&p) ? XAI_ERR : XAI_OK;
    xai_store_abort(p.store);
    free(p.methods), free(p.names), free(p.data), free(p.targets);
    return status;
}
