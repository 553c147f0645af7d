/* dnnl_pointwise.c - the engine's loops for the elementwise ops that pass their true gradient
 * under every rule (dnnl_internal.h): the smooth activations oneDNN 2.6 has no kernel for, or not
 * one that agrees with PyTorch (HardSigmoid, HardSwish, Erf, Sqrt, Pow; Sigmoid and Tanh are
 * dnnl_eltwise.c's primitives), and a value scaled and shifted by constants (SCALE), forward and
 * backward, over the values' layouts (the ops of two values are dnnl_binary.c's). */
#include <math.h>
#include <string.h>

#include "dnnl_internal.h"

/* Padding lanes of a channel-blocked value past its last channel must stay zero (the next
 * convolution reads them); an activation with f(0) != 0 sets them, so they are cleared again. */
void engine_zero_padding(value_buffer *b, const xai_value *v, int batch)
{
    int block = b->lay.block, used = v->c % block;
    if (block == 1 || used == 0) return;
    int h = v->h, w = v->w;
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < batch; n++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                float *lanes = b->data + offset_of(&b->lay, n, v->c - 1, y, x) - (used - 1);
                for (int l = used; l < block; l++) lanes[l] = 0.f;
            }
}

/* y = f(x) over the whole buffer:
 *   HardSigmoid  clamp(alpha x + beta, 0, 1)
 *   HardSwish    x clamp(x / 6 + 1/2, 0, 1)
 *   Erf, Sqrt, Pow (x ^ alpha) */
int kernel_smooth_forward(xai_engine *e, int i)
{
    const xai_node *n = &e->graph->nodes[i];
    const float *restrict x = e->values[n->input[0]].data;
    value_buffer *out = &e->values[n->output];
    float *restrict y = out->data;
    size_t count = out->floats;
    float alpha = n->alpha, beta = n->beta;
    if (n->op == XAI_OP_ERF) { /* erf(0) = 0: padding stays zero */
#pragma omp parallel for schedule(static) if (count > 65536)
        for (size_t k = 0; k < count; k++) y[k] = erff(x[k]);
        return XAI_OK;
    } else if (n->op == XAI_OP_SQRT || n->op == XAI_OP_POW) {
        int op = n->op;
#pragma omp parallel for schedule(static) if (count > 65536)
        for (size_t k = 0; k < count; k++) y[k] = op == XAI_OP_SQRT ? sqrtf(x[k]) : powf(x[k], alpha);
    } else {
        int swish = n->op == XAI_OP_HARDSWISH;
        if (swish) alpha = 1.f / 6.f, beta = 0.5f;
#pragma omp parallel for simd schedule(static) if (count > 65536)
        for (size_t k = 0; k < count; k++) {
            float t = alpha * x[k] + beta;
            t = t > 0.f ? t : 0.f;
            t = t < 1.f ? t : 1.f;
            y[k] = swish ? x[k] * t : t;
        }
    }
    engine_zero_padding(out, &e->graph->values[n->output], e->batch);
    return XAI_OK;
}

/* dx (+)= dy f'(x): HardSigmoid alpha where 0 < alpha x + beta < 1; HardSwish 0 below -3,
 * x / 3 + 1/2 from -3 to 3 (both included, as PyTorch), 1 above; Erf 2 / sqrt(pi) exp(-x^2);
 * Sqrt 1 / (2 y); Pow alpha x ^ (alpha - 1). For these two, where dy is 0 nothing is sent, even
 * where f'(x) is infinite (Sqrt at 0): so padding lanes stay zero. */
int kernel_smooth_backward(xai_engine *e, int i)
{
    const xai_node *n = &e->graph->nodes[i];
    value_buffer *in = &e->values[n->input[0]], *out = &e->values[n->output];
    const float *restrict x = in->data, *restrict y = out->data, *restrict dy = out->grad;
    int accumulate = e->exec[i].accumulate[0];
    float *restrict dx = in->grad, alpha = n->alpha, beta = n->beta;
    size_t count = out->floats;
    int op = n->op;
    if (op == XAI_OP_SQRT || op == XAI_OP_POW) { /* apart: powf keeps a loop scalar */
#pragma omp parallel for schedule(static) if (count > 65536)
        for (size_t k = 0; k < count; k++) {
            float slope = op == XAI_OP_SQRT ? 0.5f / y[k] : alpha * powf(x[k], alpha - 1.f);
            float sent = dy[k] == 0.f ? 0.f : dy[k] * slope;
            dx[k] = accumulate ? dx[k] + sent : sent;
        }
        return XAI_OK;
    }
#pragma omp parallel for simd schedule(static) if (count > 65536)
    for (size_t k = 0; k < count; k++) {
        float slope;
        if (op == XAI_OP_ERF) slope = 1.1283791671f * expf(-x[k] * x[k]);
        else if (op == XAI_OP_HARDSIGMOID) {
            float t = alpha * x[k] + beta;
            slope = ((t > 0.f) & (t < 1.f)) ? alpha : 0.f;
        } else slope = x[k] < -3.f ? 0.f : x[k] <= 3.f ? x[k] * (1.f / 3.f) + 0.5f : 1.f;
        dx[k] = accumulate ? dx[k] + dy[k] * slope : dy[k] * slope;
    }
    return XAI_OK;
}

/* SCALE: y = weight[c,h,w] x + bias[c,h,w], each broadcast over the axes where it has one value,
 * over the real elements only (padding lanes stay zero); backward dx (+)= weight[c,h,w] dy. */
static int scale_pass(xai_engine *e, int i, int backward)
{
    const xai_node *n = &e->graph->nodes[i];
    const xai_value *in = &e->graph->values[n->input[0]];
    value_buffer *a = &e->values[n->input[0]], *y = &e->values[n->output];
    int accumulate = e->exec[i].accumulate[0];
#pragma omp parallel for collapse(2) schedule(static)
    for (int im = 0; im < e->batch; im++)
        for (int c = 0; c < in->c; c++)
            for (int h = 0; h < in->h; h++)
                for (int q = 0; q < in->w; q++) {
                    size_t at = offset_of(&a->lay, im, c, h, q), to = offset_of(&y->lay, im, c, h, q);
                    size_t k = xai_scale_index(n, c, h, q);
                    float w = n->weight[k];
                    if (!backward) y->data[to] = w * a->data[at] + n->bias[k];
                    else a->grad[at] = accumulate ? a->grad[at] + w * y->grad[to] : w * y->grad[to];
                }
    return XAI_OK;
}

int kernel_scale_forward(xai_engine *e, int i) { return scale_pass(e, i, 0); }
int kernel_scale_backward(xai_engine *e, int i) { return scale_pass(e, i, 1); }
