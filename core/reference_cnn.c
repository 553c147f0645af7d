/* reference_cnn.c - the reference engine's classic CNN ops (reference_internal.h): convolution,
 * BatchNormalization, ReLU and Clip with the method's rule, the pools, Flatten and Gemm (Add is
 * reference_ops.c's, with Mul),
 * forward and backward-data, one plain loop nest each over NCHW values; backward steps add into
 * the inputs' gradients. Compiled in double and, from reference_cnn_f32.c, in float. */
#include <math.h>
#include <string.h>

#include "reference_internal.h"

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

/* ---- the steps (reference_op, registered in reference_engine.c) ------------------------------ */

static const xai_value *input_of(const reference_engine *r, int i) { return &r->graph->values[r->graph->nodes[i].input[0]]; }
static const xai_value *output_of(const reference_engine *r, int i) { return &r->graph->values[r->graph->nodes[i].output]; }
/* Elements of the node's input over the batch. */
static size_t input_count(const reference_engine *r, int i) { return (size_t)r->batch * xai_value_size(input_of(r, i)); }

void REFERENCE_STEP(conv_forward)(reference_engine *r, int i)
{
    const xai_node *node = &r->graph->nodes[i];
    conv_forward(node, input_of(r, i), output_of(r, i), r->value[node->input[0]], r->value[node->output], r->batch);
}

void REFERENCE_STEP(conv_backward)(reference_engine *r, int i)
{
    const xai_node *node = &r->graph->nodes[i];
    conv_backward_data(node, input_of(r, i), output_of(r, i), r->grad[node->output], r->grad[node->input[0]], r->batch);
}

/* y = gamma (x - mean) / sqrt(var + eps) + beta per channel; backward dx += s dy with s the scale. */
static void batchnorm_pass(reference_engine *r, int i, int backward)
{
    const xai_node *node = &r->graph->nodes[i];
    const xai_value *in = input_of(r, i);
    const real *x = r->value[node->input[0]], *dy = r->grad[node->output];
    real *y = r->value[node->output], *dx = r->grad[node->input[0]];
    size_t plane = (size_t)in->h * in->w;
    for (int n = 0; n < r->batch; n++)
        for (int ch = 0; ch < in->c; ch++) {
            real s = node->bn_gamma[ch] / sqrt((real)node->bn_var[ch] + node->bn_epsilon);
            for (size_t k = 0; k < plane; k++) {
                size_t at = ((size_t)n * in->c + ch) * plane + k;
                if (backward) dx[at] += s * dy[at];
                else y[at] = s * (x[at] - node->bn_mean[ch]) + node->bn_beta[ch];
            }
        }
}

void REFERENCE_STEP(batchnorm_forward)(reference_engine *r, int i) { batchnorm_pass(r, i, 0); }
void REFERENCE_STEP(batchnorm_backward)(reference_engine *r, int i) { batchnorm_pass(r, i, 1); }

/* ReLU and Clip: y = clamp(x, lo, hi); backward the method's rule, or the true gradient where the
 * node passes it. */
void REFERENCE_STEP(activation_forward)(reference_engine *r, int i)
{
    const xai_node *node = &r->graph->nodes[i];
    const real *x = r->value[node->input[0]];
    real *y = r->value[node->output];
    for (size_t k = 0; k < input_count(r, i); k++) y[k] = (real)fmin(fmax(x[k], node->clip_min), node->clip_max);
}

void REFERENCE_STEP(activation_backward)(reference_engine *r, int i)
{
    const xai_node *node = &r->graph->nodes[i];
    const real *y = r->value[node->output], *dy = r->grad[node->output];
    real *dx = r->grad[node->input[0]];
    const xai_rule *rule = node->plain_gradient ? &xai_rule_saliency : r->rule;
    for (size_t k = 0; k < input_count(r, i); k++)
        dx[k] += (real)rule->activation_backward_one(y[k], dy[k], node->clip_min, node->clip_max);
}

void REFERENCE_STEP(maxpool_forward)(reference_engine *r, int i)
{
    const xai_node *node = &r->graph->nodes[i];
    maxpool_forward(node, input_of(r, i), output_of(r, i), r->value[node->input[0]], r->value[node->output],
                    r->argmax[i], r->batch);
}

/* dx[argmax[o]] += dy[o] */
void REFERENCE_STEP(maxpool_backward)(reference_engine *r, int i)
{
    const xai_node *node = &r->graph->nodes[i];
    const real *dy = r->grad[node->output];
    real *dx = r->grad[node->input[0]];
    for (size_t k = 0; k < (size_t)r->batch * xai_value_size(output_of(r, i)); k++) dx[r->argmax[i][k]] += dy[k];
}

void REFERENCE_STEP(avgpool_forward)(reference_engine *r, int i)
{
    const xai_node *node = &r->graph->nodes[i];
    avgpool_forward(node, input_of(r, i), output_of(r, i), r->value[node->input[0]], r->value[node->output], r->batch);
}

void REFERENCE_STEP(avgpool_backward)(reference_engine *r, int i)
{
    const xai_node *node = &r->graph->nodes[i];
    avgpool_backward(node, input_of(r, i), output_of(r, i), r->grad[node->output], r->grad[node->input[0]],
                     r->batch);
}

/* y[n,c] = mean over the plane of x[n,c]; backward dx[n,c,k] += dy[n,c] / plane. */
static void global_avgpool_pass(reference_engine *r, int i, int backward)
{
    const xai_node *node = &r->graph->nodes[i];
    const xai_value *in = input_of(r, i);
    const real *x = r->value[node->input[0]], *dy = r->grad[node->output];
    real *y = r->value[node->output], *dx = r->grad[node->input[0]];
    size_t plane = (size_t)in->h * in->w;
    for (int n = 0; n < r->batch; n++)
        for (int ch = 0; ch < in->c; ch++) {
            real sum = 0.0;
            for (size_t k = 0; k < plane; k++) {
                size_t at = ((size_t)n * in->c + ch) * plane + k;
                if (backward) dx[at] += dy[(size_t)n * in->c + ch] / (real)plane;
                else sum += x[at];
            }
            if (!backward) y[(size_t)n * in->c + ch] = sum / (real)plane;
        }
}

void REFERENCE_STEP(global_avgpool_forward)(reference_engine *r, int i) { global_avgpool_pass(r, i, 0); }
void REFERENCE_STEP(global_avgpool_backward)(reference_engine *r, int i) { global_avgpool_pass(r, i, 1); }

/* Flatten: the same elements in the same (NCHW) order. */
void REFERENCE_STEP(flatten_forward)(reference_engine *r, int i)
{
    const xai_node *node = &r->graph->nodes[i];
    memcpy(r->value[node->output], r->value[node->input[0]], input_count(r, i) * sizeof(real));
}

void REFERENCE_STEP(flatten_backward)(reference_engine *r, int i)
{
    const xai_node *node = &r->graph->nodes[i];
    const real *dy = r->grad[node->output];
    real *dx = r->grad[node->input[0]];
    for (size_t k = 0; k < input_count(r, i); k++) dx[k] += dy[k];
}

/* Gemm over rows of the last axis ([N,K] or [N,C,H,K]): y[n,o] = b[o] + sum_k W[o,k] x[n,k];
 * backward dx[n,k] += sum_o W[o,k] dy[n,o]. */
void REFERENCE_STEP(gemm_forward)(reference_engine *r, int i)
{
    const xai_node *node = &r->graph->nodes[i];
    const real *x = r->value[node->input[0]];
    real *y = r->value[node->output];
    int K = node->in_channels, M = node->out_channels;
    long rows = (long)(input_count(r, i) / (size_t)K);
#pragma omp parallel for collapse(2)
    for (long n = 0; n < rows; n++)
        for (int o = 0; o < M; o++) {
            real sum = node->bias[o];
            for (int k = 0; k < K; k++) sum += (real)node->weight[(size_t)o * K + k] * x[(size_t)n * K + k];
            y[(size_t)n * M + o] = sum;
        }
}

void REFERENCE_STEP(gemm_backward)(reference_engine *r, int i)
{
    const xai_node *node = &r->graph->nodes[i];
    const real *dy = r->grad[node->output];
    real *dx = r->grad[node->input[0]];
    int K = node->in_channels, M = node->out_channels;
    long rows = (long)(input_count(r, i) / (size_t)K);
#pragma omp parallel for collapse(2)
    for (long n = 0; n < rows; n++)
        for (int k = 0; k < K; k++) {
            real sum = 0.0;
            for (int o = 0; o < M; o++) sum += (real)node->weight[(size_t)o * K + k] * dy[(size_t)n * M + o];
            dx[(size_t)n * K + k] += sum;
        }
}
