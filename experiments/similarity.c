/* similarity.c - Spearman's rank correlation and SSIM of two maps (see xai_similarity.h). The
 * ranks come from a radix sort (three 11-bit passes over the floats' order-preserving bits), so
 * that a sanity check's many comparisons of 50 000-pixel maps cost little next to the passes. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "xai_similarity.h"

size_t xai_rank_work_floats(size_t n) { return 4 * n; }

size_t xai_spearman_work_floats(size_t n) { return 2 * n + xai_rank_work_floats(n); }

/* The bits of f as an unsigned key in the floats' order: negatives flipped whole, positives
 * with the sign bit set; -0 first made +0. */
static uint32_t order_key(float f)
{
    if (f == 0.f) f = 0.f;
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u & 0x80000000u ? ~u : u | 0x80000000u;
}

void xai_ranks(const float *x, size_t n, float *ranks, float *work)
{
    uint32_t *key = (uint32_t *)work, *index = key + n, *key_to = index + n, *index_to = key_to + n;
    for (size_t k = 0; k < n; k++) key[k] = order_key(x[k]), index[k] = (uint32_t)k;
    /* LSD radix sort of (key, index), stable: bits 0-10, 11-21, 22-31. */
    for (int shift = 0; shift < 32; shift += 11) {
        size_t count[2048] = {0};
        for (size_t k = 0; k < n; k++) count[(key[k] >> shift) & 2047]++;
        size_t at = 0;
        for (int d = 0; d < 2048; d++) {
            size_t c = count[d];
            count[d] = at, at += c;
        }
        for (size_t k = 0; k < n; k++) {
            size_t to = count[(key[k] >> shift) & 2047]++;
            key_to[to] = key[k], index_to[to] = index[k];
        }
        uint32_t *t = key;
        key = key_to, key_to = t;
        t = index, index = index_to, index_to = t;
    }
    /* Runs of equal keys share the mean of their 1-based ranks. */
    for (size_t first = 0; first < n;) {
        size_t last = first;
        while (last + 1 < n && key[last + 1] == key[first]) last++;
        float rank = (float)(0.5 * ((double)first + (double)last) + 1.0);
        for (size_t k = first; k <= last; k++) ranks[index[k]] = rank;
        first = last + 1;
    }
}

/* Pearson's correlation of two rankings of n values (both of mean (n + 1) / 2). */
static double rank_correlation(const float *ra, const float *rb, size_t n)
{
    double mean = 0.5 * ((double)n + 1.0), ab = 0, aa = 0, bb = 0;
    for (size_t k = 0; k < n; k++) {
        double da = ra[k] - mean, db = rb[k] - mean;
        ab += da * db, aa += da * da, bb += db * db;
    }
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : NAN;
}

double xai_spearman_ranked(const float *a_ranks, const float *b, size_t n, float *work)
{
    xai_ranks(b, n, work, work + 2 * n);
    return rank_correlation(a_ranks, work, n);
}

double xai_spearman(const float *a, const float *b, size_t n, float *work)
{
    float *ra = work + n;
    xai_ranks(a, n, ra, work + 2 * n);
    xai_ranks(b, n, work, work + 2 * n);
    return rank_correlation(ra, work, n);
}

enum { WINDOW = 7 };

size_t xai_ssim_work_doubles(int w) { return 5 * (size_t)w; }

double xai_ssim(const float *a, const float *b, int h, int w, double data_range, double *work)
{
    if (h < WINDOW || w < WINDOW) return NAN;
    const double c1 = (0.01 * data_range) * (0.01 * data_range), c2 = (0.03 * data_range) * (0.03 * data_range);
    const double np = WINDOW * WINDOW, cov_norm = np / (np - 1);
    double *sa = work, *sb = sa + w, *saa = sb + w, *sbb = saa + w, *sab = sbb + w;
    int ow = w - WINDOW + 1, oh = h - WINDOW + 1;
    double total = 0;
    for (int y = 0; y < oh; y++) {
        /* Each column's sums over the window's rows y .. y + 6, of a, b, a^2, b^2 and ab ... */
        for (int x = 0; x < w; x++) sa[x] = sb[x] = saa[x] = sbb[x] = sab[x] = 0;
        for (int dy = 0; dy < WINDOW; dy++) {
            const float *ra = a + (size_t)(y + dy) * w, *rb = b + (size_t)(y + dy) * w;
            for (int x = 0; x < w; x++) {
                double va = ra[x], vb = rb[x];
                sa[x] += va, sb[x] += vb, saa[x] += va * va, sbb[x] += vb * vb, sab[x] += va * vb;
            }
        }
        /* ... then across the window's columns x .. x + 6. */
        for (int x = 0; x < ow; x++) {
            double ta = 0, tb = 0, taa = 0, tbb = 0, tab = 0;
            for (int dx = 0; dx < WINDOW; dx++)
                ta += sa[x + dx], tb += sb[x + dx], taa += saa[x + dx], tbb += sbb[x + dx], tab += sab[x + dx];
            double ua = ta / np, ub = tb / np;
            double va = cov_norm * (taa / np - ua * ua), vb = cov_norm * (tbb / np - ub * ub);
            double vab = cov_norm * (tab / np - ua * ub);
            total += ((2 * ua * ub + c1) * (2 * vab + c2)) / ((ua * ua + ub * ub + c1) * (va + vb + c2));
        }
    }
    return total / ((double)oh * ow);
}

void xai_scale_unit(const float *x, size_t n, float *out)
{
    float lo = INFINITY, hi = -INFINITY;
    for (size_t k = 0; k < n; k++) lo = x[k] < lo ? x[k] : lo, hi = x[k] > hi ? x[k] : hi;
    double range = (double)hi - lo;
    for (size_t k = 0; k < n; k++) out[k] = range > 0 ? (float)(((double)x[k] - lo) / range) : 0.f;
}
