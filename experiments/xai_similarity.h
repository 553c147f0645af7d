/* xai_similarity.h - how alike two maps are, as the sanity checks (Adebayo et al. 2018) measure
 * it: Spearman's rank correlation and the structural similarity index (SSIM), each defined as
 * SciPy and scikit-image compute them, so that their numbers can be compared with ours. */
#ifndef XAI_SIMILARITY_H
#define XAI_SIMILARITY_H

#include <stddef.h>

/* ranks[k] = the rank of x[k] among x[0..n-1], 1-based, ties given the mean of their ranks
 * (scipy.stats.rankdata's "average"); -0 and +0 are one value. work: room for 4 n uint32 and
 * n ranks' worth of scratch, from xai_rank_work_floats(n) floats. */
size_t xai_rank_work_floats(size_t n);
void xai_ranks(const float *x, size_t n, float *ranks, float *work);

/* Spearman's rho of a and b: Pearson's correlation of their ranks (scipy.stats.spearmanr);
 * NaN when either is constant. work: 2 n + xai_rank_work_floats(n) floats. */
size_t xai_spearman_work_floats(size_t n);
double xai_spearman(const float *a, const float *b, size_t n, float *work);

/* The same with a's ranks made beforehand (xai_ranks), for many b against one a. */
double xai_spearman_ranked(const float *a_ranks, const float *b, size_t n, float *work);

/* The mean structural similarity of two h x w images (Wang et al. 2004) as
 * skimage.metrics.structural_similarity computes it by default: a 7 x 7 uniform window, sample
 * (co)variances (divided by 48), K1 = 0.01, K2 = 0.03, the mean over the windows that lie
 * wholly inside the image; NaN for images smaller than 7 x 7. data_range: the values' range
 * (1 for maps scaled to [0, 1]). work: xai_ssim_work_doubles(w) doubles. */
size_t xai_ssim_work_doubles(int w);
double xai_ssim(const float *a, const float *b, int h, int w, double data_range, double *work);

/* x scaled to [0, 1] by its minimum and maximum, into out (all 0 when x is constant). */
void xai_scale_unit(const float *x, size_t n, float *out);

#endif
