/* reference_engine.c - the reference engine: its buffers and passes, and the forward and
 * backward-data of the classic CNN ops (convolution, pools, activations with a rule, Add,
 * Flatten, Gemm), one plain loop nest each; every other op is in reference_ops.c. Values are NCHW; backward passes add into zeroed gradient buffers, so forks (a value read by
 * several nodes) sum their gradients without special cases.
 *
 * One source, two precisions: compiled as is, every value and sum is a double (xai_reference_*,
 * the truth the tests hold engines to); compiled from reference_engine_f32.c with
 * XAI_REFERENCE_F32 defined, the same loops run in float (xai_reference_f32_*): what a
 * straightforward float32 implementation of these ops gives, the fast engine's yardstick. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reference_internal.h"
#include "xai_status.h"

struct reference_engine {
    const xai_graph *graph;
    int batch;
    real **value;      /* forward results, per value */
    real **grad;       /* gradients, per value */
    size_t **argmax;     /* MAXPOOL: input offset (within the image) chosen per output element */
    int forward_done;
};

void REFERENCE(destroy)(reference_engine *r)
{
    if (!r) return;
    for (int v = 0; r->value && v < r->graph->n_values; v++) {
        free(r->value[v]);
        free(r->grad[v]);
    }
    for (int i = 0; r->argmax && i < r->graph->n_nodes; i++) free(r->argmax[i]);
    free(r->value);
    free(r->grad);
    free(r->argmax);
    free(r);
}

int REFERENCE(create)(reference_engine **out, const xai_graph *g, int batch)
{
    *out = NULL;
    if (batch < 1) return xai_fail("batch must be >= 1");
    reference_engine *r = xai_calloc(1, sizeof *r);
    if (!r) return XAI_ERR;
    r->graph = g;
    r->batch = batch;
    r->value = xai_calloc((size_t)g->n_values, sizeof *r->value);
    r->grad = xai_calloc((size_t)g->n_values, sizeof *r->grad);
    r->argmax = xai_calloc((size_t)g->n_nodes, sizeof *r->argmax);
    int ok = r->value && r->grad && r->argmax;
    for (int v = 0; ok && v < g->n_values; v++) {
        size_t n = (size_t)batch * xai_value_size(&g->values[v]);
        ok = (r->value[v] = xai_calloc(n, sizeof(real))) && (r->grad[v] = xai_calloc(n, sizeof(real)));
    }
    for (int i = 0; ok && i < g->n_nodes; i++)
        if (g->nodes[i].op == XAI_OP_MAXPOOL)
            ok = (r->argmax[i] = xai_calloc((size_t)batch * xai_value_size(&g->values[g->nodes[i].output]),
                                            sizeof(size_t))) != NULL;
    if (!ok) {
        REFERENCE(destroy)(r);
        return XAI_ERR;
    }
    *out = r;
    return XAI_OK;
}

/* The range of output columns o with 0 <= o * stride - pad + k * dilation < in. */
static void valid_range(int in, int out, int stride, int pad, int offset, int *first, int *last)
{
    int lo = pad - offset, hi = in - 1 + pad - offset;
    *first = lo <= 0 ? 0 : (lo + stride - 1) / stride;
    *last = hi < 0 ? -1 : hi / stride;
    if (*last > out - 1) *last = out - 1;
}

/* y[n,o,p,q] = b[o] + sum_{i in group(o), kh, kw} W[o,i,kh,kw] x[n,i, p s - pt + kh d, q s - pl + kw d] */
static void conv_forward(const xai_node *c, const xai_value *in, const xai_value *out,
                         const real *x, real *y, int batch)
{
    int icpg = c->in_channels / c->group, ocpg = c->out_channels / c->group;
#pragma omp parallel for collapse(2) schedule(dynamic)
    for (int n = 0; n < batch; n++)
        for (int o = 0; o < out->c; o++) {
            real *yp = y + ((size_t)n * out->c + o) * out->h * out->w;
            for (int k = 0; k < out->h * out->w; k++) yp[k] = c->bias[o];
            int group = o / ocpg;
            for (int i = 0; i < icpg; i++) {
                const real *xp = x + ((size_t)n * in->c + group * icpg + i) * in->h * in->w;
                for (int kh = 0; kh < c->kernel_h; kh++)
                    for (int kw = 0; kw < c->kernel_w; kw++) {
                        real wv = c->weight[(((size_t)o * icpg + i) * c->kernel_h + kh) * c->kernel_w + kw];
                        int q0, q1;
                        valid_range(in->w, out->w, c->stride_w, c->pad_left, kw * c->dilation_w, &q0, &q1);
                        for (int p = 0; p < out->h; p++) {
                            int ih = p * c->stride_h - c->pad_top + kh * c->dilation_h;
                            if (ih < 0 || ih >= in->h) continue;
                            const real *row = xp + (size_t)ih * in->w - c->pad_left + kw * c->dilation_w;
                            real *yrow = yp + (size_t)p * out->w;
                            for (int q = q0; q <= q1; q++) yrow[q] += wv * row[q * c->stride_w];
                        }
                    }
            }
        }
}

/* dx[n,i,ih,iw] += sum_{o in group(i), kh, kw} W[o,i,kh,kw] dy[n,o,p,q] where (ih,iw) is tap (kh,kw) of (p,q) */
static void conv_backward_data(const xai_node *c, const xai_value *in, const xai_value *out,
                               const real *dy, real *dx, int batch)
{
    int icpg = c->in_channels / c->group, ocpg = c->out_channels / c->group;
#pragma omp parallel for collapse(2) schedule(dynamic)
    for (int n = 0; n < batch; n++)
        for (int i = 0; i < in->c; i++) {
            int group = i / icpg, ig = i - group * icpg;
            real *xp = dx + ((size_t)n * in->c + i) * in->h * in->w;
            for (int o = group * ocpg; o < (group + 1) * ocpg; o++) {
                const real *yp = dy + ((size_t)n * out->c + o) * out->h * out->w;
                for (int kh = 0; kh < c->kernel_h; kh++)
                    for (int kw = 0; kw < c->kernel_w; kw++) {
                        real wv = c->weight[(((size_t)o * icpg + ig) * c->kernel_h + kh) * c->kernel_w + kw];
                        int q0, q1;
                        valid_range(in->w, out->w, c->stride_w, c->pad_left, kw * c->dilation_w, &q0, &q1);
                        for (int p = 0; p < out->h; p++) {
                            int ih = p * c->stride_h - c->pad_top + kh * c->dilation_h;
                            if (ih < 0 || ih >= in->h) continue;
                            real *row = xp + (size_t)ih * in->w - c->pad_left + kw * c->dilation_w;
                            const real *yrow = yp + (size_t)p * out->w;
                            for (int q = q0; q <= q1; q++) row[q * c->stride_w] += wv * yrow[q];
                        }
                    }
            }
        }
}

/* Max over the window (padding never wins); ties go to the first maximum in row-major order. */
static void maxpool_forward(const xai_node *m, const xai_value *in, const xai_value *out,
                            const real *x, real *y, size_t *argmax, int batch)
{
#pragma omp parallel for collapse(2)
    for (int n = 0; n < batch; n++)
        for (int ch = 0; ch < out->c; ch++) {
            size_t plane = ((size_t)n * in->c + ch) * in->h * in->w;
            size_t out_plane = ((size_t)n * out->c + ch) * out->h * out->w;
            for (int p = 0; p < out->h; p++)
                for (int q = 0; q < out->w; q++) {
                    real best = -INFINITY;
                    size_t best_at = plane;
                    for (int kh = 0; kh < m->kernel_h; kh++) {
                        int ih = p * m->stride_h - m->pad_top + kh * m->dilation_h;
                        if (ih < 0 || ih >= in->h) continue;
                        for (int kw = 0; kw < m->kernel_w; kw++) {
                            int iw = q * m->stride_w - m->pad_left + kw * m->dilation_w;
                            if (iw < 0 || iw >= in->w) continue;
                            size_t at = plane + (size_t)ih * in->w + iw;
                            if (x[at] > best) best = x[at], best_at = at;
                        }
                    }
                    y[out_plane + (size_t)p * out->w + q] = best;
                    argmax[out_plane + (size_t)p * out->w + q] = best_at;
                }
        }
}

/* The window of output (p, q) clipped to the input, and its divisor: the clipped area, or with
 * count_include_pad the window clipped to the padded input (the room ceil_mode added for the
 * last window is not padding). */
static int avgpool_window(const xai_node *m, const xai_value *in, int p, int q, int *h0, int *h1,
                          int *w0, int *w1)
{
    *h0 = p * m->stride_h - m->pad_top, *w0 = q * m->stride_w - m->pad_left;
    *h1 = *h0 + m->kernel_h, *w1 = *w0 + m->kernel_w;
    int padded_h = in->h + m->pad_bottom - m->ceil_pad_bottom, padded_w = in->w + m->pad_right - m->ceil_pad_right;
    int divisor = ((*h1 < padded_h ? *h1 : padded_h) - *h0) * ((*w1 < padded_w ? *w1 : padded_w) - *w0);
    if (*h0 < 0) *h0 = 0;
    if (*w0 < 0) *w0 = 0;
    if (*h1 > in->h) *h1 = in->h;
    if (*w1 > in->w) *w1 = in->w;
    return m->count_include_pad ? divisor : (*h1 - *h0) * (*w1 - *w0);
}

/* y[n,c,p,q] = sum over the window of x / divisor */
static void avgpool_forward(const xai_node *m, const xai_value *in, const xai_value *out,
                            const real *x, real *y, int batch)
{
#pragma omp parallel for collapse(2)
    for (int n = 0; n < batch; n++)
        for (int ch = 0; ch < out->c; ch++) {
            const real *xp = x + ((size_t)n * in->c + ch) * in->h * in->w;
            real *yp = y + ((size_t)n * out->c + ch) * out->h * out->w;
            for (int p = 0; p < out->h; p++)
                for (int q = 0; q < out->w; q++) {
                    int h0, h1, w0, w1, divisor = avgpool_window(m, in, p, q, &h0, &h1, &w0, &w1);
                    real sum = 0.0;
                    for (int ih = h0; ih < h1; ih++)
                        for (int iw = w0; iw < w1; iw++) sum += xp[(size_t)ih * in->w + iw];
                    yp[(size_t)p * out->w + q] = sum / divisor;
                }
        }
}

/* dx[n,c,ih,iw] += dy[n,c,p,q] / divisor for every window (p, q) holding (ih, iw) */
static void avgpool_backward(const xai_node *m, const xai_value *in, const xai_value *out,
                             const real *dy, real *dx, int batch)
{
#pragma omp parallel for collapse(2)
    for (int n = 0; n < batch; n++)
        for (int ch = 0; ch < out->c; ch++) {
            real *xp = dx + ((size_t)n * in->c + ch) * in->h * in->w;
            const real *yp = dy + ((size_t)n * out->c + ch) * out->h * out->w;
            for (int p = 0; p < out->h; p++)
                for (int q = 0; q < out->w; q++) {
                    int h0, h1, w0, w1, divisor = avgpool_window(m, in, p, q, &h0, &h1, &w0, &w1);
                    real share = yp[(size_t)p * out->w + q] / divisor;
                    for (int ih = h0; ih < h1; ih++)
                        for (int iw = w0; iw < w1; iw++) xp[(size_t)ih * in->w + iw] += share;
                }
        }
}

int REFERENCE(forward)(reference_engine *r, const real *input, real *logits)
{
    const xai_graph *g = r->graph;
    int N = r->batch;
    memcpy(r->value[g->input], input, (size_t)N * xai_value_size(&g->values[g->input]) * sizeof(real));
    for (int i = 0; i < g->n_nodes; i++) {
        const xai_node *node = &g->nodes[i];
        const xai_value *in = &g->values[node->input[0]], *out = &g->values[node->output];
        const real *x = r->value[node->input[0]];
        real *y = r->value[node->output];
        size_t in_size = xai_value_size(in);
        size_t plane = (size_t)in->h * in->w;
        switch (node->op) {
        case XAI_OP_CONV:
            conv_forward(node, in, out, x, y, N);
            break;
        case XAI_OP_BATCHNORM:
            for (int n = 0; n < N; n++)
                for (int ch = 0; ch < in->c; ch++) {
                    real s = node->bn_gamma[ch] / sqrt((real)node->bn_var[ch] + node->bn_epsilon);
                    for (size_t k = 0; k < plane; k++) {
                        size_t at = ((size_t)n * in->c + ch) * plane + k;
                        y[at] = s * (x[at] - node->bn_mean[ch]) + node->bn_beta[ch];
                    }
                }
            break;
        case XAI_OP_RELU:
        case XAI_OP_CLIP:
            for (size_t k = 0; k < (size_t)N * in_size; k++)
                y[k] = (real)fmin(fmax(x[k], node->clip_min), node->clip_max);
            break;
        case XAI_OP_MAXPOOL:
            maxpool_forward(node, in, out, x, y, r->argmax[i], N);
            break;
        case XAI_OP_AVGPOOL:
            avgpool_forward(node, in, out, x, y, N);
            break;
        case XAI_OP_GLOBALAVGPOOL:
            for (int n = 0; n < N; n++)
                for (int ch = 0; ch < in->c; ch++) {
                    real sum = 0.0;
                    for (size_t k = 0; k < plane; k++) sum += x[((size_t)n * in->c + ch) * plane + k];
                    y[(size_t)n * in->c + ch] = sum / (real)plane;
                }
            break;
        case XAI_OP_ADD: {
            const real *b = r->value[node->input[1]];
            for (size_t k = 0; k < (size_t)N * in_size; k++) y[k] = x[k] + b[k];
            break;
        }
        case XAI_OP_FLATTEN:
            memcpy(y, x, (size_t)N * in_size * sizeof(real));
            break;
        default: /* the ops of reference_ops.c */
            reference_ops_forward(g, node, r->value, N);
            break;
        case XAI_OP_GEMM: { /* over rows of the last axis: [N,K] or [N,C,H,K] */
            int K = node->in_channels, M = node->out_channels;
            long rows = (long)(N * in_size / (size_t)K);
#pragma omp parallel for collapse(2)
            for (long n = 0; n < rows; n++)
                for (int o = 0; o < M; o++) {
                    real sum = node->bias[o];
                    for (int k = 0; k < K; k++) sum += (real)node->weight[(size_t)o * K + k] * x[(size_t)n * K + k];
                    y[(size_t)n * M + o] = sum;
                }
            break;
        }
        }
    }
    if (logits)
        memcpy(logits, r->value[g->output], (size_t)N * xai_value_size(&g->values[g->output]) * sizeof(real));
    r->forward_done = 1;
    return XAI_OK;
}

/* The node that produces value v; -1 for the graph's input. */
static int producer(const xai_graph *g, int v)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].output == v) return i;
    return -1;
}

int REFERENCE(backward)(reference_engine *r, const xai_rule *rule, const int *targets, real *map)
{
    const xai_graph *g = r->graph;
    int N = r->batch, classes = xai_graph_outputs(g);
    for (int n = 0; n < N; n++)
        if (targets[n] < 0 || targets[n] >= classes)
            return xai_fail("target class %d outside 0..%d", targets[n], classes - 1);
    real *seed = xai_calloc((size_t)N * classes, sizeof *seed);
    if (!seed) return XAI_ERR;
    for (int n = 0; n < N; n++) seed[(size_t)n * classes + targets[n]] = 1.0;
    int status = REFERENCE(backward_seeded)(r, rule, seed, map, -1);
    free(seed);
    return status;
}

int REFERENCE(read_value)(reference_engine *r, int v, real *activation, real *gradient)
{
    if (v < 0 || v >= r->graph->n_values) return xai_fail("reference engine: no value %d", v);
    size_t n = (size_t)r->batch * xai_value_size(&r->graph->values[v]) * sizeof(real);
    if (activation) memcpy(activation, r->value[v], n);
    if (gradient) memcpy(gradient, r->grad[v], n);
    return XAI_OK;
}

int REFERENCE(backward_seeded)(reference_engine *r, const xai_rule *method, const real *seed, real *map, int stop_value)
{
    const xai_graph *g = r->graph;
    int N = r->batch;
    if (!r->forward_done) return xai_fail("reference engine: backward before forward");
    if (stop_value >= g->n_values) return xai_fail("reference engine: no value %d", stop_value);
    int classes = xai_graph_outputs(g), stop = stop_value >= 0 ? producer(g, stop_value) : -1;
    for (int v = 0; v < g->n_values; v++)
        memset(r->grad[v], 0, (size_t)N * xai_value_size(&g->values[v]) * sizeof(real));
    memcpy(r->grad[g->output], seed, (size_t)N * classes * sizeof(real));

    for (int i = g->n_nodes - 1; i > stop; i--) {
        const xai_node *node = &g->nodes[i];
        const xai_value *in = &g->values[node->input[0]], *out = &g->values[node->output];
        real *dx = r->grad[node->input[0]];
        const real *dy = r->grad[node->output];
        size_t in_size = xai_value_size(in), out_size = xai_value_size(out);
        size_t plane = (size_t)in->h * in->w;
        switch (node->op) {
        case XAI_OP_CONV:
            conv_backward_data(node, in, out, dy, dx, N);
            break;
        case XAI_OP_BATCHNORM:
            for (int n = 0; n < N; n++)
                for (int ch = 0; ch < in->c; ch++) {
                    real s = node->bn_gamma[ch] / sqrt((real)node->bn_var[ch] + node->bn_epsilon);
                    for (size_t k = 0; k < plane; k++) {
                        size_t at = ((size_t)n * in->c + ch) * plane + k;
                        dx[at] += s * dy[at];
                    }
                }
            break;
        case XAI_OP_RELU:
        case XAI_OP_CLIP: {
            const real *y = r->value[node->output];
            const xai_rule *rule = node->plain_gradient ? &xai_rule_saliency : method;
            for (size_t k = 0; k < (size_t)N * in_size; k++)
                dx[k] += (real)rule->activation_backward_one(y[k], dy[k], node->clip_min, node->clip_max);
            break;
        }
        case XAI_OP_MAXPOOL:
            for (size_t k = 0; k < (size_t)N * out_size; k++) dx[r->argmax[i][k]] += dy[k];
            break;
        case XAI_OP_AVGPOOL:
            avgpool_backward(node, in, out, dy, dx, N);
            break;
        case XAI_OP_GLOBALAVGPOOL:
            for (int n = 0; n < N; n++)
                for (int ch = 0; ch < in->c; ch++)
                    for (size_t k = 0; k < plane; k++)
                        dx[((size_t)n * in->c + ch) * plane + k] += dy[(size_t)n * in->c + ch] / (real)plane;
            break;
        case XAI_OP_ADD: {
            real *db = r->grad[node->input[1]];
            for (size_t k = 0; k < (size_t)N * in_size; k++) {
                dx[k] += dy[k];
                db[k] += dy[k];
            }
            break;
        }
        case XAI_OP_FLATTEN:
            for (size_t k = 0; k < (size_t)N * in_size; k++) dx[k] += dy[k];
            break;
        default: /* the ops of reference_ops.c */
            reference_ops_backward(g, node, r->value, r->grad, N);
            break;
        case XAI_OP_GEMM: {
            int K = node->in_channels, M = node->out_channels;
            long rows = (long)(N * in_size / (size_t)K);
#pragma omp parallel for collapse(2)
            for (long n = 0; n < rows; n++)
                for (int k = 0; k < K; k++) {
                    real sum = 0.0;
                    for (int o = 0; o < M; o++) sum += (real)node->weight[(size_t)o * K + k] * dy[(size_t)n * M + o];
                    dx[(size_t)n * K + k] += sum;
                }
            break;
        }
        }
    }
    if (stop_value < 0) memcpy(map, r->grad[g->input], (size_t)N * xai_value_size(&g->values[g->input]) * sizeof(real));
    return XAI_OK;
}
