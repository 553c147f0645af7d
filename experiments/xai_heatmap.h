/* xai_heatmap.h - reducing a [C][H][W] attribution map to one [H][W] heat map. */
#ifndef XAI_HEATMAP_H
#define XAI_HEATMAP_H

#include <stddef.h>

/* heat[p] = max over channels of |map[c][p]|, for p < plane (= H * W). */
void xai_heatmap_max_abs(const float *map, int channels, size_t plane, float *heat);

#endif
