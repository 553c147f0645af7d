/* dnnl_conv.c - the engine's convolutions (dnnl_internal.h): oneDNN forward and backward-data
 * primitives with layouts left to oneDNN (format_tag_any), weights reordered once per direction,
 * a ReLU or Clip right after the Conv run as its eltwise post-op. The conv reads its input's
 * memory directly when the layout agrees, and writes its input gradient straight into the
 * value's when nothing else is there yet; otherwise through memories and reorders of its own. */
#include <stdlib.h>
#include <string.h>

#include "dnnl_internal.h"

/* Is node i a Conv whose output feeds only the activation at i + 1, and need not be read? */
static int activation_fuses(const xai_engine *e, int i)
{
    const xai_graph *g = e->graph;
    if (i + 1 >= g->n_nodes || g->nodes[i].op != XAI_OP_CONV) return 0;
    if (e->readable && e->readable[g->nodes[i].output]) return 0;
    const xai_node *next = &g->nodes[i + 1];
    if ((next->op != XAI_OP_RELU && next->op != XAI_OP_CLIP) ||
        next->input[0] != g->nodes[i].output || g->nodes[i].output == g->output)
        return 0;
    int readers = 0;
    for (int k = 0; k < g->n_nodes; k++)
        for (int j = 0; j < g->nodes[k].n_inputs; j++) readers += g->nodes[k].input[j] == next->input[0];
    return readers == 1;
}

/* The descriptors of one convolution: forward (training, so that backward-data can follow it)
 * and backward-data, over layouts of oneDNN's choice; the weights as ONNX stores them. */
typedef struct {
    dnnl_convolution_desc_t forward, backward;
    dnnl_memory_desc_t weight_user, bias;
} conv_descs;

static int describe_conv(const xai_engine *e, const xai_node *c, conv_descs *d)
{
    const xai_graph *g = e->graph;
    const xai_value *in = &g->values[c->input[0]], *out = &g->values[c->output];
    dnnl_dims_t src_dims = {e->batch, in->c, in->h, in->w};
    dnnl_dims_t dst_dims = {e->batch, out->c, out->h, out->w};
    dnnl_dims_t w_dims = {c->out_channels, c->in_channels, c->kernel_h, c->kernel_w};
    dnnl_dims_t gw_dims = {c->group, c->out_channels / c->group, c->in_channels / c->group, c->kernel_h, c->kernel_w};
    dnnl_dims_t b_dims = {c->out_channels};
    dnnl_dims_t strides = {c->stride_h, c->stride_w};
    dnnl_dims_t dilates = {c->dilation_h - 1, c->dilation_w - 1};
    dnnl_dims_t pad_l = {c->pad_top, c->pad_left}, pad_r = {c->pad_bottom, c->pad_right};
    int grouped = c->group > 1;
    dnnl_memory_desc_t src_any, w_any, dst_any;
    CHECK(dnnl_memory_desc_init_by_tag(&src_any, 4, src_dims, dnnl_f32, dnnl_format_tag_any), "md");
    CHECK(dnnl_memory_desc_init_by_tag(&dst_any, 4, dst_dims, dnnl_f32, dnnl_format_tag_any), "md");
    CHECK(dnnl_memory_desc_init_by_tag(&w_any, grouped ? 5 : 4, grouped ? gw_dims : w_dims, dnnl_f32,
                                       dnnl_format_tag_any), "md");
    CHECK(dnnl_memory_desc_init_by_tag(&d->weight_user, grouped ? 5 : 4, grouped ? gw_dims : w_dims, dnnl_f32,
                                       grouped ? dnnl_goihw : dnnl_oihw), "md");
    CHECK(dnnl_memory_desc_init_by_tag(&d->bias, 1, b_dims, dnnl_f32, dnnl_x), "md");
    CHECK(dnnl_dilated_convolution_forward_desc_init(&d->forward, dnnl_forward_training, dnnl_convolution_direct,
                                                     &src_any, &w_any, &d->bias, &dst_any, strides, dilates, pad_l,
                                                     pad_r), "convolution forward");
    CHECK(dnnl_dilated_convolution_backward_data_desc_init(&d->backward, dnnl_convolution_direct, &src_any, &w_any,
                                                           &dst_any, strides, dilates, pad_l, pad_r),
          "convolution backward-data");
    return XAI_OK;
}

/* The primitive descriptors: oneDNN picks the kernels and layouts here. With a fused activation
 * (the node after, a ReLU or Clip) the forward carries it as an eltwise post-op. Scratchpads are
 * the engine's own (user mode): oneDNN's library-managed one is shared by every primitive of a
 * thread, which two engines run from two threads must not share. */
static int choose_kernels(xai_engine *e, int i, const conv_descs *d, dnnl_primitive_desc_t *fpd,
                          dnnl_primitive_desc_t *bpd)
{
    const xai_graph *g = e->graph;
    dnnl_primitive_attr_t attr = NULL, plain = NULL;
    dnnl_post_ops_t ops = NULL;
    dnnl_status_t s = dnnl_primitive_attr_create(&attr);
    if (s == dnnl_success) s = dnnl_primitive_attr_create(&plain);
    if (s == dnnl_success) s = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (s == dnnl_success) s = dnnl_primitive_attr_set_scratchpad_mode(plain, dnnl_scratchpad_mode_user);
    e->exec[i].fused_activation = activation_fuses(e, i);
    if (s == dnnl_success && e->exec[i].fused_activation) {
        const xai_node *act = &g->nodes[i + 1];
        s = dnnl_post_ops_create(&ops);
        if (s == dnnl_success)
            s = act->op == XAI_OP_RELU
                    ? dnnl_post_ops_append_eltwise(ops, 1.f, dnnl_eltwise_relu, 0.f, 0.f)
                    : dnnl_post_ops_append_eltwise(ops, 1.f, dnnl_eltwise_clip_v2, act->clip_min, act->clip_max);
        if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(attr, ops);
    }
    if (s == dnnl_success) s = dnnl_primitive_desc_create(fpd, &d->forward, attr, e->dnnl, NULL);
    if (s == dnnl_success && dnnl_primitive_desc_create(bpd, &d->backward, plain, e->dnnl, *fpd) != dnnl_success) {
        dnnl_primitive_desc_destroy(*fpd);
        *fpd = NULL;
        s = dnnl_runtime_error;
    }
    if (ops) dnnl_post_ops_destroy(ops);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (plain) dnnl_primitive_attr_destroy(plain);
    CHECK(s, "convolution descriptors");
    node_exec *x = &e->exec[i];
    x->scratch_md[0] = *dnnl_primitive_desc_query_md(*fpd, dnnl_query_scratchpad_md, 0);
    if (!x->gemm_backward) x->scratch_md[1] = *dnnl_primitive_desc_query_md(*bpd, dnnl_query_scratchpad_md, 0);
    for (int k = 0; k < 2; k++) {
        size_t bytes = dnnl_memory_desc_get_size(&x->scratch_md[k]);
        if (bytes > e->scratchpad_bytes) e->scratchpad_bytes = bytes;
    }
    return XAI_OK;
}

/* The weights at `handle`, laid out as md, reordered into memory dst (of this engine). */
static int reorder_into(xai_engine *e, int i, const dnnl_memory_desc_t *md, void *handle, dnnl_memory_t dst)
{
    dnnl_memory_t from = NULL;
    reorder r = {0};
    int status = engine_memory(e, &from, md, handle);
    if (!status) status = engine_make_reorder(e, &r, from, dst, 0);
    if (!status) status = engine_run_reorder(e, &r);
    if (!status && dnnl_stream_wait(e->stream) != dnnl_success)
        status = xai_fail("oneDNN: weight reorder of convolution '%s' failed", e->graph->nodes[i].name);
    engine_destroy_reorder(&r);
    if (from) dnnl_memory_destroy(from);
    return status;
}

/* The graph's weights (ONNX's layout, d->weight_user) reordered into the forward's and the
 * backward's memories (weight_backward NULL: no backward primitive), and copied for our own
 * backward-data. */
static int load_weights(xai_engine *e, int i, const conv_descs *d)
{
    const xai_node *c = &e->graph->nodes[i];
    node_exec *x = &e->exec[i];
    int status = reorder_into(e, i, &d->weight_user, c->weight, x->weight_forward);
    if (!status && x->weight_backward) status = reorder_into(e, i, &d->weight_user, c->weight, x->weight_backward);
    if (!status && x->gemm_backward) engine_conv_gemm_load_weights(e, i);
    return status;
}

/* Direction k's (0 forward, 1 backward) weight memory of layout md: weights_from's own when
 * its layout is this one (shared), else a new one. */
static int weight_memory(xai_engine *e, int i, int k, const dnnl_memory_desc_t *md)
{
    node_exec *x = &e->exec[i];
    dnnl_memory_t *mine = k ? &x->weight_backward : &x->weight_forward;
    dnnl_memory_t theirs = e->weights_from ? (k ? e->weights_from->exec[i].weight_backward
                                                : e->weights_from->exec[i].weight_forward)
                                           : NULL;
    const dnnl_memory_desc_t *their_md = NULL;
    void *handle = NULL;
    if (theirs && dnnl_memory_get_memory_desc(theirs, &their_md) == dnnl_success &&
        dnnl_memory_desc_equal(their_md, md) && dnnl_memory_get_data_handle(theirs, &handle) == dnnl_success) {
        x->shared_weight[k] = 1;
        return engine_memory(e, mine, md, handle);
    }
    return engine_memory(e, mine, md, NULL);
}

/* The weights that are not shared, reordered from weights_from's layouts into this engine's
 * (weights_from has every memory this one has: the same graph). */
static int copy_weights_from(xai_engine *e, int i)
{
    const node_exec *theirs = &e->weights_from->exec[i];
    node_exec *x = &e->exec[i];
    int status = XAI_OK;
    for (int k = 0; k < 2 && status == XAI_OK; k++) {
        dnnl_memory_t mine = k ? x->weight_backward : x->weight_forward;
        dnnl_memory_t source = k ? theirs->weight_backward : theirs->weight_forward;
        if (!mine || x->shared_weight[k]) continue;
        const dnnl_memory_desc_t *md = NULL;
        void *handle = NULL;
        if (!source || dnnl_memory_get_memory_desc(source, &md) != dnnl_success ||
            dnnl_memory_get_data_handle(source, &handle) != dnnl_success)
            status = xai_fail("oneDNN: weights of convolution '%s' unreadable", e->graph->nodes[i].name);
        if (!status) status = reorder_into(e, i, md, handle, mine); /* their memory, read on this engine */
    }
    return status;
}

/* The weights in the forward's and the backward's layouts (backward_weights_md NULL: no backward
 * primitive), reordered once from ONNX's (or taken from weights_from); the graph's copy is freed
 * when the engine consumes it. The bias memory reads the graph's bias in place. */
static int place_weights(xai_engine *e, int i, const conv_descs *d, const dnnl_memory_desc_t *forward_md,
                         const dnnl_memory_desc_t *backward_weights_md)
{
    const xai_node *c = &e->graph->nodes[i];
    node_exec *x = &e->exec[i];
    int status = weight_memory(e, i, 0, forward_md);
    if (!status && backward_weights_md) status = weight_memory(e, i, 1, backward_weights_md);
    if (!status) status = engine_memory(e, &x->bias, &d->bias, c->bias);
    if (!status) status = e->weights_from ? copy_weights_from(e, i) : load_weights(e, i, d);
    if (!status && e->consumed) {
        free(e->consumed->nodes[i].weight);
        e->consumed->nodes[i].weight = NULL;
    }
    return status;
}

int engine_conv_reload_weights(xai_engine *e, int i)
{
    if (e->weights_from) return copy_weights_from(e, i);
    conv_descs d;
    if (describe_conv(e, &e->graph->nodes[i], &d)) return XAI_ERR;
    return load_weights(e, i, &d);
}

/* The memories between the conv and its neighbours' layouts. */
static int meet_layouts(xai_engine *e, int i, const_dnnl_primitive_desc_t fpd, const_dnnl_primitive_desc_t bpd)
{
    const xai_node *c = &e->graph->nodes[i];
    node_exec *x = &e->exec[i];
    value_buffer *src = &e->values[c->input[0]];
    const dnnl_memory_desc_t *f_src = dnnl_primitive_desc_query_md(fpd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *f_dst = dnnl_primitive_desc_query_md(fpd, dnnl_query_dst_md, 0);
    const dnnl_memory_desc_t *b_dsrc = dnnl_primitive_desc_query_md(bpd, dnnl_query_diff_src_md, 0);
    const dnnl_memory_desc_t *b_ddst = dnnl_primitive_desc_query_md(bpd, dnnl_query_diff_dst_md, 0);
    int status = XAI_OK;
    /* Input side: read the producer's layout directly when it is the one chosen. */
    if (dnnl_memory_desc_equal(f_src, &src->md)) x->src = src->data_mem;
    else if (!(status = engine_memory(e, &x->src, f_src, NULL)))
        status = engine_make_reorder(e, &x->src_reorder, src->data_mem, x->src, 0);
    if (x->gemm_backward) return status; /* it reads and writes the values' gradients as they are */
    /* Output gradient: the value's layout is f_dst; the backward may want another. */
    if (!status && !dnnl_memory_desc_equal(b_ddst, f_dst)) status = engine_memory(e, &x->diff_dst, b_ddst, NULL);
    /* Input gradient: written straight into the input's gradient when the layouts agree and
     * nothing is there yet, else into a buffer of our own and reordered (and summed) across. */
    if (!status && (x->accumulate[0] || !dnnl_memory_desc_equal(b_dsrc, &src->md)))
        status = engine_memory(e, &x->diff_src, b_dsrc, NULL);
    return status;
}

int engine_conv_create(xai_engine *e, int i, dnnl_memory_desc_t *out_md)
{
    const xai_node *c = &e->graph->nodes[i];
    node_exec *x = &e->exec[i];
    conv_descs d;
    dnnl_primitive_desc_t fpd = NULL, bpd = NULL;
    x->gemm_backward = engine_conv_gemm_fits(e, i);
    if (describe_conv(e, c, &d) || choose_kernels(e, i, &d, &fpd, &bpd)) return XAI_ERR;
    x->impl[0] = engine_impl_name(fpd);
    x->impl[1] = x->gemm_backward ? "xaibench:tiled_gemm_col2im" : engine_impl_name(bpd);
    *out_md = *dnnl_primitive_desc_query_md(fpd, dnnl_query_dst_md, 0);
    int status = x->gemm_backward ? engine_conv_gemm_plan(e, i) : XAI_OK;
    if (!status)
        status = place_weights(e, i, &d, dnnl_primitive_desc_query_md(fpd, dnnl_query_weights_md, 0),
                               x->gemm_backward ? NULL : dnnl_primitive_desc_query_md(bpd, dnnl_query_weights_md, 0));
    if (!status) status = meet_layouts(e, i, fpd, bpd);
    if (!status && dnnl_primitive_create(&x->forward, fpd) != dnnl_success) x->forward = NULL;
    if (!status && x->forward && !x->gemm_backward && dnnl_primitive_create(&x->backward, bpd) != dnnl_success)
        x->backward = NULL;
    if (!status && !(x->forward && (x->backward || x->gemm_backward)))
        status = xai_fail("oneDNN: cannot create convolution '%s'", c->name);
    dnnl_primitive_desc_destroy(fpd);
    dnnl_primitive_desc_destroy(bpd);
    return status;
}

int engine_conv_bind_gradients(xai_engine *e, int i)
{
    const xai_node *c = &e->graph->nodes[i];
    node_exec *x = &e->exec[i];
    /* Both passes' scratchpads over the engine's one buffer (its passes run one primitive at a time). */
    if (engine_bind_scratchpads(e, i)) return XAI_ERR;
    if (x->gemm_backward) return XAI_OK;
    /* With a fused activation, the gradient that reaches this conv is that of its own output
     * value (the pre-activation one), written by the activation's rule. */
    value_buffer *out = &e->values[c->output];
    if (x->diff_dst && engine_make_reorder(e, &x->diff_dst_reorder, out->grad_mem, x->diff_dst, 0)) return XAI_ERR;
    if (!x->diff_dst) x->diff_dst = out->grad_mem;
    value_buffer *in = &e->values[c->input[0]];
    if (x->diff_src) return engine_make_reorder(e, &x->diff_src_reorder, x->diff_src, in->grad_mem, x->accumulate[0]);
    x->diff_src = in->grad_mem;
    return XAI_OK;
}

/* y = W * x + b (and the fused activation): a fused activation writes its own output value; the
 * pre-activation value is never materialized (its gradient still is). */
int engine_conv_forward(xai_engine *e, int i)
{
    const xai_graph *g = e->graph;
    const xai_node *n = &g->nodes[i];
    node_exec *x = &e->exec[i];
    if (x->src_reorder.prim && engine_run_reorder(e, &x->src_reorder)) return XAI_ERR;
    dnnl_memory_t dst = x->fused_activation ? e->values[g->nodes[i + 1].output].data_mem : e->values[n->output].data_mem;
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, x->src}, {DNNL_ARG_WEIGHTS, x->weight_forward},
                               {DNNL_ARG_BIAS, x->bias}, {DNNL_ARG_DST, dst}, {DNNL_ARG_SCRATCHPAD, x->scratch[0]}};
    CHECK(dnnl_primitive_execute(x->forward, e->stream, x->scratch[0] ? 5 : 4, args), n->name);
    return XAI_OK;
}

/* dx (+)= W^T * dy, the transposed convolution of the output gradient. */
int engine_conv_backward(xai_engine *e, int i)
{
    node_exec *x = &e->exec[i];
    if (x->gemm_backward) return engine_conv_gemm_backward(e, i);
    if (x->diff_dst_reorder.prim && engine_run_reorder(e, &x->diff_dst_reorder)) return XAI_ERR;
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_DIFF_DST, x->diff_dst}, {DNNL_ARG_WEIGHTS, x->weight_backward},
                               {DNNL_ARG_DIFF_SRC, x->diff_src}, {DNNL_ARG_SCRATCHPAD, x->scratch[1]}};
    CHECK(dnnl_primitive_execute(x->backward, e->stream, x->scratch[1] ? 4 : 3, args), e->graph->nodes[i].name);
    if (x->diff_src_reorder.prim && engine_run_reorder(e, &x->diff_src_reorder)) return XAI_ERR;
    return XAI_OK;
}

void engine_conv_destroy(xai_engine *e, int i)
{
    node_exec *x = &e->exec[i];
    const xai_node *n = &e->graph->nodes[i];
    if (x->forward) dnnl_primitive_destroy(x->forward);
    if (x->backward) dnnl_primitive_destroy(x->backward);
    if (x->weight_forward) dnnl_memory_destroy(x->weight_forward);
    if (x->weight_backward) dnnl_memory_destroy(x->weight_backward);
    if (x->bias) dnnl_memory_destroy(x->bias);
    for (int k = 0; k < 2; k++)
        if (x->scratch[k]) dnnl_memory_destroy(x->scratch[k]);
    /* Its own src, diff_dst and diff_src memories are those that are not the values' (it reads
     * and writes the values' memories directly where the layouts agree). */
    if (e->values) {
        if (x->src && x->src != e->values[n->input[0]].data_mem) dnnl_memory_destroy(x->src);
        if (x->diff_dst && x->diff_dst != e->values[n->output].grad_mem) dnnl_memory_destroy(x->diff_dst);
        if (x->diff_src && x->diff_src != e->values[n->input[0]].grad_mem) dnnl_memory_destroy(x->diff_src);
    }
    free(x->gemm_work);
    engine_destroy_reorder(&x->src_reorder);
    engine_destroy_reorder(&x->diff_dst_reorder);
    engine_destroy_reorder(&x->diff_src_reorder);
}
