/* xai_store.h - the HDF5 results file of `explain` and `run`, and the only way xaibench reads or
 * writes one (docs/results-format.md gives the layout as an h5py user meets it): /input,
 * /logits, /target, /maps/<method>, /heatmaps/<method>, /timings/<method>, /timings/forward,
 * provenance attributes on "/"; for `run` also /images/{path,label,bbox,bbox_frame},
 * /predictions/top5 and /skipped/reason (images that could not be used); `xaibench metrics`
 * adds /metrics/<method>/<metric>. Datasets are extendible along the image axis, one image per
 * chunk; only the strings are deflated. A file is written as FILE.partial and renamed into place
 * on a successful close, so an error never leaves a half-written FILE. Image rows (input, maps,
 * heat maps) in page-aligned memory (xai_malloc_pages) go to the file past the page cache
 * (O_DIRECT) where the file system allows it, other rows through HDF5. */
#ifndef XAI_STORE_H
#define XAI_STORE_H

#include <stddef.h>

#include "xai_method.h"
#include "xai_team.h"

typedef struct xai_store xai_store;

typedef struct {
    int channels, height, width, classes;
    int n_methods;
    const char *const *methods;
    const int *map_channels; /* per method: its map's channels (grad_cam 1); NULL: all `channels` */
    const int *completeness; /* per method: 1 when it reports a completeness error; NULL: none */
    int with_images;   /* `run`: also /images/{path,label,bbox,bbox_frame}, /predictions/top5 */
    long long rows;    /* 0: datasets grow as images are appended. N: presized to N images from the
                          start, written in place by xai_store_write_at, not compressed, chunks
                          allocated at creation: writing rows then changes no HDF5 metadata, so
                          several processes can write their rows independently */
} xai_store_shape;

#define XAI_STORE_PATH_BYTES 1024 /* /images/path, /skipped/reason: fixed-length, NUL-padded strings */

int xai_store_create(xai_store **out, const char *path, const xai_store_shape *shape);

/* A string attribute on the root group (replaced when it exists). */
int xai_store_set_attribute(xai_store *store, const char *key, const char *value);

/* The provenance attributes of DESIGN.md: xaibench_version, git_commit, model_path,
 * model_sha256, threads, cpu, date and command_line (argv joined). */
int xai_store_provenance(xai_store *store, const char *model_path, const char *model_sha256,
                         int threads, int argc, char **argv);

/* Each method's parameters (xai_method.h's describe lines, "key=value") on /maps/<method>. */
int xai_store_method_parameters(xai_store *store, const xai_method *const *methods, int n_methods,
                                const xai_method_params *params);

/* The attributes that say how images became /input: mean, std ("r,g,b") and label_offset. */
int xai_store_transform_attributes(xai_store *store, const float *mean, const float *std, int label_offset);

/* Append `count` images: input [count][C][H][W], logits [count][classes], targets [count],
 * maps[m] [count][channels of m][H][W], heatmaps[m] [count][H][W], per-image milliseconds. */
typedef struct {
    int count;
    const float *input, *logits;
    const int *targets;
    const float *const *maps, *const *heatmaps;
    double ms_forward;              /* per image */
    const double *ms_methods;       /* per image, per method */
    const double *const *completeness; /* per method reporting one: [count] */
    /* with_images only: */
    const char *const *paths;       /* [count] */
    const int *labels;              /* [count] ImageNet index of the image's class */
    const float *bbox, *bbox_frame; /* [count][4] x0 y0 x1 y1 of the first box; NaN: none */
    const int *top5;                /* [count][5] */
    int n_skipped;                  /* images of this batch that could not be used ... */
    const char *const *skipped;     /* ... one line each, appended to /skipped/reason */
} xai_store_batch;

int xai_store_append(xai_store *store, const xai_store_batch *batch);

/* Write a batch into rows first_row.. of a presized store (shape.rows); no skipped images. */
int xai_store_write_at(xai_store *store, long long first_row, const xai_store_batch *batch);

/* A presized file shared by a team (MPI): one member creates it (xai_store_create) and sets its
 * attributes, then closes it unfinished with xai_store_suspend (FILE.partial stays); then every
 * member opens it with xai_store_open_shared (collective), writes its own rows, and all close it
 * together with xai_store_close (rank 0 moves it into place) or xai_store_abort. */
int xai_store_suspend(xai_store *store);
int xai_store_open_shared(xai_store **out, const char *path, const xai_store_shape *shape, const xai_team *team);

/* Flush, close and move into place (collective for a shared store). Frees the store whatever the
 * outcome. */
int xai_store_close(xai_store *store);

/* Close without keeping anything (after an error); a file opened to read or update is left as
 * it is. */
void xai_store_abort(xai_store *store);

/* ---- Reading a finished file ---- */

enum { XAI_STORE_READ, XAI_STORE_UPDATE /* also adds /metrics and attributes, in place */ };

/* Open FILE, checked to be a results file: every dataset of the layout present with the shape
 * that the file's /input, /logits and methods (the names under /maps) give it. */
int xai_store_open(xai_store **out, const char *path, int mode);

/* The file's shape: rows = images, methods in name order, with_images for a `run` file. */
const xai_store_shape *xai_store_shape_of(const xai_store *store);

/* Whether dataset `name` ("/maps/saliency", "/metrics/saliency/sparseness", ...) is in the file. */
int xai_store_has(xai_store *store, const char *name);

/* Its number of rows and the bytes of one row in memory (see xai_store_read). */
int xai_store_rows(xai_store *store, const char *name, long long *rows, size_t *row_bytes);

/* Rows first .. first + count - 1 of dataset `name` into `out`, as the format's C type: float
 * (input, logits, maps, heat maps, boxes), int32_t (target, labels, top5), double (timings,
 * metrics) or XAI_STORE_PATH_BYTES chars per row (paths, skipped reasons). */
int xai_store_read(xai_store *store, const char *name, long long first, long long count, void *out);

/* A root attribute: XAI_OK with *value allocated (the caller frees it), or NULL when absent. */
int xai_store_get_attribute(xai_store *store, const char *key, char **value);

/* A method's parameters (the estimator's settings), string attributes of /maps/<method>. */
int xai_store_set_method_parameter(xai_store *store, const char *method, const char *key, const char *value);
int xai_store_get_method_parameter(xai_store *store, const char *method, const char *key, char **value);

/* XAI_STORE_UPDATE: remove every /metrics dataset, or write one, `values` holding one per image. */
int xai_store_clear_metrics(xai_store *store);
int xai_store_write_metric(xai_store *store, const char *method, const char *metric, const double *values);

/* Concatenate the datasets of `parts` (files of one layout, in order) along the image axis into
 * `path` (through PATH.partial and a rename), with the first part's root attributes, replaced
 * or joined by `overrides` (key, value pairs, NULL-terminated; NULL for none).
 * With a team of several processes (all call it with the same arguments) the parts are shared
 * out among them and written into the one file through MPI-IO; otherwise one process copies. */
int xai_store_merge(const char *path, const char *const *parts, int n_parts, const char *const *overrides,
                    const xai_team *team);

#endif
