/* metrics.c - noise, sharpness and localisation scores of a heat map (formulas and references
 * in docs/metrics.md). Inputs are non-negative heat maps; where Quantus normalizes by the
 * maximum first, the scores below are scale-invariant anyway. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <fftw3.h>

#include "xai_metrics.h"
#include "xai_status.h"

/* TV(a) / L1(a) = sum of |a[y][x+1] - a[y][x]| + |a[y+1][x] - a[y][x]| over the grid, divided by
 * sum |a|; 0 for an all-zero map. */
double xai_metric_total_variation(const float *a, int h, int w)
{
    double tv = 0.0, l1 = 0.0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double v = a[(size_t)y * w + x];
            l1 += fabs(v);
            if (x + 1 < w) tv += fabs(a[(size_t)y * w + x + 1] - v);
            if (y + 1 < h) tv += fabs(a[(size_t)(y + 1) * w + x] - v);
        }
    return l1 > 0 ? tv / l1 : 0.0;
}

/* Share of the spectral energy |F(u,v)|^2 (DC excluded) at radial frequency
 * sqrt(fu^2 + fv^2) > cutoff, frequencies in cycles per pixel (Nyquist = 0.5). 0 when the
 * map is constant (no energy outside DC). */
double xai_metric_high_frequency(const float *a, int h, int w, double cutoff)
{
    int wc = w / 2 + 1;
    double *in = fftw_malloc(sizeof(double) * (size_t)h * w);
    fftw_complex *out = fftw_malloc(sizeof(fftw_complex) * (size_t)h * wc);
    if (!in || !out) {
        fftw_free(in);
        fftw_free(out);
        return NAN;
    }
    fftw_plan plan;
#pragma omp critical(xai_fftw_planner) /* FFTW's planner is not thread-safe */
    plan = fftw_plan_dft_r2c_2d(h, w, in, out, FFTW_ESTIMATE);
    for (size_t i = 0; i < (size_t)h * w; i++) in[i] = a[i];
    fftw_execute(plan);
    double total = 0.0, high = 0.0;
    for (int v = 0; v < h; v++)
        for (int u = 0; u < wc; u++) {
            if (u == 0 && v == 0) continue;
            double fu = (double)u / w, fv = (double)(v <= h / 2 ? v : v - h) / h;
            double energy = out[(size_t)v * wc + u][0] * out[(size_t)v * wc + u][0] +
                            out[(size_t)v * wc + u][1] * out[(size_t)v * wc + u][1];
            /* r2c keeps half the spectrum: columns 1..w/2-1 stand for their mirror too */
            double weight = (u == 0 || (w % 2 == 0 && u == w / 2)) ? 1.0 : 2.0;
            total += weight * energy;
            if (sqrt(fu * fu + fv * fv) > cutoff) high += weight * energy;
        }
#pragma omp critical(xai_fftw_planner)
    fftw_destroy_plan(plan);
    fftw_free(in);
    fftw_free(out);
    return total > 0 ? high / total : 0.0;
}

/* Bhatt et al. 2020: p = |a| / sum |a|, H = -sum p ln(p + 1e-12); a zero map counts as uniform. */
double xai_metric_complexity(const float *a, size_t n)
{
    double sum = 0.0, h = 0.0;
    for (size_t i = 0; i < n; i++) sum += fabs(a[i]);
    if (sum <= 0) return log((double)n);
    for (size_t i = 0; i < n; i++) {
        double p = fabs(a[i]) / sum;
        h -= p * log(p + 1e-12);
    }
    return h;
}

/* Variance of the 4-neighbour Laplacian a[y-1][x] + a[y+1][x] + a[y][x-1] + a[y][x+1] - 4 a[y][x]
 * over interior pixels, of the map divided by its maximum (0 for a zero map). */
double xai_metric_laplacian_variance(const float *a, int h, int w)
{
    double top = 0.0;
    for (size_t i = 0; i < (size_t)h * w; i++) top = fmax(top, fabs(a[i]));
    if (top <= 0 || h < 3 || w < 3) return 0.0;
    double sum = 0.0, sum2 = 0.0;
    size_t n = 0;
    for (int y = 1; y + 1 < h; y++)
        for (int x = 1; x + 1 < w; x++) {
            size_t i = (size_t)y * w + x;
            double l = (a[i - w] + a[i + w] + a[i - 1] + a[i + 1] - 4.0 * a[i]) / top;
            sum += l, sum2 += l * l, n++;
        }
    double mean = sum / n;
    return sum2 / n - mean * mean;
}

static int compare_doubles(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Chalasani et al. 2020 (Quantus' Sparseness): v = sorted ascending |a| + 1e-7,
 * G = sum_k (2k - n - 1) v_k / (n sum v), k = 1..n. 0 for a uniform map, (n-1)/n for one pixel. */
double xai_metric_sparseness(const float *a, size_t n)
{
    double *v = xai_malloc(n * sizeof *v);
    if (!v) return NAN;
    for (size_t i = 0; i < n; i++) v[i] = fabs(a[i]) + 1e-7;
    qsort(v, n, sizeof *v, compare_doubles);
    double num = 0.0, sum = 0.0;
    for (size_t k = 1; k <= n; k++) {
        num += (2.0 * k - n - 1.0) * v[k - 1];
        sum += v[k - 1];
    }
    free(v);
    return num / (n * sum);
}

static int in_box(const xai_box *b, int x, int y)
{
    return x + 0.5f > b->x0 && x + 0.5f < b->x1 && y + 0.5f > b->y0 && y + 0.5f < b->y1;
}

/* Arras et al. 2022, relevance mass accuracy: sum of a inside the box / sum of a (0 for zero). */
double xai_metric_mass_in_box(const float *a, int h, int w, const xai_box *box)
{
    double inside = 0.0, total = 0.0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double v = fabs(a[(size_t)y * w + x]);
            total += v;
            if (in_box(box, x, y)) inside += v;
        }
    return total > 0 ? inside / total : 0.0;
}

static const float *rank_values;

static int by_relevance(const void *x, const void *y)
{
    int i = *(const int *)x, j = *(const int *)y;
    float a = fabsf(rank_values[i]), b = fabsf(rank_values[j]);
    if (a != b) return a < b ? 1 : -1;
    return (i > j) - (i < j);
}

void xai_metric_pixel_order(const float *heat, size_t n, int *order)
{
    for (size_t i = 0; i < n; i++) order[i] = (int)i;
#pragma omp critical(xai_metric_sort) /* qsort has no context argument in C17 */
    {
        rank_values = heat;
        qsort(order, n, sizeof *order, by_relevance);
    }
}

/* Arras et al. 2022, relevance rank accuracy: of the K most relevant pixels, K = the box's
 * pixel count, the share inside the box. */
double xai_metric_rank_in_box(const float *a, int h, int w, const xai_box *box)
{
    size_t n = (size_t)h * w, k = 0, hits = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) k += in_box(box, x, y);
    if (k == 0) return 0.0;
    int *order = xai_malloc(n * sizeof *order);
    if (!order) return NAN;
    xai_metric_pixel_order(a, n, order);
    for (size_t r = 0; r < k; r++) hits += in_box(box, order[r] % w, order[r] / w);
    free(order);
    return (double)hits / k;
}

/* Pointing game (Zhang et al. 2018): 1 if the maximum (first in row-major order) is inside. */
double xai_metric_pointing_game(const float *a, int h, int w, const xai_box *box)
{
    size_t best = 0;
    for (size_t i = 1; i < (size_t)h * w; i++)
        if (fabsf(a[i]) > fabsf(a[best])) best = i;
    return in_box(box, (int)(best % w), (int)(best / w));
}

double xai_metric_auc(const double *curve, int points)
{
    if (points < 2) return points == 1 ? curve[0] : 0.0;
    double area = 0.0;
    for (int i = 1; i < points; i++) area += 0.5 * (curve[i - 1] + curve[i]);
    return area / (points - 1);
}
