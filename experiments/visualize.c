/* visualize.c - Captum's visualize_image_attr normalization (channel reduction, sign mode,
 * cumulative-mass threshold, clip), with an all-zero map handled instead of asserting. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xai_status.h"
#include "xai_visualize.h"

static int ascending(const void *x, const void *y)
{
    float a = *(const float *)x, b = *(const float *)y;
    return (a > b) - (a < b);
}

double xai_visualize(const float *map, int channels, size_t plane, xai_reduce reduce, xai_sign sign,
                     double outlier_percent, float *out)
{
    for (size_t p = 0; p < plane; p++) {
        float v = 0.f;
        for (int c = 0; c < channels; c++) {
            float a = map[(size_t)c * plane + p];
            v = reduce == XAI_REDUCE_SUM ? v + a : fmaxf(v, fabsf(a));
        }
        out[p] = sign == XAI_SIGN_ABSOLUTE ? fabsf(v) : (v > 0.f ? v : 0.f);
    }
    float *sorted = xai_malloc(plane * sizeof *sorted);
    if (!sorted) return NAN;
    memcpy(sorted, out, plane * sizeof *sorted);
    qsort(sorted, plane, sizeof *sorted, ascending);
    double total = 0.0, running = 0.0, t = 0.0;
    for (size_t p = 0; p < plane; p++) total += sorted[p];
    for (size_t p = 0; p < plane && total > 0; p++) {
        running += sorted[p];
        if (running >= total * (100.0 - outlier_percent) / 100.0) {
            t = sorted[p];
            break;
        }
    }
    free(sorted);
    for (size_t p = 0; p < plane; p++) out[p] = t > 0 ? (float)fmin(out[p] / t, 1.0) : 0.f;
    return t;
}

const char *xai_visualize_caption(xai_reduce reduce, xai_sign sign)
{
    if (reduce == XAI_REDUCE_SUM)
        return sign == XAI_SIGN_ABSOLUTE
                   ? "Captum convention: channels summed, absolute value, clipped where the top 2% of the mass begins"
                   : "Captum convention: channels summed, positive part, clipped where the top 2% of the mass begins";
    return sign == XAI_SIGN_ABSOLUTE
               ? "max over channels of |map|, clipped where the top 2% of the mass begins"
               : "max over channels of the map's positive part, clipped where the top 2% of the mass begins";
}
