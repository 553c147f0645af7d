/* dnnl_nhwc.c - the engine's loops for the ops of channels-last blocks (dnnl_internal.h):
 * Transpose between NCHW and NHWC, and LayerNormalization over the last axes, forward and backward,
 * reading their inputs in any layout; their outputs are plain. */
#include <math.h>

#include "dnnl_internal.h"

/* y[n, o] = x[n, i] where output axis k is input axis perm[k]; backward dx[n, i] (+)= dy[n, o]. */
static int transpose_pass(xai_engine *e, int i, int backward)
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
    return XAI_OK;
}

int kernel_transpose_forward(xai_engine *e, int i) { return transpose_pass(e, i, 0); }
int kernel_transpose_backward(xai_engine *e, int i) { return transpose_pass(e, i, 1); }

/* Where element t of normalized row l of image im sits: the rows start at per-image axis `from`
 * (2: rows of W along c and h; 1: planes H x W per channel; 0: the whole image). */
static inline size_t row_element(const layout *lay, const int *dims, int from, int im, int l, int t)
{
    switch (from) {
    case 2: return offset_of(lay, im, l / dims[1], l % dims[1], t);
    case 1: return offset_of(lay, im, l, t / dims[2], t % dims[2]);
    default: return offset_of(lay, im, t / (dims[1] * dims[2]), t / dims[2] % dims[1], t % dims[2]);
    }
}

/* Element t of a row whose element 0 is at `base`: a stride along W, else found again. */
static inline size_t element_at(const layout *lay, size_t base, const int *dims, int from, int im, int l, int t)
{
    return from == 2 ? base + (size_t)t * lay->sw : row_element(lay, dims, from, im, l, t);
}

/* Over each row of the per-image axes from n->norm_from on: xhat = (x - mean) / s with
 * s = sqrt(var + eps), y = weight xhat + bias; backward, with u = weight dy:
 * dx (+)= (u - mean(u) - xhat mean(u xhat)) / s. Sums in double. */
static int layernorm_pass(xai_engine *e, int i, int backward)
{
    const xai_graph *g = e->graph;
    const xai_node *n = &g->nodes[i];
    const xai_value *in = &g->values[n->input[0]];
    value_buffer *a = &e->values[n->input[0]], *y = &e->values[n->output];
    int accumulate = e->exec[i].accumulate[0], from = n->norm_from, dims[3] = {in->c, in->h, in->w};
    int rows = 1, w = 1;
    for (int k = 0; k < 3; k++) *(k < from ? &rows : &w) *= dims[k];
    const float *weight = n->weight, *bias = n->bias;
#pragma omp parallel for collapse(2) schedule(static)
    for (int im = 0; im < e->batch; im++)
        for (int l = 0; l < rows; l++) {
            size_t xb = row_element(&a->lay, dims, from, im, l, 0), yb = row_element(&y->lay, dims, from, im, l, 0);
            double mean = 0, var = 0;
            for (int k = 0; k < w; k++) mean += a->data[element_at(&a->lay, xb, dims, from, im, l, k)];
            mean /= w;
            for (int k = 0; k < w; k++) {
                double d = a->data[element_at(&a->lay, xb, dims, from, im, l, k)] - mean;
                var += d * d;
            }
            float s = (float)sqrt(var / w + n->bn_epsilon), m = (float)mean;
            double mean_u = 0, mean_u_xhat = 0;
            for (int k = 0; k < w; k++) {
                size_t xo = element_at(&a->lay, xb, dims, from, im, l, k), yo = element_at(&y->lay, yb, dims, from, im, l, k);
                float xhat = (a->data[xo] - m) / s;
                if (!backward) {
                    y->data[yo] = weight[k] * xhat + bias[k];
                    continue;
                }
                float u = weight[k] * y->grad[yo];
                mean_u += u, mean_u_xhat += u * xhat;
            }
            if (!backward) continue;
            float mu = (float)(mean_u / w), mux = (float)(mean_u_xhat / w);
            for (int k = 0; k < w; k++) {
                size_t xo = element_at(&a->lay, xb, dims, from, im, l, k), yo = element_at(&y->lay, yb, dims, from, im, l, k);
                float d = (weight[k] * y->grad[yo] - mu - (a->data[xo] - m) / s * mux) / s;
                a->grad[xo] = accumulate ? a->grad[xo] + d : d;
            }
        }
    return XAI_OK;
}

int kernel_layernorm_forward(xai_engine *e, int i) { return layernorm_pass(e, i, 0); }
int kernel_layernorm_backward(xai_engine *e, int i) { return layernorm_pass(e, i, 1); }
