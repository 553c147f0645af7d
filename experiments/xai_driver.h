/* xai_driver.h - one batch of images through every requested method: the loop that `explain`
 * and `run` share. One forward serves all single-pass methods (they share each other's maps);
 * multi-pass methods (smoothgrad, integrated_gradients) run their samples on an engine of a
 * batch of their own (xai_sample_batch), in full batches. Then a heat map per method, and the
 * time per image of the forward and of each method. */
#ifndef XAI_DRIVER_H
#define XAI_DRIVER_H

#include "xai_graph.h"
#include "xai_method.h"

typedef struct xai_driver xai_driver;

typedef struct {
    const xai_method *const *methods;
    int n_methods;
    const xai_method_params *params;
    int batch, threads;
    int keep_weights; /* 1: the graph keeps its weights, for xai_driver_reload_weights */
} xai_driver_config;

/* Check the methods' parameters against the graph (one line naming what is wrong), then build
 * the engines: the graph's weights are freed once the engines hold them (it keeps its shapes),
 * unless keep_weights. */
int xai_driver_create(xai_driver **out, xai_graph *graph, const xai_driver_config *config);
void xai_driver_destroy(xai_driver *driver);

/* Node `node`'s weights changed in the graph (keep_weights): every engine takes them again. */
int xai_driver_reload_weights(xai_driver *driver, int node);

/* Method m's map channels: the input's, or 1 (grad_cam). */
int xai_driver_map_channels(const xai_driver *driver, int m);

/* One batch of 1..batch images, run on an engine of exactly `count` images (one of another size
 * than the configured batch is made at the first such batch, sharing the main engine's weights),
 * so that a partial batch costs what its images cost. In: input [batch][C][H][W] (rows past
 * count are ignored), targets (the logit to explain per image; NULL or < 0: the top one),
 * image_ids (each image's index in its data set: smoothgrad's noise key; NULL: 0..count-1).
 * Out: chosen [count] logits, logits [batch][classes], maps[m] [batch][channels][H][W],
 * heatmaps[m] [batch][H][W], completeness[m] [count] for the methods that report it
 * (completeness may be NULL), and milliseconds per image. */
typedef struct {
    const float *input;
    int count;
    const int *targets;
    const long long *image_ids;
    int *chosen;
    float *logits;
    float *const *maps, *const *heatmaps;
    double *const *completeness;
    int same_input; /* 1: the last call's images again, with only weights changed since
                       (xai_driver_reload_weights): the forward reruns from the first changed layer */
    double ms_forward, ms_methods[XAI_METHODS_MAX];
    double ms_sample_passes[XAI_METHODS_MAX]; /* of ms_methods[m]: the samples' own forward and
                                                 backward passes (multi-pass methods; else 0) */
} xai_driver_batch;

int xai_driver_explain(xai_driver *driver, xai_driver_batch *batch);

/* The methods' parameters as "method.key=value" lines (for manifests and provenance), allocated. */
char *xai_driver_describe(const xai_method *const *methods, int n_methods, const xai_method_params *params);

#endif
