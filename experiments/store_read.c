/* store_read.c - opens finished results files (see xai_store.h): checks the layout against the
 * format's table once, at open, then reads rows of any dataset by its documented name, the root
 * attributes and each method's parameters; in update mode also writes /metrics. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_hdf5.h"
#include "xai_status.h"

static herr_t add_method(hid_t group, const char *name, const H5L_info_t *info, void *data)
{
    (void)group, (void)info;
    xai_store *s = data;
    char **grown = xai_realloc(s->method_names, ((size_t)s->shape.n_methods + 2) * sizeof *grown);
    if (!grown) return -1;
    s->method_names = grown;
    grown[s->shape.n_methods + 1] = NULL;
    if (!(grown[s->shape.n_methods] = xai_strdup(name))) return -1;
    s->shape.n_methods++;
    return 0;
}

/* The methods: the names under /maps, in name order. */
static int list_methods(xai_store *s)
{
    hid_t maps = H5Lexists(s->file, "/maps", H5P_DEFAULT) > 0 ? H5Gopen2(s->file, "/maps", H5P_DEFAULT) : -1;
    if (maps < 0) return xai_fail("%s: no /maps (not an xaibench results file)", s->path);
    herr_t listed = H5Literate(maps, H5_INDEX_NAME, H5_ITER_INC, NULL, add_method, s);
    H5Gclose(maps);
    if (listed < 0) return xai_fail("%s: cannot list /maps", s->path);
    if (s->shape.n_methods == 0) return xai_fail("%s: /maps holds no method", s->path);
    s->shape.methods = (const char *const *)s->method_names;
    s->method_sets = xai_calloc((size_t)s->shape.n_methods * PER_METHOD_SETS, sizeof *s->method_sets);
    s->map_channels = xai_calloc((size_t)s->shape.n_methods, sizeof *s->map_channels);
    s->completeness = xai_calloc((size_t)s->shape.n_methods, sizeof *s->completeness);
    return s->method_sets && s->map_channels && s->completeness ? XAI_OK : XAI_ERR;
}

/* Each method's map channels (the input's, or 1) and whether it reports completeness. */
static int method_layouts(xai_store *s)
{
    for (int m = 0; m < s->shape.n_methods; m++) {
        char *maps = store_dataset_name(SET_MAP, s->shape.methods[m], NULL);
        char *reported = store_dataset_name(SET_COMPLETENESS, s->shape.methods[m], NULL);
        hid_t d = maps && H5Oexists_by_name(s->file, maps, H5P_DEFAULT) > 0 ? H5Dopen2(s->file, maps, H5P_DEFAULT) : -1;
        hsize_t dims[4] = {0};
        if (d >= 0) {
            hid_t space = H5Dget_space(d);
            if (H5Sget_simple_extent_ndims(space) == 4) H5Sget_simple_extent_dims(space, dims, NULL);
            H5Sclose(space), H5Dclose(d);
        }
        s->map_channels[m] = dims[1] == 1 ? 1 : s->shape.channels;
        s->completeness[m] = reported && H5Oexists_by_name(s->file, reported, H5P_DEFAULT) > 0;
        free(maps), free(reported);
        if (!maps || !reported) return XAI_ERR;
    }
    s->shape.map_channels = s->map_channels;
    s->shape.completeness = s->completeness;
    return XAI_OK;
}

/* The method whose dataset `name` is, or -1. */
static int method_of(const xai_store *s, const char *name)
{
    int method;
    const char *metric;
    store_find_dataset(&s->shape, name, &method, &metric);
    return method;
}

static const H5T_class_t element_class[] = {
    [ELEMENT_F32] = H5T_FLOAT, [ELEMENT_I32] = H5T_INTEGER, [ELEMENT_F64] = H5T_FLOAT, [ELEMENT_TEXT] = H5T_STRING};

/* Dataset `name` of table entry `set`, opened and checked: its type's class, and its shape
 * against the file's (rows: -1 for its own number). */
static hid_t open_checked(xai_store *s, const char *name, int set, long long rows)
{
    const store_dataset *t = &store_datasets[set];
    hid_t d = H5Oexists_by_name(s->file, name, H5P_DEFAULT) > 0 ? H5Dopen2(s->file, name, H5P_DEFAULT) : -1;
    if (d < 0) return xai_fail("%s: no dataset %s (not an xaibench results file, or a damaged one)", s->path, name), -1;
    hsize_t want[4], dims[4] = {0};
    int rank = 1 + store_row_dims(&s->shape, set, method_of(s, name), want + 1);
    hid_t space = H5Dget_space(d), type = H5Dget_type(d);
    int same = H5Sget_simple_extent_ndims(space) == rank && H5Tget_class(type) == element_class[t->element];
    if (same) H5Sget_simple_extent_dims(space, dims, NULL);
    for (int k = 1; same && k < rank; k++) same = dims[k] == want[k];
    if (same && t->element == ELEMENT_TEXT) same = H5Tget_size(type) == XAI_STORE_PATH_BYTES;
    if (same && rows >= 0) same = dims[0] == (hsize_t)rows;
    if (same && set == SET_SKIPPED) s->skipped = (long long)dims[0];
    H5Sclose(space);
    H5Tclose(type);
    if (!same) {
        H5Dclose(d);
        return xai_fail("%s: dataset %s has another shape or type than the layout gives it (damaged?)", s->path, name), -1;
    }
    return d;
}

/* The shape from /input and /logits, then every dataset of the layout, checked. */
static int open_layout(xai_store *s)
{
    hid_t input = H5Oexists_by_name(s->file, "/input", H5P_DEFAULT) > 0 ? H5Dopen2(s->file, "/input", H5P_DEFAULT) : -1;
    hid_t logits = H5Oexists_by_name(s->file, "/logits", H5P_DEFAULT) > 0 ? H5Dopen2(s->file, "/logits", H5P_DEFAULT) : -1;
    hsize_t image[4] = {0}, classes[2] = {0};
    int ok = input >= 0 && logits >= 0;
    if (ok) {
        hid_t a = H5Dget_space(input), b = H5Dget_space(logits);
        ok = H5Sget_simple_extent_ndims(a) == 4 && H5Sget_simple_extent_ndims(b) == 2;
        if (ok) H5Sget_simple_extent_dims(a, image, NULL), H5Sget_simple_extent_dims(b, classes, NULL);
        H5Sclose(a), H5Sclose(b);
    }
    if (input >= 0) H5Dclose(input);
    if (logits >= 0) H5Dclose(logits);
    if (!ok) return xai_fail("%s: no [N,C,H,W] /input and [N,classes] /logits (not an xaibench results file)", s->path);
    s->count = image[0];
    s->shape = (xai_store_shape){.channels = (int)image[1], .height = (int)image[2], .width = (int)image[3],
                                 .classes = (int)classes[1], .rows = (long long)image[0]};
    s->shape.with_images = H5Oexists_by_name(s->file, "/images/path", H5P_DEFAULT) > 0;
    if (list_methods(s) || method_layouts(s)) return XAI_ERR;
    long long rows = (long long)s->count;
    for (int k = 0; k < SET_MAP; k++) {
        if (store_datasets[k].presence == IN_RUN_FILES && !s->shape.with_images) continue;
        if ((s->sets[k] = open_checked(s, store_datasets[k].name, k, store_datasets[k].own_rows ? -1 : rows)) < 0)
            return XAI_ERR;
    }
    for (int m = 0; m < s->shape.n_methods; m++)
        for (int k = 0; k < PER_METHOD_SETS; k++) {
            if (store_datasets[SET_MAP + k].presence == PER_REPORTING_METHOD && !s->completeness[m]) continue;
            char *name = store_dataset_name(SET_MAP + k, s->shape.methods[m], NULL);
            hid_t d = name ? open_checked(s, name, SET_MAP + k, rows) : -1;
            free(name);
            if ((s->method_sets[m * PER_METHOD_SETS + k] = d) < 0) return XAI_ERR;
        }
    return XAI_OK;
}

int xai_store_open(xai_store **out, const char *path, int mode)
{
    *out = NULL;
    if (access(path, mode == XAI_STORE_UPDATE ? R_OK | W_OK : R_OK) != 0)
        return xai_fail("%s: cannot open: %s", path, strerror(errno));
    xai_store *s = store_new(path, mode == XAI_STORE_UPDATE ? STORE_UPDATING : STORE_READING, NULL);
    if (!s) return XAI_ERR;
    s->file = H5Fopen(path, mode == XAI_STORE_UPDATE ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT);
    if (s->file < 0) {
        store_free(s);
        return xai_fail("%s: cannot open as an HDF5 file (not one, or damaged)", path);
    }
    if (open_layout(s)) {
        xai_store_abort(s);
        return XAI_ERR;
    }
    *out = s;
    return XAI_OK;
}

const xai_store_shape *xai_store_shape_of(const xai_store *s)
{
    return &s->shape;
}

/* The open dataset `name` of the layout, or a metric's (opened and checked; the caller closes
 * what *opened says it opened); -1 when absent (recorded). */
static hid_t find(xai_store *s, const char *name, int *set, int *opened)
{
    int method;
    const char *metric;
    *opened = 0;
    *set = store_find_dataset(&s->shape, name, &method, &metric);
    if (*set < 0) return xai_fail("%s: %s is no dataset of the results format", s->path, name), -1;
    if (*set < SET_MAP) {
        if (s->sets[*set] <= 0) return xai_fail("%s: no dataset %s (a file of `explain`, not `run`?)", s->path, name), -1;
        return s->sets[*set];
    }
    if (*set != SET_METRIC) {
        hid_t d = s->method_sets[method * PER_METHOD_SETS + *set - SET_MAP];
        return d > 0 ? d : (xai_fail("%s: no dataset %s", s->path, name), -1);
    }
    *opened = 1;
    return open_checked(s, name, SET_METRIC, (long long)s->count);
}

int xai_store_has(xai_store *s, const char *name)
{
    int method;
    const char *metric;
    int set = store_find_dataset(&s->shape, name, &method, &metric);
    if (set < 0) return 0;
    if (set < SET_MAP) return s->sets[set] > 0;
    if (set != SET_METRIC) return s->method_sets[method * PER_METHOD_SETS + set - SET_MAP] > 0;
    /* an absent group on the way makes H5Oexists_by_name fail: no such dataset either */
    return set != SET_METRIC || H5Oexists_by_name(s->file, name, H5P_DEFAULT) > 0;
}

int xai_store_rows(xai_store *s, const char *name, long long *rows, size_t *row_bytes)
{
    int set, opened;
    hid_t d = find(s, name, &set, &opened);
    if (d < 0) return XAI_ERR;
    hsize_t dims[4];
    size_t bytes = store_datasets[set].element == ELEMENT_TEXT ? XAI_STORE_PATH_BYTES
                   : store_datasets[set].element == ELEMENT_F64 ? sizeof(double)
                                                                 : sizeof(float);
    int n = store_row_dims(&s->shape, set, method_of(s, name), dims);
    for (int k = 0; k < n; k++) bytes *= (size_t)dims[k];
    *rows = set == SET_SKIPPED ? s->skipped : (long long)s->count;
    if (row_bytes) *row_bytes = bytes;
    if (opened) H5Dclose(d);
    return XAI_OK;
}

int xai_store_read(xai_store *s, const char *name, long long first, long long count, void *out)
{
    long long rows;
    if (xai_store_rows(s, name, &rows, NULL)) return XAI_ERR;
    if (first < 0 || count < 0 || first + count > rows)
        return xai_fail("%s: rows %lld..%lld of %s, which has %lld", s->path, first, first + count - 1, name, rows);
    if (count == 0) return XAI_OK;
    int set, opened;
    hid_t d = find(s, name, &set, &opened);
    if (d < 0) return XAI_ERR;
    hsize_t start[4] = {(hsize_t)first}, size[4] = {(hsize_t)count};
    int rank = 1 + store_row_dims(&s->shape, set, method_of(s, name), size + 1);
    hid_t file_space = H5Dget_space(d), memory = H5Screate_simple(rank, size, NULL);
    hid_t type = store_memory_type(store_datasets[set].element);
    H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, NULL, size, NULL);
    herr_t r = H5Dread(d, type, memory, file_space, H5P_DEFAULT, out);
    H5Tclose(type), H5Sclose(memory), H5Sclose(file_space);
    if (opened) H5Dclose(d);
    return r < 0 ? xai_fail("%s: cannot read %s (damaged?)", s->path, name) : XAI_OK;
}

int xai_store_get_attribute(xai_store *s, const char *key, char **value)
{
    return store_read_string_attribute(s->file, s->path, key, value);
}

/* /maps/<method>, which holds the method's parameters; -1 when no such method (recorded). */
static hid_t method_map(xai_store *s, const char *method)
{
    for (int m = 0; m < s->shape.n_methods; m++)
        if (!strcmp(s->shape.methods[m], method)) return s->method_sets[m * PER_METHOD_SETS];
    return xai_fail("%s: holds no method %s", s->path, method), -1;
}

int xai_store_set_method_parameter(xai_store *s, const char *method, const char *key, const char *value)
{
    if (s->mode == STORE_READING) return xai_fail("%s: opened to read only", s->path);
    hid_t d = method_map(s, method);
    return d < 0 ? XAI_ERR : store_write_string_attribute(d, s->path, key, value);
}

int xai_store_get_method_parameter(xai_store *s, const char *method, const char *key, char **value)
{
    *value = NULL;
    hid_t d = method_map(s, method);
    return d < 0 ? XAI_ERR : store_read_string_attribute(d, s->path, key, value);
}

int xai_store_clear_metrics(xai_store *s)
{
    if (s->mode != STORE_UPDATING) return xai_fail("%s: not opened to update", s->path);
    if (H5Lexists(s->file, "/metrics", H5P_DEFAULT) > 0 && H5Ldelete(s->file, "/metrics", H5P_DEFAULT) < 0)
        return xai_fail("%s: cannot remove /metrics", s->path);
    return XAI_OK;
}

int xai_store_write_metric(xai_store *s, const char *method, const char *metric, const double *values)
{
    if (s->mode != STORE_UPDATING) return xai_fail("%s: not opened to update", s->path);
    if (method_map(s, method) < 0) return XAI_ERR;
    if (!*metric || strchr(metric, '/')) return xai_fail("%s: bad metric name '%s'", s->path, metric);
    char *name = store_dataset_name(SET_METRIC, method, metric);
    if (!name) return XAI_ERR;
    hsize_t n = s->count;
    hid_t links = H5Pcreate(H5P_LINK_CREATE), space = H5Screate_simple(1, &n, NULL);
    H5Pset_create_intermediate_group(links, 1);
    if (H5Oexists_by_name(s->file, name, H5P_DEFAULT) > 0) H5Ldelete(s->file, name, H5P_DEFAULT);
    hid_t d = H5Dcreate2(s->file, name, H5T_NATIVE_DOUBLE, space, links, H5P_DEFAULT, H5P_DEFAULT);
    herr_t w = d >= 0 ? H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) : -1;
    if (d >= 0) H5Dclose(d);
    H5Sclose(space);
    H5Pclose(links);
    int status = w < 0 ? xai_fail("%s: cannot write %s (disk full?)", s->path, name) : XAI_OK;
    free(name);
    return status;
}
