/* store_sanity.c - writing the file of `xaibench sanity` (see xai_sanity_store.h). Each finished
 * step is a small HDF5 file of its own, FILE.parts/step-NNNN.h5, renamed into place complete, under
 * FILE.parts/manifest (the run's settings): a kill or a full disk costs at most the step being
 * written. When every step is in, the parts are assembled into FILE (through FILE.partial and a
 * rename) and removed. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run_parts.h"
#include "store_hdf5.h"
#include "xai_sanity_store.h"
#include "xai_status.h"

const char *const xai_sanity_measures[XAI_SANITY_MEASURES] = {"spearman_abs", "spearman_signed", "ssim"};

struct xai_sanity_store {
    char *path, *parts;
    xai_sanity_shape shape;          /* its strings the store's own copies */
    char **strings;                  /* every string it copied, to free */
    int n_strings;
    int steps_done;
    char *model, *model_sha256, *command; /* the provenance, written with the assembled file */
    int threads, argc;
    char **argv;
};

static char *keep(xai_sanity_store *s, const char *text)
{
    char *copy = xai_malloc(strlen(text) + 1);
    if (copy) strcpy(copy, text), s->strings[s->n_strings++] = copy;
    return copy;
}

/* A copy of n strings, in the store's memory; NULL when out of memory. */
static const char *const *keep_all(xai_sanity_store *s, const char *const *text, int n)
{
    const char **copy = xai_malloc((size_t)(n ? n : 1) * sizeof *copy);
    if (!copy) return NULL;
    s->strings[s->n_strings++] = (char *)copy;
    for (int k = 0; k < n; k++)
        if (!(copy[k] = keep(s, text[k]))) return NULL;
    return copy;
}

/* A dataset of `rank` dims in `file` (named `where` in messages), every element `fill` until written. */
static int create_dataset(hid_t file, const char *where, const char *name, hid_t type, int rank, const hsize_t *dims,
                          const void *fill)
{
    hid_t link = H5Pcreate(H5P_LINK_CREATE), create = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_create_intermediate_group(link, 1);
    if (fill) H5Pset_fill_value(create, type, fill);
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(file, name, type, space, link, create, H5P_DEFAULT);
    H5Sclose(space), H5Pclose(link), H5Pclose(create);
    if (d < 0) return xai_fail("%s: cannot create %s (disk full?)", where, name);
    H5Dclose(d);
    return XAI_OK;
}

/* Dataset `name`'s rows first .. first + 1 along its first axis (row -1: the whole dataset)
 * written from memory of `type`, or read into it. */
static int transfer(hid_t file, const char *where, const char *name, hid_t type, int row, void *data, int writing)
{
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT), space = d >= 0 ? H5Dget_space(d) : -1;
    hsize_t dims[3] = {1, 1, 1}, start[3] = {(hsize_t)(row < 0 ? 0 : row), 0, 0};
    int rank = space >= 0 ? H5Sget_simple_extent_dims(space, dims, NULL) : -1;
    herr_t done = -1;
    if (rank >= 1) {
        hsize_t count[3] = {row < 0 ? dims[0] : 1, dims[1], dims[2]};
        hid_t memory = H5Screate_simple(rank, count, NULL);
        if (H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL) >= 0)
            done = writing ? H5Dwrite(d, type, memory, space, H5P_DEFAULT, data)
                           : H5Dread(d, type, memory, space, H5P_DEFAULT, data);
        H5Sclose(memory);
    }
    if (space >= 0) H5Sclose(space);
    if (d >= 0) H5Dclose(d);
    if (done < 0) return xai_fail("%s: cannot %s %s%s", where, writing ? "write" : "read", name, writing ? " (disk full?)" : "");
    return XAI_OK;
}

/* n strings as one fixed-length string dataset, as long as the longest. */
static int write_strings(hid_t file, const char *where, const char *name, const char *const *text, int n)
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
    int status = create_dataset(file, where, name, type, 1, dims, NULL);
    if (!status) status = transfer(file, where, name, type, -1, rows, 1);
    H5Tclose(type);
    free(rows);
    return status;
}

static char *part_of(const xai_sanity_store *s, int step) { return xai_format("%s/step-%04d.h5", s->parts, step); }

int xai_sanity_store_open(xai_sanity_store **out, const char *path, const xai_sanity_shape *shape, int *steps_done)
{
    *out = NULL;
    store_library_init();
    xai_sanity_store *s = xai_calloc(1, sizeof *s);
    if (!s) return XAI_ERR;
    s->shape = *shape;
    int strings = 8 + 3 + shape->n_methods + shape->n_steps + shape->n_images;
    s->strings = xai_calloc((size_t)strings, sizeof *s->strings);
    int status = s->strings && keep(s, path) && (s->parts = xai_format("%s.parts", path)) ? XAI_OK : XAI_ERR;
    if (!status) s->path = s->strings[0];
    if (!status && (!(s->shape.methods = keep_all(s, shape->methods, shape->n_methods)) ||
                    !(s->shape.labels = keep_all(s, shape->labels, shape->n_steps)) ||
                    !(s->shape.images = keep_all(s, shape->images, shape->n_images)) ||
                    !(s->shape.settings = keep(s, shape->settings))))
        status = XAI_ERR;
    if (!status) status = run_parts_open(s->parts, s->shape.settings);
    while (!status && s->steps_done < shape->n_steps) { /* the finished steps: those renamed into place */
        char *part = part_of(s, s->steps_done);
        int has = part && access(part, R_OK) == 0;
        free(part);
        if (!has) break;
        s->steps_done++;
    }
    if (status) return xai_sanity_store_abort(s), XAI_ERR;
    *steps_done = s->steps_done;
    *out = s;
    return XAI_OK;
}

int xai_sanity_store_provenance(xai_sanity_store *s, const char *model_path, const char *model_sha256, int threads,
                                int argc, char **argv)
{
    s->threads = threads, s->argc = argc, s->argv = argv;
    return (s->model = keep(s, model_path)) && (s->model_sha256 = keep(s, model_sha256)) ? XAI_OK : XAI_ERR;
}

int xai_sanity_store_write_step(xai_sanity_store *s, int step, const double *const *similarity,
                                const float *const *figure, const int *targets)
{
    const xai_sanity_shape *p = &s->shape;
    char *part = part_of(s, step), *partial = part ? xai_format("%s.partial", part) : NULL;
    if (!partial) return free(part), XAI_ERR;
    hid_t f = H5Fcreate(partial, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    int status = f < 0 ? xai_fail("%s: cannot create: %s", partial, strerror(errno)) : XAI_OK;
    hsize_t images[1] = {(hsize_t)p->n_images}, plane[2] = {(hsize_t)p->height, (hsize_t)p->width};
    char name[256];
    if (!status && targets) status = create_dataset(f, partial, "/target", H5T_NATIVE_INT32, 1, images, NULL);
    if (!status && targets) status = transfer(f, partial, "/target", H5T_NATIVE_INT32, -1, (void *)targets, 1);
    for (int m = 0; !status && m < p->n_methods; m++) {
        for (int k = 0; !status && k < XAI_SANITY_MEASURES; k++) {
            snprintf(name, sizeof name, "/similarity/%s/%s", p->methods[m], xai_sanity_measures[k]);
            status = create_dataset(f, partial, name, H5T_NATIVE_DOUBLE, 1, images, NULL);
            if (!status)
                status = transfer(f, partial, name, H5T_NATIVE_DOUBLE, -1,
                                  (void *)(similarity[m] + (size_t)k * p->n_images), 1);
        }
        snprintf(name, sizeof name, "/figure/%s", p->methods[m]);
        if (!status) status = create_dataset(f, partial, name, H5T_NATIVE_FLOAT, 2, plane, NULL);
        if (!status) status = transfer(f, partial, name, H5T_NATIVE_FLOAT, -1, (void *)figure[m], 1);
    }
    if (f >= 0 && H5Fclose(f) < 0 && !status) status = xai_fail("%s: cannot write the file (disk full?)", partial);
    if (!status && rename(partial, part) != 0) status = xai_fail("%s: cannot move into place: %s", part, strerror(errno));
    if (status) remove(partial);
    else s->steps_done = step + 1;
    free(part), free(partial);
    return status;
}

/* The layout of the whole file: every dataset at its full size, NaN where nothing is written. */
static int create_layout(const xai_sanity_store *s, hid_t f, const char *where)
{
    const xai_sanity_shape *p = &s->shape;
    hsize_t similarity[2] = {(hsize_t)p->n_steps, (hsize_t)p->n_images};
    hsize_t figure[3] = {(hsize_t)p->n_steps, (hsize_t)p->height, (hsize_t)p->width};
    hsize_t images[1] = {(hsize_t)p->n_images};
    double nan = NAN;
    int status = write_strings(f, where, "/steps/label", p->labels, p->n_steps);
    if (!status) status = write_strings(f, where, "/images/path", p->images, p->n_images);
    if (!status) status = create_dataset(f, where, "/target", H5T_NATIVE_INT32, 1, images, NULL);
    for (int m = 0; !status && m < p->n_methods; m++) {
        char name[256];
        for (int k = 0; !status && k < XAI_SANITY_MEASURES; k++) {
            snprintf(name, sizeof name, "/similarity/%s/%s", p->methods[m], xai_sanity_measures[k]);
            status = create_dataset(f, where, name, H5T_NATIVE_DOUBLE, 2, similarity, &nan);
        }
        snprintf(name, sizeof name, "/figure/%s", p->methods[m]);
        if (!status) status = create_dataset(f, where, name, H5T_NATIVE_FLOAT, 3, figure, NULL);
    }
    char *methods = xai_calloc((size_t)p->n_methods, 256), done[32];
    for (int m = 0; methods && m < p->n_methods; m++) strcat(strcat(methods, m ? "," : ""), p->methods[m]);
    snprintf(done, sizeof done, "%d", p->n_steps);
    if (!status && !methods) status = XAI_ERR;
    if (!status) status = store_write_string_attribute(f, where, "methods", methods);
    if (!status) status = store_write_string_attribute(f, where, "settings", p->settings);
    if (!status) status = store_write_string_attribute(f, where, "steps_done", done);
    if (!status && s->model)
        status = store_write_provenance(f, where, s->model, s->model_sha256, s->threads, s->argc, s->argv);
    free(methods);
    return status;
}

/* Step `step`'s part into its rows of the whole file. */
static int copy_step(const xai_sanity_store *s, hid_t f, const char *where, int step, double *values, float *plane)
{
    const xai_sanity_shape *p = &s->shape;
    char *part = part_of(s, step), name[256];
    hid_t in = part ? H5Fopen(part, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
    int status = in < 0 ? xai_fail("%s: cannot open as HDF5", part ? part : s->parts) : XAI_OK;
    if (!status && step == 0) {
        int *targets = xai_malloc((size_t)p->n_images * sizeof *targets);
        status = targets ? transfer(in, part, "/target", H5T_NATIVE_INT32, -1, targets, 0) : XAI_ERR;
        if (!status) status = transfer(f, where, "/target", H5T_NATIVE_INT32, -1, targets, 1);
        free(targets);
    }
    for (int m = 0; !status && m < p->n_methods; m++) {
        for (int k = 0; !status && k < XAI_SANITY_MEASURES; k++) {
            snprintf(name, sizeof name, "/similarity/%s/%s", p->methods[m], xai_sanity_measures[k]);
            status = transfer(in, part, name, H5T_NATIVE_DOUBLE, -1, values, 0);
            if (!status) status = transfer(f, where, name, H5T_NATIVE_DOUBLE, step, values, 1);
        }
        snprintf(name, sizeof name, "/figure/%s", p->methods[m]);
        if (!status) status = transfer(in, part, name, H5T_NATIVE_FLOAT, -1, plane, 0);
        if (!status) status = transfer(f, where, name, H5T_NATIVE_FLOAT, step, plane, 1);
    }
    if (in >= 0) H5Fclose(in);
    free(part);
    return status;
}

/* The parts into FILE, through FILE.partial and a rename; then the parts go. */
static int assemble(xai_sanity_store *s)
{
    const xai_sanity_shape *p = &s->shape;
    char *partial = xai_format("%s.partial", s->path);
    double *values = xai_malloc((size_t)p->n_images * sizeof *values);
    float *plane = xai_malloc((size_t)p->height * p->width * sizeof *plane);
    hid_t f = partial ? H5Fcreate(partial, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT) : -1;
    int status = !partial || !values || !plane ? XAI_ERR : XAI_OK;
    if (!status && f < 0) status = xai_fail("%s: cannot create: %s", partial, strerror(errno));
    if (!status) status = create_layout(s, f, partial);
    for (int step = 0; !status && step < p->n_steps; step++) status = copy_step(s, f, partial, step, values, plane);
    if (f >= 0 && H5Fclose(f) < 0 && !status) status = xai_fail("%s: cannot write the file (disk full?)", partial);
    if (!status && rename(partial, s->path) != 0)
        status = xai_fail("%s: cannot move the finished file into place: %s", s->path, strerror(errno));
    if (status && partial) remove(partial);
    for (int step = 0; !status && step < p->n_steps; step++) {
        char *part = part_of(s, step);
        if (part) remove(part);
        free(part);
    }
    if (!status) run_parts_remove(s->parts, 0); /* the manifest and the folder */
    free(partial), free(values), free(plane);
    return status;
}

int xai_sanity_store_close(xai_sanity_store *s)
{
    int status = s->steps_done == s->shape.n_steps ? assemble(s) : XAI_OK;
    xai_sanity_store_abort(s);
    return status;
}

void xai_sanity_store_abort(xai_sanity_store *s)
{
    if (!s) return;
    for (int k = 0; k < s->n_strings; k++) free(s->strings[k]);
    free(s->strings), free(s->parts), free(s);
}
