/* guided_backprop.c - Springenberg et al. 2014: both gates, dx = max(g, 0) * (lo < y < hi). */
#include "xai_method.h"
#include "xai_rule.h"

static void guided_backprop_activation_backward(const float *restrict y,
                                                const float *restrict g, float *restrict dx,
                                                size_t n, float lo, float hi)
{
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        int pass = (y[i] > lo) & (y[i] < hi) & (g[i] > 0.f); /* bitwise: the loop vectorizes */
        dx[i] = pass ? g[i] : 0.f;
    }
}

static double guided_backprop_activation_backward_one(double y, double g, double lo, double hi)
{
    return (y > lo && y < hi && g > 0.0) ? g : 0.0;
}

XAI_RULE_AND_METHOD(guided_backprop, "saliency mask and deconvnet rule together (Springenberg et al. 2014)");
