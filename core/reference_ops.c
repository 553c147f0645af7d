/* reference_ops.c - the reference engine's ops beyond the classic CNN ones (reference_engine.c
 * holds those and the passes): the channel moves (Concat, Slice, shuffle), Mul with broadcasting,
 * the smooth activations, Erf, SCALE, Transpose, LayerNormalization and Pad; one plain loop nest
 * each, NCHW, backward passes adding into the inputs' gradients. Compiled in double and, from
 * reference_ops_f32.c, in float (reference_internal.h). */
#include <math.h>
#include <string.h>

#include "reference_internal.h"

/* SLICE and SHUFFLE: the input channel that output channel j copies. */
static int source_channel(const xai_node *node, const xai_value *in, int j)
{
    if (node->op == XAI_OP_SLICE) return node->slice_first + j;
    int per_group = in->c / node->groups; /* output j = i * groups + k takes input k * per_group + i */
    return (j % node->groups) * per_group + j / node->groups;
}

/* y = a * b, either input broadcast along the axes where it has one value; backward (dy given
 * instead of y): da += dy * b and db += dy * a, summed over the elements where a or b was
 * broadcast. */
static void mul_pass(const xai_graph *g, const xai_node *node, real *const *value, real *const *grad,
                     const real *dy, real *y, int batch)
{
    const xai_value *out = &g->values[node->output];
    const real *a = value[node->input[0]], *b = value[node->input[1]];
    for (int n = 0; n < batch; n++)
        for (int ch = 0; ch < out->c; ch++)
            for (int r = 0; r < out->h; r++)
                for (int q = 0; q < out->w; q++) {
                    size_t at[2];
                    for (int s = 0; s < 2; s++) {
                        const xai_value *v = &g->values[node->input[s]];
                        at[s] = (((size_t)n * v->c + (v->c == 1 ? 0 : ch)) * v->h + (v->h == 1 ? 0 : r)) * v->w +
                                (v->w == 1 ? 0 : q);
                    }
                    size_t o = (((size_t)n * out->c + ch) * out->h + r) * out->w + q;
                    if (!dy) {
                        y[o] = a[at[0]] * b[at[1]];
                        continue;
                    }
                    grad[node->input[0]][at[0]] += dy[o] * b[at[1]];
                    grad[node->input[1]][at[1]] += dy[o] * a[at[0]];
                }
}

/* The smooth activations, forward: Sigmoid, HardSigmoid clamp(alpha x + beta, 0, 1), and
 * HardSwish x clamp(x / 6 + 1/2, 0, 1). */
static real smooth_forward(const xai_node *node, real x)
{
    switch (node->op) {
    case XAI_OP_SIGMOID: return 1 / (1 + exp(-x));
    case XAI_OP_HARDSIGMOID: return fmin(fmax(node->alpha * x + node->beta, 0), 1);
    default: return x * fmin(fmax(x / 6 + (real)0.5, 0), 1);
    }
}

/* Their derivatives at input x (output y): sigmoid y (1 - y); HardSigmoid alpha inside the
 * ramp; HardSwish 0 below -3, x / 3 + 1/2 up to 3 (3 included, as PyTorch), 1 above. */
static real smooth_derivative(const xai_node *node, real x, real y)
{
    switch (node->op) {
    case XAI_OP_SIGMOID: return y * (1 - y);
    case XAI_OP_HARDSIGMOID: {
        real t = node->alpha * x + node->beta;
        return t > 0 && t < 1 ? node->alpha : 0;
    }
    default: return x < -3 ? 0 : x <= 3 ? x / 3 + (real)0.5 : 1;
    }
}

/* SCALE: the weight and bias index of element k of its input (NCHW, any image). */
static size_t scale_index(const xai_node *node, const xai_value *in, size_t k)
{
    int w = (int)(k % (size_t)in->w), h = (int)(k / (size_t)in->w % (size_t)in->h);
    return xai_scale_index(node, (int)(k / ((size_t)in->w * in->h) % (size_t)in->c), h, w);
}

/* The value's element (n, i0, i1, i2) of its per-image axes, NCHW. */
static size_t at_of(const xai_value *v, int n, const int *i)
{
    return (((size_t)n * v->c + i[0]) * v->h + i[1]) * v->w + i[2];
}

/* TRANSPOSE: y[n, i] = x[n, i permuted back] (output axis k is input axis perm[k]); backward
 * (dy given) dx at the same pairs. */
static void transpose_pass(const xai_graph *g, const xai_node *node, const real *x, real *y, const real *dy,
                           real *dx, int batch)
{
    const xai_value *in = &g->values[node->input[0]], *out = &g->values[node->output];
    for (int n = 0; n < batch; n++)
        for (int a = 0; a < out->c; a++)
            for (int b = 0; b < out->h; b++)
                for (int c = 0; c < out->w; c++) {
                    int o[3] = {a, b, c}, i[3];
                    for (int k = 0; k < 3; k++) i[node->perm[k]] = o[k];
                    if (dy) dx[at_of(in, n, i)] += dy[at_of(out, n, o)];
                    else y[at_of(out, n, o)] = x[at_of(in, n, i)];
                }
}

/* LAYERNORM over each row of W values: xhat = (x - mean) / s with s = sqrt(var + eps) (var the
 * mean square deviation), y = weight xhat + bias. Backward, with u = weight dy:
 * dx = (u - mean(u) - xhat mean(u xhat)) / s. */
static void layernorm_pass(const xai_graph *g, const xai_node *node, const real *x, real *y, const real *dy,
                           real *dx, int batch)
{
    const xai_value *in = &g->values[node->input[0]];
    size_t rows = (size_t)batch * in->c * in->h, w = (size_t)in->w;
    for (size_t row = 0; row < rows; row++) {
        const real *xr = x + row * w;
        real mean = 0, var = 0;
        for (size_t k = 0; k < w; k++) mean += xr[k];
        mean /= (real)w;
        for (size_t k = 0; k < w; k++) var += (xr[k] - mean) * (xr[k] - mean);
        real s = sqrt(var / (real)w + (real)node->bn_epsilon);
        if (!dy) {
            for (size_t k = 0; k < w; k++) y[row * w + k] = node->weight[k] * ((xr[k] - mean) / s) + node->bias[k];
            continue;
        }
        real mean_u = 0, mean_u_xhat = 0;
        for (size_t k = 0; k < w; k++) {
            real u = node->weight[k] * dy[row * w + k];
            mean_u += u, mean_u_xhat += u * (xr[k] - mean) / s;
        }
        mean_u /= (real)w, mean_u_xhat /= (real)w;
        for (size_t k = 0; k < w; k++)
            dx[row * w + k] += (node->weight[k] * dy[row * w + k] - mean_u - (xr[k] - mean) / s * mean_u_xhat) / s;
    }
}

/* PAD: y[n,c,p,q] = x[n,c,source(p),source(q)], or the pad value where there is no source;
 * backward (dy given): dx at each source += dy, so a reflected or repeated element gathers every
 * output that copies it. */
static void pad_pass(const xai_graph *g, const xai_node *node, const real *x, real *y, const real *dy, real *dx,
                     int batch)
{
    const xai_value *in = &g->values[node->input[0]], *out = &g->values[node->output];
    for (int n = 0; n < batch; n++)
        for (int ch = 0; ch < in->c; ch++)
            for (int p = 0; p < out->h; p++)
                for (int q = 0; q < out->w; q++) {
                    int ih = xai_pad_source(node->pad_mode, p, node->pad_top, in->h);
                    int iw = xai_pad_source(node->pad_mode, q, node->pad_left, in->w);
                    size_t o = (((size_t)n * out->c + ch) * out->h + p) * out->w + q;
                    size_t i = (((size_t)n * in->c + ch) * in->h + ih) * in->w + iw;
                    int inside = ih >= 0 && iw >= 0;
                    if (dy) {
                        if (inside) dx[i] += dy[o];
                    } else y[o] = inside ? x[i] : node->pad_value;
                }
}

void reference_ops_forward(const xai_graph *g, const xai_node *node, real *const *value, int batch)
{
    const xai_value *in = &g->values[node->input[0]], *out = &g->values[node->output];
    const real *x = value[node->input[0]];
    real *y = value[node->output];
    size_t plane = (size_t)in->h * in->w, count = (size_t)batch * xai_value_size(in);
    switch (node->op) {
    case XAI_OP_CONCAT:
        for (int n = 0, at = 0; n < batch; n++)
            for (int k = 0; k < node->n_inputs; k++) {
                size_t size = xai_value_size(&g->values[node->input[k]]);
                memcpy(y + (size_t)at * plane, value[node->input[k]] + n * size, size * sizeof(real));
                at += (int)(size / plane);
            }
        return;
    case XAI_OP_SLICE:
    case XAI_OP_SHUFFLE:
        for (int n = 0; n < batch; n++)
            for (int j = 0; j < out->c; j++)
                memcpy(y + ((size_t)n * out->c + j) * plane, x + ((size_t)n * in->c + source_channel(node, in, j)) * plane,
                       plane * sizeof(real));
        return;
    case XAI_OP_MUL:
        mul_pass(g, node, value, NULL, NULL, y, batch);
        return;
    case XAI_OP_SIGMOID:
    case XAI_OP_HARDSIGMOID:
    case XAI_OP_HARDSWISH:
        for (size_t k = 0; k < count; k++) y[k] = smooth_forward(node, x[k]);
        return;
    case XAI_OP_ERF:
        for (size_t k = 0; k < count; k++) y[k] = erf(x[k]);
        return;
    case XAI_OP_SCALE:
        for (size_t k = 0; k < count; k++) {
            size_t at = scale_index(node, in, k);
            y[k] = node->weight[at] * x[k] + node->bias[at];
        }
        return;
    case XAI_OP_PAD:
        pad_pass(g, node, x, y, NULL, NULL, batch);
        return;
    case XAI_OP_TRANSPOSE:
        transpose_pass(g, node, x, y, NULL, NULL, batch);
        return;
    case XAI_OP_LAYERNORM:
        layernorm_pass(g, node, x, y, NULL, NULL, batch);
        return;
    default:
        return;
    }
}

void reference_ops_backward(const xai_graph *g, const xai_node *node, real *const *value, real *const *grad,
                            int batch)
{
    const xai_value *in = &g->values[node->input[0]], *out = &g->values[node->output];
    const real *x = value[node->input[0]], *y = value[node->output], *dy = grad[node->output];
    real *dx = grad[node->input[0]];
    size_t plane = (size_t)in->h * in->w, count = (size_t)batch * xai_value_size(in);
    switch (node->op) {
    case XAI_OP_CONCAT:
        for (int n = 0, at = 0; n < batch; n++)
            for (int k = 0; k < node->n_inputs; k++) {
                size_t size = xai_value_size(&g->values[node->input[k]]);
                real *dk = grad[node->input[k]] + n * size;
                for (size_t e = 0; e < size; e++) dk[e] += dy[(size_t)at * plane + e];
                at += (int)(size / plane);
            }
        return;
    case XAI_OP_SLICE:
    case XAI_OP_SHUFFLE:
        for (int n = 0; n < batch; n++)
            for (int j = 0; j < out->c; j++) {
                real *d = dx + ((size_t)n * in->c + source_channel(node, in, j)) * plane;
                for (size_t e = 0; e < plane; e++) d[e] += dy[((size_t)n * out->c + j) * plane + e];
            }
        return;
    case XAI_OP_MUL:
        mul_pass(g, node, value, grad, dy, NULL, batch);
        return;
    case XAI_OP_SIGMOID:
    case XAI_OP_HARDSIGMOID:
    case XAI_OP_HARDSWISH:
        for (size_t k = 0; k < count; k++) dx[k] += dy[k] * smooth_derivative(node, x[k], y[k]);
        return;
    case XAI_OP_ERF: /* d erf(x) / dx = 2 / sqrt(pi) exp(-x^2) */
        for (size_t k = 0; k < count; k++) dx[k] += dy[k] * (real)1.1283791670955126 * exp(-x[k] * x[k]);
        return;
    case XAI_OP_SCALE:
        for (size_t k = 0; k < count; k++) dx[k] += dy[k] * node->weight[scale_index(node, in, k)];
        return;
    case XAI_OP_PAD:
        pad_pass(g, node, NULL, NULL, dy, dx, batch);
        return;
    case XAI_OP_TRANSPOSE:
        transpose_pass(g, node, NULL, NULL, dy, dx, batch);
        return;
    case XAI_OP_LAYERNORM:
        layernorm_pass(g, node, x, NULL, dy, dx, batch);
        return;
    default:
        return;
    }
}
