/* dnnl_engine.c - forward and backward-data of an xai_graph on oneDNN 2.6 (C API): the engine's
 * creation, its passes and its threads (its set-up is dnnl_setup.c; the files beside it: see
 * dnnl_internal.h).
 *
 * Each op's steps are in engine_ops (dnnl_ops.c). Convolutions are oneDNN primitives (dnnl_conv.c),
 * Gemm and MatMul oneDNN's matmul (dnnl_matmul.c), and so are the pools, Softmax, LayerNormalization,
 * Sigmoid and Tanh; the other ops are loops of ours that read the value's layout (plain or
 * channel-blocked, see `layout`), so activations never leave oneDNN's blocked format between
 * convolutions: reorders happen only where two neighbours disagree on a layout, at the graph's
 * ends in practice. A ReLU right after a Conv runs as the Conv's eltwise post-op.
 *
 * Gradients live in the same layout as the values. In the backward pass the first node (in
 * reverse order) that reaches a value writes its gradient, later ones add to it: that is how the
 * residual forks sum their gradients. Gradients whose backward steps do not overlap share memory
 * (dnnl_gradient_plan.c). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnnl_internal.h"

/* ---- creation ------------------------------------------------------------------------------ */

void xai_engine_destroy(xai_engine *e)
{
    if (!e) return;
    const xai_graph *g = e->graph;
    for (int i = 0; e->exec && i < g->n_nodes; i++) {
        node_exec *x = &e->exec[i];
        if (engine_ops[g->nodes[i].op].destroy) engine_ops[g->nodes[i].op].destroy(e, i);
        if (x->flatten_forward.dst) dnnl_memory_destroy(x->flatten_forward.dst);
        if (x->flatten_backward.src) dnnl_memory_destroy(x->flatten_backward.src);
        engine_destroy_reorder(&x->flatten_forward);
        engine_destroy_reorder(&x->flatten_backward);
        if (x->add_rhs.dst) dnnl_memory_destroy(x->add_rhs.dst);
        engine_destroy_reorder(&x->add_rhs);
        engine_destroy_reorder(&x->add_rhs_grad);
        free(x->argmax);
        free(x->accumulate);
        free(x->channel_map);
        if (!x->borrowed) free(x->weight);
    }
    for (int v = 0; e->values && v < g->n_values; v++) {
        if (e->values[v].data_mem) dnnl_memory_destroy(e->values[v].data_mem);
        if (e->values[v].grad_mem) dnnl_memory_destroy(e->values[v].grad_mem);
        free(e->values[v].data);
        if (e->values[v].gradient_kept) free(e->values[v].grad);
    }
    free(e->gradient_arena);
    if (e->stream) dnnl_stream_destroy(e->stream);
    if (e->dnnl) dnnl_engine_destroy(e->dnnl);
    engine_destroy_reorder(&e->output_reorder);
    engine_destroy_reorder(&e->output_seed_reorder);
    if (e->output_plain_mem) dnnl_memory_destroy(e->output_plain_mem);
    free(e->output_plain);
    free(e->values);
    free(e->exec);
    free(e->scratch);
    free(e->kernels);
    free(e->seed);
    free(e->readable);
    free(e->channel_index);
    free(e->scratchpad);
    free(e->node_ms);
    free(e);
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

int xai_engine_create_with(xai_engine **out, xai_graph *graph, const xai_engine_config *c)
{
    *out = NULL;
    if (c->batch < 1 || c->batch > 4096) return xai_fail("batch %d outside 1..4096", c->batch);
    xai_engine *e = xai_calloc(1, sizeof *e);
    if (!e) return XAI_ERR;
    e->graph = graph;
    e->weights_from = c->weights_from;
    e->consumed = c->consume && !c->weights_from ? graph : NULL;
    if (c->weights_from && c->weights_from->graph != graph) {
        free(e);
        return xai_fail("engine: weights_from is an engine of another graph");
    }
    e->batch = c->batch;
    e->stopped_at = -1;
    e->threads = c->threads > 0 ? c->threads : omp_get_max_threads();
    int status = c->n_readable ? ((e->readable = xai_calloc((size_t)graph->n_values, 1)) ? XAI_OK : XAI_ERR) : XAI_OK;
    for (int k = 0; status == XAI_OK && k < c->n_readable; k++) {
        if (c->readable[k] < 0 || c->readable[k] >= graph->n_values) status = xai_fail("engine: no value %d", c->readable[k]);
        else e->readable[c->readable[k]] = 1;
    }
    if (status == XAI_OK) {
        int caller = enter(e); /* oneDNN sizes its kernels for the threads at creation */
        status = engine_setup(e);
        omp_set_num_threads(caller);
    }
    if (status) {
        xai_engine_destroy(e);
        return XAI_ERR;
    }
    *out = e;
    return XAI_OK;
}

int xai_engine_create(xai_engine **out, const xai_graph *graph, int batch, int threads)
{
    xai_engine_config c = {.batch = batch, .threads = threads};
    return xai_engine_create_with(out, (xai_graph *)graph, &c); /* not consumed: left as it is */
}

int xai_engine_create_consuming(xai_engine **out, xai_graph *graph, int batch, int threads)
{
    xai_engine_config c = {.batch = batch, .threads = threads, .consume = 1};
    return xai_engine_create_with(out, graph, &c);
}

int xai_engine_batch(const xai_engine *e) { return e->batch; }

const xai_graph *xai_engine_graph(const xai_engine *e) { return e->graph; }

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

/* ---- passes -------------------------------------------------------------------------------- */


/* The forward from node `first` on (input NULL: the last forward's, whose values before `first`
 * still hold). */
static int forward_from(xai_engine *e, int first, const float *input, float *logits)
{
    const xai_graph *g = e->graph;
    value_buffer *in = &e->values[g->input];
    if (input) memcpy(in->data, input, in->floats * sizeof(float));
    for (int i = first; i < g->n_nodes; i++) {
        const xai_node *n = &g->nodes[i];
        if (e->exec[i].skip_forward) continue;
        double started = e->profiling ? omp_get_wtime() : 0.0;
        if (engine_ops[n->op].forward(e, i)) return XAI_ERR;
        CHECK(dnnl_stream_wait(e->stream), n->name);
        if (e->profiling) e->node_ms[i] += (omp_get_wtime() - started) * 1e3;
    }
    if (logits) {
        const value_buffer *out = &e->values[g->output];
        if (e->output_reorder.prim) {
            if (engine_run_reorder(e, &e->output_reorder)) return XAI_ERR;
            CHECK(dnnl_stream_wait(e->stream), "output reorder");
        }
        memcpy(logits, e->output_reorder.prim ? e->output_plain : out->data,
               (size_t)e->batch * xai_graph_outputs(g) * sizeof(float));
    }
    e->forward_done = 1, e->fresh_nodes = g->n_nodes, e->has_input = 1;
    return XAI_OK;
}

static int forward(xai_engine *e, const float *input, float *logits) { return forward_from(e, 0, input, logits); }

/* The seed, [batch][classes] in NCHW order, into the output's gradient in its own layout. */
static int place_seed(xai_engine *e, const float *seed)
{
    const xai_graph *g = e->graph;
    value_buffer *out = &e->values[g->output];
    float *plain = e->output_reorder.prim ? e->output_plain : out->grad;
    memcpy(plain, seed, (size_t)e->batch * xai_graph_outputs(g) * sizeof(float));
    return e->output_reorder.prim ? engine_run_reorder(e, &e->output_seed_reorder) : XAI_OK;
}

/* The nodes after `stop` (the node that produces the value whose gradient is wanted; -1: all
 * nodes), last first, each node's gradient rule into its inputs' gradients. */
static int backward(xai_engine *e, const xai_rule *rule, int stop)
{
    const xai_graph *g = e->graph;
    e->rule = rule;
    for (int i = g->n_nodes - 1; i > stop; i--) {
        const xai_node *n = &g->nodes[i];
        double started = e->profiling ? omp_get_wtime() : 0.0;
        if (engine_ops[n->op].backward(e, i)) return XAI_ERR;
        CHECK(dnnl_stream_wait(e->stream), n->name);
        if (e->profiling) e->node_ms[g->n_nodes + i] += (omp_get_wtime() - started) * 1e3;
    }
    return XAI_OK;
}

/* The node that produces value v; -1 for the graph's input. */
static int producer(const xai_graph *g, int v)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].output == v) return i;
    return -1;
}

static int seeded_backward(xai_engine *e, const xai_rule *rule, const float *seed, float *map, int stop_value)
{
    const xai_graph *g = e->graph;
    if (!e->forward_done) return xai_fail("engine: backward before forward");
    if (stop_value >= g->n_values) return xai_fail("engine: no value %d", stop_value);
    e->stopped_at = stop_value;
    if (place_seed(e, seed) || backward(e, rule, stop_value >= 0 ? producer(g, stop_value) : -1)) return XAI_ERR;
    if (stop_value < 0) memcpy(map, e->values[g->input].grad, e->values[g->input].floats * sizeof(float));
    return XAI_OK;
}

/* One-hot seeds at the targets, checked. */
static int one_hot(const xai_engine *e, const int *targets, float *seed)
{
    int classes = xai_graph_outputs(e->graph);
    memset(seed, 0, (size_t)e->batch * classes * sizeof(float));
    for (int n = 0; n < e->batch; n++) {
        if (targets[n] < 0 || targets[n] >= classes)
            return xai_fail("target class %d outside 0..%d", targets[n], classes - 1);
        seed[(size_t)n * classes + targets[n]] = 1.f;
    }
    return XAI_OK;
}

static int read_value(const xai_engine *e, int v, float *activation, float *gradient)
{
    const xai_graph *g = e->graph;
    if (v < 0 || v >= g->n_values) return xai_fail("engine: no value %d", v);
    const xai_value *value = &g->values[v];
    const value_buffer *b = &e->values[v];
    int i = producer(g, v);
    if (activation && i >= 0 && e->exec[i].fused_activation)
        return xai_fail("%s: value '%s' is fused into the activation after it; ask for it at engine creation", g->path,
                        value->name);
    if (gradient && !b->gradient_kept && v != e->stopped_at)
        return xai_fail("%s: the gradient of value '%s' shares its memory with others after the pass; ask for it at "
                        "engine creation, or stop the pass at it", g->path, value->name);
    int channels = value->c, height = value->h, width = value->w;
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < e->batch; n++)
        for (int c = 0; c < channels; c++)
            for (int h = 0; h < height; h++)
                for (int w = 0; w < width; w++) {
                    size_t at = offset_of(&b->lay, n, c, h, w), to = (((size_t)n * channels + c) * height + h) * width + w;
                    if (activation) activation[to] = b->data[at];
                    if (gradient) gradient[to] = b->grad[at];
                }
    return XAI_OK;
}

int xai_engine_forward(xai_engine *e, const float *input, float *logits)
{
    int caller = enter(e), status = forward(e, input, logits);
    omp_set_num_threads(caller);
    return status;
}

int xai_engine_forward_again(xai_engine *e, float *logits)
{
    if (!e->has_input) return xai_fail("engine: forward again before any forward");
    int caller = enter(e), status = forward_from(e, e->fresh_nodes, NULL, logits);
    omp_set_num_threads(caller);
    return status;
}

int xai_engine_backward(xai_engine *e, const xai_rule *rule, const int *targets, float *map)
{
    int caller = enter(e);
    int status = one_hot(e, targets, e->seed) || seeded_backward(e, rule, e->seed, map, -1) ? XAI_ERR : XAI_OK;
    omp_set_num_threads(caller);
    return status;
}

int xai_engine_backward_seeded(xai_engine *e, const xai_rule *rule, const float *seed, float *map, int stop_value)
{
    int caller = enter(e), status = seeded_backward(e, rule, seed, map, stop_value);
    omp_set_num_threads(caller);
    return status;
}

int xai_engine_reload_weights(xai_engine *e, int node)
{
    const xai_graph *g = e->graph;
    if (node < 0 || node >= g->n_nodes || (g->nodes[node].op != XAI_OP_CONV && g->nodes[node].op != XAI_OP_GEMM))
        return xai_fail("engine: node %d has no weights", node);
    if (e->consumed || (e->weights_from && e->weights_from->consumed))
        return xai_fail("%s: the engine consumed the graph's weights; none to reload", g->path);
    e->forward_done = 0; /* what the last forward kept from this node on was made with the old weights */
    if (node < e->fresh_nodes) e->fresh_nodes = node;
    if (g->nodes[node].op == XAI_OP_GEMM) {
        if (!e->exec[node].borrowed) engine_gemm_load_weights(e, node); /* else weights_from's, reloaded */
        return XAI_OK;
    }
    int caller = enter(e), status = engine_conv_reload_weights(e, node);
    omp_set_num_threads(caller);
    return status;
}

int xai_engine_read_value(xai_engine *e, int value, float *activation, float *gradient)
{
    int caller = enter(e), status = read_value(e, value, activation, gradient);
    omp_set_num_threads(caller);
    return status;
}
