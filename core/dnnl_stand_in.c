/* dnnl_stand_in.c - plain NCHW stand-ins for the inputs of the engine's ops that read plain
 * values (dnnl_internal.h: Gemm, MatMul of two values, Softmax): an input kept in a blocked layout
 * (a convolution's output) is copied into its stand-in before the forward, and the gradient the
 * op writes into the stand-in is added back into the value's after the backward. */
#include <stdlib.h>

#include "dnnl_internal.h"

int engine_stand_ins(xai_engine *e, int i, int grad_when_accumulating)
{
    const xai_node *n = &e->graph->nodes[i];
    node_exec *x = &e->exec[i];
    if (!(x->stand_in = xai_calloc((size_t)n->n_inputs, sizeof *x->stand_in))) return XAI_ERR;
    for (int k = 0; k < n->n_inputs; k++) {
        value_buffer *v = &e->values[n->input[k]];
        stand_in *s = &x->stand_in[k];
        dnnl_memory_desc_t plain;
        if (engine_plain_md(&plain, &e->graph->values[n->input[k]], e->batch)) return XAI_ERR;
        int blocked = !dnnl_memory_desc_equal(&plain, &v->md);
        if (!blocked && !(grad_when_accumulating && x->accumulate[k])) continue;
        size_t bytes = dnnl_memory_desc_get_size(&plain);
        if (!(s->grad = xai_aligned_alloc(64, (bytes + 63) / 64 * 64)) ||
            engine_memory(e, &s->grad_mem, &plain, s->grad) ||
            engine_make_reorder(e, &s->back, s->grad_mem, v->grad_mem, x->accumulate[k]))
            return XAI_ERR;
        if (blocked && (!(s->data = xai_aligned_alloc(64, (bytes + 63) / 64 * 64)) ||
                        engine_memory(e, &s->data_mem, &plain, s->data) ||
                        engine_make_reorder(e, &s->in, v->data_mem, s->data_mem, 0)))
            return XAI_ERR;
    }
    return XAI_OK;
}

float *engine_input_data(xai_engine *e, int i, int k)
{
    stand_in *s = &e->exec[i].stand_in[k];
    return s->data ? s->data : e->values[e->graph->nodes[i].input[k]].data;
}

float *engine_input_grad(xai_engine *e, int i, int k)
{
    stand_in *s = &e->exec[i].stand_in[k];
    return s->grad ? s->grad : e->values[e->graph->nodes[i].input[k]].grad;
}

int engine_stand_ins_in(xai_engine *e, int i)
{
    for (int k = 0; k < e->graph->nodes[i].n_inputs; k++)
        if (e->exec[i].stand_in[k].data && engine_run_reorder(e, &e->exec[i].stand_in[k].in)) return XAI_ERR;
    return XAI_OK;
}

int engine_stand_ins_back(xai_engine *e, int i)
{
    for (int k = 0; k < e->graph->nodes[i].n_inputs; k++)
        if (e->exec[i].stand_in[k].grad && engine_run_reorder(e, &e->exec[i].stand_in[k].back)) return XAI_ERR;
    return XAI_OK;
}

void engine_stand_ins_destroy(xai_engine *e, int i)
{
    node_exec *x = &e->exec[i];
    for (int k = 0; x->stand_in && k < e->graph->nodes[i].n_inputs; k++) {
        stand_in *s = &x->stand_in[k];
        engine_destroy_reorder(&s->in);
        engine_destroy_reorder(&s->back);
        if (s->data_mem) dnnl_memory_destroy(s->data_mem);
        if (s->grad_mem) dnnl_memory_destroy(s->grad_mem);
        free(s->data);
        free(s->grad);
    }
    free(x->stand_in);
    x->stand_in = NULL;
}
