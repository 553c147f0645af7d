/* dnnl_layernorm.c - LayerNormalization on the oneDNN engine (dnnl_internal.h) as oneDNN's layer
 * normalization primitives, the value seen as [batch x rows, features] (the per-image axes from
 * norm_from on are one contiguous row of a plain NCHW value):
 *   forward   xhat = (x - mean) / s with s = sqrt(var + eps), y = weight xhat + bias, keeping the
 *             rows' means and variances;
 *   backward  with u = weight dy: dx (+)= (u - mean(u) - xhat mean(u xhat)) / s (oneDNN 2.6 has
 *             no backward-data kernel with a scale, so its full backward runs and the weights'
 *             gradients it also makes are dropped).
 * An input in a blocked layout, or one whose gradient adds to another node's, is read and written
 * through a plain stand-in (dnnl_stand_in.c). */
#include "dnnl_internal.h"

enum { SRC, DST, MEAN, VARIANCE, SCALE, SHIFT, DIFF_DST, DIFF_SRC, DIFF_SCALE, DIFF_SHIFT };

int engine_setup_layernorm(xai_engine *e, int i)
{
    const xai_graph *g = e->graph;
    const xai_node *n = &g->nodes[i];
    node_exec *x = &e->exec[i];
    int64_t features = n->in_channels;
    int64_t rows = (int64_t)e->batch * (int64_t)xai_value_size(&g->values[n->input[0]]) / features;
    dnnl_dims_t data_dims = {rows, features}, stat_dims = {rows}, weight_dims = {features};
    dnnl_memory_desc_t data, stat, weights;
    const char *what = "layer normalization memory descriptor";
    CHECK(dnnl_memory_desc_init_by_tag(&data, 2, data_dims, dnnl_f32, dnnl_ab), what);
    CHECK(dnnl_memory_desc_init_by_tag(&stat, 1, stat_dims, dnnl_f32, dnnl_a), what);
    CHECK(dnnl_memory_desc_init_by_tag(&weights, 1, weight_dims, dnnl_f32, dnnl_a), what);
    if (engine_stand_ins(e, i, 1)) return XAI_ERR;
    unsigned flags = dnnl_use_scale | dnnl_use_shift;
    dnnl_layer_normalization_desc_t forward, backward;
    CHECK(dnnl_layer_normalization_forward_desc_init(&forward, dnnl_forward_training, &data, &stat, n->bn_epsilon,
                                                     flags), "layer normalization forward");
    CHECK(dnnl_layer_normalization_backward_desc_init(&backward, dnnl_backward, &data, &data, &stat, n->bn_epsilon,
                                                      flags), "layer normalization backward");
    if (engine_forward_backward(e, i, &forward, &backward, NULL, "layer normalization primitive")) return XAI_ERR;
    value_buffer *y = &e->values[n->output];
    return engine_memory(e, &x->operand[SRC], &data, engine_input_data(e, i, 0)) ||
                   engine_memory(e, &x->operand[DST], &data, y->data) ||
                   engine_memory(e, &x->operand[MEAN], &stat, NULL) ||
                   engine_memory(e, &x->operand[VARIANCE], &stat, NULL) ||
                   engine_memory(e, &x->operand[SCALE], &weights, n->weight) ||
                   engine_memory(e, &x->operand[SHIFT], &weights, n->bias) ||
                   engine_memory(e, &x->operand[DIFF_DST], &data, y->grad) ||
                   engine_memory(e, &x->operand[DIFF_SRC], &data, engine_input_grad(e, i, 0)) ||
                   engine_memory(e, &x->operand[DIFF_SCALE], &weights, NULL) ||
                   engine_memory(e, &x->operand[DIFF_SHIFT], &weights, NULL)
               ? XAI_ERR
               : XAI_OK;
}

int kernel_layernorm_forward(xai_engine *e, int i)
{
    dnnl_memory_t *m = e->exec[i].operand;
    dnnl_exec_arg_t args[6] = {{DNNL_ARG_SRC, m[SRC]},           {DNNL_ARG_DST, m[DST]},
                               {DNNL_ARG_MEAN, m[MEAN]},         {DNNL_ARG_VARIANCE, m[VARIANCE]},
                               {DNNL_ARG_SCALE, m[SCALE]},       {DNNL_ARG_SHIFT, m[SHIFT]}};
    if (engine_stand_ins_in(e, i)) return XAI_ERR;
    CHECK(dnnl_primitive_execute(e->exec[i].forward, e->stream, 6, args), e->graph->nodes[i].name);
    return XAI_OK;
}

int kernel_layernorm_backward(xai_engine *e, int i)
{
    dnnl_memory_t *m = e->exec[i].operand;
    dnnl_exec_arg_t args[9] = {{DNNL_ARG_SRC, m[SRC]},           {DNNL_ARG_MEAN, m[MEAN]},
                               {DNNL_ARG_VARIANCE, m[VARIANCE]}, {DNNL_ARG_DIFF_DST, m[DIFF_DST]},
                               {DNNL_ARG_SCALE, m[SCALE]},       {DNNL_ARG_SHIFT, m[SHIFT]},
                               {DNNL_ARG_DIFF_SRC, m[DIFF_SRC]}, {DNNL_ARG_DIFF_SCALE, m[DIFF_SCALE]},
                               {DNNL_ARG_DIFF_SHIFT, m[DIFF_SHIFT]}};
    CHECK(dnnl_primitive_execute(e->exec[i].backward, e->stream, 9, args), e->graph->nodes[i].name);
    return engine_stand_ins_back(e, i);
}
