/* dnnl_matmul.c - the Gemm node (fully connected layers, and MatMul on the last axis of
 * [N,C,H,W]) as oneDNN matmul primitives (dnnl_internal.h): the rows of its input (one per image,
 * or N C H of them) times the weight. Forward y = x W^T + b; backward-data dx (+)= dy W, adding
 * into the input's gradient through a sum post-op when another node wrote it first. Both read the
 * engine's weight [out][in] where it lies, as W^T [in][out] (tag ba) forward and as W (tag ab)
 * backward: no copy of it. Scratchpads are the engine's own, as the convolutions' are. An input
 * in a blocked layout is read through a plain stand-in (dnnl_stand_in.c). */
#include "dnnl_internal.h"

enum { ROWS_X, ROWS_Y, ROWS_DY, ROWS_DX };

static int64_t rows_of(const xai_engine *e, const xai_node *n)
{
    return (int64_t)((size_t)e->batch * xai_value_size(&e->graph->values[n->input[0]]) / (size_t)n->in_channels);
}

static int matrix_md(dnnl_memory_desc_t *md, int64_t rows, int64_t columns, dnnl_format_tag_t tag)
{
    dnnl_dims_t dims = {rows, columns};
    CHECK(dnnl_memory_desc_init_by_tag(md, 2, dims, dnnl_f32, tag), "matmul memory descriptor");
    return XAI_OK;
}

int engine_matmul_primitive(xai_engine *e, const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *weights,
                            const dnnl_memory_desc_t *bias, const dnnl_memory_desc_t *dst, int accumulate,
                            dnnl_primitive_t *prim, dnnl_memory_desc_t *scratch_md)
{
    dnnl_matmul_desc_t desc;
    CHECK(dnnl_matmul_desc_init(&desc, src, weights, bias, dst), "matmul descriptor");
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s = dnnl_primitive_attr_create(&attr);
    if (s == dnnl_success) s = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (s == dnnl_success && accumulate) {
        s = dnnl_post_ops_create(&ops);
        if (s == dnnl_success) s = dnnl_post_ops_append_sum(ops, 1.f);
        if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(attr, ops);
    }
    if (s == dnnl_success) s = dnnl_primitive_desc_create(&pd, &desc, attr, e->dnnl, NULL);
    if (s == dnnl_success) s = dnnl_primitive_create(prim, pd);
    if (s == dnnl_success) {
        *scratch_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        size_t bytes = dnnl_memory_desc_get_size(scratch_md);
        if (bytes > e->scratchpad_bytes) e->scratchpad_bytes = bytes;
    }
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (ops) dnnl_post_ops_destroy(ops);
    if (attr) dnnl_primitive_attr_destroy(attr);
    CHECK(s, "matmul primitive");
    return XAI_OK;
}

int engine_matmul_create(xai_engine *e, int i)
{
    const xai_node *n = &e->graph->nodes[i];
    node_exec *x = &e->exec[i];
    int64_t rows = rows_of(e, n), in = n->in_channels, out = n->out_channels;
    dnnl_memory_desc_t src, dst, bias, weights_t, weights, diff_dst, diff_src;
    if (matrix_md(&src, rows, in, dnnl_ab) || matrix_md(&dst, rows, out, dnnl_ab) ||
        matrix_md(&bias, 1, out, dnnl_ab) || matrix_md(&weights_t, in, out, dnnl_ba) ||
        matrix_md(&weights, out, in, dnnl_ab) || matrix_md(&diff_dst, rows, out, dnnl_ab) ||
        matrix_md(&diff_src, rows, in, dnnl_ab))
        return XAI_ERR;
    if (engine_matmul_primitive(e, &src, &weights_t, &bias, &dst, 0, &x->forward, &x->scratch_md[0]) ||
        engine_matmul_primitive(e, &diff_dst, &weights, NULL, &diff_src, x->accumulate[0] && !x->stand_in[0].grad,
                                &x->backward, &x->scratch_md[1]))
        return XAI_ERR;
    /* The memories that do not wait for the engine's scratchpad and gradients: the weight, both
     * ways, and the bias. */
    return engine_memory(e, &x->weight_forward, &weights_t, x->weight) ||
                   engine_memory(e, &x->weight_backward, &weights, x->weight) ||
                   engine_memory(e, &x->bias, &bias, n->bias)
               ? XAI_ERR
               : XAI_OK;
}

int engine_matmul_bind(xai_engine *e, int i)
{
    const xai_node *n = &e->graph->nodes[i];
    node_exec *x = &e->exec[i];
    int64_t rows = rows_of(e, n), in = n->in_channels, out = n->out_channels;
    value_buffer *y = &e->values[n->output];
    dnnl_memory_desc_t inputs, outputs;
    if (matrix_md(&inputs, rows, in, dnnl_ab) || matrix_md(&outputs, rows, out, dnnl_ab)) return XAI_ERR;
    if (engine_bind_scratchpads(e, i)) return XAI_ERR;
    return engine_memory(e, &x->rows[ROWS_X], &inputs, engine_input_data(e, i, 0)) ||
                   engine_memory(e, &x->rows[ROWS_Y], &outputs, y->data) ||
                   engine_memory(e, &x->rows[ROWS_DY], &outputs, y->grad) ||
                   engine_memory(e, &x->rows[ROWS_DX], &inputs, engine_input_grad(e, i, 0))
               ? XAI_ERR
               : XAI_OK;
}

int engine_matmul_forward(xai_engine *e, int i)
{
    node_exec *x = &e->exec[i];
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, x->rows[ROWS_X]}, {DNNL_ARG_WEIGHTS, x->weight_forward},
                               {DNNL_ARG_BIAS, x->bias}, {DNNL_ARG_DST, x->rows[ROWS_Y]},
                               {DNNL_ARG_SCRATCHPAD, x->scratch[0]}};
    if (engine_stand_ins_in(e, i)) return XAI_ERR;
    CHECK(dnnl_primitive_execute(x->forward, e->stream, x->scratch[0] ? 5 : 4, args), e->graph->nodes[i].name);
    return XAI_OK;
}

int engine_matmul_backward(xai_engine *e, int i)
{
    node_exec *x = &e->exec[i];
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, x->rows[ROWS_DY]}, {DNNL_ARG_WEIGHTS, x->weight_backward},
                               {DNNL_ARG_DST, x->rows[ROWS_DX]}, {DNNL_ARG_SCRATCHPAD, x->scratch[1]}};
    CHECK(dnnl_primitive_execute(x->backward, e->stream, x->scratch[1] ? 4 : 3, args), e->graph->nodes[i].name);
    return engine_stand_ins_back(e, i);
}

void engine_matmul_destroy(xai_engine *e, int i)
{
    node_exec *x = &e->exec[i];
    if (x->forward) dnnl_primitive_destroy(x->forward);
    if (x->backward) dnnl_primitive_destroy(x->backward);
    dnnl_memory_t memories[] = {x->weight_forward, x->weight_backward, x->bias, x->scratch[0], x->scratch[1],
                                x->rows[0], x->rows[1], x->rows[2], x->rows[3]};
    for (size_t k = 0; k < sizeof memories / sizeof *memories; k++)
        if (memories[k]) dnnl_memory_destroy(memories[k]);
    engine_stand_ins_destroy(e, i);
}
