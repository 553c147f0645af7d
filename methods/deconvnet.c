/* deconvnet.c - Zeiler & Fergus 2013: only the backward signal's sign gates, dx = max(g, 0). */
#include "xai_method.h"
#include "xai_rule.h"

static void deconvnet_activation_backward(const float *restrict y, const float *restrict g,
                                          float *restrict dx, size_t n, float lo, float hi)
{
    (void)y, (void)lo, (void)hi;
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) dx[i] = g[i] > 0.f ? g[i] : 0.f; /* not fmaxf: a libm call per element */
}

static double deconvnet_activation_backward_one(double y, double g, double lo, double hi)
{
    (void)y, (void)lo, (void)hi;
    return g > 0.0 ? g : 0.0;
}

XAI_RULE_AND_METHOD(deconvnet, "positive part of the backward signal (Zeiler & Fergus 2013)");
