/* saliency.c - Simonyan et al. 2014: the plain gradient, dx = g * (lo < y < hi). */
#include "xai_method.h"
#include "xai_rule.h"

static void saliency_activation_backward(const float *restrict y, const float *restrict g,
                                         float *restrict dx, size_t n, float lo, float hi)
{
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        int pass = (y[i] > lo) & (y[i] < hi); /* bitwise: no branch, so the loop vectorizes */
        dx[i] = pass ? g[i] : 0.f;
    }
}

static double saliency_activation_backward_one(double y, double g, double lo, double hi)
{
    return (y > lo && y < hi) ? g : 0.0;
}

XAI_RULE_AND_METHOD(saliency, "gradient of the target logit (Simonyan et al. 2014)");
