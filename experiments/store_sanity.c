/* store_sanity.c - the results file of `xaibench sanity` (see xai_sanity_store.h): fixed-size
 * datasets made when the file is, one hyperslab per step, the step count as an attribute. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_hdf5.h"
#include "xai_sanity_store.h"
#include "xai_status.h"

const char *const xai_sanity_measures[XAI_SANITY_MEASURES] = {"spearman_abs", "spearman_signed", "ssim"};

struct xai_sanity_store {
    char *path, *partial;
    hid_t file;
    xai_sanity_shape shape; /* its methods the store's own; labels, images, settings: only while opening */
    char *methods[64];
    int steps_done;
};

/* A dataset of `rank` dims, every element `fill` until written. */
static int create_dataset(xai_sanity_store *s, const char *name, hid_t type, int rank, const hsize_t *dims,
                          const void *fill)
{
    hid_t link = H5Pcreate(H5P_LINK_CREATE), create = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_create_intermediate_group(link, 1);
    if (fill) H5Pset_fill_value(create, type, fill);
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(s->file, name, type, space, link, create, H5P_DEFAULT);
    H5Sclose(space), H5Pclose(link), H5Pclose(create);
    if (d < 0) return xai_fail("%s: cannot create %s (disk full?)", s->partial, name);
    H5Dclose(d);
    return XAI_OK;
}

/* n strings as one fixed-length string dataset, as long as the longest. */
static int write_strings(xai_sanity_store *s, const char *name, const char *const *text, int n)
{
    size_t size = 1;
    for (int k = 0; k < n; k++)
        if (strlen(text[k]) + 1 > size) size = strlen(text[k]) + 1;
    char *rows = xai_calloc((size_t)n, size);
    if (!rows) return XAI_ERR;
    for (int k = 0; k < n; k++) memcpy(rows + k * size, text[k], strlen(text[k]));
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, size);
    H5Tset_cset(type, H5T_CSET_UTF8);
    hsize_t dims[1] = {(hsize_t)n};
    int status = create_dataset(s, name, type, 1, dims, NULL);
    hid_t d = status ? -1 : H5Dopen2(s->file, name, H5P_DEFAULT);
    if (!status && (d < 0 || H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) < 0))
        status = xai_fail("%s: cannot write %s (disk full?)", s->partial, name);
    if (d >= 0) H5Dclose(d);
    H5Tclose(type);
    free(rows);
    return status;
}

static int create_layout(xai_sanity_store *s)
{
    const xai_sanity_shape *p = &s->shape;
    hsize_t similarity[2] = {(hsize_t)p->n_steps, (hsize_t)p->n_images};
    hsize_t figure[3] = {(hsize_t)p->n_steps, (hsize_t)p->height, (hsize_t)p->width};
    hsize_t images[1] = {(hsize_t)p->n_images};
    double nan = NAN;
    int status = write_strings(s, "/steps/label", p->labels, p->n_steps);
    if (!status) status = write_strings(s, "/images/path", p->images, p->n_images);
    if (!status) status = create_dataset(s, "/target", H5T_NATIVE_INT32, 1, images, NULL);
    for (int m = 0; !status && m < p->n_methods; m++) {
        char name[256];
        for (int k = 0; !status && k < XAI_SANITY_MEASURES; k++) {
            snprintf(name, sizeof name, "/similarity/%s/%s", p->methods[m], xai_sanity_measures[k]);
            status = create_dataset(s, name, H5T_NATIVE_DOUBLE, 2, similarity, &nan);
        }
        snprintf(name, sizeof name, "/figure/%s", p->methods[m]);
        if (!status) status = create_dataset(s, name, H5T_NATIVE_FLOAT, 3, figure, NULL);
    }
    size_t bytes = 1;
    for (int m = 0; m < p->n_methods; m++) bytes += strlen(p->methods[m]) + 1;
    char *methods = status ? NULL : xai_calloc(bytes, 1);
    if (!status && !methods) status = XAI_ERR;
    for (int m = 0; !status && m < p->n_methods; m++) strcat(strcat(methods, m ? "," : ""), p->methods[m]);
    if (!status) status = store_write_string_attribute(s->file, s->partial, "methods", methods);
    free(methods);
    if (!status) status = store_write_string_attribute(s->file, s->partial, "settings", p->settings);
    if (!status) status = store_write_string_attribute(s->file, s->partial, "steps_done", "0");
    return status;
}

/* The first line where two settings texts differ, for the refusal. */
static void first_difference(const char *a, const char *b, char *out, size_t size)
{
    while (*a && *b) {
        size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
        if (la != lb || memcmp(a, b, la)) {
            snprintf(out, size, "%.*s, now %.*s", (int)la, a, (int)lb, b);
            return;
        }
        a += la + (a[la] == '\n'), b += lb + (b[lb] == '\n');
    }
    snprintf(out, size, "%s", *a ? a : b);
    out[strcspn(out, "\n")] = '\0';
}

static int resume(xai_sanity_store *s)
{
    char *settings = NULL, *done = NULL;
    s->file = H5Fopen(s->partial, H5F_ACC_RDWR, H5P_DEFAULT);
    if (s->file < 0)
        return xai_fail("%s: an unfinished sanity file that HDF5 cannot open; remove it to start again", s->partial);
    int status = store_read_string_attribute(s->file, s->partial, "settings", &settings);
    if (!status) status = store_read_string_attribute(s->file, s->partial, "steps_done", &done);
    if (!status && (!settings || !done))
        status = xai_fail("%s: not an unfinished sanity file; remove it to start again", s->partial);
    if (!status && strcmp(settings, s->shape.settings)) {
        char what[512];
        first_difference(settings, s->shape.settings, what, sizeof what);
        status = xai_fail("%s: an unfinished run with other settings (%s); remove it or run it as it was",
                          s->partial, what);
    }
    if (!status) s->steps_done = atoi(done);
    free(settings), free(done);
    return status;
}

int xai_sanity_store_open(xai_sanity_store **out, const char *path, const xai_sanity_shape *shape, int *steps_done)
{
    *out = NULL;
    store_library_init();
    xai_sanity_store *s = xai_calloc(1, sizeof *s);
    if (!s) return XAI_ERR;
    s->shape = *shape;
    s->file = -1;
    if (shape->n_methods > 64) return free(s), xai_fail("sanity: at most 64 methods");
    for (int m = 0; m < shape->n_methods; m++)
        if (!(s->methods[m] = xai_malloc(strlen(shape->methods[m]) + 1))) return xai_sanity_store_abort(s), XAI_ERR;
        else strcpy(s->methods[m], shape->methods[m]);
    s->shape.methods = (const char *const *)s->methods;
    s->path = xai_malloc(strlen(path) + 1), s->partial = xai_malloc(strlen(path) + 9);
    if (!s->path || !s->partial) return xai_sanity_store_abort(s), XAI_ERR;
    strcpy(s->path, path), strcat(strcpy(s->partial, path), ".partial");
    int status;
    if (access(s->partial, F_OK) == 0) status = resume(s);
    else {
        s->file = H5Fcreate(s->partial, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        status = s->file < 0 ? xai_fail("%s: cannot create the file: %s", s->partial, strerror(errno)) : create_layout(s);
        if (status && s->file >= 0) H5Fclose(s->file), s->file = -1, remove(s->partial);
    }
    if (status) return xai_sanity_store_abort(s), XAI_ERR;
    *steps_done = s->steps_done;
    *out = s;
    return XAI_OK;
}

int xai_sanity_store_provenance(xai_sanity_store *s, const char *model_path, const char *model_sha256, int threads,
                                int argc, char **argv)
{
    return store_write_provenance(s->file, s->partial, model_path, model_sha256, threads, argc, argv);
}

/* Row `row` (along the first axis) of dataset `name`, the whole row, from memory of `type`. */
static int write_row(xai_sanity_store *s, const char *name, hid_t type, int row, const void *data)
{
    hid_t d = H5Dopen2(s->file, name, H5P_DEFAULT), space = d >= 0 ? H5Dget_space(d) : -1;
    hsize_t dims[3] = {1, 1, 1}, start[3] = {(hsize_t)row, 0, 0};
    int rank = space >= 0 ? H5Sget_simple_extent_dims(space, dims, NULL) : -1;
    herr_t w = -1;
    if (rank >= 1) {
        hsize_t count[3] = {1, dims[1], dims[2]};
        hid_t memory = H5Screate_simple(rank, count, NULL);
        if (H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL) >= 0)
            w = H5Dwrite(d, type, memory, space, H5P_DEFAULT, data);
        H5Sclose(memory);
    }
    if (space >= 0) H5Sclose(space);
    if (d >= 0) H5Dclose(d);
    return w < 0 ? xai_fail("%s: cannot write %s (disk full?)", s->partial, name) : XAI_OK;
}

int xai_sanity_store_write_step(xai_sanity_store *s, int step, const double *const *similarity,
                                const float *const *figure, const int *targets)
{
    const xai_sanity_shape *p = &s->shape;
    int status = XAI_OK;
    if (targets) {
        hid_t d = H5Dopen2(s->file, "/target", H5P_DEFAULT);
        if (d < 0 || H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, targets) < 0)
            status = xai_fail("%s: cannot write /target (disk full?)", s->partial);
        if (d >= 0) H5Dclose(d);
    }
    for (int m = 0; !status && m < p->n_methods; m++) {
        char name[256];
        for (int k = 0; !status && k < XAI_SANITY_MEASURES; k++) {
            snprintf(name, sizeof name, "/similarity/%s/%s", p->methods[m], xai_sanity_measures[k]);
            status = write_row(s, name, H5T_NATIVE_DOUBLE, step, similarity[m] + (size_t)k * p->n_images);
        }
        snprintf(name, sizeof name, "/figure/%s", p->methods[m]);
        if (!status) status = write_row(s, name, H5T_NATIVE_FLOAT, step, figure[m]);
    }
    char done[32];
    snprintf(done, sizeof done, "%d", step + 1);
    if (!status) status = store_write_string_attribute(s->file, s->partial, "steps_done", done);
    if (!status && H5Fflush(s->file, H5F_SCOPE_GLOBAL) < 0)
        status = xai_fail("%s: cannot write the file (disk full?)", s->partial);
    if (!status) s->steps_done = step + 1;
    return status;
}

int xai_sanity_store_close(xai_sanity_store *s)
{
    herr_t c = H5Fclose(s->file);
    s->file = -1;
    int status = c < 0 ? xai_fail("%s: cannot finish writing the file (disk full?)", s->partial) : XAI_OK;
    if (!status && s->steps_done == s->shape.n_steps && rename(s->partial, s->path) != 0)
        status = xai_fail("%s: cannot move the finished file into place: %s", s->path, strerror(errno));
    xai_sanity_store_abort(s);
    return status;
}

void xai_sanity_store_abort(xai_sanity_store *s)
{
    if (!s) return;
    if (s->file >= 0) H5Fclose(s->file);
    for (int m = 0; m < s->shape.n_methods && m < 64; m++) free(s->methods[m]);
    free(s->path), free(s->partial), free(s);
}

int xai_sanity_store_read(const char *path, const char *dataset, int as_double, void *out, long long count)
{
    store_library_init();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return xai_fail("%s: cannot open as HDF5", path);
    hid_t d = H5Dopen2(f, dataset, H5P_DEFAULT), space = d >= 0 ? H5Dget_space(d) : -1;
    int status = d < 0 ? xai_fail("%s: no dataset %s", path, dataset) : XAI_OK;
    if (!status && H5Sget_simple_extent_npoints(space) != count)
        status = xai_fail("%s: %s holds %lld values, not %lld", path, dataset,
                          (long long)H5Sget_simple_extent_npoints(space), count);
    if (!status && H5Dread(d, as_double ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
        status = xai_fail("%s: cannot read %s", path, dataset);
    if (space >= 0) H5Sclose(space);
    if (d >= 0) H5Dclose(d);
    H5Fclose(f);
    return status;
}

void xai_sanity_info_free(xai_sanity_info *info)
{
    for (int m = 0; info->methods && m < info->n_methods; m++) free(info->methods[m]);
    for (int k = 0; info->labels && k < info->n_steps; k++) free(info->labels[k]);
    free(info->methods), free(info->labels);
    memset(info, 0, sizeof *info);
}

/* "a,b,c" into n allocated words. */
static int split_methods(const char *text, xai_sanity_info *info)
{
    info->n_methods = 1;
    for (const char *c = text; *c; c++) info->n_methods += *c == ',';
    if (!(info->methods = xai_calloc((size_t)info->n_methods, sizeof *info->methods))) return XAI_ERR;
    for (int m = 0; m < info->n_methods; m++) {
        size_t len = strcspn(text, ",");
        if (!(info->methods[m] = xai_calloc(len + 1, 1))) return XAI_ERR;
        memcpy(info->methods[m], text, len);
        text += len + (text[len] == ',');
    }
    return XAI_OK;
}

/* The step labels, a fixed-length string dataset. */
static int read_labels(hid_t f, const char *path, xai_sanity_info *info)
{
    hid_t d = H5Dopen2(f, "/steps/label", H5P_DEFAULT), type = d >= 0 ? H5Dget_type(d) : -1;
    hid_t space = d >= 0 ? H5Dget_space(d) : -1;
    int status = type >= 0 && H5Tget_class(type) == H5T_STRING && !H5Tis_variable_str(type)
                     ? XAI_OK
                     : xai_fail("%s: no /steps/label of fixed-length strings", path);
    size_t size = status ? 0 : H5Tget_size(type);
    if (!status) info->n_steps = (int)H5Sget_simple_extent_npoints(space);
    char *rows = status ? NULL : xai_calloc((size_t)info->n_steps, size);
    if (!status && !rows) status = XAI_ERR;
    if (!status && H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) < 0)
        status = xai_fail("%s: cannot read /steps/label", path);
    if (!status && !(info->labels = xai_calloc((size_t)info->n_steps, sizeof *info->labels))) status = XAI_ERR;
    for (int k = 0; !status && k < info->n_steps; k++) {
        if (!(info->labels[k] = xai_calloc(size + 1, 1))) status = XAI_ERR;
        else memcpy(info->labels[k], rows + k * size, size);
    }
    free(rows);
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    if (d >= 0) H5Dclose(d);
    return status;
}

int xai_sanity_store_info(const char *path, xai_sanity_info *info)
{
    memset(info, 0, sizeof *info);
    store_library_init();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return xai_fail("%s: cannot open as HDF5", path);
    char *methods = NULL, *done = NULL, name[300];
    int status = store_read_string_attribute(f, path, "methods", &methods);
    if (!status) status = store_read_string_attribute(f, path, "steps_done", &done);
    if (!status && (!methods || !done)) status = xai_fail("%s: not a file of xaibench sanity", path);
    if (!status) status = split_methods(methods, info);
    if (!status) status = read_labels(f, path, info);
    if (!status && atoi(done) != info->n_steps)
        status = xai_fail("%s: holds %s of %d steps (an unfinished run?)", path, done, info->n_steps);
    if (!status) snprintf(name, sizeof name, "/figure/%s", info->methods[0]);
    hid_t d = status ? -1 : H5Dopen2(f, name, H5P_DEFAULT), space = d >= 0 ? H5Dget_space(d) : -1;
    hsize_t dims[3] = {0, 0, 0};
    if (!status && (space < 0 || H5Sget_simple_extent_ndims(space) != 3))
        status = xai_fail("%s: no %s of [steps][H][W]", path, name);
    if (!status) H5Sget_simple_extent_dims(space, dims, NULL), info->height = (int)dims[1], info->width = (int)dims[2];
    if (space >= 0) H5Sclose(space);
    if (d >= 0) H5Dclose(d);
    if (!status) {
        hid_t t = H5Dopen2(f, "/target", H5P_DEFAULT), ts = t >= 0 ? H5Dget_space(t) : -1;
        if (ts < 0) status = xai_fail("%s: no /target", path);
        else info->n_images = (int)H5Sget_simple_extent_npoints(ts);
        if (ts >= 0) H5Sclose(ts);
        if (t >= 0) H5Dclose(t);
    }
    free(methods), free(done);
    H5Fclose(f);
    if (status) xai_sanity_info_free(info);
    return status;
}

int xai_sanity_store_is(const char *path)
{
    store_library_init();
    if (access(path, R_OK) != 0) return 0;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    int is = f >= 0 && H5Lexists(f, "/similarity", H5P_DEFAULT) > 0 && H5Lexists(f, "/steps", H5P_DEFAULT) > 0;
    if (f >= 0) H5Fclose(f);
    return is;
}
