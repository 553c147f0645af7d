/* xai_metrics.h - scores of one heat map (H x W, non-negative: max over channels of |map|),
 * as docs/metrics.md defines them. Every function is defined for an all-zero map (it returns
 * the value of a uniform map, or 0 where that is the natural limit) instead of failing. */
#ifndef XAI_METRICS_H
#define XAI_METRICS_H

#include <stddef.h>

#include "xai_dogs.h"

/* Noise */
double xai_metric_total_variation(const float *heat, int h, int w);       /* TV / L1 */
double xai_metric_high_frequency(const float *heat, int h, int w, double cutoff); /* FFTW */
double xai_metric_complexity(const float *heat, size_t n);                /* entropy, Bhatt 2020 */
/* Sharpness / concentration */
double xai_metric_laplacian_variance(const float *heat, int h, int w);
double xai_metric_sparseness(const float *heat, size_t n);                /* Gini, Chalasani 2020 */
/* Localisation against a box in the heat map's frame (x0 <= x < x1, y0 <= y < y1) */
double xai_metric_mass_in_box(const float *heat, int h, int w, const xai_box *box);
double xai_metric_rank_in_box(const float *heat, int h, int w, const xai_box *box);
double xai_metric_pointing_game(const float *heat, int h, int w, const xai_box *box);

/* Area under a curve sampled at equal steps on [0, 1] (trapezoids). */
double xai_metric_auc(const double *curve, int points);

/* The order in which deletion/insertion visit pixels: most relevant first, ties by index. */
void xai_metric_pixel_order(const float *heat, size_t n, int *order);

#endif
