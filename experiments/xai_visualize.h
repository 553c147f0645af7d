/* xai_visualize.h - turning a raw [C][H][W] map into a [0,1] display image, as Captum's
 * visualize_image_attr does (DESIGN.md), or from xaibench's max-|.| heat map. */
#ifndef XAI_VISUALIZE_H
#define XAI_VISUALIZE_H

#include <stddef.h>

typedef enum { XAI_REDUCE_SUM, XAI_REDUCE_MAX_ABS } xai_reduce;     /* channels: signed sum | max |.| */
typedef enum { XAI_SIGN_ABSOLUTE, XAI_SIGN_POSITIVE } xai_sign;      /* |a| | a where a > 0 */

/* out[p] = clip(v[p] / t, 0, 1), v the reduced and sign-moded map, t the value at which the
 * ascending cumulative sum of v first reaches (100 - outlier_percent) % of its total (Captum's
 * threshold: the largest values holding outlier_percent % of the mass saturate). An all-zero map
 * gives all zeros. Returns t. */
double xai_visualize(const float *map, int channels, size_t plane, xai_reduce reduce, xai_sign sign,
                     double outlier_percent, float *out);

/* A one-line description of the convention, for captions. */
const char *xai_visualize_caption(xai_reduce reduce, xai_sign sign);

#endif
