/* test_metrics.c - every metric on synthetic heat maps whose value is known in closed form,
 * the bootstrap summary, and `xaibench metrics` writing /metrics into a run file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "test_support.h"
#include "xai_evaluate.h"
#include "xai_metrics.h"

enum { H = 32, W = 32, N = H * W };

static float *map_of(float (*f)(int y, int x))
{
    static float a[N];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) a[y * W + x] = f(y, x);
    return a;
}
static float constant(int y, int x) { (void)y, (void)x; return 2.f; }
static float zero(int y, int x) { (void)y, (void)x; return 0.f; }
static float one_pixel(int y, int x) { return y == 5 && x == 7 ? 3.f : 0.f; }
static float checkerboard(int y, int x) { return (x + y) % 2 ? 1.f : 0.f; }
static float ramp(int y, int x) { return (float)(x + 2 * y); }
static float square(int y, int x) { return y >= 8 && y < 16 && x >= 4 && x < 20 ? 1.f : 0.f; }

Test(metrics, sparseness_and_complexity)
{
    cr_expect_float_eq(xai_metric_sparseness(map_of(constant), N), 0.0, 1e-9, "uniform map: Gini 0");
    cr_expect_float_eq(xai_metric_sparseness(map_of(one_pixel), N), (N - 1.0) / N, 1e-4,
                       "one pixel: (n-1)/n, up to the 1e-7 added to every value");
    cr_expect_float_eq(xai_metric_complexity(map_of(constant), N), log(N), 1e-7, "uniform: ln n (up to the 1e-12 in the log)");
    cr_expect_float_eq(xai_metric_complexity(map_of(one_pixel), N), 0.0, 1e-9, "one pixel: 0");
    cr_expect_float_eq(xai_metric_complexity(map_of(checkerboard), N), log(N / 2.0), 1e-7, "half the pixels: ln(n/2)");
    cr_expect_float_eq(xai_metric_complexity(map_of(zero), N), log(N), 1e-7, "a zero map counts as uniform");
}

Test(metrics, total_variation_laplacian_and_spectrum)
{
    cr_expect_float_eq(xai_metric_total_variation(map_of(constant), H, W), 0.0, 1e-12);
    /* checkerboard: every one of the 2 H (W - 1) neighbour pairs differs by 1; L1 = N/2 */
    cr_expect_float_eq(xai_metric_total_variation(map_of(checkerboard), H, W), 2.0 * H * (W - 1) / (N / 2.0), 1e-9);
    cr_expect_float_eq(xai_metric_total_variation(map_of(zero), H, W), 0.0, 1e-12);
    cr_expect_float_eq(xai_metric_laplacian_variance(map_of(ramp), H, W), 0.0, 1e-12, "a linear ramp has no curvature");
    cr_expect_float_eq(xai_metric_laplacian_variance(map_of(constant), H, W), 0.0, 1e-12);
    /* checkerboard / max: Laplacian is +4 on 0-pixels and -4 on 1-pixels: variance 16 */
    cr_expect_float_eq(xai_metric_laplacian_variance(map_of(checkerboard), H, W), 16.0, 1e-9);
    cr_expect_float_eq(xai_metric_high_frequency(map_of(constant), H, W, 0.25), 0.0, 1e-12, "all energy at DC");
    cr_expect_float_eq(xai_metric_high_frequency(map_of(checkerboard), H, W, 0.25), 1.0, 1e-9, "all at Nyquist");
    float *ramp_map = map_of(ramp);
    double smooth = xai_metric_high_frequency(ramp_map, H, W, 0.25);
    cr_expect(smooth > 0.0 && smooth < 0.5, "a ramp is mostly low-frequency: %g", smooth);
}

Test(metrics, localisation)
{
    xai_box box = {4, 8, 20, 16}; /* x in [4, 20), y in [8, 16): 128 pixels */
    cr_expect_float_eq(xai_metric_mass_in_box(map_of(constant), H, W, &box), 128.0 / N, 1e-9);
    cr_expect_float_eq(xai_metric_mass_in_box(map_of(square), H, W, &box), 1.0, 1e-9);
    cr_expect_float_eq(xai_metric_rank_in_box(map_of(square), H, W, &box), 1.0, 1e-9);
    cr_expect_float_eq(xai_metric_pointing_game(map_of(square), H, W, &box), 1.0, 1e-9);
    cr_expect_float_eq(xai_metric_pointing_game(map_of(one_pixel), H, W, &box), 0.0, 1e-9, "(7,5) is above the box");
    cr_expect_float_eq(xai_metric_mass_in_box(map_of(zero), H, W, &box), 0.0, 1e-9);
    /* ties: with a constant map the first K pixels in row-major order are the top K */
    double expected = 0.0;
    for (int i = 0; i < 128; i++) expected += (i / W >= 8 && i / W < 16 && i % W >= 4 && i % W < 20);
    cr_expect_float_eq(xai_metric_rank_in_box(map_of(constant), H, W, &box), expected / 128, 1e-9);
}

Test(metrics, auc_order_and_summary)
{
    double line[5] = {0, 0.25, 0.5, 0.75, 1};
    cr_expect_float_eq(xai_metric_auc(line, 5), 0.5, 1e-12);
    double flat[3] = {0.2, 0.2, 0.2};
    cr_expect_float_eq(xai_metric_auc(flat, 3), 0.2, 1e-12);
    float heat[6] = {0.1f, 0.9f, 0.5f, 0.9f, 0.f, 0.3f};
    int order[6], expected[6] = {1, 3, 2, 5, 0, 4};
    xai_metric_pixel_order(heat, 6, order);
    for (int i = 0; i < 6; i++) cr_expect_eq(order[i], expected[i]);
    double values[5] = {1, 2, NAN, 3, 4};
    xai_summary s;
    xai_summarize(values, 5, &s);
    cr_expect_eq(s.n, 4, "NaN left out");
    cr_expect_float_eq(s.mean, 2.5, 1e-12);
    cr_expect_float_eq(s.median, 2.5, 1e-12);
    cr_expect(s.low >= 1 && s.low <= 2.5 && s.high >= 2.5 && s.high <= 4, "[%g, %g]", s.low, s.high);
    xai_summary again;
    xai_summarize(values, 5, &again);
    cr_expect(again.low == s.low && again.high == s.high, "the bootstrap is seeded");
}
