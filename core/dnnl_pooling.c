/* dnnl_pooling.c - MaxPool and AveragePool on the oneDNN engine (dnnl_internal.h) as oneDNN's
 * pooling primitives, in the input's own layout (the output's is of the same kind):
 *   max      y = the window's largest element, padding never winning; the workspace keeps which
 *            one (the first in row-major window order on ties, as PyTorch); backward routes dy
 *            there;
 *   average  y = the window's sum over its positions inside the input (PyTorch's divisor when the
 *            padding is not counted), or over the whole window (counted); backward shares dy out.
 * Two forms run our loops (dnnl_kernels.c): an average that counts its padding with room that
 * ceil_mode added (padding on the right to oneDNN, which would count it; PyTorch does not), and
 * dilated pools (oneDNN's reference code only). Backward passes write the input's gradient, or, when another node wrote
 * it first, write into the engine's scratch and add it. */
#include "dnnl_internal.h"

enum { WORKSPACE, SCRATCH };

/* Does oneDNN compute node i as ONNX and PyTorch define it, with a kernel of its own (its
 * dilated pools are its reference code)? */
static int onednn_pools(const xai_node *n)
{
    if (n->dilation_h > 1 || n->dilation_w > 1) return 0;
    return n->op == XAI_OP_MAXPOOL || !n->count_include_pad || (!n->ceil_pad_bottom && !n->ceil_pad_right);
}

int engine_setup_pool(xai_engine *e, int i)
{
    const xai_node *n = &e->graph->nodes[i];
    node_exec *x = &e->exec[i];
    if (!onednn_pools(n)) return n->op == XAI_OP_MAXPOOL ? engine_setup_maxpool(e, i) : XAI_OK;
    value_buffer *in = &e->values[n->input[0]], *out = &e->values[n->output];
    dnnl_alg_kind_t alg = n->op == XAI_OP_MAXPOOL ? dnnl_pooling_max
                          : n->count_include_pad ? dnnl_pooling_avg_include_padding
                                                 : dnnl_pooling_avg_exclude_padding;
    dnnl_dims_t strides = {n->stride_h, n->stride_w}, kernel = {n->kernel_h, n->kernel_w};
    dnnl_dims_t dilation = {n->dilation_h - 1, n->dilation_w - 1}; /* oneDNN counts the gaps */
    dnnl_dims_t pad_l = {n->pad_top, n->pad_left}, pad_r = {n->pad_bottom, n->pad_right};
    dnnl_pooling_v2_desc_t forward, backward;
    CHECK(dnnl_pooling_v2_forward_desc_init(&forward, dnnl_forward_training, alg, &in->md, &out->md, strides, kernel,
                                            dilation, pad_l, pad_r), "pooling forward");
    CHECK(dnnl_pooling_v2_backward_desc_init(&backward, alg, &in->md, &out->md, strides, kernel, dilation, pad_l,
                                             pad_r), "pooling backward");
    dnnl_memory_desc_t workspace = {0};
    if (engine_forward_backward(e, i, &forward, &backward, &workspace, "pooling primitive")) return XAI_ERR;
    if (dnnl_memory_desc_get_size(&workspace) && engine_memory(e, &x->operand[WORKSPACE], &workspace, NULL))
        return XAI_ERR;
    /* a gradient that adds to another node's is written into the engine's scratch buffer first */
    if (!x->accumulate[0]) return XAI_OK;
    return engine_memory(e, &x->operand[SCRATCH], &in->md, e->scratch) ||
                   engine_make_reorder(e, &x->diff_src_reorder, x->operand[SCRATCH], in->grad_mem, 1)
               ? XAI_ERR
               : XAI_OK;
}

int kernel_pool_forward(xai_engine *e, int i)
{
    node_exec *x = &e->exec[i];
    if (!x->forward) return e->graph->nodes[i].op == XAI_OP_MAXPOOL ? kernel_maxpool_pass_forward(e, i)
                                                                    : kernel_avgpool_forward(e, i);
    const xai_node *n = &e->graph->nodes[i];
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, e->values[n->input[0]].data_mem},
                               {DNNL_ARG_DST, e->values[n->output].data_mem},
                               {DNNL_ARG_WORKSPACE, x->operand[WORKSPACE]}};
    CHECK(dnnl_primitive_execute(x->forward, e->stream, x->operand[WORKSPACE] ? 3 : 2, args), n->name);
    return XAI_OK;
}

int kernel_pool_backward(xai_engine *e, int i)
{
    node_exec *x = &e->exec[i];
    if (!x->forward) return e->graph->nodes[i].op == XAI_OP_MAXPOOL ? kernel_maxpool_pass_backward(e, i)
                                                                    : kernel_avgpool_backward(e, i);
    const xai_node *n = &e->graph->nodes[i];
    value_buffer *in = &e->values[n->input[0]];
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_DIFF_DST, e->values[n->output].grad_mem},
                               {DNNL_ARG_DIFF_SRC, x->accumulate[0] ? x->operand[SCRATCH] : in->grad_mem},
                               {DNNL_ARG_WORKSPACE, x->operand[WORKSPACE]}};
    CHECK(dnnl_primitive_execute(x->backward, e->stream, x->operand[WORKSPACE] ? 3 : 2, args), n->name);
    return x->diff_src_reorder.prim ? engine_run_reorder(e, &x->diff_src_reorder) : XAI_OK;
}
