/* dnnl_setup.c - the oneDNN engine's set-up (dnnl_internal.h): the value buffers, the
 * accumulation plan of the backward pass and the list of kernels chosen, with the steps of each
 * op that engine_ops (dnnl_ops.c) names: its output's layout (a Conv's from oneDNN's choice, the
 * others' from their inputs), what it keeps besides its output, and its bindings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnnl_internal.h"

/* Value v's data, unless it is never materialized (the output of a Conv whose activation runs as
 * its post-op: nothing writes or reads it), and its gradient's size (engine_place_gradients
 * places the gradients once every layout is known). */
static int allocate_value(xai_engine *e, int v, int materialized)
{
    value_buffer *b = &e->values[v];
    b->floats = dnnl_memory_desc_get_size(&b->md) / sizeof(float);
    if (engine_layout_of(&b->md, &b->lay, e->graph->values[v].name)) return XAI_ERR;
    b->bytes = (b->floats * sizeof(float) + 63) / 64 * 64;
    if (materialized) { /* 64-byte aligned and zeroed: padding lanes of blocked layouts must stay zero */
        if (!(b->data = xai_aligned_alloc(64, b->bytes)))
            return xai_fail("out of memory for value '%s' (%zu bytes)", e->graph->values[v].name, b->bytes);
        memset(b->data, 0, b->bytes);
        if (engine_memory(e, &b->data_mem, &b->md, b->data)) return XAI_ERR;
    }
    if (b->floats > e->scratch_floats) e->scratch_floats = b->floats;
    return XAI_OK;
}

/* Decide, for each node input, whether the backward pass writes or adds its gradient. */
static int plan_accumulation(xai_engine *e)
{
    const xai_graph *g = e->graph;
    char *written = xai_calloc((size_t)g->n_values, 1);
    if (!written) return XAI_ERR;
    for (int i = 0; i < g->n_nodes; i++)
        if (!(e->exec[i].accumulate = xai_calloc((size_t)g->nodes[i].n_inputs, sizeof(int)))) {
            free(written);
            return XAI_ERR;
        }
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

/* ---- output layouts (engine_op.layout): each node's from its inputs', a Conv's from oneDNN ---- */

/* The input's layout. */
int engine_layout_like_input(xai_engine *e, int i)
{
    const xai_node *n = &e->graph->nodes[i];
    e->values[n->output].md = e->values[n->input[0]].md;
    return XAI_OK;
}

/* ReLU, Clip and Add: the input's layout; an activation right after a Conv runs as its post-op.
 * An Add whose inputs differ in shape (one broadcasts): Mul's choice. */
int engine_layout_activation(xai_engine *e, int i)
{
    const xai_node *n = &e->graph->nodes[i];
    const xai_value *a = &e->graph->values[n->input[0]], *out = &e->graph->values[n->output];
    if (a->c != out->c || a->h != out->h || a->w != out->w) return engine_layout_mul(e, i);
    e->exec[i].skip_forward = i > 0 && e->exec[i - 1].fused_activation;
    return engine_layout_like_input(e, i);
}

/* Mul: the layout of an input as large as the output (not a gate's), else plain. */
int engine_layout_mul(xai_engine *e, int i)
{
    const xai_graph *g = e->graph;
    const xai_node *n = &g->nodes[i];
    const xai_value *out = &g->values[n->output];
    for (int k = 0; k < 2; k++) {
        const xai_value *v = &g->values[n->input[k]];
        if (v->c == out->c && v->h == out->h && v->w == out->w) {
            e->values[n->output].md = e->values[n->input[k]].md;
            return XAI_OK;
        }
    }
    return engine_plain_md(&e->values[n->output].md, out, e->batch);
}

/* The same kind of layout as the input's (plain, NHWC or blocked) at the output's size: the pools,
 * Pad, and the channel moves above rank 2. */
int engine_layout_same_kind(xai_engine *e, int i)
{
    const xai_graph *g = e->graph;
    const xai_node *n = &g->nodes[i];
    const xai_value *out = &g->values[n->output];
    value_buffer *in = &e->values[n->input[0]];
    dnnl_dims_t out_dims = {e->batch, out->c, out->h, out->w};
    if (out->rank == 2) return engine_plain_md(&e->values[n->output].md, out, e->batch);
    return engine_md_like(&e->values[n->output].md, &in->md, &in->lay, out_dims);
}

/* Plain NCHW (rank 3 as [N,C,L,1], rank 2 as NC). */
int engine_layout_plain(xai_engine *e, int i)
{
    const xai_node *n = &e->graph->nodes[i];
    return engine_plain_md(&e->values[n->output].md, &e->graph->values[n->output], e->batch);
}

/* Conv: the primitives, and the layout oneDNN chose for the output. */
int engine_layout_conv(xai_engine *e, int i)
{
    return engine_conv_create(e, i, &e->values[e->graph->nodes[i].output].md);
}

/* The Gemm's copy of the graph's weight [out][in]. */
void engine_gemm_load_weights(xai_engine *e, int i)
{
    const xai_node *n = &e->graph->nodes[i];
    memcpy(e->exec[i].weight, n->weight, (size_t)n->in_channels * n->out_channels * sizeof(float));
}

/* ---- what a node keeps besides its output (engine_op.setup) ---------------------------------- */

/* MaxPool: the offset of the chosen input element, per output element. */
int engine_setup_maxpool(xai_engine *e, int i)
{
    const xai_graph *g = e->graph;
    const xai_node *n = &g->nodes[i];
    value_buffer *in = &e->values[n->input[0]], *ob = &e->values[n->output];
    if (ob->floats > INT32_MAX || in->floats > INT32_MAX)
        return xai_fail("%s: node '%s': batch too large for the max-pool index", g->path, n->name);
    return (e->exec[i].argmax = xai_calloc(ob->floats, sizeof(int32_t))) ? XAI_OK : XAI_ERR;
}

/* Add: the second input in the first's layout when they differ, and the gradient back. */
int engine_setup_add(xai_engine *e, int i)
{
    const xai_node *n = &e->graph->nodes[i];
    node_exec *x = &e->exec[i];
    value_buffer *in = &e->values[n->input[0]], *rhs = &e->values[n->input[1]];
    const xai_value *a = &e->graph->values[n->input[0]], *b = &e->graph->values[n->input[1]];
    if (a->c != b->c || a->h != b->h || a->w != b->w) return XAI_OK; /* broadcast: read in place */
    if (dnnl_memory_desc_equal(&rhs->md, &in->md)) return XAI_OK;
    return engine_memory(e, &x->add_rhs.dst, &in->md, NULL) ||
                   engine_make_reorder(e, &x->add_rhs, rhs->data_mem, x->add_rhs.dst, 0) ||
                   engine_make_reorder(e, &x->add_rhs_grad, e->values[n->output].grad_mem, rhs->grad_mem,
                                       x->accumulate[1])
               ? XAI_ERR
               : XAI_OK;
}

/* Gemm: its weight [out][in] (another engine's, the graph's own when consumed, or a copy), then
 * its matmul primitives. */
int engine_setup_gemm(xai_engine *e, int i)
{
    const xai_node *n = &e->graph->nodes[i];
    node_exec *x = &e->exec[i];
    if (e->weights_from) {
        x->weight = e->weights_from->exec[i].weight;
        x->borrowed = 1;
    } else if (e->consumed) { /* the graph's own buffer, taken over rather than copied */
        x->weight = e->consumed->nodes[i].weight;
        e->consumed->nodes[i].weight = NULL;
    } else {
        if (!(x->weight = xai_malloc((size_t)n->in_channels * n->out_channels * sizeof(float)))) return XAI_ERR;
        engine_gemm_load_weights(e, i);
    }
    return engine_stand_ins(e, i, 0) || engine_matmul_create(e, i) ? XAI_ERR : XAI_OK;
}

/* ---- bindings once every value exists (engine_op.bind) ---------------------------------------- */

/* Flatten: views of its output as its input's NCHW order, and the reorders into and out of them. */
int engine_bind_flatten(xai_engine *e, int i)
{
    const xai_graph *g = e->graph;
    const xai_node *n = &g->nodes[i];
    node_exec *x = &e->exec[i];
    dnnl_memory_desc_t view;
    const xai_value *in = &g->values[n->input[0]];
    if (engine_plain_md(&view, in, e->batch) ||
        engine_memory(e, &x->flatten_forward.dst, &view, e->values[n->output].data) ||
        engine_memory(e, &x->flatten_backward.src, &view, e->values[n->output].grad))
        return XAI_ERR;
    return engine_make_reorder(e, &x->flatten_forward, e->values[n->input[0]].data_mem, x->flatten_forward.dst, 0) ||
                   engine_make_reorder(e, &x->flatten_backward, x->flatten_backward.src,
                                       e->values[n->input[0]].grad_mem, x->accumulate[0])
               ? XAI_ERR
               : XAI_OK;
}

/* Outputs kept in a blocked layout (single-op graphs) are read and seeded in NCHW order. */
static int plain_output(xai_engine *e)
{
    const xai_graph *g = e->graph;
    value_buffer *out = &e->values[g->output];
    dnnl_memory_desc_t plain;
    if (engine_plain_md(&plain, &g->values[g->output], e->batch)) return XAI_ERR;
    if (dnnl_memory_desc_equal(&plain, &out->md)) return XAI_OK;
    if (!(e->output_plain = xai_calloc(out->floats, sizeof(float))) ||
        engine_memory(e, &e->output_plain_mem, &plain, e->output_plain) ||
        engine_make_reorder(e, &e->output_reorder, out->data_mem, e->output_plain_mem, 0) ||
        engine_make_reorder(e, &e->output_seed_reorder, e->output_plain_mem, out->grad_mem, 0))
        return XAI_ERR;
    return XAI_OK;
}

int engine_setup(xai_engine *e)
{
    const xai_graph *g = e->graph;
    CHECK(dnnl_engine_create(&e->dnnl, dnnl_cpu, 0), "CPU engine");
    CHECK(dnnl_stream_create(&e->stream, e->dnnl, dnnl_stream_default_flags), "stream");
    e->values = xai_calloc((size_t)g->n_values, sizeof *e->values);
    e->exec = xai_calloc((size_t)g->n_nodes, sizeof *e->exec);
    if (!e->values || !e->exec || plan_accumulation(e)) return XAI_ERR;
    int most_channels = 1;
    for (int v = 0; v < g->n_values; v++) most_channels = g->values[v].c > most_channels ? g->values[v].c : most_channels;
    if (!(e->channel_index = xai_malloc((size_t)most_channels * sizeof(int)))) return XAI_ERR;
    for (int c = 0; c < most_channels; c++) e->channel_index[c] = c;
    /* Forward order: each node's output layout follows from its inputs. */
    if (engine_plain_md(&e->values[g->input].md, &g->values[g->input], e->batch) || allocate_value(e, g->input, 1))
        return XAI_ERR;
    for (int i = 0; i < g->n_nodes; i++) {
        const xai_node *n = &g->nodes[i];
        const engine_op *op = &engine_ops[n->op];
        if (!op->layout)
            return xai_fail("%s: node '%s': %s must be folded before the fast engine runs", g->path, n->name,
                            xai_op_name(n->op));
        if ((n->op == XAI_OP_CONV || n->op == XAI_OP_GEMM) && !n->weight && !e->weights_from)
            return xai_fail("%s: node '%s': the graph's weights were freed", g->path, n->name);
        if (op->layout(e, i) || allocate_value(e, n->output, !(n->op == XAI_OP_CONV && e->exec[i].fused_activation)))
            return XAI_ERR;
    }
    if (engine_place_gradients(e)) return XAI_ERR;
    if (!(e->scratch = xai_aligned_alloc(64, (e->scratch_floats * sizeof(float) + 63) / 64 * 64)))
        return xai_fail("out of memory for the scratch buffer");
    for (int i = 0; i < g->n_nodes; i++)
        if (engine_ops[g->nodes[i].op].setup && engine_ops[g->nodes[i].op].setup(e, i)) return XAI_ERR;
    if (e->scratchpad_bytes && !(e->scratchpad = xai_aligned_alloc(64, e->scratchpad_bytes)))
        return xai_fail("out of memory for the convolutions' scratchpad (%zu bytes)", e->scratchpad_bytes);
    for (int i = 0; i < g->n_nodes; i++)
        if (engine_ops[g->nodes[i].op].bind && engine_ops[g->nodes[i].op].bind(e, i)) return XAI_ERR;
    if (plain_output(e)) return XAI_ERR;
    if (!(e->seed = xai_malloc((size_t)e->batch * xai_graph_outputs(g) * sizeof(float)))) return XAI_ERR;
    return append_kernels(e);
}
