/* dnnl_engine.c - forward and backward-data of an xai_graph on oneDNN 2.6 (C API).
 *
 * Convolutions are oneDNN primitives with layouts left to oneDNN (format_tag_any), weights
 * reordered once per direction. Every other op is a loop of ours that reads the value's layout
 * (plain or channel-blocked, see `layout`), so activations never leave oneDNN's blocked format
 * between convolutions: reorders happen only where two neighbours disagree on a layout, at the
 * graph's ends in practice. A ReLU right after a Conv runs as the Conv's eltwise post-op.
 *
 * Gradients live in the same layout as the values. In the backward pass the first node (in
 * reverse order) that reaches a value writes its gradient, later ones add to it: that is how the
 * residual forks sum their gradients. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dnnl.h>
#include <dnnl_debug.h>

#include "xai_engine.h"
#include "xai_status.h"

#define CHECK(call, what)                                                                    \
    do {                                                                                     \
        dnnl_status_t status_ = (call);                                                      \
        if (status_ != dnnl_success)                                                         \
            return xai_fail("oneDNN: %s: %s", what, dnnl_status2str(status_));               \
    } while (0)

/* Where element (n, c, h, w) sits: n*sn + (c/block)*scb + h*sh + w*sw + c%block. */
typedef struct {
    size_t sn, scb, sh, sw;
    int block;
} layout;

typedef struct {
    dnnl_memory_desc_t md;
    layout lay;
    float *data, *grad;
    dnnl_memory_t data_mem, grad_mem;
    size_t floats;          /* buffer size, padding included */
} value_buffer;

/* A reorder primitive with its two memories bound. */
typedef struct {
    dnnl_primitive_t prim;
    dnnl_memory_t src, dst;
} reorder;

typedef struct {
    /* CONV */
    dnnl_primitive_t forward, backward;
    dnnl_memory_t weight_forward, weight_backward, bias;
    dnnl_memory_t src;                  /* what the forward reads (value or src_reorder.dst) */
    reorder src_reorder;                /* value layout -> forward src layout */
    reorder diff_dst_reorder;           /* gradient layout -> backward diff_dst layout */
    dnnl_memory_t diff_dst;             /* what the backward reads */
    dnnl_memory_t diff_src;             /* what the backward writes */
    reorder diff_src_reorder;           /* diff_src -> input gradient (adds when accumulating) */
    int fused_activation;               /* the next node (an activation) runs as a post-op */
    int skip_forward;                   /* an activation fused into the Conv before it */
    /* FLATTEN */
    reorder flatten_forward, flatten_backward;
    /* ADD: input[1] in input[0]'s layout when they differ */
    reorder add_rhs;
    /* MAXPOOL: buffer offset of the chosen input element, per output element */
    int32_t *argmax;
    /* GEMM: the weight [out][in] and, for the backward pass, transposed to [in][out] */
    float *weight, *weight_t;
    int accumulate[2];                  /* backward adds into input k's gradient */
    const char *impl[2];                /* oneDNN kernel names, forward and backward */
} node_exec;

struct xai_engine {
    const xai_graph *graph;
    xai_graph *consumed;                /* set when weights are freed as they are copied */
    int batch, threads;
    dnnl_engine_t dnnl;
    dnnl_stream_t stream;
    value_buffer *values;
    node_exec *exec;
    float *scratch;                     /* activation gradient before adding */
    size_t scratch_floats;
    /* Outputs kept in a blocked layout (single-op graphs) are read and seeded in NCHW order. */
    float *output_plain;
    dnnl_memory_t output_plain_mem;
    reorder output_reorder, output_seed_reorder;
    char *kernels;
    int forward_done;
    int profiling;
    double *node_ms;                    /* [2][n_nodes]: forward, backward */
};

/* ---- layouts ------------------------------------------------------------------------------- */

static int layout_of(const dnnl_memory_desc_t *md, layout *out, const char *what)
{
    if (md->format_kind != dnnl_blocked)
        return xai_fail("oneDNN: %s: unexpected memory format kind", what);
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    out->block = 1;
    if (b->inner_nblks == 1 && b->inner_idxs[0] == 1) out->block = (int)b->inner_blks[0];
    else if (b->inner_nblks != 0)
        return xai_fail("oneDNN: %s: a layout with %d inner blocks is not handled", what,
                        b->inner_nblks);
    out->sn = (size_t)b->strides[0];
    out->scb = (size_t)b->strides[1];
    out->sh = md->ndims == 4 ? (size_t)b->strides[2] : 0;
    out->sw = md->ndims == 4 ? (size_t)b->strides[3] : 0;
    return XAI_OK;
}

static inline size_t offset_of(const layout *l, int n, int c, int h, int w)
{
    return n * l->sn + (size_t)(c / l->block) * l->scb + h * l->sh + w * l->sw +
           (size_t)(c % l->block);
}

/* A descriptor for `dims` in the same kind of layout as `like` (plain NCHW, NHWC or nChw{b}c). */
static int md_like(dnnl_memory_desc_t *md, const dnnl_memory_desc_t *like, const layout *l,
                   const dnnl_dims_t dims)
{
    dnnl_format_tag_t tag;
    if (l->block == 8) tag = dnnl_nChw8c;
    else if (l->block == 16) tag = dnnl_nChw16c;
    else if (l->block == 4) tag = dnnl_nChw4c;
    else if (l->block == 1 && l->sw == (size_t)like->dims[1] && like->dims[1] > 1) tag = dnnl_nhwc;
    else tag = dnnl_nchw;
    CHECK(dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, tag), "memory descriptor");
    return XAI_OK;
}

/* ---- primitives ---------------------------------------------------------------------------- */

static int make_reorder(xai_engine *e, reorder *r, dnnl_memory_t src, dnnl_memory_t dst,
                        int accumulate)
{
    const dnnl_memory_desc_t *smd, *dmd;
    CHECK(dnnl_memory_get_memory_desc(src, &smd), "memory query");
    CHECK(dnnl_memory_get_memory_desc(dst, &dmd), "memory query");
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    dnnl_status_t s = dnnl_success;
    if (accumulate) {
        s = dnnl_primitive_attr_create(&attr);
        if (s == dnnl_success) s = dnnl_post_ops_create(&ops);
        if (s == dnnl_success) s = dnnl_post_ops_append_sum(ops, 1.f);
        if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(attr, ops);
    }
    dnnl_primitive_desc_t pd = NULL;
    if (s == dnnl_success) s = dnnl_reorder_primitive_desc_create(&pd, smd, e->dnnl, dmd, e->dnnl, attr);
    if (ops) dnnl_post_ops_destroy(ops);
    if (attr) dnnl_primitive_attr_destroy(attr);
    CHECK(s, "reorder descriptor");
    s = dnnl_primitive_create(&r->prim, pd);
    dnnl_primitive_desc_destroy(pd);
    if (s != dnnl_success) r->prim = NULL;
    CHECK(s, "reorder");
    r->src = src;
    r->dst = dst;
    return XAI_OK;
}

static int run_reorder(xai_engine *e, const reorder *r)
{
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, r->src}, {DNNL_ARG_TO, r->dst}};
    CHECK(dnnl_primitive_execute(r->prim, e->stream, 2, args), "reorder");
    return XAI_OK;
}

static void destroy_reorder(reorder *r)
{
    if (r->prim) dnnl_primitive_destroy(r->prim);
    r->prim = NULL;
}

static int memory(xai_engine *e, dnnl_memory_t *m, const dnnl_memory_desc_t *md, void *handle)
{
    CHECK(dnnl_memory_create(m, md, e->dnnl, handle ? handle : DNNL_MEMORY_ALLOCATE), "memory");
    return XAI_OK;
}

static const char *impl_name(const_dnnl_primitive_desc_t pd)
{
    const char *name = "?";
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name);
    return name;
}

/* Is node i a Conv whose output feeds only the activation at i + 1? */
static int activation_fuses(const xai_graph *g, int i)
{
    if (i + 1 >= g->n_nodes || g->nodes[i].op != XAI_OP_CONV) return 0;
    const xai_node *next = &g->nodes[i + 1];
    if ((next->op != XAI_OP_RELU && next->op != XAI_OP_CLIP) ||
        next->input[0] != g->nodes[i].output || g->nodes[i].output == g->output)
        return 0;
    int readers = 0;
    for (int k = 0; k < g->n_nodes; k++)
        for (int j = 0; j < g->nodes[k].n_inputs; j++) readers += g->nodes[k].input[j] == next->input[0];
    return readers == 1;
}

static int create_conv(xai_engine *e, int i, dnnl_memory_desc_t *out_md)
{
    const xai_graph *g = e->graph;
    const xai_node *c = &g->nodes[i];
    node_exec *x = &e->exec[i];
    const xai_value *in = &g->values[c->input[0]], *out = &g->values[c->output];
    dnnl_dims_t src_dims = {e->batch, in->c, in->h, in->w};
    dnnl_dims_t dst_dims = {e->batch, out->c, out->h, out->w};
    dnnl_dims_t w_dims = {c->out_channels, c->in_channels, c->kernel_h, c->kernel_w};
    dnnl_dims_t gw_dims = {c->group, c->out_channels / c->group, c->in_channels / c->group,
                           c->kernel_h, c->kernel_w};
    dnnl_dims_t b_dims = {c->out_channels};
    dnnl_dims_t strides = {c->stride_h, c->stride_w};
    dnnl_dims_t dilates = {c->dilation_h - 1, c->dilation_w - 1};
    dnnl_dims_t pad_l = {c->pad_top, c->pad_left}, pad_r = {c->pad_bottom, c->pad_right};
    int grouped = c->group > 1;
    dnnl_memory_desc_t src_any, w_any, w_user, b_md, dst_any;
    CHECK(dnnl_memory_desc_init_by_tag(&src_any, 4, src_dims, dnnl_f32, dnnl_format_tag_any), "md");
    CHECK(dnnl_memory_desc_init_by_tag(&dst_any, 4, dst_dims, dnnl_f32, dnnl_format_tag_any), "md");
    CHECK(dnnl_memory_desc_init_by_tag(&w_any, grouped ? 5 : 4, grouped ? gw_dims : w_dims,
                                       dnnl_f32, dnnl_format_tag_any), "md");
    CHECK(dnnl_memory_desc_init_by_tag(&w_user, grouped ? 5 : 4, grouped ? gw_dims : w_dims,
                                       dnnl_f32, grouped ? dnnl_goihw : dnnl_oihw), "md");
    CHECK(dnnl_memory_desc_init_by_tag(&b_md, 1, b_dims, dnnl_f32, dnnl_x), "md");

    dnnl_convolution_desc_t fd, bd;
    CHECK(dnnl_dilated_convolution_forward_desc_init(&fd, dnnl_forward_training,
                                                     dnnl_convolution_direct, &src_any, &w_any,
                                                     &b_md, &dst_any, strides, dilates, pad_l,
                                                     pad_r), "convolution forward");
    CHECK(dnnl_dilated_convolution_backward_data_desc_init(&bd, dnnl_convolution_direct, &src_any,
                                                           &w_any, &dst_any, strides, dilates,
                                                           pad_l, pad_r),
          "convolution backward-data");
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    dnnl_status_t s = dnnl_success;
    x->fused_activation = activation_fuses(g, i);
    if (x->fused_activation) {
        const xai_node *act = &g->nodes[i + 1];
        s = dnnl_primitive_attr_create(&attr);
        if (s == dnnl_success) s = dnnl_post_ops_create(&ops);
        if (s == dnnl_success)
            s = act->op == XAI_OP_RELU
                    ? dnnl_post_ops_append_eltwise(ops, 1.f, dnnl_eltwise_relu, 0.f, 0.f)
                    : dnnl_post_ops_append_eltwise(ops, 1.f, dnnl_eltwise_clip_v2, act->clip_min,
                                                   act->clip_max);
        if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(attr, ops);
    }
    dnnl_primitive_desc_t fpd = NULL, bpd = NULL;
    if (s == dnnl_success) s = dnnl_primitive_desc_create(&fpd, &fd, attr, e->dnnl, NULL);
    if (ops) dnnl_post_ops_destroy(ops);
    if (attr) dnnl_primitive_attr_destroy(attr);
    CHECK(s, "convolution forward descriptor");
    s = dnnl_primitive_desc_create(&bpd, &bd, NULL, e->dnnl, fpd);
    if (s != dnnl_success) {
        dnnl_primitive_desc_destroy(fpd);
        CHECK(s, "convolution backward-data descriptor");
    }
    x->impl[0] = impl_name(fpd);
    x->impl[1] = impl_name(bpd);
    const dnnl_memory_desc_t *f_src = dnnl_primitive_desc_query_md(fpd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *f_w = dnnl_primitive_desc_query_md(fpd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *f_dst = dnnl_primitive_desc_query_md(fpd, dnnl_query_dst_md, 0);
    const dnnl_memory_desc_t *b_dsrc = dnnl_primitive_desc_query_md(bpd, dnnl_query_diff_src_md, 0);
    const dnnl_memory_desc_t *b_w = dnnl_primitive_desc_query_md(bpd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *b_ddst = dnnl_primitive_desc_query_md(bpd, dnnl_query_diff_dst_md, 0);
    *out_md = *f_dst;

    int status = XAI_OK;
    dnnl_memory_t user_w = NULL;
    value_buffer *src = &e->values[c->input[0]];
    status = memory(e, &user_w, &w_user, c->weight);
    if (!status) status = memory(e, &x->weight_forward, f_w, NULL);
    if (!status) status = memory(e, &x->weight_backward, b_w, NULL);
    if (!status) status = memory(e, &x->bias, &b_md, c->bias);
    reorder wr = {0};
    if (!status) status = make_reorder(e, &wr, user_w, x->weight_forward, 0);
    if (!status) status = run_reorder(e, &wr);
    destroy_reorder(&wr);
    if (!status) status = make_reorder(e, &wr, user_w, x->weight_backward, 0);
    if (!status) status = run_reorder(e, &wr);
    destroy_reorder(&wr);
    if (!status && dnnl_stream_wait(e->stream) != dnnl_success)
        status = xai_fail("oneDNN: weight reorder of convolution '%s' failed", c->name);
    if (user_w) dnnl_memory_destroy(user_w);
    if (!status && e->consumed) {
        free(e->consumed->nodes[i].weight);
        e->consumed->nodes[i].weight = NULL;
    }
    /* Input side: read the producer's layout directly when it is the one chosen. */
    if (!status) {
        if (dnnl_memory_desc_equal(f_src, &src->md)) {
            x->src = src->data_mem;
        } else {
            status = memory(e, &x->src, f_src, NULL);
            if (!status) status = make_reorder(e, &x->src_reorder, src->data_mem, x->src, 0);
        }
    }
    /* Output gradient: the value's layout is f_dst; the backward may want another. */
    if (!status && !dnnl_memory_desc_equal(b_ddst, f_dst)) status = memory(e, &x->diff_dst, b_ddst, NULL);
    /* Input gradient: written straight into the input's gradient when the layouts agree and
     * nothing is there yet, else into a buffer of our own and reordered (and summed) across. */
    if (!status && (x->accumulate[0] || !dnnl_memory_desc_equal(b_dsrc, &src->md)))
        status = memory(e, &x->diff_src, b_dsrc, NULL);
    if (!status && dnnl_primitive_create(&x->forward, fpd) != dnnl_success) x->forward = NULL;
    if (!status && x->forward && dnnl_primitive_create(&x->backward, bpd) != dnnl_success) x->backward = NULL;
    if (!status && !(x->forward && x->backward))
        status = xai_fail("oneDNN: cannot create convolution '%s'", c->name);
    dnnl_primitive_desc_destroy(fpd);
    dnnl_primitive_desc_destroy(bpd);
    return status;
}

/* The second half of a conv's set-up, once the values' gradient memories exist. */
static int bind_conv_gradients(xai_engine *e, int i)
{
    const xai_node *c = &e->graph->nodes[i];
    node_exec *x = &e->exec[i];
    /* With a fused activation, the gradient that reaches this conv is that of its own output
     * value (the pre-activation one), written by the activation's rule. */
    value_buffer *out = &e->values[c->output];
    if (x->diff_dst && make_reorder(e, &x->diff_dst_reorder, out->grad_mem, x->diff_dst, 0))
        return XAI_ERR;
    if (!x->diff_dst) x->diff_dst = out->grad_mem;
    value_buffer *in = &e->values[c->input[0]];
    if (x->diff_src)
        return make_reorder(e, &x->diff_src_reorder, x->diff_src, in->grad_mem, x->accumulate[0]);
    x->diff_src = in->grad_mem;
    return XAI_OK;
}

/* ---- set-up -------------------------------------------------------------------------------- */

void xai_engine_destroy(xai_engine *e)
{
    if (!e) return;
    const xai_graph *g = e->graph;
    for (int i = 0; e->exec && i < g->n_nodes; i++) {
        node_exec *x = &e->exec[i];
        if (x->forward) dnnl_primitive_destroy(x->forward);
        if (x->backward) dnnl_primitive_destroy(x->backward);
        if (x->weight_forward) dnnl_memory_destroy(x->weight_forward);
        if (x->weight_backward) dnnl_memory_destroy(x->weight_backward);
        if (x->bias) dnnl_memory_destroy(x->bias);
        /* A conv's own src, diff_dst and diff_src memories are those that are not the values'
         * (it reads and writes the values' memories directly where the layouts agree). */
        const xai_node *n = &g->nodes[i];
        if (n->op == XAI_OP_CONV && e->values) {
            if (x->src && x->src != e->values[n->input[0]].data_mem) dnnl_memory_destroy(x->src);
            if (x->diff_dst && x->diff_dst != e->values[n->output].grad_mem) dnnl_memory_destroy(x->diff_dst);
            if (x->diff_src && x->diff_src != e->values[n->input[0]].grad_mem) dnnl_memory_destroy(x->diff_src);
        }
        destroy_reorder(&x->src_reorder);
        destroy_reorder(&x->diff_dst_reorder);
        destroy_reorder(&x->diff_src_reorder);
        if (x->flatten_forward.dst) dnnl_memory_destroy(x->flatten_forward.dst);
        if (x->flatten_backward.src) dnnl_memory_destroy(x->flatten_backward.src);
        destroy_reorder(&x->flatten_forward);
        destroy_reorder(&x->flatten_backward);
        if (x->add_rhs.dst) dnnl_memory_destroy(x->add_rhs.dst);
        destroy_reorder(&x->add_rhs);
        free(x->argmax);
        free(x->weight);
        free(x->weight_t);
    }
    for (int v = 0; e->values && v < g->n_values; v++) {
        if (e->values[v].data_mem) dnnl_memory_destroy(e->values[v].data_mem);
        if (e->values[v].grad_mem) dnnl_memory_destroy(e->values[v].grad_mem);
        free(e->values[v].data);
        free(e->values[v].grad);
    }
    if (e->stream) dnnl_stream_destroy(e->stream);
    if (e->dnnl) dnnl_engine_destroy(e->dnnl);
    destroy_reorder(&e->output_reorder);
    destroy_reorder(&e->output_seed_reorder);
    if (e->output_plain_mem) dnnl_memory_destroy(e->output_plain_mem);
    free(e->output_plain);
    free(e->values);
    free(e->exec);
    free(e->scratch);
    free(e->kernels);
    free(e->node_ms);
    free(e);
}

static int plain_md(dnnl_memory_desc_t *md, const xai_value *v, int batch)
{
    dnnl_dims_t d4 = {batch, v->c, v->h, v->w}, d2 = {batch, v->c};
    CHECK(v->rank == 4 ? dnnl_memory_desc_init_by_tag(md, 4, d4, dnnl_f32, dnnl_nchw)
                       : dnnl_memory_desc_init_by_tag(md, 2, d2, dnnl_f32, dnnl_nc),
          "memory descriptor");
    return XAI_OK;
}

static int allocate_value(xai_engine *e, int v)
{
    value_buffer *b = &e->values[v];
    b->floats = dnnl_memory_desc_get_size(&b->md) / sizeof(float);
    if (layout_of(&b->md, &b->lay, e->graph->values[v].name)) return XAI_ERR;
    /* 64-byte aligned and zeroed: padding lanes of blocked layouts must stay zero. */
    size_t bytes = (b->floats * sizeof(float) + 63) / 64 * 64;
    b->data = xai_aligned_alloc(64, bytes);
    b->grad = xai_aligned_alloc(64, bytes);
    if (!b->data || !b->grad) return xai_fail("out of memory for value '%s' (%zu bytes)",
                                              e->graph->values[v].name, bytes);
    memset(b->data, 0, bytes);
    memset(b->grad, 0, bytes);
    if (memory(e, &b->data_mem, &b->md, b->data) || memory(e, &b->grad_mem, &b->md, b->grad))
        return XAI_ERR;
    if (b->floats > e->scratch_floats) e->scratch_floats = b->floats;
    return XAI_OK;
}

/* Decide, for each node input, whether the backward pass writes or adds its gradient. */
static int plan_accumulation(xai_engine *e)
{
    const xai_graph *g = e->graph;
    char *written = xai_calloc((size_t)g->n_values, 1);
    if (!written) return XAI_ERR;
    for (int i = g->n_nodes - 1; i >= 0; i--)
        for (int k = 0; k < g->nodes[i].n_inputs; k++) {
            int v = g->nodes[i].input[k];
            e->exec[i].accumulate[k] = written[v];
            written[v] = 1;
        }
    free(written);
    return XAI_OK;
}

static int append_kernels(xai_engine *e)
{
    size_t size = 1, used = 0;
    for (int i = 0; i < e->graph->n_nodes; i++)
        if (e->exec[i].impl[0]) size += strlen(e->graph->nodes[i].name) + strlen(e->exec[i].impl[0]) +
                                        strlen(e->exec[i].impl[1]) + 64;
    if (!(e->kernels = xai_malloc(size))) return XAI_ERR;
    e->kernels[0] = '\0';
    for (int i = 0; i < e->graph->n_nodes; i++)
        if (e->exec[i].impl[0])
            used += (size_t)snprintf(e->kernels + used, size - used,
                                     "%s: forward %s, backward-data %s\n",
                                     e->graph->nodes[i].name, e->exec[i].impl[0], e->exec[i].impl[1]);
    return XAI_OK;
}

static int setup(xai_engine *e)
{
    const xai_graph *g = e->graph;
    CHECK(dnnl_engine_create(&e->dnnl, dnnl_cpu, 0), "CPU engine");
    CHECK(dnnl_stream_create(&e->stream, e->dnnl, dnnl_stream_default_flags), "stream");
    e->values = xai_calloc((size_t)g->n_values, sizeof *e->values);
    e->exec = xai_calloc((size_t)g->n_nodes, sizeof *e->exec);
    if (!e->values || !e->exec || plan_accumulation(e)) return XAI_ERR;

    /* Forward order: each node's output layout follows from its inputs. */
    if (plain_md(&e->values[g->input].md, &g->values[g->input], e->batch) ||
        allocate_value(e, g->input))
        return XAI_ERR;
    for (int i = 0; i < g->n_nodes; i++) {
        const xai_node *n = &g->nodes[i];
        const xai_value *out = &g->values[n->output];
        value_buffer *in = &e->values[n->input[0]], *ob = &e->values[n->output];
        dnnl_dims_t out_dims = {e->batch, out->c, out->h, out->w};
        if ((n->op == XAI_OP_CONV || n->op == XAI_OP_GEMM) && !n->weight)
            return xai_fail("%s: node '%s': the graph's weights were freed", g->path, n->name);
        switch (n->op) {
        case XAI_OP_CONV:
            if (create_conv(e, i, &ob->md)) return XAI_ERR;
            break;
        case XAI_OP_RELU:
        case XAI_OP_CLIP:
        case XAI_OP_ADD:
            ob->md = in->md;
            e->exec[i].skip_forward = i > 0 && e->exec[i - 1].fused_activation;
            break;
        case XAI_OP_MAXPOOL:
        case XAI_OP_AVGPOOL:
            if (md_like(&ob->md, &in->md, &in->lay, out_dims)) return XAI_ERR;
            break;
        case XAI_OP_GLOBALAVGPOOL:
        case XAI_OP_FLATTEN:
        case XAI_OP_GEMM:
            if (plain_md(&ob->md, out, e->batch)) return XAI_ERR;
            break;
        case XAI_OP_BATCHNORM:
            return xai_fail("%s: node '%s': BatchNormalization must be folded before the fast "
                            "engine runs", g->path, n->name);
        }
        if (allocate_value(e, n->output)) return XAI_ERR;
        node_exec *x = &e->exec[i];
        if (n->op == XAI_OP_MAXPOOL) {
            if (ob->floats > INT32_MAX || in->floats > INT32_MAX)
                return xai_fail("%s: node '%s': batch too large for the max-pool index", g->path, n->name);
            if (!(x->argmax = xai_calloc(ob->floats, sizeof(int32_t)))) return XAI_ERR;
        }
        if (n->op == XAI_OP_ADD && !dnnl_memory_desc_equal(&e->values[n->input[1]].md, &in->md)) {
            if (memory(e, &x->add_rhs.dst, &in->md, NULL) ||
                make_reorder(e, &x->add_rhs, e->values[n->input[1]].data_mem, x->add_rhs.dst, 0))
                return XAI_ERR;
        }
        if (n->op == XAI_OP_GEMM) {
            size_t count = (size_t)n->in_channels * n->out_channels;
            if (!(x->weight = xai_malloc(count * sizeof(float))) ||
                !(x->weight_t = xai_malloc(count * sizeof(float))))
                return XAI_ERR;
            memcpy(x->weight, n->weight, count * sizeof(float));
            if (e->consumed) {
                free(e->consumed->nodes[i].weight);
                e->consumed->nodes[i].weight = NULL;
            }
            for (int o = 0; o < n->out_channels; o++)
                for (int k = 0; k < n->in_channels; k++)
                    x->weight_t[(size_t)k * n->out_channels + o] = x->weight[(size_t)o * n->in_channels + k];
        }
    }
    /* Backward bindings now that every gradient memory exists. */
    for (int i = 0; i < g->n_nodes; i++) {
        const xai_node *n = &g->nodes[i];
        node_exec *x = &e->exec[i];
        if (n->op == XAI_OP_CONV && bind_conv_gradients(e, i)) return XAI_ERR;
        if (n->op == XAI_OP_FLATTEN) {
            /* The flattened value is the input's NCHW order: view it as such. */
            dnnl_memory_desc_t view;
            const xai_value *in = &g->values[n->input[0]];
            if (plain_md(&view, in, e->batch) ||
                memory(e, &x->flatten_forward.dst, &view, e->values[n->output].data) ||
                memory(e, &x->flatten_backward.src, &view, e->values[n->output].grad))
                return XAI_ERR;
            if (make_reorder(e, &x->flatten_forward, e->values[n->input[0]].data_mem, x->flatten_forward.dst, 0) ||
                make_reorder(e, &x->flatten_backward, x->flatten_backward.src, e->values[n->input[0]].grad_mem,
                             x->accumulate[0]))
                return XAI_ERR;
        }
    }
    value_buffer *out = &e->values[g->output];
    dnnl_memory_desc_t plain;
    if (plain_md(&plain, &g->values[g->output], e->batch)) return XAI_ERR;
    if (!dnnl_memory_desc_equal(&plain, &out->md)) {
        if (!(e->output_plain = xai_calloc(out->floats, sizeof(float))) ||
            memory(e, &e->output_plain_mem, &plain, e->output_plain) ||
            make_reorder(e, &e->output_reorder, out->data_mem, e->output_plain_mem, 0) ||
            make_reorder(e, &e->output_seed_reorder, e->output_plain_mem, out->grad_mem, 0))
            return XAI_ERR;
    }
    if (!(e->scratch = xai_aligned_alloc(64, (e->scratch_floats * sizeof(float) + 63) / 64 * 64)))
        return xai_fail("out of memory for the scratch buffer");
    return append_kernels(e);
}

/* The engine's threads are its own: each call sets the calling thread's OpenMP team size (which
 * oneDNN's primitives and the kernels above both read) to the engine's for its duration and
 * gives the caller's back, so engines of different sizes in one process, used in turn or from
 * threads of their own, do not change each other's or the caller's. */
static int enter(const xai_engine *e)
{
    int caller = omp_get_max_threads();
    omp_set_num_threads(e->threads);
    return caller;
}

static int create(xai_engine **out, const xai_graph *graph, xai_graph *consumed, int batch,
                  int threads)
{
    *out = NULL;
    if (batch < 1 || batch > 4096) return xai_fail("batch %d outside 1..4096", batch);
    xai_engine *e = xai_calloc(1, sizeof *e);
    if (!e) return XAI_ERR;
    e->graph = graph;
    e->consumed = consumed;
    e->batch = batch;
    e->threads = threads > 0 ? threads : omp_get_max_threads();
    int caller = enter(e); /* oneDNN sizes its kernels for the threads at creation */
    int status = setup(e);
    omp_set_num_threads(caller);
    if (status) {
        xai_engine_destroy(e);
        return XAI_ERR;
    }
    *out = e;
    return XAI_OK;
}

int xai_engine_create(xai_engine **out, const xai_graph *graph, int batch, int threads)
{
    return create(out, graph, NULL, batch, threads);
}

int xai_engine_create_consuming(xai_engine **out, xai_graph *graph, int batch, int threads)
{
    return create(out, graph, graph, batch, threads);
}

int xai_engine_batch(const xai_engine *e) { return e->batch; }

void xai_engine_set_profiling(xai_engine *e, int on)
{
    if (on && !e->node_ms) e->node_ms = xai_calloc(2 * (size_t)e->graph->n_nodes, sizeof *e->node_ms);
    e->profiling = on && e->node_ms;
}

void xai_engine_node_time(const xai_engine *e, int i, double *forward_ms, double *backward_ms)
{
    *forward_ms = e->node_ms ? e->node_ms[i] : 0.0;
    *backward_ms = e->node_ms ? e->node_ms[e->graph->n_nodes + i] : 0.0;
}

int xai_engine_classes(const xai_engine *e) { return xai_graph_outputs(e->graph); }

const char *xai_engine_kernels(const xai_engine *e) { return e->kernels; }

/* ---- our kernels --------------------------------------------------------------------------- */

/* y = clamp(x, lo, hi) over the whole buffer (padding lanes are zero and stay zero for ReLU). */
static void activation_forward(const float *restrict x, float *restrict y, size_t n, float lo, float hi)
{
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) { /* comparisons, not fminf/fmaxf: those are libm calls here */
        float v = x[i] > lo ? x[i] : lo;
        y[i] = v < hi ? v : hi;
    }
}

/* dst = src, or dst = 0 when src is NULL; split over the threads like the other loops. */
static void copy_buffer(float *restrict dst, const float *restrict src, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) dst[i] = src ? src[i] : 0.f;
}

/* dst = a + b, or dst += a when b is NULL. */
static void add_buffers(float *restrict dst, const float *restrict a, const float *restrict b, size_t n)
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
static void maxpool_forward(const xai_node *m, const xai_value *in, const xai_value *out,
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
                        int ih = p * m->stride_h - m->pad_top + kh;
                        if (ih < 0 || ih >= in->h) continue;
                        for (int kw = 0; kw < m->kernel_w; kw++) {
                            int iw = q * m->stride_w - m->pad_left + kw;
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
static void maxpool_backward(const xai_value *in, const xai_value *out, value_buffer *x,
                             const value_buffer *y, const int32_t *argmax, int batch, int accumulate)
{
    const layout *lo = &y->lay;
    int block = lo->block, blocks = (in->c + block - 1) / block;
    if (!accumulate) copy_buffer(x->grad, NULL, x->floats);
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
 * positions inside the input, or the whole window with count_include_pad. */
static void avgpool(const xai_node *m, const xai_value *in, const xai_value *out,
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
                    h0 = h0 < 0 ? 0 : h0, w0 = w0 < 0 ? 0 : w0;
                    h1 = h1 > in->h ? in->h : h1, w1 = w1 > in->w ? in->w : w1;
                    float count = m->count_include_pad ? (float)(m->kernel_h * m->kernel_w)
                                                       : (float)((h1 - h0) * (w1 - w0));
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
static void global_avgpool(const xai_value *in, value_buffer *x, value_buffer *y, int batch,
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

/* y[n,o] = b[o] + sum_k W[o,k] x[n,k] */
static void gemm_forward(const xai_node *g, const float *weight, const float *x, float *y, int batch)
{
    int K = g->in_channels, M = g->out_channels;
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < batch; n++)
        for (int o = 0; o < M; o++) {
            const float *w = weight + (size_t)o * K, *xr = x + (size_t)n * K;
            float sum = 0.f;
#pragma omp simd reduction(+ : sum)
            for (int k = 0; k < K; k++) sum += w[k] * xr[k];
            y[(size_t)n * M + o] = sum + g->bias[o];
        }
}

/* dx[n,k] (+)= sum_o W[o,k] dy[n,o], with W transposed to [k][o] at set-up */
static void gemm_backward(const xai_node *g, const float *weight_t, const float *dy, float *dx,
                          int batch, int accumulate)
{
    int K = g->in_channels, M = g->out_channels;
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < batch; n++)
        for (int k = 0; k < K; k++) {
            const float *w = weight_t + (size_t)k * M, *d = dy + (size_t)n * M;
            float sum = 0.f;
#pragma omp simd reduction(+ : sum)
            for (int o = 0; o < M; o++) sum += w[o] * d[o];
            dx[(size_t)n * K + k] = accumulate ? dx[(size_t)n * K + k] + sum : sum;
        }
}

/* ---- passes -------------------------------------------------------------------------------- */

static int forward(xai_engine *e, const float *input, float *logits)
{
    const xai_graph *g = e->graph;
    value_buffer *in = &e->values[g->input];
    memcpy(in->data, input, in->floats * sizeof(float));
    for (int i = 0; i < g->n_nodes; i++) {
        const xai_node *n = &g->nodes[i];
        node_exec *x = &e->exec[i];
        value_buffer *a = &e->values[n->input[0]], *y = &e->values[n->output];
        if (x->skip_forward) continue;
        double started = e->profiling ? omp_get_wtime() : 0.0;
        switch (n->op) {
        case XAI_OP_CONV: {
            if (x->src_reorder.prim && run_reorder(e, &x->src_reorder)) return XAI_ERR;
            /* A fused activation writes its own output value; the pre-activation value is
             * never materialized (its gradient still is). */
            dnnl_memory_t dst = x->fused_activation ? e->values[g->nodes[i + 1].output].data_mem
                                                    : y->data_mem;
            dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, x->src}, {DNNL_ARG_WEIGHTS, x->weight_forward},
                                       {DNNL_ARG_BIAS, x->bias}, {DNNL_ARG_DST, dst}};
            CHECK(dnnl_primitive_execute(x->forward, e->stream, 4, args), n->name);
            break;
        }
        case XAI_OP_RELU:
        case XAI_OP_CLIP:
            activation_forward(a->data, y->data, a->floats, n->clip_min, n->clip_max);
            break;
        case XAI_OP_ADD: {
            const float *b = e->values[n->input[1]].data;
            if (x->add_rhs.prim) {
                if (run_reorder(e, &x->add_rhs)) return XAI_ERR;
                CHECK(dnnl_stream_wait(e->stream), n->name);
                CHECK(dnnl_memory_get_data_handle(x->add_rhs.dst, (void **)&b), n->name);
            }
            add_buffers(y->data, a->data, b, y->floats);
            break;
        }
        case XAI_OP_MAXPOOL:
            maxpool_forward(n, &g->values[n->input[0]], &g->values[n->output], a, y, x->argmax, e->batch);
            break;
        case XAI_OP_AVGPOOL:
            avgpool(n, &g->values[n->input[0]], &g->values[n->output], a, y, e->batch, 0, 0);
            break;
        case XAI_OP_GLOBALAVGPOOL:
            global_avgpool(&g->values[n->input[0]], a, y, e->batch, 0, 0);
            break;
        case XAI_OP_FLATTEN:
            if (run_reorder(e, &x->flatten_forward)) return XAI_ERR;
            break;
        case XAI_OP_GEMM:
            gemm_forward(n, x->weight, a->data, y->data, e->batch);
            break;
        case XAI_OP_BATCHNORM:
            return xai_fail("%s: BatchNormalization left in the graph", g->path);
        }
        CHECK(dnnl_stream_wait(e->stream), n->name);
        if (e->profiling) e->node_ms[i] += (omp_get_wtime() - started) * 1e3;
    }
    if (logits) {
        const value_buffer *out = &e->values[g->output];
        if (e->output_reorder.prim) {
            if (run_reorder(e, &e->output_reorder)) return XAI_ERR;
            CHECK(dnnl_stream_wait(e->stream), "output reorder");
        }
        memcpy(logits, e->output_reorder.prim ? e->output_plain : out->data,
               (size_t)e->batch * xai_graph_outputs(g) * sizeof(float));
    }
    e->forward_done = 1;
    return XAI_OK;
}

/* Deliver an activation's gradient rule(y, dy) into the input's gradient. */
static void activation_backward(xai_engine *e, const xai_method *m, const xai_node *n, int accumulate)
{
    value_buffer *a = &e->values[n->input[0]], *y = &e->values[n->output];
    float *dx = accumulate ? e->scratch : a->grad;
    const xai_method *rule = n->plain_gradient ? &xai_method_saliency : m; /* the true gradient */
    rule->activation_backward(y->data, y->grad, dx, y->floats, n->clip_min, n->clip_max);
    if (accumulate) add_buffers(a->grad, e->scratch, NULL, a->floats);
}

static int backward(xai_engine *e, const xai_method *method, const int *targets, float *map)
{
    const xai_graph *g = e->graph;
    if (!e->forward_done) return xai_fail("engine: backward before forward");
    int classes = xai_graph_outputs(g);
    for (int n = 0; n < e->batch; n++)
        if (targets[n] < 0 || targets[n] >= classes)
            return xai_fail("target class %d outside 0..%d", targets[n], classes - 1);
    /* The one-hot seed, in NCHW order, then in the output's own layout. */
    value_buffer *out = &e->values[g->output];
    float *seed = e->output_reorder.prim ? e->output_plain : out->grad;
    memset(seed, 0, (size_t)e->batch * classes * sizeof(float));
    for (int n = 0; n < e->batch; n++) seed[(size_t)n * classes + targets[n]] = 1.f;
    if (e->output_reorder.prim && run_reorder(e, &e->output_seed_reorder)) return XAI_ERR;

    for (int i = g->n_nodes - 1; i >= 0; i--) {
        const xai_node *n = &g->nodes[i];
        node_exec *x = &e->exec[i];
        value_buffer *a = &e->values[n->input[0]], *y = &e->values[n->output];
        double started = e->profiling ? omp_get_wtime() : 0.0;
        switch (n->op) {
        case XAI_OP_CONV: {
            if (x->diff_dst_reorder.prim && run_reorder(e, &x->diff_dst_reorder)) return XAI_ERR;
            dnnl_exec_arg_t args[3] = {{DNNL_ARG_DIFF_DST, x->diff_dst},
                                       {DNNL_ARG_WEIGHTS, x->weight_backward},
                                       {DNNL_ARG_DIFF_SRC, x->diff_src}};
            CHECK(dnnl_primitive_execute(x->backward, e->stream, 3, args), n->name);
            if (x->diff_src_reorder.prim && run_reorder(e, &x->diff_src_reorder)) return XAI_ERR;
            break;
        }
        case XAI_OP_RELU:
        case XAI_OP_CLIP:
            activation_backward(e, method, n, x->accumulate[0]);
            break;
        case XAI_OP_ADD:
            for (int k = 0; k < 2; k++) {
                value_buffer *b = &e->values[n->input[k]];
                if (!dnnl_memory_desc_equal(&b->md, &y->md))
                    return xai_fail("%s: node '%s': Add inputs in different layouts are not "
                                    "supported in the backward pass", g->path, n->name);
                if (x->accumulate[k]) add_buffers(b->grad, y->grad, NULL, y->floats);
                else copy_buffer(b->grad, y->grad, y->floats);
            }
            break;
        case XAI_OP_MAXPOOL:
            maxpool_backward(&g->values[n->input[0]], &g->values[n->output], a, y, x->argmax,
                             e->batch, x->accumulate[0]);
            break;
        case XAI_OP_AVGPOOL:
            avgpool(n, &g->values[n->input[0]], &g->values[n->output], a, y, e->batch, 1, x->accumulate[0]);
            break;
        case XAI_OP_GLOBALAVGPOOL:
            global_avgpool(&g->values[n->input[0]], a, y, e->batch, 1, x->accumulate[0]);
            break;
        case XAI_OP_FLATTEN:
            if (run_reorder(e, &x->flatten_backward)) return XAI_ERR;
            break;
        case XAI_OP_GEMM:
            gemm_backward(n, x->weight_t, y->grad, a->grad, e->batch, x->accumulate[0]);
            break;
        case XAI_OP_BATCHNORM:
            return xai_fail("%s: BatchNormalization left in the graph", g->path);
        }
        CHECK(dnnl_stream_wait(e->stream), n->name);
        if (e->profiling) e->node_ms[g->n_nodes + i] += (omp_get_wtime() - started) * 1e3;
    }
    const value_buffer *in = &e->values[g->input];
    memcpy(map, in->grad, in->floats * sizeof(float));
    return XAI_OK;
}

int xai_engine_forward(xai_engine *e, const float *input, float *logits)
{
    int caller = enter(e), status = forward(e, input, logits);
    omp_set_num_threads(caller);
    return status;
}

int xai_engine_backward(xai_engine *e, const xai_method *method, const int *targets, float *map)
{
    int caller = enter(e), status = backward(e, method, targets, map);
    omp_set_num_threads(caller);
    return status;
}
