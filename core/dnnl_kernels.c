/* dnnl_kernels.c - the classic ops' passes on the engine (dnnl_internal.h): ReLU and Clip with
 * the method's rule, Add, the global average pool, the pools oneDNN has no kernel for
 * (dnnl_pooling.c), and Flatten; our own loops, each reading the values' layouts (plain or
 * channel-blocked) directly, split over the engine's threads. */
#include <math.h>
#include <string.h>

#include "dnnl_internal.h"

/* y = clamp(x, lo, hi) over the whole buffer (padding lanes are zero and stay zero for ReLU). */
static void kernel_activation_forward(const float *restrict x, float *restrict y, size_t n, float lo, float hi)
{
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) { /* comparisons, not fminf/fmaxf: those are libm calls here */
        float v = x[i] > lo ? x[i] : lo;
        y[i] = v < hi ? v : hi;
    }
}

/* dst = src, or dst = 0 when src is NULL; split over the threads like the other loops. */
static void kernel_copy(float *restrict dst, const float *restrict src, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) dst[i] = src ? src[i] : 0.f;
}

/* dst = a + b, or dst += a when b is NULL. */
static void kernel_add(float *restrict dst, const float *restrict a, const float *restrict b, size_t n)
{
    if (b) {
#pragma omp parallel for simd schedule(static) if (n > 65536)
        for (size_t i = 0; i < n; i++) dst[i] = a[i] + b[i];
    } else {
#pragma omp parallel for simd schedule(static) if (n > 65536)
        for (size_t i = 0; i < n; i++) dst[i] += a[i];
    }
}

/* One window tap for `block` channel lanes: keep the larger value and its offset; a tie keeps
 * the earlier tap. Masks instead of branches, so that the loop vectorizes. */
static inline void update_max(const float *restrict v, float *restrict best, int32_t *restrict at,
                              int block, int32_t base)
{
#pragma omp simd
    for (int l = 0; l < block; l++) {
        int32_t wins = -(int32_t)(v[l] > best[l]); /* all ones where v wins */
        at[l] = (at[l] & ~wins) | ((base + l) & wins);
        best[l] = v[l] > best[l] ? v[l] : best[l];
    }
}

/* y[n,c,p,q] = max over the window of x (padding never wins), argmax = the buffer offset of the
 * first maximal element in row-major window order (PyTorch's choice on ties). */
static void kernel_maxpool_forward(const xai_node *m, const xai_value *in, const xai_value *out,
                            const value_buffer *x, value_buffer *y, int32_t *argmax, int batch)
{
    const layout *li = &x->lay, *lo = &y->lay;
    int block = li->block, blocks = (in->c + block - 1) / block;
#pragma omp parallel for collapse(3) schedule(static)
    for (int n = 0; n < batch; n++)
        for (int cb = 0; cb < blocks; cb++)
            for (int p = 0; p < out->h; p++) {
                size_t in_plane = offset_of(li, n, cb * block, 0, 0);
                size_t out_row = offset_of(lo, n, cb * block, p, 0);
                int lanes = in->c - cb * block < block ? in->c - cb * block : block;
                for (int q = 0; q < out->w; q++) {
                    float best[64];
                    int32_t at[64];
                    for (int l = 0; l < block; l++) best[l] = -INFINITY, at[l] = 0;
                    for (int kh = 0; kh < m->kernel_h; kh++) {
                        int ih = p * m->stride_h - m->pad_top + kh * m->dilation_h;
                        if (ih < 0 || ih >= in->h) continue;
                        for (int kw = 0; kw < m->kernel_w; kw++) {
                            int iw = q * m->stride_w - m->pad_left + kw * m->dilation_w;
                            if (iw < 0 || iw >= in->w) continue;
                            size_t base = in_plane + ih * li->sh + iw * li->sw;
                            update_max(x->data + base, best, at, block, (int32_t)base);
                        }
                    }
                    size_t o = out_row + q * lo->sw;
                    for (int l = 0; l < lanes; l++) y->data[o + l] = best[l], argmax[o + l] = at[l];
                }
            }
}

/* dx[argmax[o]] += dy[o]; within one (image, channel block) sequentially, so overlapping windows
 * never race. */
static void kernel_maxpool_backward(const xai_value *in, const xai_value *out, value_buffer *x,
                             const value_buffer *y, const int32_t *argmax, int batch, int accumulate)
{
    const layout *lo = &y->lay;
    int block = lo->block, blocks = (in->c + block - 1) / block;
    if (!accumulate) kernel_copy(x->grad, NULL, x->floats);
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < batch; n++)
        for (int cb = 0; cb < blocks; cb++) {
            int lanes = in->c - cb * block < block ? in->c - cb * block : block;
            for (int p = 0; p < out->h; p++) {
                size_t row = offset_of(lo, n, cb * block, p, 0);
                for (int q = 0; q < out->w; q++)
                    for (int l = 0; l < lanes; l++) {
                        size_t o = row + q * lo->sw + l;
                        x->grad[argmax[o]] += y->grad[o];
                    }
            }
        }
}

/* Average pool forward (dy NULL) or backward (dy given): the divisor counts the window's
 * positions inside the input, or with count_include_pad those inside the padded input (not the
 * room ceil_mode added). */
static void kernel_avgpool(const xai_node *m, const xai_value *in, const xai_value *out,
                    value_buffer *x, value_buffer *y, int batch, int backward, int accumulate)
{
    const layout *li = &x->lay, *lo = &y->lay;
    if (backward && !accumulate) memset(x->grad, 0, x->floats * sizeof(float));
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < batch; n++)
        for (int c = 0; c < in->c; c++)
            for (int p = 0; p < out->h; p++)
                for (int q = 0; q < out->w; q++) {
                    int h0 = p * m->stride_h - m->pad_top, w0 = q * m->stride_w - m->pad_left;
                    int h1 = h0 + m->kernel_h, w1 = w0 + m->kernel_w;
                    int padded_h = in->h + m->pad_bottom - m->ceil_pad_bottom;
                    int padded_w = in->w + m->pad_right - m->ceil_pad_right;
                    int with_pads = ((h1 < padded_h ? h1 : padded_h) - h0) * ((w1 < padded_w ? w1 : padded_w) - w0);
                    h0 = h0 < 0 ? 0 : h0, w0 = w0 < 0 ? 0 : w0;
                    h1 = h1 > in->h ? in->h : h1, w1 = w1 > in->w ? in->w : w1;
                    float count = (float)(m->count_include_pad ? with_pads : (h1 - h0) * (w1 - w0));
                    size_t o = offset_of(lo, n, c, p, q);
                    float sum = 0.f, share = backward ? y->grad[o] / count : 0.f;
                    for (int ih = h0; ih < h1; ih++)
                        for (int iw = w0; iw < w1; iw++) {
                            size_t at = offset_of(li, n, c, ih, iw);
                            if (backward) x->grad[at] += share;
                            else sum += x->data[at];
                        }
                    if (!backward) y->data[o] = sum / count;
                }
}

/* y[n,c] = mean over (h, w) of x[n,c,h,w]; backward dx[n,c,h,w] (+)= dy[n,c] / (H W). */
static void kernel_global_avgpool(const xai_value *in, value_buffer *x, value_buffer *y, int batch,
                           int backward, int accumulate)
{
    const layout *li = &x->lay;
    int block = li->block, blocks = (in->c + block - 1) / block;
    float scale = 1.f / (float)(in->h * in->w);
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < batch; n++)
        for (int cb = 0; cb < blocks; cb++) {
            int lanes = in->c - cb * block < block ? in->c - cb * block : block;
            float sum[64] = {0};
            for (int h = 0; h < in->h; h++)
                for (int w = 0; w < in->w; w++) {
                    size_t at = offset_of(li, n, cb * block, h, w);
                    for (int l = 0; l < lanes; l++) {
                        size_t yo = (size_t)n * in->c + cb * block + l;
                        if (!backward) sum[l] += x->data[at + l];
                        else if (accumulate) x->grad[at + l] += y->grad[yo] * scale;
                        else x->grad[at + l] = y->grad[yo] * scale;
                    }
                }
            if (!backward)
                for (int l = 0; l < lanes; l++) y->data[(size_t)n * in->c + cb * block + l] = sum[l] * scale;
        }
}

/* ---- the passes (engine_ops, dnnl_ops.c) ---------------------------------------------------- */

/* ReLU and Clip: y = clamp(x, lo, hi); skipped when it runs as the Conv before it's post-op. */
int kernel_activation_pass_forward(xai_engine *e, int i)
{
    const xai_node *n = &e->graph->nodes[i];
    const value_buffer *a = &e->values[n->input[0]];
    kernel_activation_forward(a->data, e->values[n->output].data, a->floats, n->clip_min, n->clip_max);
    return XAI_OK;
}

/* The method's rule (or the true gradient where the node passes it) into the input's gradient,
 * through the scratch buffer when it adds. */
int kernel_activation_pass_backward(xai_engine *e, int i)
{
    const xai_node *n = &e->graph->nodes[i];
    value_buffer *a = &e->values[n->input[0]], *y = &e->values[n->output];
    int accumulate = e->exec[i].accumulate[0];
    float *dx = accumulate ? e->scratch : a->grad;
    const xai_rule *rule = n->plain_gradient ? &xai_rule_saliency : e->rule;
    rule->activation_backward(y->data, y->grad, dx, y->floats, n->clip_min, n->clip_max);
    if (accumulate) kernel_add(a->grad, e->scratch, NULL, a->floats);
    return XAI_OK;
}

/* Does node i (Add) have inputs of different shapes (one broadcast against the other)? */
static int add_broadcasts(const xai_engine *e, int i)
{
    const xai_node *n = &e->graph->nodes[i];
    const xai_value *a = &e->graph->values[n->input[0]], *b = &e->graph->values[n->input[1]];
    return a->c != b->c || a->h != b->h || a->w != b->w;
}

/* y = a + b, b first reordered into a's layout when the two differ (an input that broadcasts:
 * dnnl_binary.c's loop). */
int kernel_add_forward(xai_engine *e, int i)
{
    if (add_broadcasts(e, i)) return kernel_binary_forward(e, i);
    const xai_node *n = &e->graph->nodes[i];
    node_exec *x = &e->exec[i];
    const float *b = e->values[n->input[1]].data;
    if (x->add_rhs.prim) {
        if (engine_run_reorder(e, &x->add_rhs)) return XAI_ERR;
        CHECK(dnnl_stream_wait(e->stream), n->name);
        CHECK(dnnl_memory_get_data_handle(x->add_rhs.dst, (void **)&b), n->name);
    }
    value_buffer *y = &e->values[n->output];
    kernel_add(y->data, e->values[n->input[0]].data, b, y->floats);
    return XAI_OK;
}

/* Both inputs get the output's gradient (written or added; reordered back for b's layout). */
int kernel_add_backward(xai_engine *e, int i)
{
    if (add_broadcasts(e, i)) return kernel_binary_backward(e, i);
    const xai_node *n = &e->graph->nodes[i];
    node_exec *x = &e->exec[i];
    const value_buffer *y = &e->values[n->output];
    for (int k = 0; k < 2; k++) {
        value_buffer *b = &e->values[n->input[k]];
        if (k == 1 && x->add_rhs_grad.prim) {
            if (engine_run_reorder(e, &x->add_rhs_grad)) return XAI_ERR;
        } else if (x->accumulate[k]) kernel_add(b->grad, y->grad, NULL, y->floats);
        else kernel_copy(b->grad, y->grad, y->floats);
    }
    return XAI_OK;
}

int kernel_maxpool_pass_forward(xai_engine *e, int i)
{
    const xai_graph *g = e->graph;
    const xai_node *n = &g->nodes[i];
    kernel_maxpool_forward(n, &g->values[n->input[0]], &g->values[n->output], &e->values[n->input[0]],
                           &e->values[n->output], e->exec[i].argmax, e->batch);
    return XAI_OK;
}

int kernel_maxpool_pass_backward(xai_engine *e, int i)
{
    const xai_graph *g = e->graph;
    const xai_node *n = &g->nodes[i];
    kernel_maxpool_backward(&g->values[n->input[0]], &g->values[n->output], &e->values[n->input[0]],
                            &e->values[n->output], e->exec[i].argmax, e->batch, e->exec[i].accumulate[0]);
    return XAI_OK;
}

static int avgpool_pass(xai_engine *e, int i, int backward)
{
    const xai_graph *g = e->graph;
    const xai_node *n = &g->nodes[i];
    kernel_avgpool(n, &g->values[n->input[0]], &g->values[n->output], &e->values[n->input[0]], &e->values[n->output],
                   e->batch, backward, backward && e->exec[i].accumulate[0]);
    return XAI_OK;
}

int kernel_avgpool_forward(xai_engine *e, int i) { return avgpool_pass(e, i, 0); }
int kernel_avgpool_backward(xai_engine *e, int i) { return avgpool_pass(e, i, 1); }

static int global_avgpool_pass(xai_engine *e, int i, int backward)
{
    const xai_node *n = &e->graph->nodes[i];
    kernel_global_avgpool(&e->graph->values[n->input[0]], &e->values[n->input[0]], &e->values[n->output], e->batch,
                          backward, backward && e->exec[i].accumulate[0]);
    return XAI_OK;
}

int kernel_global_avgpool_forward(xai_engine *e, int i) { return global_avgpool_pass(e, i, 0); }
int kernel_global_avgpool_backward(xai_engine *e, int i) { return global_avgpool_pass(e, i, 1); }

/* Flatten: the input in NCHW order, and the gradient back (engine_bind_flatten's reorders). */
int kernel_flatten_forward(xai_engine *e, int i) { return engine_run_reorder(e, &e->exec[i].flatten_forward); }
int kernel_flatten_backward(xai_engine *e, int i) { return engine_run_reorder(e, &e->exec[i].flatten_backward); }
