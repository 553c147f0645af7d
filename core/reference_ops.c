/* reference_ops.c - the reference engine's ops beyond the classic CNN ones (reference_cnn.c holds
 * those, reference_engine.c the passes and the registry): the moves (Concat and Slice along any
 * axis, the channel shuffle), Mul, Add, Sub and Div with broadcasting, the smooth activations and
 * elementwise functions, SCALE, Transpose, LayerNormalization, Pad and ReduceMean; one plain loop
 * nest each, NCHW, backward passes adding into the inputs' gradients. Compiled in double and, from
 * reference_ops_f32.c, in float (reference_internal.h). */
#include <math.h>
#include <string.h>

#include "reference_internal.h"


/* y = a op b (MUL, ADD, SUB, DIV), either input broadcast along the axes where it has one value;
 * backward (dy given instead of y): each input += dy * d(a op b) / d(input), summed over the
 * elements where it was broadcast. */
static void binary_pass(const xai_graph *g, const xai_node *node, real *const *value, real *const *grad,
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
                    real x = a[at[0]], z = b[at[1]];
                    switch (node->op) {
                    case XAI_OP_MUL:
                        if (dy) grad[node->input[0]][at[0]] += dy[o] * z, grad[node->input[1]][at[1]] += dy[o] * x;
                        else y[o] = x * z;
                        break;
                    case XAI_OP_SUB:
                        if (dy) grad[node->input[0]][at[0]] += dy[o], grad[node->input[1]][at[1]] -= dy[o];
                        else y[o] = x - z;
                        break;
                    case XAI_OP_DIV:
                        if (dy) grad[node->input[0]][at[0]] += dy[o] / z, grad[node->input[1]][at[1]] -= dy[o] * x / (z * z);
                        else y[o] = x / z;
                        break;
                    default: /* ADD */
                        if (dy) grad[node->input[0]][at[0]] += dy[o], grad[node->input[1]][at[1]] += dy[o];
                        else y[o] = x + z;
                    }
                }
}

/* The smooth activations and elementwise functions, forward: Sigmoid, HardSigmoid clamp(alpha x
 * + beta, 0, 1), HardSwish x clamp(x / 6 + 1/2, 0, 1), Erf, Sqrt, Tanh and Pow x ^ alpha. */
static real smooth_forward(const xai_node *node, real x)
{
    switch (node->op) {
    case XAI_OP_SIGMOID: return 1 / (1 + exp(-x));
    case XAI_OP_HARDSIGMOID: return fmin(fmax(node->alpha * x + node->beta, 0), 1);
    case XAI_OP_ERF: return erf(x);
    case XAI_OP_SQRT: return sqrt(x);
    case XAI_OP_TANH: return tanh(x);
    case XAI_OP_POW: return pow(x, (real)node->alpha);
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
    case XAI_OP_ERF: return (real)1.1283791670955126 * exp(-x * x); /* 2 / sqrt(pi) exp(-x^2) */
    case XAI_OP_SQRT: return 1 / (2 * y);
    case XAI_OP_TANH: return 1 - y * y;
    case XAI_OP_POW: return (real)node->alpha * pow(x, (real)node->alpha - 1);
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

/* LAYERNORM over each row of the per-image axes from norm_from on (W alone, or H x W, or C x H x W
 * values, contiguous in NCHW): xhat = (x - mean) / s with s = sqrt(var + eps) (var the
 * mean square deviation), y = weight xhat + bias. Backward, with u = weight dy:
 * dx = (u - mean(u) - xhat mean(u xhat)) / s. */
static void layernorm_pass(const xai_graph *g, const xai_node *node, const real *x, real *y, const real *dy,
                           real *dx, int batch)
{
    const xai_value *in = &g->values[node->input[0]];
    int dims[3] = {in->c, in->h, in->w};
    size_t rows = (size_t)batch, w = 1; /* rows: the axes before norm_from; each row: those from it */
    for (int k = 0; k < 3; k++) *(k < node->norm_from ? &rows : &w) *= (size_t)dims[k];
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

/* ---- the steps (reference_op, registered in reference_engine.c) ------------------------------ */

/* Concat: the inputs side by side along the axis; backward each input gets its part's gradient. */
static void concat_pass(reference_engine *r, int i, int backward)
{
    const xai_graph *g = r->graph;
    const xai_node *node = &g->nodes[i];
    const xai_value *out = &g->values[node->output];
    for (int k = 0, at = 0; k < node->n_inputs; k++) {
        const xai_value *in = &g->values[node->input[k]];
        int offset[3] = {0, 0, 0};
        offset[node->concat_axis] = at;
        for (int n = 0; n < r->batch; n++)
            for (int ch = 0; ch < in->c; ch++)
                for (int y = 0; y < in->h; y++)
                    for (int x = 0; x < in->w; x++) {
                        size_t from = (((size_t)n * in->c + ch) * in->h + y) * in->w + x;
                        size_t to = (((size_t)n * out->c + ch + offset[0]) * out->h + y + offset[1]) * out->w + x + offset[2];
                        if (backward) r->grad[node->input[k]][from] += r->grad[node->output][to];
                        else r->value[node->output][to] = r->value[node->input[k]][from];
                    }
        at += node->concat_axis == 0 ? in->c : node->concat_axis == 1 ? in->h : in->w;
    }
}

void REFERENCE_STEP(concat_forward)(reference_engine *r, int i) { concat_pass(r, i, 0); }
void REFERENCE_STEP(concat_backward)(reference_engine *r, int i) { concat_pass(r, i, 1); }

/* Slice: output element (c, h, w) is input element first + step * (c, h, w), axis by axis;
 * shuffle: output channel j = i * groups + k is input channel k * (C / groups) + i. Backward adds
 * back. */
static void moves_pass(reference_engine *r, int i, int backward)
{
    const xai_graph *g = r->graph;
    const xai_node *node = &g->nodes[i];
    const xai_value *in = &g->values[node->input[0]], *out = &g->values[node->output];
    int slice = node->op == XAI_OP_SLICE, per_group = slice ? 0 : in->c / node->groups;
    for (int n = 0; n < r->batch; n++)
        for (int ch = 0; ch < out->c; ch++) {
            int source = slice ? node->slice_first[0] + node->slice_step[0] * ch
                               : (ch % node->groups) * per_group + ch / node->groups;
            for (int y = 0; y < out->h; y++)
                for (int x = 0; x < out->w; x++) {
                    int row = slice ? node->slice_first[1] + node->slice_step[1] * y : y;
                    int column = slice ? node->slice_first[2] + node->slice_step[2] * x : x;
                    size_t from = (((size_t)n * in->c + source) * in->h + row) * in->w + column;
                    size_t to = (((size_t)n * out->c + ch) * out->h + y) * out->w + x;
                    if (backward) r->grad[node->input[0]][from] += r->grad[node->output][to];
                    else r->value[node->output][to] = r->value[node->input[0]][from];
                }
        }
}

void REFERENCE_STEP(moves_forward)(reference_engine *r, int i) { moves_pass(r, i, 0); }
void REFERENCE_STEP(moves_backward)(reference_engine *r, int i) { moves_pass(r, i, 1); }

/* Mul, Add, Sub and Div of two values. */
void REFERENCE_STEP(binary_forward)(reference_engine *r, int i)
{
    const xai_node *node = &r->graph->nodes[i];
    binary_pass(r->graph, node, r->value, NULL, NULL, r->value[node->output], r->batch);
}

void REFERENCE_STEP(binary_backward)(reference_engine *r, int i)
{
    const xai_node *node = &r->graph->nodes[i];
    binary_pass(r->graph, node, r->value, r->grad, r->grad[node->output], NULL, r->batch);
}

/* Elements of node i's input over the batch. */
static size_t input_count(const reference_engine *r, int i)
{
    return (size_t)r->batch * xai_value_size(&r->graph->values[r->graph->nodes[i].input[0]]);
}

/* y = f(x); backward dx += dy f'(x), nothing where dy is 0 (as the fast engine: Sqrt's slope at 0
 * is infinite). */
void REFERENCE_STEP(smooth_forward)(reference_engine *r, int i)
{
    const xai_node *node = &r->graph->nodes[i];
    const real *x = r->value[node->input[0]];
    real *y = r->value[node->output];
    for (size_t k = 0; k < input_count(r, i); k++) y[k] = smooth_forward(node, x[k]);
}

void REFERENCE_STEP(smooth_backward)(reference_engine *r, int i)
{
    const xai_node *node = &r->graph->nodes[i];
    const real *x = r->value[node->input[0]], *y = r->value[node->output], *dy = r->grad[node->output];
    real *dx = r->grad[node->input[0]];
    for (size_t k = 0; k < input_count(r, i); k++)
        if (dy[k] != 0) dx[k] += dy[k] * smooth_derivative(node, x[k], y[k]);
}

/* SCALE: y = weight x + bias at each element's broadcast index; backward dx += weight dy. */
void REFERENCE_STEP(scale_forward)(reference_engine *r, int i)
{
    const xai_node *node = &r->graph->nodes[i];
    const xai_value *in = &r->graph->values[node->input[0]];
    const real *x = r->value[node->input[0]];
    real *y = r->value[node->output];
    for (size_t k = 0; k < input_count(r, i); k++) {
        size_t at = scale_index(node, in, k);
        y[k] = node->weight[at] * x[k] + node->bias[at];
    }
}

void REFERENCE_STEP(scale_backward)(reference_engine *r, int i)
{
    const xai_node *node = &r->graph->nodes[i];
    const xai_value *in = &r->graph->values[node->input[0]];
    const real *dy = r->grad[node->output];
    real *dx = r->grad[node->input[0]];
    for (size_t k = 0; k < input_count(r, i); k++) dx[k] += dy[k] * node->weight[scale_index(node, in, k)];
}

void REFERENCE_STEP(transpose_forward)(reference_engine *r, int i)
{
    const xai_node *node = &r->graph->nodes[i];
    transpose_pass(r->graph, node, r->value[node->input[0]], r->value[node->output], NULL, NULL, r->batch);
}

void REFERENCE_STEP(transpose_backward)(reference_engine *r, int i)
{
    const xai_node *node = &r->graph->nodes[i];
    transpose_pass(r->graph, node, NULL, NULL, r->grad[node->output], r->grad[node->input[0]], r->batch);
}

void REFERENCE_STEP(layernorm_forward)(reference_engine *r, int i)
{
    const xai_node *node = &r->graph->nodes[i];
    layernorm_pass(r->graph, node, r->value[node->input[0]], r->value[node->output], NULL, NULL, r->batch);
}

void REFERENCE_STEP(layernorm_backward)(reference_engine *r, int i)
{
    const xai_node *node = &r->graph->nodes[i];
    layernorm_pass(r->graph, node, r->value[node->input[0]], NULL, r->grad[node->output], r->grad[node->input[0]],
                   r->batch);
}

void REFERENCE_STEP(pad_forward)(reference_engine *r, int i)
{
    const xai_node *node = &r->graph->nodes[i];
    pad_pass(r->graph, node, r->value[node->input[0]], r->value[node->output], NULL, NULL, r->batch);
}

void REFERENCE_STEP(pad_backward)(reference_engine *r, int i)
{
    const xai_node *node = &r->graph->nodes[i];
    pad_pass(r->graph, node, NULL, NULL, r->grad[node->output], r->grad[node->input[0]], r->batch);
}

/* REDUCEMEAN: y at the input's coordinates with 0 on the averaged axes = the mean over those axes;
 * backward every input element += dy there / the count averaged. */
static void reduce_mean_pass(reference_engine *r, int i, int backward)
{
    const xai_node *node = &r->graph->nodes[i];
    const xai_value *in = &r->graph->values[node->input[0]];
    int kept[3];
    xai_reduced_shape(node, in, kept);
    size_t out_size = (size_t)kept[0] * kept[1] * kept[2];
    real count = (real)(xai_value_size(in) / out_size);
    real *y = r->value[node->output], *dy = r->grad[node->output];
    const real *x = r->value[node->input[0]];
    real *dx = r->grad[node->input[0]];
    if (!backward) memset(y, 0, (size_t)r->batch * out_size * sizeof(real));
    for (int n = 0; n < r->batch; n++)
        for (int c = 0; c < in->c; c++)
            for (int h = 0; h < in->h; h++)
                for (int w = 0; w < in->w; w++) {
                    size_t at = (((size_t)n * in->c + c) * in->h + h) * in->w + w;
                    size_t o = (((size_t)n * kept[0] + (kept[0] > 1 ? c : 0)) * kept[1] + (kept[1] > 1 ? h : 0)) *
                                   kept[2] + (kept[2] > 1 ? w : 0);
                    if (backward) dx[at] += dy[o] / count;
                    else y[o] += x[at] / count;
                }
}

void REFERENCE_STEP(reduce_mean_forward)(reference_engine *r, int i) { reduce_mean_pass(r, i, 0); }
void REFERENCE_STEP(reduce_mean_backward)(reference_engine *r, int i) { reduce_mean_pass(r, i, 1); }
