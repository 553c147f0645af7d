/* plot.c - data files for the gnuplot scripts of experiments/ and the gnuplot calls (see
 * xai_plot.h). Images are written raw: RGB bytes for the crop the model saw (denormalized with
 * the ImageNet mean and std), float32 [0,1] for each map after xai_visualize. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <hdf5.h>

#include "xai_classes.h"
#include "xai_method.h"
#include "xai_plot.h"
#include "xai_status.h"
#include "xai_store.h"

#ifndef XAI_GNUPLOT_DIR
#define XAI_GNUPLOT_DIR "experiments"
#endif

static int write_raw(const char *path, const void *data, size_t bytes)
{
    FILE *f = fopen(path, "wb");
    if (!f) return xai_fail("%s: cannot create: %s", path, strerror(errno));
    int bad = fwrite(data, 1, bytes, f) != bytes;
    bad |= fclose(f) != 0;
    return bad ? xai_fail("%s: cannot write (disk full?)", path) : XAI_OK;
}

/* Rows [first, first + count) of a dataset, in `type`. */
static int read_rows(hid_t file, const char *name, hid_t type, hsize_t first, hsize_t count, void *out)
{
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    if (d < 0) return xai_fail("no dataset %s", name);
    hid_t space = H5Dget_space(d);
    int rank = H5Sget_simple_extent_ndims(space);
    hsize_t dims[8], start[8] = {first}, size[8];
    H5Sget_simple_extent_dims(space, dims, NULL);
    for (int k = 0; k < rank; k++) size[k] = k ? dims[k] : count;
    for (int k = 1; k < rank; k++) start[k] = 0;
    hid_t mem = H5Screate_simple(rank, size, NULL);
    H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, size, NULL);
    herr_t r = H5Dread(d, type, mem, space, H5P_DEFAULT, out);
    H5Sclose(mem), H5Sclose(space), H5Dclose(d);
    return r < 0 ? xai_fail("cannot read %s", name) : XAI_OK;
}

/* gnuplot -e "<vars>" SCRIPT, for both terminals. */
static int gnuplot(const char *script, const char *vars, const char *out_stem)
{
    const char *dir = getenv("XAI_GNUPLOT_DIR") ? getenv("XAI_GNUPLOT_DIR") : XAI_GNUPLOT_DIR;
    static const char *const terms[2] = {"png", "pdf"};
    for (int t = 0; t < 2; t++) {
        size_t n = strlen(vars) + strlen(out_stem) + strlen(dir) + strlen(script) + 256;
        char *command = xai_malloc(n);
        if (!command) return XAI_ERR;
        snprintf(command, n, "gnuplot -e \"term='%s'; out='%s.%s'; %s\" '%s/%s' 2>&1", terms[t], out_stem, terms[t],
                 vars, dir, script);
        FILE *p = popen(command, "r");
        char message[512] = "";
        size_t got = p ? fread(message, 1, sizeof message - 1, p) : 0;
        message[got] = '\0';
        message[strcspn(message, "\n")] = '\0';
        int status = p ? pclose(p) : -1;
        free(command);
        if (status != 0)
            return xai_fail("%s.%s: gnuplot failed%s%s", out_stem, terms[t], *message ? ": " : " (is gnuplot installed?)",
                            message);
        struct stat st;
        char made[4096];
        snprintf(made, sizeof made, "%s.%s", out_stem, terms[t]);
        if (stat(made, &st) != 0 || st.st_size == 0) return xai_fail("%s: gnuplot wrote nothing", made);
    }
    return XAI_OK;
}

/* "r,g,b" of a root attribute (the transform's mean or std), or `fallback`. */
static void triple_attribute(hid_t f, const char *key, const float *fallback, float *out)
{
    char text[128];
    memcpy(out, fallback, 3 * sizeof(float));
    if (xai_h5_string_attribute(f, key, text, sizeof text) == XAI_OK)
        sscanf(text, "%f,%f,%f", &out[0], &out[1], &out[2]);
}

/* Crop image i as RGB bytes (the input denormalized with the file's mean and std, ImageNet's when
 * absent), and each method's map as a [0,1] display image. */
static int write_image_data(hid_t f, int i, int size, char *const *methods, int n_methods, const xai_plot_options *o,
                            const char *rgb_path, const char *map_pattern, int row)
{
    static const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f}, imagenet_std[3] = {0.229f, 0.224f, 0.225f};
    float mean[3], std[3];
    triple_attribute(f, "mean", imagenet_mean, mean);
    triple_attribute(f, "std", imagenet_std, std);
    size_t plane = (size_t)size * size;
    float *input = xai_malloc(3 * plane * sizeof(float)), *map = xai_malloc(3 * plane * sizeof(float));
    float *shown = xai_malloc(plane * sizeof(float));
    unsigned char *rgb = xai_malloc(3 * plane);
    int status = input && map && shown && rgb ? XAI_OK : xai_fail("out of memory");
    if (status == XAI_OK) status = read_rows(f, "/input", H5T_NATIVE_FLOAT, (hsize_t)i, 1, input);
    for (size_t p = 0; status == XAI_OK && p < plane; p++)
        for (int c = 0; c < 3; c++) {
            float v = (input[c * plane + p] * std[c] + mean[c]) * 255.f;
            rgb[3 * p + c] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : lrintf(v));
        }
    if (status == XAI_OK) status = write_raw(rgb_path, rgb, 3 * plane);
    for (int m = 0; m < n_methods && status == XAI_OK; m++) {
        char name[256], path[4096];
        snprintf(name, sizeof name, "/maps/%s", methods[m]);
        status = read_rows(f, name, H5T_NATIVE_FLOAT, (hsize_t)i, 1, map);
        if (status) break;
        xai_visualize(map, 3, plane, o->reduce, o->sign, 2.0, shown);
        if (row) snprintf(path, sizeof path, map_pattern, row, m + 1);
        else snprintf(path, sizeof path, map_pattern, m + 1);
        status = write_raw(path, shown, plane * sizeof(float));
    }
    free(input), free(map), free(shown), free(rgb);
    return status;
}

/* A class label for titles: the ImageNet name when the model has 1000 outputs. */
static void class_label(int target, int classes, char *out, size_t size, int words)
{
    if (classes >= XAI_IMAGENET_CLASSES && target >= 0 && target < XAI_IMAGENET_CLASSES)
        snprintf(out, size, "%s", xai_imagenet_name(target));
    else snprintf(out, size, "class %d", target);
    if (words)
        for (char *c = out; *c; c++)
            if (*c == ' ') *c = '_';
}

static herr_t list_names(hid_t group, const char *name, const H5L_info_t *info, void *data)
{
    (void)group, (void)info;
    char **names = data;
    int n = 0;
    while (n < XAI_METHODS_MAX && names[n]) n++;
    if (n < XAI_METHODS_MAX) names[n] = xai_strdup(name);
    return 0;
}

/* Methods in the seed's order first (deconvnet, guided backprop, saliency), then the others. */
static int ordered_methods(hid_t f, char **methods)
{
    char *found[XAI_METHODS_MAX + 1] = {NULL};
    hid_t g = H5Gopen2(f, "/maps", H5P_DEFAULT);
    if (g < 0) return xai_fail("no /maps (not an xaibench result file)");
    H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, list_names, found);
    H5Gclose(g);
    static const char *const seed[3] = {"deconvnet", "guided_backprop", "saliency"};
    int n = 0;
    for (int s = 0; s < 3; s++)
        for (int k = 0; found[k]; k++)
            if (found[k][0] && !strcmp(found[k], seed[s])) methods[n++] = found[k], found[k] = NULL;
    for (int k = 0; k < XAI_METHODS_MAX; k++)
        if (found[k]) methods[n++] = found[k];
    methods[n] = NULL;
    return n;
}

static int boxplots(hid_t f, char *const *methods, int n_methods, const char *outdir, const char *data)
{
    if (H5Lexists(f, "/metrics", H5P_DEFAULT) <= 0) return 0; /* no metrics yet: no box plots */
    static const char *const metrics[] = {"total_variation", "high_frequency_energy", "complexity",
                                          "laplacian_variance", "sparseness", "mass_in_box", "rank_in_box",
                                          "pointing_game", "deletion_auc", "insertion_auc"};
    int n_metrics = (int)(sizeof metrics / sizeof *metrics), status = XAI_OK, drawn = 0;
    char names[1024] = "", metric_words[1024] = "";
    for (int m = 0; m < n_methods; m++) strcat(strcat(names, m ? " " : ""), methods[m]);
    /* One panel per metric that has values (localisation needs boxes, faithfulness a model). */
    for (int j = 0; j < n_metrics && status == XAI_OK; j++) {
        int values = 0;
        for (int m = 0; m < n_methods && status == XAI_OK; m++) {
            char name[256], path[2200];
            snprintf(name, sizeof name, "/metrics/%s/%s", methods[m], metrics[j]);
            snprintf(path, sizeof path, "%s/metric%d_method%d.txt", data, drawn + 1, m + 1);
            FILE *out = fopen(path, "w");
            if (!out) return xai_fail("%s: cannot create", path);
            hid_t d = H5Lexists(f, name, H5P_DEFAULT) > 0 ? H5Dopen2(f, name, H5P_DEFAULT) : -1;
            if (d >= 0) {
                hid_t s = H5Dget_space(d);
                hsize_t n = (hsize_t)H5Sget_simple_extent_npoints(s);
                double *v = xai_malloc((n + 1) * sizeof *v);
                if (v && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0)
                    for (hsize_t i = 0; i < n; i++)
                        if (!isnan(v[i])) fprintf(out, "%.9g\n", v[i]), values++;
                free(v);
                H5Sclose(s);
                H5Dclose(d);
            }
            if (fclose(out) != 0) status = xai_fail("%s: cannot write", path);
        }
        if (values) strcat(strcat(metric_words, drawn++ ? " " : ""), metrics[j]);
    }
    if (!drawn) return status;
    if (status) return status;
    char vars[8192], stem[4200];
    snprintf(vars, sizeof vars, "dir='%s'; metrics='%s'; names='%s'; m=%d; n=%d; title='per-image metrics (docs/metrics.md)'",
             data, metric_words, names, drawn, n_methods);
    snprintf(stem, sizeof stem, "%s/boxplots", outdir);
    return gnuplot("boxplots.gp", vars, stem);
}

int xai_plot(const xai_plot_options *o)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(o->run, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return xai_fail("%s: cannot open as HDF5", o->run);
    char *methods[XAI_METHODS_MAX + 1] = {NULL}, data[2048];
    int status = XAI_OK, n_methods = ordered_methods(f, methods);
    int n_images = 0, size = 0, classes = 0, *targets = NULL;
    hid_t d = n_methods > 0 ? H5Dopen2(f, "/input", H5P_DEFAULT) : -1;
    if (n_methods <= 0 || d < 0) {
        status = n_methods < 0 ? xai_fail("%s: %s", o->run, xai_last_error()) : xai_fail("%s: no /input or /maps", o->run);
        goto done;
    }
    hsize_t dims[4];
    hid_t s = H5Dget_space(d);
    H5Sget_simple_extent_dims(s, dims, NULL);
    H5Sclose(s), H5Dclose(d);
    n_images = (int)dims[0], size = (int)dims[2];
    hid_t logits = H5Dopen2(f, "/logits", H5P_DEFAULT);
    if (logits >= 0) {
        hsize_t ld[2];
        s = H5Dget_space(logits);
        H5Sget_simple_extent_dims(s, ld, NULL);
        H5Sclose(s), H5Dclose(logits);
        classes = (int)ld[1];
    }
    if (dims[3] != dims[2] || dims[1] != 3) {
        status = xai_fail("%s: figures need square RGB inputs", o->run);
        goto done;
    }
    if (o->image < 0 || o->image >= n_images) {
        status = xai_fail("--image %d: the file holds images 0..%d", o->image, n_images - 1);
        goto done;
    }
    targets = xai_malloc((size_t)n_images * sizeof *targets);
    if (!targets || read_rows(f, "/target", H5T_NATIVE_INT, 0, (hsize_t)n_images, targets)) {
        status = xai_fail("%s: cannot read /target", o->run);
        goto done;
    }
    snprintf(data, sizeof data, "%s/data", o->outdir);
    if ((mkdir(o->outdir, 0755) && errno != EEXIST) || (mkdir(data, 0755) && errno != EEXIST)) {
        status = xai_fail("%s: cannot create: %s", o->outdir, strerror(errno));
        goto done;
    }
    char names[1024] = "", path[2200], pattern[2200], vars[8192], stem[2200], label[256], source[XAI_STORE_PATH_BYTES + 1] = "";
    for (int m = 0; m < n_methods; m++) strcat(strcat(names, m ? " " : ""), methods[m]);
    const char *caption = xai_visualize_caption(o->reduce, o->sign);

    /* figure1 */
    snprintf(path, sizeof path, "%s/original.rgb", data);
    snprintf(pattern, sizeof pattern, "%s/map%%d.f32", data);
    if ((status = write_image_data(f, o->image, size, methods, n_methods, o, path, pattern, 0))) goto done;
    if (H5Lexists(f, "/images/path", H5P_DEFAULT) > 0) {
        hid_t type = H5Tcopy(H5T_C_S1);
        H5Tset_size(type, XAI_STORE_PATH_BYTES);
        read_rows(f, "/images/path", type, (hsize_t)o->image, 1, source);
        H5Tclose(type);
        char *slash = strrchr(source, '/');
        if (slash) memmove(source, slash + 1, strlen(slash));
    }
    class_label(targets[o->image], classes, label, sizeof label, 0);
    for (char *c = source; *c; c++)
        if (*c == '\'' || *c == '"') *c = '_';
    snprintf(vars, sizeof vars, "dir='%s'; n=%d; names='%s'; size=%d; title='%s%s%s'; caption='%s'", data, n_methods,
             names, size, label, *source ? " - " : "", source, caption);
    snprintf(stem, sizeof stem, "%s/figure1", o->outdir);
    if ((status = gnuplot("figure1.gp", vars, stem))) goto done;

    /* grid */
    int rows = o->grid_images > 0 ? o->grid_images : 6;
    if (rows > n_images) rows = n_images;
    char labels[8192] = "";
    for (int r = 1; r <= rows && status == XAI_OK; r++) {
        snprintf(path, sizeof path, "%s/image%d.rgb", data, r);
        snprintf(pattern, sizeof pattern, "%s/map%%d_%%d.f32", data);
        status = write_image_data(f, r - 1, size, methods, n_methods, o, path, pattern, r);
        class_label(targets[r - 1], classes, label, sizeof label, 1);
        strcat(strcat(labels, r > 1 ? " " : ""), label);
    }
    if (status) goto done;
    snprintf(vars, sizeof vars, "dir='%s'; rows=%d; n=%d; names='%s'; labels='%s'; size=%d; caption='%s'", data, rows,
             n_methods, names, labels, size, caption);
    snprintf(stem, sizeof stem, "%s/grid", o->outdir);
    if ((status = gnuplot("grid.gp", vars, stem))) goto done;
    status = boxplots(f, methods, n_methods, o->outdir, data);
done:
    for (int m = 0; methods[m]; m++) free(methods[m]);
    free(targets);
    H5Fclose(f);
    return status;
}
