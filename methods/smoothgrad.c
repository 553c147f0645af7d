/* smoothgrad.c - Smilkov et al. 2017: the mean of n maps of a single-pass base method on
 * x + noise, noise ~ N(0, (s (max x - min x))^2) per element. The noise of sample k of image i
 * is keyed by (seed, i's index in its data set, k): the same for any batch, thread count, rank
 * count or resume. */
#include <stdio.h>
#include <stdlib.h>

#include "xai_method.h"
#include "xai_rng.h"
#include "xai_status.h"

typedef struct {
    const xai_batch *b;
    size_t image, map;   /* floats of an input and of a base map */
    float *sigma;        /* per image */
    double *sum;         /* [count][map] */
} smoothing;

static void fill(void *context, int i, int k, float *row)
{
    const smoothing *s = context;
    const float *x = s->b->input + (size_t)i * s->image;
    long long id = s->b->image_ids ? s->b->image_ids[i] : i;
    xai_rng_keyed_normals(xai_rng_key(s->b->params->seed, (uint64_t)id, (uint64_t)k), row, s->image);
    for (size_t e = 0; e < s->image; e++) row[e] = x[e] + s->sigma[i] * row[e];
}

static void take(void *context, int i, int k, const float *map)
{
    (void)k;
    smoothing *s = context;
    double *sum = s->sum + (size_t)i * s->map;
    for (size_t e = 0; e < s->map; e++) sum[e] += map[e];
}

static int explain(const xai_method *self, xai_batch *b, float *maps, double *completeness)
{
    (void)self, (void)completeness;
    const xai_method_params *p = b->params;
    const xai_method *base = p->base ? p->base : &xai_method_saliency;
    if (p->samples < 1) return xai_fail("smoothgrad: samples must be >= 1, not %d", p->samples);
    if (!(p->noise >= 0)) return xai_fail("smoothgrad: the noise level must be >= 0, not %g", p->noise);
    if (base->multi_pass) return xai_fail("smoothgrad: the base must be a single-pass method, not %s", base->name);
    const xai_value *in = &b->backend->graph->values[b->backend->graph->input];
    smoothing s = {.b = b, .image = xai_value_size(in)};
    s.map = (size_t)xai_method_channels(base, p, in->c) * in->h * in->w;
    s.sigma = xai_malloc((size_t)b->count * sizeof *s.sigma);
    s.sum = xai_calloc((size_t)b->count * s.map, sizeof *s.sum);
    int status = s.sigma && s.sum ? XAI_OK : XAI_ERR;
    for (int i = 0; status == XAI_OK && i < b->count; i++) {
        const float *x = b->input + (size_t)i * s.image;
        float lo = x[0], hi = x[0];
        for (size_t e = 1; e < s.image; e++) lo = x[e] < lo ? x[e] : lo, hi = x[e] > hi ? x[e] : hi;
        s.sigma[i] = (float)(p->noise * (hi - lo));
    }
    xai_sampling sampling = {&s, fill, take};
    if (status == XAI_OK) status = xai_batch_sampled(b, p->samples, base, &sampling);
    for (size_t e = 0; status == XAI_OK && e < (size_t)b->count * s.map; e++) maps[e] = (float)(s.sum[e] / p->samples);
    free(s.sigma), free(s.sum);
    return status;
}

static void describe(const xai_method_params *p, char *out, size_t size)
{
    snprintf(out, size, "samples=%d\nnoise=%.9g\nbase=%s\nseed=%llu", p->samples, p->noise,
             p->base ? p->base->name : "saliency", (unsigned long long)p->seed);
}

const xai_method xai_method_smoothgrad = {"smoothgrad", "the mean map over noisy copies (Smilkov et al. 2017)",
                                          .multi_pass = 1, .explain = explain, .describe = describe};
