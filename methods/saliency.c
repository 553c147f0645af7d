/* saliency.c - Simonyan et al. 2014: the plain gradient, dx = g * (lo < y < hi). */
#include "xai_method.h"
#include "xai_rule.h"

static void saliency_activation_backward(const float *restrict y, const float *restrict g,
                                         float *restrict dx, size_t n, float lo, float hi)
{
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        /* g read whatever the mask says and the mask taken bitwise: a select with no branch, so
         * the loop vectorizes (reading g only where the mask passes made it a scalar loop with a
         * branch per element, mispredicted at half of them: 3.2 ms per image per ResNet18
         * backward at batch 10, against 1.1 ms for guided_backprop's) */
        float incoming = g[i];
        int pass = (y[i] > lo) & (y[i] < hi);
        dx[i] = pass ? incoming : 0.f;
    }
}

static double saliency_activation_backward_one(double y, double g, double lo, double hi)
{
    return (y > lo && y < hi) ? g : 0.0;
}

XAI_RULE_AND_METHOD(saliency, "gradient of the target logit (Simonyan et al. 2014)");
