/* xai_method.h - attribution methods, registered by name: estimators that drive an engine
 * (xai_backend.h) to make one map per image. docs/methods.md gives each with its formula.
 *
 * The three rule methods (saliency, deconvnet, guided_backprop: xai_rule.h) and those built from
 * their maps and one layer (gradient_x_input, grad_cam, guided_grad_cam) are single-pass: they
 * come from the forward pass the driver runs on the batch, and share it and each other's maps.
 * smoothgrad and integrated_gradients are multi-pass: they run their own forward and backward
 * passes over samples of each image, in full batches of the engine. */
#ifndef XAI_METHOD_H
#define XAI_METHOD_H

#include <stdint.h>

#include "xai_backend.h"
#include "xai_rule.h"

/* The most methods one run, file or figure holds: every registered method, with room to grow. */
#define XAI_METHODS_MAX 16

typedef struct xai_method xai_method;

/* Every method's settings (each method reads its own; docs/methods.md gives the defaults). */
typedef struct xai_method_params {
    int samples;              /* smoothgrad: noisy copies per image, n */
    double noise;             /* smoothgrad: sigma / (max x - min x), s */
    const xai_method *base;   /* smoothgrad: the single-pass method averaged */
    int steps;                /* integrated_gradients: m */
    int riemann_trapezoid;    /* integrated_gradients: 0 Gauss-Legendre, 1 the trapezoid rule */
    int layer;                /* grad_cam, guided_grad_cam: the value index of layer L */
    const char *layer_name;
    uint64_t seed;            /* smoothgrad's noise */
} xai_method_params;

/* The defaults: n = 50, s = 0.15, base saliency, m = 50 Gauss-Legendre, seed 0, no layer yet. */
void xai_method_params_default(xai_method_params *params);

/* Layer L for this graph: the 4-D tensor called `layer_name`, or with NULL the value entering
 * the graph's last global pooling (-1 when it has none); the error names candidates. */
int xai_method_params_resolve(xai_method_params *params, const xai_graph *graph, const char *layer_name);

/* A batch of images through a backend, after the forward on them: what a method explains, and
 * the maps and layer values the single-pass methods share (each made once, on first use). */
typedef struct xai_batch {
    xai_backend *backend;        /* where the batch's forward ran */
    xai_backend *samples;        /* multi-pass methods' passes: a fixed batch (xai_sample_batch) */
    const float *input;          /* [batch][C][H][W] */
    int count;                   /* images; rows past count are padding */
    const int *targets;          /* the logit explained, per row */
    const long long *image_ids;  /* each image's index in its data set: the key of its noise */
    const float *logits;         /* of the forward on `input` */
    const xai_method_params *params;
    /* shared, owned by the batch (xai_batch_release): */
    const float *rule_maps[3];   /* saliency, deconvnet, guided_backprop, when made */
    float *own_maps[3];          /* those of them made into the batch's own memory */
    float *cam;                  /* [batch][H][W], the upsampled Grad-CAM, when made */
    double pass_seconds;         /* wall time of the samples' forward and backward passes so far */
} xai_batch;

struct xai_method {
    const char *name, *summary;
    const xai_rule *rule;     /* a rule method's rule; NULL for the others */
    int multi_pass;           /* passes of its own over samples of each image */
    int one_channel;          /* its map is [1][H][W] (else the input's [C][H][W]) */
    int completeness;         /* it reports a completeness error per image */
    /* maps: [batch][channels][H][W]; completeness: [batch] when the method reports one. */
    int (*explain)(const xai_method *self, xai_batch *batch, float *maps, double *completeness);
    /* Its parameters as "key=value" lines for the file and the run's manifest (may be NULL). */
    void (*describe)(const xai_method_params *params, char *out, size_t size);
};

/* The map of `rule` for the batch, into `into` ([batch][C][H][W]), made on first use and
 * copied afterwards; with into NULL, into the batch's own memory. *map gets where it is. The
 * map is shared from then on: `into` must not be written afterwards (a method that derives its
 * map from a rule's passes NULL and writes its own). */
int xai_batch_rule_map(xai_batch *batch, const xai_rule *rule, float *into, const float **map);

/* The batch's Grad-CAM at params->layer, upsampled to the input's H x W: [batch][H][W]. */
int xai_batch_cam(xai_batch *batch, const float **cam);

/* Free what the batch made. */
void xai_batch_release(xai_batch *batch);

/* A rule file's two definitions: the rule xai_rule_<id> from its kernels <id>_activation_backward
 * and <id>_activation_backward_one, and the method xai_method_<id> that makes its map. */
#define XAI_RULE_AND_METHOD(id, summary)                                                                    \
    const xai_rule xai_rule_##id = {#id, summary, id##_activation_backward, id##_activation_backward_one}; \
    const xai_method xai_method_##id = {#id, summary, &xai_rule_##id, .explain = xai_method_explain_rule}

/* A rule method's explain: the rule's map (the three rule files use it). */
int xai_method_explain_rule(const xai_method *self, xai_batch *batch, float *maps, double *completeness);

/* Multi-pass methods: n samples of each image of the batch, made by fill(context, image, sample,
 * row) ([C][H][W]), go through batch->samples in full batches (the samples of consecutive images
 * share them); for each, `method`'s map on it (a single-pass method, explaining the image's
 * target) goes to take(context, image, sample, map). */
typedef struct {
    void *context;
    void (*fill)(void *context, int image, int sample, float *row);
    void (*take)(void *context, int image, int sample, const float *map);
} xai_sampling;
int xai_batch_sampled(xai_batch *batch, int n, const xai_method *method, const xai_sampling *sampling);

/* The batch of the engine that multi-pass methods use for n samples per image: n itself up to
 * 16, else the largest divisor of n in 8..16 (no padding), else 16. It depends on nothing else,
 * so their maps are the same for any --batch. */
int xai_sample_batch(int n);

/* The channels of a method's map for an input of `channels` (smoothgrad: its base's). */
int xai_method_channels(const xai_method *method, const xai_method_params *params, int channels);

extern const xai_method xai_method_saliency, xai_method_deconvnet, xai_method_guided_backprop,
    xai_method_gradient_x_input, xai_method_grad_cam, xai_method_guided_grad_cam, xai_method_smoothgrad,
    xai_method_integrated_gradients;

/* All registered methods, NULL-terminated, in the order of `--methods all`. */
extern const xai_method *const xai_methods[];

/* The method called `name`, or NULL with the error set (listing the known names). */
const xai_method *xai_method_find(const char *name);

/* Parse "a,b,c" (or "all") into up to `max` methods; returns the count, or XAI_ERR. */
int xai_methods_parse(const char *list, const xai_method **out, int max);

#endif
