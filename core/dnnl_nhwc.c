/* dnnl_nhwc.c - the engine's loops for the ops of channels-last blocks (dnnl_internal.h):
 * Transpose between NCHW and NHWC, and LayerNormalization over the last axis, forward and backward,
 * reading their inputs in any layout; their outputs are plain. */
#include <math.h>

#include "dnnl_internal.h"

/* y[n, o] = x[n, i] where output axis k is input axis perm[k]; backward dx[n, i] (+)= dy[n, o]. */
static void transpose_pass(xai_engine *e, int i, int backward)
{
    const xai_graph *g = e->graph;
    const xai_node *n = &g->nodes[i];
    const xai_value *out = &g->values[n->output];
    value_buffer *a = &e->values[n->input[0]], *y = &e->values[n->output];
    int accumulate = e->exec[i].accumulate[0];
#pragma omp parallel for collapse(2) schedule(static)
    for (int im = 0; im < e->batch; im++)
        for (int p = 0; p < out->c; p++)
            for (int q = 0; q < out->h; q++)
                for (int r = 0; r < out->w; r++) {
                    int o[3] = {p, q, r}, at[3];
                    for (int k = 0; k < 3; k++) at[n->perm[k]] = o[k];
                    size_t to = offset_of(&y->lay, im, p, q, r), from = offset_of(&a->lay, im, at[0], at[1], at[2]);
                    if (!backward) y->data[to] = a->data[from];
                    else a->grad[from] = accumulate ? a->grad[from] + y->grad[to] : y->grad[to];
                }
}

int kernel_transpose_forward(xai_engine *e, int i)
{
    transpose_pass(e, i, 0);
    return XAI_OK;
}

int kernel_transpose_backward(xai_engine *e, int i)
{
    transpose_pass(e, i, 1);
    return XAI_OK;
}

/* Over each row of W values: xhat = (x - mean) / s, s = sqrt(var + eps), y = weight xhat + bias;
 * backward, with u = weight dy: dx (+)= (u - mean(u) - xhat mean(u xhat)) / s. Sums in double. */
static void layernorm_pass(xai_engine *e, int i, int backward)
{
    const xai_graph *g = e->graph;
    const xai_node *n = &g->nodes[i];
    const xai_value *in = &g->values[n->input[0]];
    value_buffer *a = &e->values[n->input[0]], *y = &e->values[n->output];
    int accumulate = e->exec[i].accumulate[0], w = in->w;
    const float *weight = n->weight, *bias = n->bias;
#pragma omp parallel for collapse(3) schedule(static)
    for (int im = 0; im < e->batch; im++)
        for (int c = 0; c < in->c; c++)
            for (int h = 0; h < in->h; h++) {
                const float *x = a->data + offset_of(&a->lay, im, c, h, 0);
                size_t sx = a->lay.sw, out = offset_of(&y->lay, im, c, h, 0), sy = y->lay.sw;
                double mean = 0, var = 0;
                for (int k = 0; k < w; k++) mean += x[k * sx];
                mean /= w;
                for (int k = 0; k < w; k++) var += (x[k * sx] - mean) * (x[k * sx] - mean);
                float s = (float)sqrt(var / w + n->bn_epsilon), m = (float)mean;
                if (!backward) {
                    for (int k = 0; k < w; k++) y->data[out + k * sy] = weight[k] * ((x[k * sx] - m) / s) + bias[k];
                    continue;
                }
                double mean_u = 0, mean_u_xhat = 0;
                for (int k = 0; k < w; k++) {
                    float u = weight[k] * y->grad[out + k * sy];
                    mean_u += u, mean_u_xhat += u * ((x[k * sx] - m) / s);
                }
                float mu = (float)(mean_u / w), mux = (float)(mean_u_xhat / w);
                float *dx = a->grad + offset_of(&a->lay, im, c, h, 0);
                for (int k = 0; k < w; k++) {
                    float d = (weight[k] * y->grad[out + k * sy] - mu - (x[k * sx] - m) / s * mux) / s;
                    dx[k * sx] = accumulate ? dx[k * sx] + d : d;
                }
            }
}

int kernel_layernorm_forward(xai_engine *e, int i)
{
    layernorm_pass(e, i, 0);
    return XAI_OK;
}

int kernel_layernorm_backward(xai_engine *e, int i)
{
    layernorm_pass(e, i, 1);
    return XAI_OK;
}
