/* xai_method.h - attribution methods, registered by name.
 *
 * Saliency, deconvnet and guided backprop share one forward pass and differ only in how the
 * gradient crosses an activation y = clamp(x, lo, hi) (ReLU: lo = 0, hi = +inf). With g the
 * incoming gradient and the forward mask m = (lo < x < hi), which equals (lo < y < hi):
 *     saliency         dx = g * m                 (Simonyan et al. 2014)
 *     deconvnet        dx = max(g, 0)             (Zeiler & Fergus 2013)
 *     guided_backprop  dx = max(g, 0) * m         (Springenberg et al. 2014)
 * applied at every activation down to the input. Each method file holds its rule twice: a
 * vectorized float kernel for the fast engine and a scalar double one for the reference. */
#ifndef XAI_METHOD_H
#define XAI_METHOD_H

#include <stddef.h>

typedef struct xai_method {
    const char *name;
    const char *summary;
    /* dx[i] = rule(y[i], g[i]) for i < n, y the activation's output. */
    void (*activation_backward)(const float *restrict y, const float *restrict g,
                                float *restrict dx, size_t n, float lo, float hi);
    double (*activation_backward_one)(double y, double g, double lo, double hi);
} xai_method;

/* The most methods one run, file or figure holds: every registered method, with room to grow. */
#define XAI_METHODS_MAX 16

extern const xai_method xai_method_saliency;
extern const xai_method xai_method_deconvnet;
extern const xai_method xai_method_guided_backprop;

/* The method called `name`, or NULL with the error set (listing the known names). */
const xai_method *xai_method_find(const char *name);

/* All registered methods, NULL-terminated, in the order saliency, deconvnet, guided_backprop. */
extern const xai_method *const xai_methods[];

/* Parse "a,b,c" into up to `max` methods; returns the count, or XAI_ERR. */
int xai_methods_parse(const char *list, const xai_method **out, int max);

#endif
