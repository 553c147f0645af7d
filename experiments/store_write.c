/* store_write.c - writes results files (see xai_store.h for the layout, store_format.c for its
 * table). HDF5's own error printing is switched off; each failing call is reported once as
 * "FILE: what".
 *
 * The image-sized rows (input, maps, heat maps) are most of the bytes. Where the file system
 * allows O_DIRECT they go from the caller's page-aligned buffers straight to their chunks'
 * places in the file, past the page cache: copying them through the cache cost ~10 % of a
 * sweep's throughput on two cores (mostly the kernel filling fresh cache pages), the device's
 * DMA costs next to no CPU. HDF5 still lays out, allocates and describes every chunk. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_hdf5.h"
#include "xai_method.h"
#include "xai_provenance.h"
#include "xai_status.h"
#include "xai_version.h"

#define PAGE 4096              /* O_DIRECT alignment of offsets, lengths and memory (>= any block) */
#define ALIGNED_FROM (64 << 10) /* HDF5 places allocations of this size and more on PAGE boundaries */

/* Dataset `set` (of method m, or -1): opened when the file exists (xai_store_open_shared), else
 * created extendible, [rows, row...] chunked one image per chunk, compressed when deflated (not
 * when presized, rows > 0: presized datasets are written in place, by several processes, and
 * keep the chunks allocated at creation). Direct rows get their chunks when the dataset grows,
 * never filled by HDF5: the store writes them itself. */
static hid_t lay_out(xai_store *s, int create, int set, int m)
{
    const store_dataset *t = &store_datasets[set];
    char *name = store_dataset_name(set, m >= 0 ? s->shape.methods[m] : NULL, NULL);
    if (!name) return -1;
    hid_t d = -1;
    if (!create) {
        d = H5Dopen2(s->file, name, H5P_DEFAULT);
        if (d < 0) xai_fail("%s: no dataset %s", s->partial, name);
        free(name);
        return d;
    }
    long long rows = t->own_rows ? 0 : s->shape.rows; /* skipped images: none in a presized file */
    hsize_t dims[4] = {(hsize_t)rows}, max[4] = {H5S_UNLIMITED}, chunk[4] = {1};
    int rank = 1 + store_row_dims(&s->shape, set, m, dims + 1);
    for (int k = 1; k < rank; k++) max[k] = chunk[k] = dims[k];
    if (rank == 1) chunk[0] = 1024; /* scalars per image: one chunk holds many */
    hid_t space = H5Screate_simple(rank, dims, max), type = store_memory_type(t->element);
    hid_t props = H5Pcreate(H5P_DATASET_CREATE), links = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(links, 1);
    H5Pset_chunk(props, rank, chunk);
    if (rows || t->storage == STORED_DIRECT) {
        H5Pset_alloc_time(props, H5D_ALLOC_TIME_EARLY); /* presized: writing rows changes no metadata */
        H5Pset_fill_time(props, H5D_FILL_TIME_NEVER);
    } else if (t->storage == STORED_DEFLATED) {
        H5Pset_shuffle(props);
        H5Pset_deflate(props, 1); /* level 1: most of the gain at a fraction of the CPU */
    }
    d = H5Dcreate2(s->file, name, type, space, links, props, H5P_DEFAULT);
    H5Sclose(space), H5Tclose(type), H5Pclose(props), H5Pclose(links);
    if (d < 0) xai_fail("%s: cannot create dataset %s", s->path, name);
    free(name);
    return d;
}

void xai_store_abort(xai_store *s)
{
    if (!s) return;
    store_close_datasets(s);
    if (s->file > 0) H5Fclose(s->file);
    if (s->mode == STORE_WRITING && (!s->team || s->team->rank == 0)) remove(s->partial);
    store_free(s);
}

static int reports(const xai_store_shape *shape, int m)
{
    return shape->completeness && shape->completeness[m];
}

/* Every dataset of the layout, created or opened. */
static int lay_out_all(xai_store *s, int create)
{
    for (int k = 0; k < SET_MAP; k++) {
        if (store_datasets[k].presence == IN_RUN_FILES && !s->shape.with_images) continue;
        if ((s->sets[k] = lay_out(s, create, k, -1)) < 0) return XAI_ERR;
    }
    for (int m = 0; m < s->shape.n_methods; m++)
        for (int k = 0; k < PER_METHOD_SETS; k++) {
            if (store_datasets[SET_MAP + k].presence == PER_REPORTING_METHOD && !reports(&s->shape, m)) continue;
            if ((s->method_sets[m * PER_METHOD_SETS + k] = lay_out(s, create, SET_MAP + k, m)) < 0) return XAI_ERR;
        }
    return XAI_OK;
}

int xai_store_create(xai_store **out, const char *path, const xai_store_shape *shape)
{
    *out = NULL;
    xai_store *s = store_new(path, STORE_WRITING, shape);
    if (!s) return XAI_ERR;
    hid_t access = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_alignment(access, ALIGNED_FROM, PAGE);
    s->file = H5Fcreate(s->partial, H5F_ACC_TRUNC, H5P_DEFAULT, access);
    H5Pclose(access);
    if (s->file < 0) {
        int err = errno;
        store_free(s);
        return xai_fail("%s: cannot create the HDF5 file%s%s", path, err ? ": " : "", err ? strerror(err) : "");
    }
    s->direct = open(s->partial, O_WRONLY | O_DIRECT | O_CLOEXEC); /* -1 where unsupported (tmpfs) */
    if (lay_out_all(s, 1)) {
        xai_store_abort(s);
        return XAI_ERR;
    }
    *out = s;
    return XAI_OK;
}

int xai_store_suspend(xai_store *s)
{
    store_close_datasets(s);
    herr_t c = H5Fclose(s->file);
    int status = c < 0 ? xai_fail("%s: cannot write the HDF5 file (disk full?)", s->partial) : XAI_OK;
    if (status) remove(s->partial);
    store_free(s);
    return status;
}

int xai_store_open_shared(xai_store **out, const char *path, const xai_store_shape *shape, const xai_team *team)
{
    *out = NULL;
    xai_store *s = store_new(path, STORE_WRITING, shape);
    if (!s) return XAI_ERR;
    s->team = team;
    hid_t access = store_team_file_access(team);
    s->file = H5Fopen(s->partial, H5F_ACC_RDWR, access);
    H5Pclose(access);
    if (s->file < 0) {
        store_free(s);
        return xai_fail("%s: cannot open the shared HDF5 file", path);
    }
    if (lay_out_all(s, 0)) {
        xai_store_abort(s);
        return XAI_ERR;
    }
    *out = s;
    return XAI_OK;
}

int xai_store_set_attribute(xai_store *s, const char *key, const char *value)
{
    return store_write_string_attribute(s->file, s->path, key, value);
}

int xai_store_provenance(xai_store *s, const char *model_path, const char *model_sha256, int threads,
                         int argc, char **argv)
{
    return store_write_provenance(s->file, s->path, model_path, model_sha256, threads, argc, argv);
}

int xai_store_method_parameters(xai_store *s, const xai_method *const *methods, int n, const xai_method_params *p)
{
    for (int m = 0; m < n; m++) {
        if (!methods[m]->describe) continue;
        char lines[512];
        methods[m]->describe(p, lines, sizeof lines);
        for (char *line = strtok(lines, "\n"); line; line = strtok(NULL, "\n")) {
            char *equals = strchr(line, '=');
            if (!equals) continue;
            *equals = '\0';
            if (xai_store_set_method_parameter(s, methods[m]->name, line, equals + 1)) return XAI_ERR;
        }
    }
    return XAI_OK;
}

int xai_store_transform_attributes(xai_store *s, const float *mean, const float *std, int label_offset)
{
    char m[96], d[96], offset[16];
    snprintf(m, sizeof m, "%.9g,%.9g,%.9g", mean[0], mean[1], mean[2]);
    snprintf(d, sizeof d, "%.9g,%.9g,%.9g", std[0], std[1], std[2]);
    snprintf(offset, sizeof offset, "%d", label_offset);
    return xai_store_set_attribute(s, "mean", m) || xai_store_set_attribute(s, "std", d) ||
                   xai_store_set_attribute(s, "label_offset", offset)
               ? XAI_ERR
               : XAI_OK;
}

/* pwrite all of it (O_DIRECT may stop short on a signal). */
static int write_fully(const xai_store *s, const char *data, size_t bytes, off_t offset)
{
    while (bytes) {
        ssize_t n = pwrite(s->direct, data, bytes, offset);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return xai_fail("%s: cannot write: %s", s->path, n < 0 ? strerror(errno) : "no progress");
        data += n, bytes -= (size_t)n, offset += n;
    }
    return XAI_OK;
}

/* Rows [start, start + count) of a DIRECT dataset, `row_bytes` each, written from `data` to
 * their chunks through the O_DIRECT descriptor, rows whose chunks follow each other in the file
 * in one write. 1: written; 0: these rows cannot go past the cache (no O_DIRECT, or the chunks or
 * the memory not page-aligned), HDF5 writes them; XAI_ERR: a write failed. */
static int put_rows_direct(xai_store *s, hid_t d, hsize_t start, hsize_t count, size_t row_bytes, const void *data)
{
    if (s->direct < 0 || row_bytes % PAGE || (uintptr_t)data % PAGE) return 0;
    haddr_t *where = xai_malloc(count * sizeof *where);
    if (!where) return XAI_ERR;
    int usable = 1;
    for (hsize_t k = 0; usable && k < count; k++) {
        hsize_t offset[4] = {start + k}, size = 0;
        unsigned filters = 0;
        usable = H5Dget_chunk_info_by_coord(d, offset, &filters, &where[k], &size) >= 0 && where[k] != HADDR_UNDEF &&
                 where[k] % PAGE == 0 && size == row_bytes;
    }
    int status = usable ? 1 : 0;
    for (hsize_t k = 0, run = 1; usable && status == 1 && k < count; k += run) {
        for (run = 1; k + run < count && where[k + run] == where[k] + run * row_bytes;) run++;
        if (write_fully(s, (const char *)data + k * row_bytes, run * row_bytes, (off_t)where[k])) status = XAI_ERR;
    }
    free(where);
    return status;
}

/* Write `count` images from `data` into dataset d at row `first`, or after its last row (grown
 * to hold them) when first < 0; `direct_row_bytes` > 0 for a DIRECT dataset. */
static int put_rows(xai_store *s, hid_t d, hid_t type, long long first, hsize_t count, const void *data,
                    size_t direct_row_bytes)
{
    if (count == 0) return XAI_OK;
    hid_t space = H5Dget_space(d);
    int rank = H5Sget_simple_extent_ndims(space);
    hsize_t dims[4], start[4] = {0}, size[4];
    H5Sget_simple_extent_dims(space, dims, NULL);
    H5Sclose(space);
    start[0] = first < 0 ? dims[0] : (hsize_t)first;
    for (int k = 0; k < rank; k++) size[k] = k ? dims[k] : count;
    if (first >= 0 && start[0] + count > dims[0]) return xai_fail("%s: rows %lld.. beyond the file's", s->path, first);
    dims[0] += count;
    if (first < 0 && H5Dset_extent(d, dims) < 0) return xai_fail("%s: cannot extend a dataset", s->path);
    int done = direct_row_bytes ? put_rows_direct(s, d, start[0], count, direct_row_bytes, data) : 0;
    if (done) return done == 1 ? XAI_OK : XAI_ERR;
    hid_t file_space = H5Dget_space(d);
    hid_t mem_space = H5Screate_simple(rank, size, NULL);
    H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, NULL, size, NULL);
    herr_t w = H5Dwrite(d, type, mem_space, file_space, H5P_DEFAULT, data);
    H5Sclose(mem_space);
    H5Sclose(file_space);
    if (w < 0) return xai_fail("%s: cannot write (disk full?)", s->path);
    return XAI_OK;
}

/* The image paths of a batch, or its skipped images' reasons, as fixed-length rows. */
static char *text_rows(const char *const *lines, int n)
{
    char *text = xai_calloc((size_t)n + 1, XAI_STORE_PATH_BYTES);
    for (int i = 0; text && i < n; i++) strncpy(text + (size_t)i * XAI_STORE_PATH_BYTES, lines[i], XAI_STORE_PATH_BYTES - 1);
    return text;
}

/* /images, /predictions and /skipped of a `run` batch. */
static int put_image_rows(xai_store *s, long long first, const xai_store_batch *b)
{
    hsize_t n = (hsize_t)b->count;
    char *paths = text_rows(b->paths, b->count), *skipped = text_rows(b->skipped, b->n_skipped);
    hid_t text = store_memory_type(ELEMENT_TEXT);
    int status = paths && skipped ? XAI_OK : XAI_ERR;
    if (status == XAI_OK &&
        (put_rows(s, s->sets[SET_IMAGE_PATH], text, first, n, paths, 0) ||
         put_rows(s, s->sets[SET_IMAGE_LABEL], H5T_NATIVE_INT, first, n, b->labels, 0) ||
         put_rows(s, s->sets[SET_IMAGE_BBOX], H5T_NATIVE_FLOAT, first, n, b->bbox, 0) ||
         put_rows(s, s->sets[SET_IMAGE_BBOX_FRAME], H5T_NATIVE_FLOAT, first, n, b->bbox_frame, 0) ||
         put_rows(s, s->sets[SET_TOP5], H5T_NATIVE_INT, first, n, b->top5, 0) ||
         put_rows(s, s->sets[SET_SKIPPED], text, -1, (hsize_t)b->n_skipped, skipped, 0)))
        status = XAI_ERR;
    H5Tclose(text);
    free(paths);
    free(skipped);
    return status;
}

static int put_batch(xai_store *s, long long first, const xai_store_batch *b)
{
    hsize_t n = (hsize_t)b->count;
    const xai_store_shape *shape = &s->shape;
    size_t plane = (size_t)shape->height * shape->width * sizeof(float), image = plane * (size_t)shape->channels;
    if (b->count < 0) return xai_fail("%s: a batch of %d images", s->path, b->count);
    double *times = xai_malloc(((size_t)b->count + 1) * sizeof(double));
    if (!times) return XAI_ERR;
    int status = XAI_OK;
    for (int i = 0; i < b->count; i++) times[i] = b->ms_forward;
    if (put_rows(s, s->sets[SET_INPUT], H5T_NATIVE_FLOAT, first, n, b->input, image) ||
        put_rows(s, s->sets[SET_LOGITS], H5T_NATIVE_FLOAT, first, n, b->logits, 0) ||
        put_rows(s, s->sets[SET_TARGET], H5T_NATIVE_INT, first, n, b->targets, 0) ||
        put_rows(s, s->sets[SET_TIMING_FORWARD], H5T_NATIVE_DOUBLE, first, n, times, 0))
        status = XAI_ERR;
    for (int m = 0; status == XAI_OK && m < shape->n_methods; m++) {
        const hid_t *sets = s->method_sets + m * PER_METHOD_SETS;
        size_t map = plane * (size_t)(shape->map_channels ? shape->map_channels[m] : shape->channels);
        for (int i = 0; i < b->count; i++) times[i] = b->ms_methods[m];
        if (reports(shape, m) &&
            (!b->completeness || !b->completeness[m]
                 ? xai_fail("%s: no completeness rows for %s", s->path, shape->methods[m])
                 : put_rows(s, sets[SET_COMPLETENESS - SET_MAP], H5T_NATIVE_DOUBLE, first, n, b->completeness[m], 0)))
            status = XAI_ERR;
        if (status || put_rows(s, sets[SET_MAP - SET_MAP], H5T_NATIVE_FLOAT, first, n, b->maps[m], map) ||
            put_rows(s, sets[SET_HEATMAP - SET_MAP], H5T_NATIVE_FLOAT, first, n, b->heatmaps[m], plane) ||
            put_rows(s, sets[SET_TIMING - SET_MAP], H5T_NATIVE_DOUBLE, first, n, times, 0))
            status = XAI_ERR;
    }
    free(times);
    if (status == XAI_OK && shape->with_images) status = put_image_rows(s, first, b);
    if (status == XAI_OK) s->count += n;
    return status;
}

int xai_store_append(xai_store *s, const xai_store_batch *b)
{
    return put_batch(s, -1, b);
}

int xai_store_write_at(xai_store *s, long long first_row, const xai_store_batch *b)
{
    if (b->n_skipped) return xai_fail("%s: a presized file has no room for skipped images", s->path);
    return put_batch(s, first_row, b);
}

int xai_store_close(xai_store *s)
{
    xai_team alone = {.rank = 0, .size = 1};
    const xai_team *team = s->team ? s->team : &alone;
    store_close_datasets(s);
    herr_t c = H5Fclose(s->file);
    s->file = 0;
    int status = c < 0 ? xai_fail("%s: cannot finish writing the HDF5 file (disk full?)", s->path) : XAI_OK;
    if (s->mode != STORE_WRITING) {
        store_free(s);
        return status;
    }
    status = xai_team_agree(team, status);
    if (status == XAI_OK && team->rank == 0 && rename(s->partial, s->path) != 0)
        status = xai_fail("%s: cannot move the finished file into place: %s", s->path, strerror(errno));
    if (status && team->rank == 0) remove(s->partial);
    status = xai_team_agree(team, status);
    store_free(s);
    return status;
}
