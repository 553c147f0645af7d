/* store_sanity_read.c - reading the file of `xaibench sanity` back (see xai_sanity_store.h):
 * its datasets, its shape and step labels, and whether a file is one. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_hdf5.h"
#include "xai_sanity_store.h"
#include "xai_status.h"

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
