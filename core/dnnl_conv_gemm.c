/* dnnl_conv_gemm.c - backward-data of a convolution with few input channels (a network's first
 * layer, on the image's 3), our own: oneDNN's direct kernel wastes most of its vector lanes on 3
 * channels, and its im2col gemm kernel wants the output gradient reordered to plain NCHW and
 * spills its whole column matrix to memory (ResNet18's 7x7 stride-2 conv1 at batch 10 on 2
 * threads: 1.8 ms per image with the reorder's 0.26, against 0.66 ms for its forward).
 *
 * The maths, for one image, output rows taken a tile at a time:
 *   col[(c,kh,kw)][(oh,ow)] = sum_oc W[oc][c][kh][kw] dy[oc][oh][ow]      (one sgemm, in cache)
 *   dx[c][oh*sh - pt + kh*dh][ow*sw - pl + kw*dw] += col[(c,kh,kw)][(oh,ow)]   (col2im)
 * The col2im's columns advance by sw per ow; to keep its adds contiguous each dx row is kept as
 * sw phase rows (iw = j*sw + phase), woven back into dx once the image is done.
 * Threads take images when there are at least as many images as threads; otherwise they share
 * each image's tiles, each into its own phase rows, summed when the image is done. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "dnnl_internal.h"

/* The phase (0..s-1) and the whole-stride offset of a column shift q: q = offset * s + phase. */
static int phase_of(int q, int s) { return ((q % s) + s) % s; }
static int offset_of_shift(int q, int s) { return (q - phase_of(q, s)) / s; }

/* Floats of one thread's phase rows: [channel][input row][phase][phase_len]. */
static size_t phase_rows_floats(const xai_value *in, const xai_node *c, const node_exec *x)
{
    return (size_t)in->c * in->h * c->stride_w * x->gemm_phase_len;
}

int engine_conv_gemm_fits(const xai_engine *e, int i)
{
    const xai_node *c = &e->graph->nodes[i];
    return c->op == XAI_OP_CONV && c->group == 1 && e->graph->values[c->input[0]].c < 16;
}

int engine_conv_gemm_plan(xai_engine *e, int i)
{
    const xai_graph *g = e->graph;
    const xai_node *c = &g->nodes[i];
    const xai_value *in = &g->values[c->input[0]], *out = &g->values[c->output];
    node_exec *x = &e->exec[i];
    int first = offset_of_shift(-c->pad_left, c->stride_w);
    int last = offset_of_shift((c->kernel_w - 1) * c->dilation_w - c->pad_left, c->stride_w);
    x->gemm_lead = first < 0 ? -first : 0;
    x->gemm_phase_len = x->gemm_lead + out->w + (last > 0 ? last : 0);
    int covered = x->gemm_lead + (in->w - 1) / c->stride_w + 1; /* columns no window reaches read as 0 */
    if (covered > x->gemm_phase_len) x->gemm_phase_len = covered;
    x->gemm_tile_rows = out->w >= 896 ? 1 : 896 / out->w; /* ~900 pixels a tile: col stays in L2 */
    if (x->gemm_tile_rows > out->h) x->gemm_tile_rows = out->h;
    size_t pixels = (size_t)x->gemm_tile_rows * out->w, taps = (size_t)in->c * c->kernel_h * c->kernel_w;
    x->gemm_work_floats = (pixels * out->c + taps * pixels + phase_rows_floats(in, c, x) + 15) / 16 * 16;
    size_t count = (size_t)out->c * taps;
    if (e->weights_from) { /* the same graph and channels: it runs this conv's backward here too */
        x->weight = e->weights_from->exec[i].weight;
        x->borrowed = 1;
    } else x->weight = xai_malloc(count * sizeof(float));
    x->gemm_work = xai_aligned_alloc(64, (size_t)e->threads * x->gemm_work_floats * sizeof(float));
    if (!x->weight || !x->gemm_work) return xai_fail("out of memory for convolution '%s'", c->name);
    return XAI_OK;
}

void engine_conv_gemm_load_weights(xai_engine *e, int i)
{
    const xai_node *c = &e->graph->nodes[i];
    size_t count = (size_t)c->out_channels * c->in_channels * c->kernel_h * c->kernel_w;
    memcpy(e->exec[i].weight, c->weight, count * sizeof(float)); /* ONNX's [oc][c][kh][kw] */
}

typedef struct {
    const xai_node *c;
    const xai_value *in, *out;
    const value_buffer *dy;
    value_buffer *dx;
    const node_exec *x;
    size_t taps, rows_floats;
} conv_gemm;

static float *tile_of(const conv_gemm *k, int t) { return k->x->gemm_work + (size_t)t * k->x->gemm_work_floats; }
static float *col_of(const conv_gemm *k, int t) { return tile_of(k, t) + (size_t)k->x->gemm_tile_rows * k->out->w * k->out->c; }
static float *rows_of(const conv_gemm *k, int t) { return col_of(k, t) + k->taps * k->x->gemm_tile_rows * k->out->w; }

/* Output rows [oh0, oh0 + count) of image n: gather dy pixel-major, one sgemm, col2im into this
 * thread's phase rows. */
static int tile_backward(const conv_gemm *k, int t, int n, int oh0, int count)
{
    const xai_node *c = k->c;
    const layout *ly = &k->dy->lay;
    int OC = k->out->c, OW = k->out->w, P = count * OW, L = k->x->gemm_phase_len, S = c->stride_w;
    float *tile = tile_of(k, t), *col = col_of(k, t), *rows = rows_of(k, t);
    for (int cb = 0; cb < OC; cb += ly->block) {
        int lanes = OC - cb < ly->block ? OC - cb : ly->block;
        for (int r = 0; r < count; r++)
            for (int ow = 0; ow < OW; ow++) {
                const float *s = k->dy->grad + offset_of(ly, n, cb, oh0 + r, ow);
                float *d = tile + ((size_t)r * OW + ow) * OC + cb;
                for (int l = 0; l < lanes; l++) d[l] = s[l];
            }
    }
    if (dnnl_sgemm('T', 'T', (dnnl_dim_t)k->taps, P, OC, 1.f, k->x->weight, (dnnl_dim_t)k->taps, tile, OC, 0.f, col,
                   P) != dnnl_success)
        return XAI_ERR;
    for (int ch = 0; ch < k->in->c; ch++)
        for (int kh = 0; kh < c->kernel_h; kh++)
            for (int r = 0; r < count; r++) {
                int ih = (oh0 + r) * c->stride_h - c->pad_top + kh * c->dilation_h;
                if (ih < 0 || ih >= k->in->h) continue;
                for (int kw = 0; kw < c->kernel_w; kw++) {
                    int q = kw * c->dilation_w - c->pad_left;
                    float *restrict d = rows + ((size_t)(ch * k->in->h + ih) * S + phase_of(q, S)) * L +
                                        k->x->gemm_lead + offset_of_shift(q, S);
                    const float *restrict s = col + ((size_t)(ch * c->kernel_h + kh) * c->kernel_w + kw) * P + (size_t)r * OW;
#pragma omp simd
                    for (int ow = 0; ow < OW; ow++) d[ow] += s[ow];
                }
            }
    return XAI_OK;
}

/* dx row (ch, ih) of image n (+)= the sum of the phase rows of threads first .. first + count - 1,
 * woven back. */
static void weave_row(const conv_gemm *k, int first, int count, int n, int ch, int ih, int accumulate)
{
    int S = k->c->stride_w, L = k->x->gemm_phase_len, IW = k->in->w;
    const layout *lx = &k->dx->lay;
    float *o = k->dx->grad + offset_of(lx, n, ch, ih, 0);
    for (int phase = 0; phase < S && phase < IW; phase++) {
        const float *row = rows_of(k, first) + ((size_t)(ch * k->in->h + ih) * S + phase) * L + k->x->gemm_lead;
        for (int j = 0; j * S + phase < IW; j++) {
            float v = 0.f;
            for (int b = 0; b < count; b++) v += row[(size_t)b * k->x->gemm_work_floats + j];
            float *d = o + (size_t)(j * S + phase) * lx->sw;
            *d = accumulate ? *d + v : v;
        }
    }
}

int engine_conv_gemm_backward(xai_engine *e, int i)
{
    const xai_graph *g = e->graph;
    const xai_node *c = &g->nodes[i];
    node_exec *x = &e->exec[i];
    conv_gemm k = {.c = c, .in = &g->values[c->input[0]], .out = &g->values[c->output],
                   .dy = &e->values[c->output], .dx = &e->values[c->input[0]], .x = x,
                   .taps = (size_t)g->values[c->input[0]].c * c->kernel_h * c->kernel_w};
    k.rows_floats = phase_rows_floats(k.in, c, x);
    int T = x->gemm_tile_rows, OH = k.out->h, IH = k.in->h, C = k.in->c, tiles = (OH + T - 1) / T;
    int accumulate = x->accumulate[0], failed = 0;
    if (e->batch >= e->threads) { /* a thread per image */
#pragma omp parallel for schedule(static) reduction(| : failed)
        for (int n = 0; n < e->batch; n++) {
            int t = omp_get_thread_num();
            memset(rows_of(&k, t), 0, k.rows_floats * sizeof(float));
            for (int oh0 = 0; oh0 < OH; oh0 += T) failed |= tile_backward(&k, t, n, oh0, OH - oh0 < T ? OH - oh0 : T);
            for (int ch = 0; ch < C; ch++)
                for (int ih = 0; ih < IH; ih++) weave_row(&k, t, 1, n, ch, ih, accumulate);
        }
    } else { /* the threads share each image's tiles, then its rows */
#pragma omp parallel reduction(| : failed)
        {
            int t = omp_get_thread_num(), team = omp_get_num_threads();
            for (int n = 0; n < e->batch; n++) {
                memset(rows_of(&k, t), 0, k.rows_floats * sizeof(float));
#pragma omp for schedule(static)
                for (int tile = 0; tile < tiles; tile++)
                    failed |= tile_backward(&k, t, n, tile * T, OH - tile * T < T ? OH - tile * T : T);
#pragma omp for schedule(static) collapse(2)
                for (int ch = 0; ch < C; ch++)
                    for (int ih = 0; ih < IH; ih++) weave_row(&k, 0, team, n, ch, ih, accumulate);
            }
        }
    }
    return failed ? xai_fail("oneDNN: sgemm of convolution '%s' failed", c->name) : XAI_OK;
}
