/* heatmap.c - channel reduction of attribution maps (DESIGN.md: max over channels of |map|). */
#include <math.h>

#include "xai_heatmap.h"

void xai_heatmap_max_abs(const float *map, int channels, size_t plane, float *heat)
{
    for (size_t p = 0; p < plane; p++) heat[p] = fabsf(map[p]);
    for (int c = 1; c < channels; c++)
        for (size_t p = 0; p < plane; p++) { /* a comparison, not fmaxf (a libm call per pixel) */
            float a = fabsf(map[(size_t)c * plane + p]);
            heat[p] = a > heat[p] ? a : heat[p];
        }
}
