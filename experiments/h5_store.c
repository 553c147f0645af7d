/* h5_store.c - writes explain results into HDF5 (see xai_store.h for the layout). HDF5's own
 * error printing is switched off; each failing call is reported once as "FILE: what".
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

#include <hdf5.h>

#include "xai_method.h"
#include "xai_provenance.h"
#include "xai_status.h"
#include "xai_store.h"
#include "xai_version.h"

#define PAGE 4096              /* O_DIRECT alignment of offsets, lengths and memory (>= any block) */
#define ALIGNED_FROM (64 << 10) /* HDF5 places allocations of this size and more on PAGE boundaries */

/* How a dataset's rows are stored. */
enum storage { PLAIN, DEFLATED, DIRECT /* plain, chunks allocated with the rows, written past the cache */ };

struct xai_store {
    char *path, *partial;
    hid_t file;
    xai_store_shape shape;
    hid_t input, logits, target, timing_forward;
    hid_t image_path, image_label, image_bbox, image_bbox_frame, top5, skipped;
    hid_t maps[XAI_METHODS_MAX], heatmaps[XAI_METHODS_MAX], timings[XAI_METHODS_MAX];
    hsize_t count;
    const xai_team *team; /* a file that several processes write (xai_store_open_shared) */
    int direct;           /* the file opened O_DIRECT for image rows, or -1 */
};

/* Dataset `name`: opened when the file exists (xai_store_open_shared), else created extendible,
 * [rows, dims...] chunked one image per chunk, compressed when DEFLATED (not when presized,
 * rows > 0: presized datasets are written in place, by several processes, and keep the chunks
 * allocated at creation). DIRECT rows get their chunks when the dataset grows, never filled by
 * HDF5: the store writes them itself. */
static hid_t lay_out(xai_store *s, int create, const char *name, hid_t type, int rank, const hsize_t *image_dims,
                     enum storage storage, long long rows)
{
    if (!create) {
        hid_t d = H5Dopen2(s->file, name, H5P_DEFAULT);
        if (d < 0) xai_fail("%s: no dataset %s", s->partial, name);
        return d;
    }
    hsize_t dims[4] = {(hsize_t)rows}, max[4] = {H5S_UNLIMITED}, chunk[4] = {1};
    for (int d = 1; d < rank; d++) dims[d] = max[d] = chunk[d] = image_dims[d - 1];
    if (rank == 1) chunk[0] = 1024; /* scalars per image: one chunk holds many */
    hid_t space = H5Screate_simple(rank, dims, max);
    hid_t props = H5Pcreate(H5P_DATASET_CREATE);
    hid_t links = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(links, 1);
    H5Pset_chunk(props, rank, chunk);
    if (rows || storage == DIRECT) {
        H5Pset_alloc_time(props, H5D_ALLOC_TIME_EARLY); /* presized: writing rows changes no metadata */
        H5Pset_fill_time(props, H5D_FILL_TIME_NEVER);
    } else if (storage == DEFLATED) {
        H5Pset_shuffle(props);
        H5Pset_deflate(props, 1); /* level 1: most of the gain at a fraction of the CPU */
    }
    hid_t d = H5Dcreate2(s->file, name, type, space, links, props, H5P_DEFAULT);
    H5Sclose(space);
    H5Pclose(props);
    H5Pclose(links);
    if (d < 0) xai_fail("%s: cannot create dataset %s", s->path, name);
    return d;
}

static void close_all(xai_store *s)
{
    hid_t *ids[] = {&s->input, &s->logits, &s->target, &s->timing_forward, &s->image_path,
                    &s->image_label, &s->image_bbox, &s->image_bbox_frame, &s->top5, &s->skipped};
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
        if (*ids[i] > 0) H5Dclose(*ids[i]), *ids[i] = 0;
    for (int m = 0; m < s->shape.n_methods; m++) {
        if (s->maps[m] > 0) H5Dclose(s->maps[m]);
        if (s->heatmaps[m] > 0) H5Dclose(s->heatmaps[m]);
        if (s->timings[m] > 0) H5Dclose(s->timings[m]);
        s->maps[m] = s->heatmaps[m] = s->timings[m] = 0;
    }
}

static void free_store(xai_store *s)
{
    if (s->direct >= 0) close(s->direct);
    free(s->path);
    free(s->partial);
    free(s);
}

void xai_store_abort(xai_store *s)
{
    if (!s) return;
    close_all(s);
    if (s->file > 0) H5Fclose(s->file);
    if (!s->team || s->team->rank == 0) remove(s->partial);
    free_store(s);
}

static xai_store *new_store(const char *path, const xai_store_shape *shape)
{
    if (shape->n_methods > XAI_METHODS_MAX) return xai_fail("%s: too many methods", path), NULL;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    xai_store *s = xai_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->direct = -1;
    s->shape = *shape;
    size_t n = strlen(path);
    s->path = xai_malloc(n + 1);
    s->partial = xai_malloc(n + 9);
    if (!s->path || !s->partial) {
        free_store(s);
        return NULL;
    }
    memcpy(s->path, path, n + 1);
    snprintf(s->partial, n + 9, "%s.partial", path);
    return s;
}

/* Every dataset of the layout, created or opened. */
static int lay_out_all(xai_store *s, int create)
{
    const xai_store_shape *shape = &s->shape;
    hsize_t image[3] = {(hsize_t)shape->channels, (hsize_t)shape->height, (hsize_t)shape->width};
    hsize_t plane[2] = {(hsize_t)shape->height, (hsize_t)shape->width};
    hsize_t classes[1] = {(hsize_t)shape->classes};
    long long rows = shape->rows;
    /* Deflate only the NUL-padded strings. The input would shrink 1.7x, the maps, heat maps and
     * logits 1.1-1.25x, but deflating the input alone cost ~10 % of a sweep's throughput on two
     * cores (bench_run), and filtered data cannot be written independently under MPI. */
    int ok = (s->input = lay_out(s, create, "/input", H5T_NATIVE_FLOAT, 4, image, DIRECT, rows)) > 0 &&
             (s->logits = lay_out(s, create, "/logits", H5T_NATIVE_FLOAT, 2, classes, PLAIN, rows)) > 0 &&
             (s->target = lay_out(s, create, "/target", H5T_NATIVE_INT32, 1, NULL, PLAIN, rows)) > 0 &&
             (s->timing_forward = lay_out(s, create, "/timings/forward", H5T_NATIVE_DOUBLE, 1, NULL, PLAIN, rows)) > 0;
    if (ok && shape->with_images) {
        hsize_t four[1] = {4}, five[1] = {5};
        hid_t text = H5Tcopy(H5T_C_S1);
        H5Tset_size(text, XAI_STORE_PATH_BYTES);
        H5Tset_strpad(text, H5T_STR_NULLPAD);
        ok = (s->image_path = lay_out(s, create, "/images/path", text, 1, NULL, DEFLATED, rows)) > 0 &&
             (s->image_label = lay_out(s, create, "/images/label", H5T_NATIVE_INT32, 1, NULL, PLAIN, rows)) > 0 &&
             (s->image_bbox = lay_out(s, create, "/images/bbox", H5T_NATIVE_FLOAT, 2, four, PLAIN, rows)) > 0 &&
             (s->image_bbox_frame = lay_out(s, create, "/images/bbox_frame", H5T_NATIVE_FLOAT, 2, four, PLAIN, rows)) > 0 &&
             (s->top5 = lay_out(s, create, "/predictions/top5", H5T_NATIVE_INT32, 2, five, PLAIN, rows)) > 0;
        /* The images that could not be used: none in a presized file (a run that skips one
         * merges its parts instead). */
        ok = ok && (s->skipped = lay_out(s, create, "/skipped/reason", text, 1, NULL, DEFLATED, 0)) > 0;
        H5Tclose(text);
    }
    for (int m = 0; ok && m < shape->n_methods; m++) {
        char name[128];
        snprintf(name, sizeof name, "/maps/%s", shape->methods[m]);
        ok = (s->maps[m] = lay_out(s, create, name, H5T_NATIVE_FLOAT, 4, image, DIRECT, rows)) > 0;
        snprintf(name, sizeof name, "/heatmaps/%s", shape->methods[m]);
        ok = ok && (s->heatmaps[m] = lay_out(s, create, name, H5T_NATIVE_FLOAT, 3, plane, DIRECT, rows)) > 0;
        snprintf(name, sizeof name, "/timings/%s", shape->methods[m]);
        ok = ok && (s->timings[m] = lay_out(s, create, name, H5T_NATIVE_DOUBLE, 1, NULL, PLAIN, rows)) > 0;
    }
    return ok ? XAI_OK : XAI_ERR;
}

int xai_store_create(xai_store **out, const char *path, const xai_store_shape *shape)
{
    *out = NULL;
    xai_store *s = new_store(path, shape);
    if (!s) return XAI_ERR;
    hid_t access = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_alignment(access, ALIGNED_FROM, PAGE);
    s->file = H5Fcreate(s->partial, H5F_ACC_TRUNC, H5P_DEFAULT, access);
    H5Pclose(access);
    if (s->file < 0) {
        int err = errno;
        free_store(s);
        return xai_fail("%s: cannot create the HDF5 file%s%s", path, err ? ": " : "",
                        err ? strerror(err) : "");
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
    close_all(s);
    herr_t c = H5Fclose(s->file);
    int status = c < 0 ? xai_fail("%s: cannot write the HDF5 file (disk full?)", s->partial) : XAI_OK;
    if (status) remove(s->partial);
    free_store(s);
    return status;
}

int xai_store_open_shared(xai_store **out, const char *path, const xai_store_shape *shape, const xai_team *team)
{
    *out = NULL;
    xai_store *s = new_store(path, shape);
    if (!s) return XAI_ERR;
    s->team = team;
    hid_t access = xai_team_file_access(team);
    s->file = H5Fopen(s->partial, H5F_ACC_RDWR, access);
    H5Pclose(access);
    if (s->file < 0) {
        free_store(s);
        return xai_fail("%s: cannot open the shared HDF5 file", path);
    }
    if (lay_out_all(s, 0)) {
        xai_store_abort(s);
        return XAI_ERR;
    }
    *out = s;
    return XAI_OK;
}

int xai_store_attribute(xai_store *s, const char *key, const char *value)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, strlen(value) + 1);
    H5Tset_cset(type, H5T_CSET_UTF8);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(s->file, key, type, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t w = a >= 0 ? H5Awrite(a, type, value) : -1;
    if (a >= 0) H5Aclose(a);
    H5Sclose(space);
    H5Tclose(type);
    return w < 0 ? xai_fail("%s: cannot write attribute %s", s->path, key) : XAI_OK;
}

int xai_store_provenance(xai_store *s, const char *model_path, const char *model_sha256, int threads,
                         int argc, char **argv)
{
    char cpu[256], date[64], thread_text[32], command[8192];
    xai_cpu_name(cpu, sizeof cpu);
    xai_utc_now(date, sizeof date);
    snprintf(thread_text, sizeof thread_text, "%d", threads);
    xai_command_line(argc, argv, command, sizeof command);
    if (xai_store_attribute(s, "xaibench_version", XAI_VERSION) ||
        xai_store_attribute(s, "git_commit", XAI_GIT_COMMIT) || xai_store_attribute(s, "model_path", model_path) ||
        xai_store_attribute(s, "model_sha256", model_sha256) || xai_store_attribute(s, "threads", thread_text) ||
        xai_store_attribute(s, "cpu", cpu) || xai_store_attribute(s, "date", date) ||
        xai_store_attribute(s, "command_line", command))
        return XAI_ERR;
    return XAI_OK;
}

int xai_h5_string_attribute(hid_t object, const char *key, char *out, size_t size)
{
    if (H5Aexists(object, key) <= 0) return XAI_ERR;
    hid_t a = H5Aopen(object, key, H5P_DEFAULT), type = H5Aget_type(a);
    size_t n = H5Tget_size(type);
    char *value = xai_calloc(n + 1, 1);
    int status = value && H5Tget_class(type) == H5T_STRING && H5Aread(a, type, value) >= 0 ? XAI_OK : XAI_ERR;
    if (status == XAI_OK) snprintf(out, size, "%s", value);
    free(value);
    H5Tclose(type);
    H5Aclose(a);
    return status;
}

int xai_store_transform_attributes(xai_store *s, const float *mean, const float *std, int label_offset)
{
    char m[96], d[96], offset[16];
    snprintf(m, sizeof m, "%.9g,%.9g,%.9g", mean[0], mean[1], mean[2]);
    snprintf(d, sizeof d, "%.9g,%.9g,%.9g", std[0], std[1], std[2]);
    snprintf(offset, sizeof offset, "%d", label_offset);
    return xai_store_attribute(s, "mean", m) || xai_store_attribute(s, "std", d) ||
                   xai_store_attribute(s, "label_offset", offset)
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

static int put_batch(xai_store *s, long long first, const xai_store_batch *b)
{
    hsize_t n = (hsize_t)b->count;
    const xai_store_shape *shape = &s->shape;
    size_t plane = (size_t)shape->height * shape->width * sizeof(float), image = plane * (size_t)shape->channels;
    double *times = xai_malloc((size_t)b->count * sizeof(double));
    if (!times) return XAI_ERR;
    int status = XAI_OK;
    for (int i = 0; i < b->count; i++) times[i] = b->ms_forward;
    if (put_rows(s, s->input, H5T_NATIVE_FLOAT, first, n, b->input, image) ||
        put_rows(s, s->logits, H5T_NATIVE_FLOAT, first, n, b->logits, 0) ||
        put_rows(s, s->target, H5T_NATIVE_INT, first, n, b->targets, 0) ||
        put_rows(s, s->timing_forward, H5T_NATIVE_DOUBLE, first, n, times, 0))
        status = XAI_ERR;
    for (int m = 0; status == XAI_OK && m < s->shape.n_methods; m++) {
        for (int i = 0; i < b->count; i++) times[i] = b->ms_methods[m];
        if (put_rows(s, s->maps[m], H5T_NATIVE_FLOAT, first, n, b->maps[m], image) ||
            put_rows(s, s->heatmaps[m], H5T_NATIVE_FLOAT, first, n, b->heatmaps[m], plane) ||
            put_rows(s, s->timings[m], H5T_NATIVE_DOUBLE, first, n, times, 0))
            status = XAI_ERR;
    }
    free(times);
    if (status == XAI_OK && s->shape.with_images) {
        int lines = b->count > b->n_skipped ? b->count : b->n_skipped;
        char *text = xai_calloc((size_t)lines + 1, XAI_STORE_PATH_BYTES);
        if (!text) return XAI_ERR;
        for (int i = 0; i < b->count; i++)
            strncpy(text + (size_t)i * XAI_STORE_PATH_BYTES, b->paths[i], XAI_STORE_PATH_BYTES - 1);
        hid_t type = H5Tcopy(H5T_C_S1);
        H5Tset_size(type, XAI_STORE_PATH_BYTES);
        H5Tset_strpad(type, H5T_STR_NULLPAD);
        if (put_rows(s, s->image_path, type, first, n, text, 0) ||
            put_rows(s, s->image_label, H5T_NATIVE_INT, first, n, b->labels, 0) ||
            put_rows(s, s->image_bbox, H5T_NATIVE_FLOAT, first, n, b->bbox, 0) ||
            put_rows(s, s->image_bbox_frame, H5T_NATIVE_FLOAT, first, n, b->bbox_frame, 0) ||
            put_rows(s, s->top5, H5T_NATIVE_INT, first, n, b->top5, 0))
            status = XAI_ERR;
        memset(text, 0, (size_t)lines * XAI_STORE_PATH_BYTES);
        for (int i = 0; i < b->n_skipped; i++)
            strncpy(text + (size_t)i * XAI_STORE_PATH_BYTES, b->skipped[i], XAI_STORE_PATH_BYTES - 1);
        if (status == XAI_OK && put_rows(s, s->skipped, type, -1, (hsize_t)b->n_skipped, text, 0)) status = XAI_ERR;
        H5Tclose(type);
        free(text);
    }
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
    close_all(s);
    herr_t c = H5Fclose(s->file);
    s->file = 0;
    int status = c < 0 ? xai_fail("%s: cannot finish writing the HDF5 file (disk full?)", s->path) : XAI_OK;
    status = xai_team_agree(team, status);
    if (status == XAI_OK && team->rank == 0 && rename(s->partial, s->path) != 0)
        status = xai_fail("%s: cannot move the finished file into place: %s", s->path, strerror(errno));
    if (status && team->rank == 0) remove(s->partial);
    status = xai_team_agree(team, status);
    free_store(s);
    return status;
}
