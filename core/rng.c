/* rng.c - splitmix64 and a platform-independent Box-Muller (see xai_rng.h).
 * Built with -ffp-contract=off (CMakeLists.txt): every operation below rounds as written. */
#include <math.h>

#include "xai_rng.h"

void xai_rng_seed(xai_rng *rng, uint64_t seed)
{
    rng->state = seed;
    rng->has_spare = 0;
    rng->spare = 0.0;
}

uint64_t xai_rng_next(xai_rng *rng)
{
    uint64_t z = (rng->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double xai_rng_uniform(xai_rng *rng)
{
    return (double)(xai_rng_next(rng) >> 11) * 0x1.0p-53;
}

/* ln(x) for x > 0: x = m 2^e with m in [sqrt(1/2), sqrt(2)), then
 * ln(m) = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...), s = (m - 1) / (m + 1), |s| < 0.172. */
static double portable_log(double x)
{
    int e = 0;
    while (x >= 1.4142135623730951) { x *= 0.5; e++; }
    while (x < 0.7071067811865476) { x *= 2.0; e--; }
    double s = (x - 1.0) / (x + 1.0), s2 = s * s, term = s, sum = 0.0;
    for (int k = 1; k < 60; k += 2) {
        sum += term / k;
        term *= s2;
    }
    return 2.0 * sum + e * 0.6931471805599453;
}

/* cos(t) for t in [0, 2 pi): reduce to [-pi/4, pi/4] by quadrant, then Taylor series. */
static double portable_cos(double t)
{
    const double half_pi = 1.5707963267948966;
    int quadrant = (int)(t / half_pi + 0.5);
    double r = t - quadrant * half_pi, r2 = r * r;
    double c = 1.0, s = r, term_c = 1.0, term_s = r;
    for (int k = 1; k < 12; k++) {
        term_c *= -r2 / ((2 * k - 1) * (2 * k));
        term_s *= -r2 / ((2 * k) * (2 * k + 1));
        c += term_c;
        s += term_s;
    }
    switch (quadrant & 3) {
    case 0: return c;
    case 1: return -s;
    case 2: return -c;
    default: return s;
    }
}

static double portable_sqrt(double x)
{
    return __builtin_sqrt(x); /* IEEE 754 requires sqrt to be correctly rounded */
}

double xai_rng_normal(xai_rng *rng)
{
    if (rng->has_spare) {
        rng->has_spare = 0;
        return rng->spare;
    }
    double u1 = 1.0 - xai_rng_uniform(rng); /* (0, 1] */
    double u2 = xai_rng_uniform(rng);
    double radius = portable_sqrt(-2.0 * portable_log(u1));
    double angle = 6.283185307179586 * u2;
    rng->spare = radius * portable_cos(angle + (angle < 4.71238898038469 ? 1.5707963267948966
                                                                          : -4.71238898038469));
    rng->has_spare = 1;
    return radius * portable_cos(angle);
}

static uint64_t mix(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t xai_rng_key(uint64_t a, uint64_t b, uint64_t c)
{
    return mix(mix(mix(a) ^ b) ^ c);
}

/* ln(u) for u in (0, 1], in float: u = m 2^e with m in [1, 2), ln(m) = 2 atanh(s) with
 * s = (m - 1) / (m + 1) <= 1/3, to s^11 (relative error < 2e-7); bit operations and arithmetic
 * only, so the loop below vectorizes and rounds the same everywhere. */
static inline float fast_log(float u)
{
    uint32_t bits;
    __builtin_memcpy(&bits, &u, 4);
    int e = (int)(bits >> 23) - 127;
    bits = (bits & 0x007FFFFFu) | 0x3F800000u;
    float m;
    __builtin_memcpy(&m, &bits, 4);
    float s = (m - 1.f) / (m + 1.f), s2 = s * s;
    float series = s * (2.f + s2 * (2.f / 3 + s2 * (2.f / 5 + s2 * (2.f / 7 + s2 * (2.f / 9 + s2 * (2.f / 11))))));
    return (float)e * 0.693147180559945f + series;
}

/* cos and sin of 2 pi t for t in [0, 1): t in quarter turns, k = the nearest one, a = the rest
 * in [-pi/4, pi/4] by Taylor series (error < 4e-9), turned by k quarters. */
static inline void fast_turn(float t, float *c, float *s)
{
    float quarters = 4.f * t;
    int k = (int)(quarters + 0.5f);
    float a = (quarters - (float)k) * 1.57079632679490f, a2 = a * a;
    float ca = 1.f + a2 * (-1.f / 2 + a2 * (1.f / 24 + a2 * (-1.f / 720 + a2 * (1.f / 40320))));
    float sa = a * (1.f + a2 * (-1.f / 6 + a2 * (1.f / 120 + a2 * (-1.f / 5040 + a2 * (1.f / 362880)))));
    k &= 3;
    *c = k == 0 ? ca : k == 1 ? -sa : k == 2 ? -ca : sa;
    *s = k == 0 ? sa : k == 1 ? ca : k == 2 ? -sa : -ca;
}

void xai_rng_keyed_normals(uint64_t key, float *out, size_t n)
{
    size_t pairs = (n + 1) / 2;
#pragma omp parallel for simd schedule(static) if (pairs > 16384)
    for (size_t p = 0; p < pairs; p++) {
        uint64_t bits = mix(key ^ (p * 0xD1B54A32D192ED03ull));
        float u1 = (float)((bits >> 40) + 1) * 0x1.0p-24f; /* (0, 1] */
        float u2 = (float)((bits >> 16) & 0xFFFFFF) * 0x1.0p-24f;
        float radius = sqrtf(-2.f * fast_log(u1)), c, s;
        fast_turn(u2, &c, &s);
        out[2 * p] = radius * c;
        if (2 * p + 1 < n) out[2 * p + 1] = radius * s;
    }
}
