/* store_format.c - the results format in one table (store_hdf5.h; docs/results-format.md is
 * the same layout in prose, checked against a real file by tests/test_results_format.c), and
 * what the store's files share: names, types, HDF5's set-up, attributes, the handle. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef XAI_WITH_MPI
#include <mpi.h>
#endif

#include "store_hdf5.h"
#include "xai_provenance.h"
#include "xai_status.h"
#include "xai_version.h"

const store_dataset store_datasets[STORE_DATASETS] = {
    [SET_INPUT] = {"/input", ELEMENT_F32, ROW_IMAGE, STORED_DIRECT, IN_EVERY_FILE, 0},
    [SET_LOGITS] = {"/logits", ELEMENT_F32, ROW_CLASSES, STORED_PLAIN, IN_EVERY_FILE, 0},
    [SET_TARGET] = {"/target", ELEMENT_I32, ROW_SCALAR, STORED_PLAIN, IN_EVERY_FILE, 0},
    [SET_TIMING_FORWARD] = {"/timings/forward", ELEMENT_F64, ROW_SCALAR, STORED_PLAIN, IN_EVERY_FILE, 0},
    /* Deflate only the NUL-padded strings. The input would shrink 1.7x, the maps, heat maps and
     * logits 1.1-1.25x, but deflating the input alone cost ~10 % of a sweep's throughput on two
     * cores (bench_run), and filtered data cannot be written independently under MPI. */
    [SET_IMAGE_PATH] = {"/images/path", ELEMENT_TEXT, ROW_SCALAR, STORED_DEFLATED, IN_RUN_FILES, 0},
    [SET_IMAGE_LABEL] = {"/images/label", ELEMENT_I32, ROW_SCALAR, STORED_PLAIN, IN_RUN_FILES, 0},
    [SET_IMAGE_BBOX] = {"/images/bbox", ELEMENT_F32, ROW_BOX, STORED_PLAIN, IN_RUN_FILES, 0},
    [SET_IMAGE_BBOX_FRAME] = {"/images/bbox_frame", ELEMENT_F32, ROW_BOX, STORED_PLAIN, IN_RUN_FILES, 0},
    [SET_TOP5] = {"/predictions/top5", ELEMENT_I32, ROW_TOP5, STORED_PLAIN, IN_RUN_FILES, 0},
    [SET_SKIPPED] = {"/skipped/reason", ELEMENT_TEXT, ROW_SCALAR, STORED_DEFLATED, IN_RUN_FILES, 1},
    [SET_MAP] = {"/maps/%s", ELEMENT_F32, ROW_IMAGE, STORED_DIRECT, PER_METHOD, 0},
    [SET_HEATMAP] = {"/heatmaps/%s", ELEMENT_F32, ROW_PLANE, STORED_DIRECT, PER_METHOD, 0},
    [SET_TIMING] = {"/timings/%s", ELEMENT_F64, ROW_SCALAR, STORED_PLAIN, PER_METHOD, 0},
    [SET_COMPLETENESS] = {"/completeness/%s", ELEMENT_F64, ROW_SCALAR, STORED_PLAIN, PER_REPORTING_METHOD, 0},
    [SET_METRIC] = {"/metrics/%s/%s", ELEMENT_F64, ROW_SCALAR, STORED_PLAIN, WRITTEN_BY_METRICS, 0},
};

int store_row_dims(const xai_store_shape *shape, int set, int m, hsize_t *dims)
{
    switch (store_datasets[set].row) {
    case ROW_SCALAR: return 0;
    case ROW_IMAGE:
        dims[0] = (hsize_t)(set == SET_MAP && m >= 0 && shape->map_channels ? shape->map_channels[m] : shape->channels);
        dims[1] = (hsize_t)shape->height, dims[2] = (hsize_t)shape->width;
        return 3;
    case ROW_PLANE: dims[0] = (hsize_t)shape->height, dims[1] = (hsize_t)shape->width; return 2;
    case ROW_CLASSES: dims[0] = (hsize_t)shape->classes; return 1;
    case ROW_BOX: dims[0] = 4; return 1;
    case ROW_TOP5: dims[0] = 5; return 1;
    }
    return 0;
}

hid_t store_memory_type(store_element element)
{
    switch (element) {
    case ELEMENT_F32: return H5Tcopy(H5T_NATIVE_FLOAT);
    case ELEMENT_I32: return H5Tcopy(H5T_NATIVE_INT32);
    case ELEMENT_F64: return H5Tcopy(H5T_NATIVE_DOUBLE);
    case ELEMENT_TEXT: break;
    }
    hid_t text = H5Tcopy(H5T_C_S1);
    H5Tset_size(text, XAI_STORE_PATH_BYTES);
    H5Tset_strpad(text, H5T_STR_NULLPAD);
    return text;
}

char *store_dataset_name(int set, const char *method, const char *metric)
{
    const char *pattern = store_datasets[set].name;
    size_t n = strlen(pattern) + (method ? strlen(method) : 0) + (metric ? strlen(metric) : 0) + 1;
    char *name = xai_malloc(n);
    if (name) snprintf(name, n, pattern, method, metric);
    return name;
}

/* `name` is "PREFIX<method>" or, for metrics, "PREFIX<method>/<metric>", with a method of shape. */
static int method_part(const xai_store_shape *shape, const char *name, size_t prefix, int with_metric,
                       int *method, const char **metric)
{
    const char *rest = name + prefix;
    for (int m = 0; m < shape->n_methods; m++) {
        size_t n = strlen(shape->methods[m]);
        if (strncmp(rest, shape->methods[m], n)) continue;
        if (!with_metric && rest[n] == '\0') return *method = m, 1;
        if (with_metric && rest[n] == '/' && rest[n + 1] && !strchr(rest + n + 1, '/'))
            return *method = m, *metric = rest + n + 1, 1;
    }
    return 0;
}

int store_find_dataset(const xai_store_shape *shape, const char *name, int *method, const char **metric)
{
    *method = -1;
    *metric = NULL;
    for (int k = 0; k < STORE_DATASETS; k++) {
        const char *pattern = store_datasets[k].name, *hole = strchr(pattern, '%');
        if (!hole && !strcmp(pattern, name)) return k;
        size_t prefix = hole ? (size_t)(hole - pattern) : 0;
        if (hole && !strncmp(pattern, name, prefix) &&
            method_part(shape, name, prefix, store_datasets[k].presence == WRITTEN_BY_METRICS, method, metric))
            return k;
    }
    return -1;
}

static pthread_once_t library_once = PTHREAD_ONCE_INIT;

static void initialize_library(void)
{
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void store_library_init(void)
{
    pthread_once(&library_once, initialize_library);
}

hid_t store_team_file_access(const xai_team *team)
{
    hid_t access = H5Pcreate(H5P_FILE_ACCESS);
#ifdef XAI_WITH_MPI
    if (team && team->size > 1) {
        H5Pset_fapl_mpio(access, MPI_COMM_WORLD, MPI_INFO_NULL);
        H5Pset_all_coll_metadata_ops(access, 1);
        H5Pset_coll_metadata_write(access, 1);
    }
#else
    (void)team;
#endif
    return access;
}

hid_t store_team_transfer(const xai_team *team, int collective)
{
    hid_t transfer = H5Pcreate(H5P_DATASET_XFER);
#ifdef XAI_WITH_MPI
    if (team && team->size > 1) H5Pset_dxpl_mpio(transfer, collective ? H5FD_MPIO_COLLECTIVE : H5FD_MPIO_INDEPENDENT);
#else
    (void)team, (void)collective;
#endif
    return transfer;
}

int store_read_string_attribute(hid_t object, const char *where, const char *key, char **value)
{
    *value = NULL;
    if (H5Aexists(object, key) <= 0) return XAI_OK;
    hid_t a = H5Aopen(object, key, H5P_DEFAULT), type = a >= 0 ? H5Aget_type(a) : -1;
    int status = type >= 0 && H5Tget_class(type) == H5T_STRING && !H5Tis_variable_str(type)
                     ? XAI_OK
                     : xai_fail("%s: attribute %s is not a fixed-length string", where, key);
    if (status == XAI_OK && !(*value = xai_calloc(H5Tget_size(type) + 1, 1))) status = XAI_ERR;
    if (status == XAI_OK && H5Aread(a, type, *value) < 0) status = xai_fail("%s: cannot read attribute %s", where, key);
    if (status) free(*value), *value = NULL;
    if (type >= 0) H5Tclose(type);
    if (a >= 0) H5Aclose(a);
    return status;
}

int store_write_string_attribute(hid_t object, const char *where, const char *key, const char *value)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, strlen(value) + 1);
    H5Tset_cset(type, H5T_CSET_UTF8);
    hid_t space = H5Screate(H5S_SCALAR);
    if (H5Aexists(object, key) > 0) H5Adelete(object, key);
    hid_t a = H5Acreate2(object, key, type, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t w = a >= 0 ? H5Awrite(a, type, value) : -1;
    if (a >= 0) H5Aclose(a);
    H5Sclose(space);
    H5Tclose(type);
    return w < 0 ? xai_fail("%s: cannot write attribute %s", where, key) : XAI_OK;
}

xai_store *store_new(const char *path, int mode, const xai_store_shape *shape)
{
    store_library_init();
    xai_store *s = xai_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->direct = -1;
    s->mode = mode;
    if (shape) s->shape = *shape;
    size_t n = strlen(path);
    s->path = xai_strdup(path);
    s->partial = xai_malloc(n + sizeof ".partial");
    if (s->partial) snprintf(s->partial, n + sizeof ".partial", mode == STORE_WRITING ? "%s.partial" : "%s", path);
    if (shape && shape->n_methods > 0)
        s->method_sets = xai_calloc((size_t)shape->n_methods * PER_METHOD_SETS, sizeof *s->method_sets);
    if (!s->path || !s->partial || (shape && shape->n_methods > 0 && !s->method_sets)) {
        store_free(s);
        return NULL;
    }
    return s;
}

void store_close_datasets(xai_store *s)
{
    for (int k = 0; k < SET_MAP; k++)
        if (s->sets[k] > 0) H5Dclose(s->sets[k]), s->sets[k] = 0;
    for (int k = 0; s->method_sets && k < s->shape.n_methods * PER_METHOD_SETS; k++)
        if (s->method_sets[k] > 0) H5Dclose(s->method_sets[k]), s->method_sets[k] = 0;
}

void store_free(xai_store *s)
{
    if (s->direct >= 0) close(s->direct);
    for (int m = 0; s->method_names && s->method_names[m]; m++) free(s->method_names[m]);
    free(s->method_names), free(s->map_channels), free(s->completeness), free(s->method_sets);
    free(s->path), free(s->partial), free(s);
}

int store_write_provenance(hid_t file, const char *where, const char *model_path, const char *model_sha256,
                           int threads, int argc, char **argv)
{
    char cpu[256], date[64], thread_text[32];
    xai_cpu_name(cpu, sizeof cpu);
    xai_utc_now(date, sizeof date);
    snprintf(thread_text, sizeof thread_text, "%d", threads);
    char *command = xai_command_line(argc, argv);
    const char *const pairs[][2] = {{"xaibench_version", XAI_VERSION}, {"git_commit", XAI_GIT_COMMIT},
                                    {"model_path", model_path},        {"model_sha256", model_sha256},
                                    {"threads", thread_text},          {"cpu", cpu},
                                    {"date", date},                    {"command_line", command}};
    int status = command ? XAI_OK : XAI_ERR;
    for (size_t k = 0; status == XAI_OK && k < sizeof pairs / sizeof pairs[0]; k++)
        status = store_write_string_attribute(file, where, pairs[k][0], pairs[k][1]);
    free(command);
    return status;
}
