/* xai_rng.h - a seeded random stream that gives the same numbers on every machine.
 *
 * splitmix64 for the bits; normal deviates by the Box-Muller transform, computed with our own
 * log and cosine (series in plain IEEE double arithmetic, compiled without FMA contraction), so
 * that weights written by `xaibench model init` are bit-identical whatever the C library. */
#ifndef XAI_RNG_H
#define XAI_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t state;
    int has_spare;
    double spare;
} xai_rng;

void xai_rng_seed(xai_rng *rng, uint64_t seed);
uint64_t xai_rng_next(xai_rng *rng);
/* Uniform on [0, 1) with 53 random bits. */
double xai_rng_uniform(xai_rng *rng);
/* Standard normal. */
double xai_rng_normal(xai_rng *rng);

/* Counter-based noise: out[k] = standard normal deviates that depend only on (key, k), so that
 * any split of the work (batches, threads, ranks, a resumed run) gives the same numbers. The
 * key mixes what names the stream: xai_rng_key(seed, image, sample). Box-Muller on pairs, with
 * a logarithm and a sine of our own in float (series, vectorized, no FMA contraction): the same
 * bits on every machine, and fast enough for the millions SmoothGrad draws per image. */
uint64_t xai_rng_key(uint64_t a, uint64_t b, uint64_t c);
void xai_rng_keyed_normals(uint64_t key, float *out, size_t n);

#endif
