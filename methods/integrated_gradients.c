/* integrated_gradients.c - Sundararajan et al. 2017 with baseline 0 (in the model's input space):
 *     map = x * integral_0^1 d logit / d x (alpha x) d alpha  ~=  x * sum_k w_k grad(alpha_k x)
 * over m steps: Gauss-Legendre nodes and weights mapped to [0, 1] (Captum's default), or the
 * trapezoid rule on alpha_k = k / (m - 1) (Captum's riemann_trapezoid). Completeness, reported per
 * image: |sum(map) - (F(x) - F(0))| / |F(x) - F(0)|, F the target logit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xai_method.h"
#include "xai_status.h"

/* Gauss-Legendre on [0, 1]: the roots of P_m by Newton's method from Tricomi's first guess, the
 * weights 2 / ((1 - x^2) P_m'(x)^2), both mapped from [-1, 1]; ascending. */
static void gauss_legendre(int m, double *alpha, double *weight)
{
    for (int i = 0; i < m; i++) {
        double x = cos(M_PI * (i + 0.75) / (m + 0.5)), dp = 1.0;
        for (int iteration = 0; iteration < 100; iteration++) {
            double p0 = 1.0, p1 = x;
            for (int j = 2; j <= m; j++) {
                double p2 = ((2.0 * j - 1.0) * x * p1 - (j - 1.0) * p0) / j;
                p0 = p1, p1 = p2;
            }
            double pm = m == 1 ? x : p1, pm1 = m == 1 ? 1.0 : p0;
            dp = m * (x * pm - pm1) / (x * x - 1.0);
            double step = pm / dp;
            x -= step;
            if (fabs(step) < 1e-16) break;
        }
        alpha[m - 1 - i] = 0.5 * (1.0 + x);
        weight[m - 1 - i] = 1.0 / ((1.0 - x * x) * dp * dp); /* 2 / (...) halved */
    }
}

static void trapezoid(int m, double *alpha, double *weight)
{
    for (int k = 0; k < m; k++) {
        alpha[k] = m > 1 ? (double)k / (m - 1) : 1.0;
        weight[k] = m > 1 ? (k == 0 || k == m - 1 ? 0.5 : 1.0) / (m - 1) : 1.0;
    }
}

typedef struct {
    const xai_batch *b;
    size_t image;
    double *alpha, *weight, *sum; /* sum: [count][image] */
} integration;

static void fill(void *context, int i, int k, float *row)
{
    const integration *g = context;
    const float *x = g->b->input + (size_t)i * g->image;
    for (size_t e = 0; e < g->image; e++) row[e] = (float)(g->alpha[k] * x[e]);
}

static void take(void *context, int i, int k, const float *gradient)
{
    integration *g = context;
    double *sum = g->sum + (size_t)i * g->image, w = g->weight[k];
    for (size_t e = 0; e < g->image; e++) sum[e] += w * gradient[e];
}

/* F(0): the target logits at the baseline, through the samples' engine. */
static int baseline_logits(const xai_batch *b, float *logits)
{
    xai_backend *e = b->samples;
    size_t n = (size_t)e->batch * xai_value_size(&e->graph->values[e->graph->input]);
    float *zero = xai_calloc(n, sizeof *zero);
    int status = zero ? e->forward(e, zero, logits) : XAI_ERR;
    free(zero);
    return status;
}

static int explain(const xai_method *self, xai_batch *b, float *maps, double *completeness)
{
    (void)self;
    const xai_method_params *p = b->params;
    if (p->steps < 1) return xai_fail("integrated_gradients: steps must be >= 1, not %d", p->steps);
    integration g = {.b = b, .image = xai_value_size(&b->backend->graph->values[b->backend->graph->input])};
    g.alpha = xai_malloc((size_t)p->steps * sizeof *g.alpha);
    g.weight = xai_malloc((size_t)p->steps * sizeof *g.weight);
    g.sum = xai_calloc((size_t)b->count * g.image, sizeof *g.sum);
    float *zero_logits = b->samples ? xai_malloc((size_t)b->samples->batch * b->samples->classes * sizeof(float)) : NULL;
    int status = g.alpha && g.weight && g.sum && zero_logits ? XAI_OK : XAI_ERR;
    if (status == XAI_OK) {
        (p->riemann_trapezoid ? trapezoid : gauss_legendre)(p->steps, g.alpha, g.weight);
        xai_sampling s = {&g, fill, take};
        status = xai_batch_sampled(b, p->steps, &xai_method_saliency, &s);
    }
    if (status == XAI_OK) status = baseline_logits(b, zero_logits);
    for (int i = 0; status == XAI_OK && i < b->count; i++) {
        const float *x = b->input + (size_t)i * g.image;
        double total = 0.0;
        for (size_t e = 0; e < g.image; e++) {
            float a = (float)(x[e] * g.sum[(size_t)i * g.image + e]);
            maps[(size_t)i * g.image + e] = a;
            total += a;
        }
        double gain = (double)b->logits[(size_t)i * b->backend->classes + b->targets[i]] -
                      zero_logits[b->targets[i]];
        if (completeness) completeness[i] = fabs(total - gain) / fabs(gain);
    }
    free(g.alpha), free(g.weight), free(g.sum), free(zero_logits);
    return status;
}

static void describe(const xai_method_params *p, char *out, size_t size)
{
    snprintf(out, size, "steps=%d\nrule=%s\nbaseline=0", p->steps, p->riemann_trapezoid ? "riemann_trapezoid" : "gausslegendre");
}

const xai_method xai_method_integrated_gradients = {"integrated_gradients",
    "the gradient integrated from a zero baseline (Sundararajan et al. 2017)", .multi_pass = 1, .completeness = 1,
    .explain = explain, .describe = describe};
