/* xai_store.h - the HDF5 results file of `explain` (layout in ../shared/DESIGN.md):
 * /input, /logits, /target, /maps/<method>, /heatmaps/<method>, /timings/<method>,
 * /timings/forward, provenance attributes on "/". Datasets are extendible along the image axis,
 * one image per chunk, shuffled and deflated. The file is written as FILE.partial and renamed
 * into place on a successful close, so an error never leaves a half-written FILE. */
#ifndef XAI_STORE_H
#define XAI_STORE_H

typedef struct xai_store xai_store;

typedef struct {
    int channels, height, width, classes;
    int n_methods;
    const char *const *methods;
} xai_store_shape;

int xai_store_create(xai_store **out, const char *path, const xai_store_shape *shape);

/* A string attribute on the root group. */
int xai_store_attribute(xai_store *store, const char *key, const char *value);

/* Append `count` images: input [count][C][H][W], logits [count][classes], targets [count],
 * maps[m] [count][C][H][W], heatmaps[m] [count][H][W], per-image milliseconds. */
typedef struct {
    int count;
    const float *input, *logits;
    const int *targets;
    const float *const *maps, *const *heatmaps;
    double ms_forward;              /* per image */
    const double *ms_methods;       /* per image, per method */
} xai_store_batch;

int xai_store_append(xai_store *store, const xai_store_batch *batch);

/* Flush, close and move into place. Frees the store whatever the outcome. */
int xai_store_close(xai_store *store);

/* Close without keeping anything (after an error). */
void xai_store_abort(xai_store *store);

#endif
