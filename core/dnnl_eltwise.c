/* dnnl_eltwise.c - Sigmoid and Tanh on the oneDNN engine (dnnl_internal.h) as oneDNN's eltwise
 * primitives over the value's whole buffer, whatever its layout (an elementwise op does not care,
 * and a dense run of floats gets oneDNN's vectorized kernel where a blocked layout with padding
 * lanes would get its reference code):
 *   forward   y = 1 / (1 + exp(-x)), or y = tanh x;
 *   backward  dx (+)= dy y (1 - y), or dx (+)= dy (1 - y^2), from y (the *_use_dst_for_bwd kinds).
 * A gradient that adds to another node's is written into the engine's scratch buffer and added
 * across by a reorder. Padding lanes of a blocked value are cleared after the forward (f(0) is
 * not 0 for the sigmoid); the backward sends dy times the slope there, and dy is zero there. The
 * other smooth activations are dnnl_pointwise.c's loops (why: README, "Supported ONNX"). */
#include "dnnl_internal.h"

/* DIFF_SRC is the input's gradient, or the scratch buffer added into INPUT_GRAD. */
enum { SRC, DST, DIFF_DST, DIFF_SRC, INPUT_GRAD };

int engine_setup_eltwise(xai_engine *e, int i)
{
    const xai_node *n = &e->graph->nodes[i];
    node_exec *x = &e->exec[i];
    value_buffer *in = &e->values[n->input[0]], *y = &e->values[n->output];
    dnnl_alg_kind_t kind = n->op == XAI_OP_SIGMOID ? dnnl_eltwise_logistic_use_dst_for_bwd
                                                   : dnnl_eltwise_tanh_use_dst_for_bwd;
    dnnl_dims_t floats = {(dnnl_dim_t)y->floats};
    dnnl_memory_desc_t md;
    CHECK(dnnl_memory_desc_init_by_tag(&md, 1, floats, dnnl_f32, dnnl_a), "eltwise memory descriptor");
    dnnl_eltwise_desc_t forward, backward;
    CHECK(dnnl_eltwise_forward_desc_init(&forward, dnnl_forward_training, kind, &md, 0.f, 0.f), "eltwise forward");
    CHECK(dnnl_eltwise_backward_desc_init(&backward, kind, &md, &md, 0.f, 0.f), "eltwise backward");
    if (engine_forward_backward(e, i, &forward, &backward, NULL, "eltwise primitive")) return XAI_ERR;
    int adds = x->accumulate[0];
    if (engine_memory(e, &x->operand[SRC], &md, in->data) || engine_memory(e, &x->operand[DST], &md, y->data) ||
        engine_memory(e, &x->operand[DIFF_DST], &md, y->grad) ||
        engine_memory(e, &x->operand[DIFF_SRC], &md, adds ? e->scratch : in->grad))
        return XAI_ERR;
    if (!adds) return XAI_OK;
    return engine_memory(e, &x->operand[INPUT_GRAD], &md, in->grad) ||
                   engine_make_reorder(e, &x->diff_src_reorder, x->operand[DIFF_SRC], x->operand[INPUT_GRAD], 1)
               ? XAI_ERR
               : XAI_OK;
}

int kernel_eltwise_forward(xai_engine *e, int i)
{
    const xai_node *n = &e->graph->nodes[i];
    dnnl_memory_t *m = e->exec[i].operand;
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_SRC, m[SRC]}, {DNNL_ARG_DST, m[DST]}};
    CHECK(dnnl_primitive_execute(e->exec[i].forward, e->stream, 2, args), n->name);
    CHECK(dnnl_stream_wait(e->stream), n->name);
    engine_zero_padding(&e->values[n->output], &e->graph->values[n->output], e->batch);
    return XAI_OK;
}

int kernel_eltwise_backward(xai_engine *e, int i)
{
    node_exec *x = &e->exec[i];
    dnnl_memory_t *m = x->operand;
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_DST, m[DST]}, {DNNL_ARG_DIFF_DST, m[DIFF_DST]}, {DNNL_ARG_DIFF_SRC, m[DIFF_SRC]}};
    CHECK(dnnl_primitive_execute(x->backward, e->stream, 3, args), e->graph->nodes[i].name);
    return x->diff_src_reorder.prim ? engine_run_reorder(e, &x->diff_src_reorder) : XAI_OK;
}
