/* xai_rule.h - how a gradient crosses an activation: the piece in which saliency, deconvnet and
 * guided backprop differ (the methods built on them are in xai_method.h).
 *
 * They share one forward pass and differ only in how the gradient crosses an activation
 * y = clamp(x, lo, hi) (ReLU: lo = 0, hi = +inf). With g the incoming gradient and the forward
 * mask m = (lo < x < hi), which equals (lo < y < hi):
 *     saliency         dx = g * m                 (Simonyan et al. 2014)
 *     deconvnet        dx = max(g, 0)             (Zeiler & Fergus 2013)
 *     guided_backprop  dx = max(g, 0) * m         (Springenberg et al. 2014)
 * applied at every activation down to the input. Each rule file holds its rule twice: a
 * vectorized float kernel for the fast engine and a scalar double one for the reference. */
#ifndef XAI_RULE_H
#define XAI_RULE_H

#include <stddef.h>

typedef struct xai_rule {
    const char *name;
    const char *summary;
    /* dx[i] = rule(y[i], g[i]) for i < n, y the activation's output. */
    void (*activation_backward)(const float *restrict y, const float *restrict g,
                                float *restrict dx, size_t n, float lo, float hi);
    double (*activation_backward_one)(double y, double g, double lo, double hi);
} xai_rule;

extern const xai_rule xai_rule_saliency;   /* the true gradient */
extern const xai_rule xai_rule_deconvnet;
extern const xai_rule xai_rule_guided_backprop;

#endif
