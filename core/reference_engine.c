/* reference_engine.c - the reference engine: its buffers, its passes and its op registry (the
 * ops' steps are in reference_cnn.c, reference_ops.c and reference_attention.c). Values are NCHW;
 * backward passes add into zeroed gradient buffers, so forks (a value read by several nodes) sum
 * their gradients without special cases.
 *
 * One source, two precisions: compiled as is, every value and sum is a double (xai_reference_*,
 * the truth the tests hold engines to); compiled from reference_engine_f32.c with
 * XAI_REFERENCE_F32 defined, the same loops run in float (xai_reference_f32_*): what a
 * straightforward float32 implementation of these ops gives, the fast engine's yardstick. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reference_internal.h"
#include "xai_status.h"

/* The op registry: every op's steps (reference_cnn.c, reference_ops.c, reference_attention.c). Adding an op: its
 * steps in a file of their kind and one line here. */
static const reference_op registry[XAI_OP_COUNT] = {
    [XAI_OP_CONV] = {REFERENCE_STEP(conv_forward), REFERENCE_STEP(conv_backward)},
    [XAI_OP_BATCHNORM] = {REFERENCE_STEP(batchnorm_forward), REFERENCE_STEP(batchnorm_backward)},
    [XAI_OP_RELU] = {REFERENCE_STEP(activation_forward), REFERENCE_STEP(activation_backward)},
    [XAI_OP_CLIP] = {REFERENCE_STEP(activation_forward), REFERENCE_STEP(activation_backward)},
    [XAI_OP_MAXPOOL] = {REFERENCE_STEP(maxpool_forward), REFERENCE_STEP(maxpool_backward)},
    [XAI_OP_AVGPOOL] = {REFERENCE_STEP(avgpool_forward), REFERENCE_STEP(avgpool_backward)},
    [XAI_OP_GLOBALAVGPOOL] = {REFERENCE_STEP(global_avgpool_forward), REFERENCE_STEP(global_avgpool_backward)},
    [XAI_OP_ADD] = {REFERENCE_STEP(binary_forward), REFERENCE_STEP(binary_backward)},
    [XAI_OP_FLATTEN] = {REFERENCE_STEP(flatten_forward), REFERENCE_STEP(flatten_backward)},
    [XAI_OP_GEMM] = {REFERENCE_STEP(gemm_forward), REFERENCE_STEP(gemm_backward)},
    [XAI_OP_CONCAT] = {REFERENCE_STEP(concat_forward), REFERENCE_STEP(concat_backward)},
    [XAI_OP_SLICE] = {REFERENCE_STEP(moves_forward), REFERENCE_STEP(moves_backward)},
    [XAI_OP_SHUFFLE] = {REFERENCE_STEP(moves_forward), REFERENCE_STEP(moves_backward)},
    [XAI_OP_MUL] = {REFERENCE_STEP(binary_forward), REFERENCE_STEP(binary_backward)},
    [XAI_OP_SUB] = {REFERENCE_STEP(binary_forward), REFERENCE_STEP(binary_backward)},
    [XAI_OP_DIV] = {REFERENCE_STEP(binary_forward), REFERENCE_STEP(binary_backward)},
    [XAI_OP_SIGMOID] = {REFERENCE_STEP(smooth_forward), REFERENCE_STEP(smooth_backward)},
    [XAI_OP_HARDSIGMOID] = {REFERENCE_STEP(smooth_forward), REFERENCE_STEP(smooth_backward)},
    [XAI_OP_HARDSWISH] = {REFERENCE_STEP(smooth_forward), REFERENCE_STEP(smooth_backward)},
    [XAI_OP_ERF] = {REFERENCE_STEP(smooth_forward), REFERENCE_STEP(smooth_backward)},
    [XAI_OP_SCALE] = {REFERENCE_STEP(scale_forward), REFERENCE_STEP(scale_backward)},
    [XAI_OP_TRANSPOSE] = {REFERENCE_STEP(transpose_forward), REFERENCE_STEP(transpose_backward)},
    [XAI_OP_LAYERNORM] = {REFERENCE_STEP(layernorm_forward), REFERENCE_STEP(layernorm_backward)},
    [XAI_OP_SQRT] = {REFERENCE_STEP(smooth_forward), REFERENCE_STEP(smooth_backward)},
    [XAI_OP_POW] = {REFERENCE_STEP(smooth_forward), REFERENCE_STEP(smooth_backward)},
    [XAI_OP_TANH] = {REFERENCE_STEP(smooth_forward), REFERENCE_STEP(smooth_backward)},
    [XAI_OP_REDUCEMEAN] = {REFERENCE_STEP(reduce_mean_forward), REFERENCE_STEP(reduce_mean_backward)},
    [XAI_OP_PAD] = {REFERENCE_STEP(pad_forward), REFERENCE_STEP(pad_backward)},
    [XAI_OP_MATMUL] = {REFERENCE_STEP(matmul_forward), REFERENCE_STEP(matmul_backward)},
    [XAI_OP_SOFTMAX] = {REFERENCE_STEP(softmax_forward), REFERENCE_STEP(softmax_backward)},
};

void REFERENCE(destroy)(reference_engine *r)
{
    if (!r) return;
    for (int v = 0; r->value && v < r->graph->n_values; v++) {
        free(r->value[v]);
        free(r->grad[v]);
    }
    for (int i = 0; r->argmax && i < r->graph->n_nodes; i++) free(r->argmax[i]);
    free(r->value);
    free(r->grad);
    free(r->argmax);
    free(r);
}

int REFERENCE(create)(reference_engine **out, const xai_graph *g, int batch)
{
    *out = NULL;
    if (batch < 1) return xai_fail("batch must be >= 1");
    reference_engine *r = xai_calloc(1, sizeof *r);
    if (!r) return XAI_ERR;
    r->graph = g;
    r->batch = batch;
    r->value = xai_calloc((size_t)g->n_values, sizeof *r->value);
    r->grad = xai_calloc((size_t)g->n_values, sizeof *r->grad);
    r->argmax = xai_calloc((size_t)g->n_nodes, sizeof *r->argmax);
    int ok = r->value && r->grad && r->argmax;
    for (int v = 0; ok && v < g->n_values; v++) {
        size_t n = (size_t)batch * xai_value_size(&g->values[v]);
        ok = (r->value[v] = xai_calloc(n, sizeof(real))) && (r->grad[v] = xai_calloc(n, sizeof(real)));
    }
    for (int i = 0; ok && i < g->n_nodes; i++)
        if (g->nodes[i].op == XAI_OP_MAXPOOL)
            ok = (r->argmax[i] = xai_calloc((size_t)batch * xai_value_size(&g->values[g->nodes[i].output]),
                                            sizeof(size_t))) != NULL;
    if (!ok) {
        REFERENCE(destroy)(r);
        return XAI_ERR;
    }
    *out = r;
    return XAI_OK;
}

int REFERENCE(forward)(reference_engine *r, const real *input, real *logits)
{
    const xai_graph *g = r->graph;
    int N = r->batch;
    memcpy(r->value[g->input], input, (size_t)N * xai_value_size(&g->values[g->input]) * sizeof(real));
    for (int i = 0; i < g->n_nodes; i++) registry[g->nodes[i].op].forward(r, i);
    if (logits)
        memcpy(logits, r->value[g->output], (size_t)N * xai_value_size(&g->values[g->output]) * sizeof(real));
    r->forward_done = 1;
    return XAI_OK;
}

/* The node that produces value v; -1 for the graph's input. */
static int producer(const xai_graph *g, int v)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].output == v) return i;
    return -1;
}

int REFERENCE(backward)(reference_engine *r, const xai_rule *rule, const int *targets, real *map)
{
    const xai_graph *g = r->graph;
    int N = r->batch, classes = xai_graph_outputs(g);
    for (int n = 0; n < N; n++)
        if (targets[n] < 0 || targets[n] >= classes)
            return xai_fail("target class %d outside 0..%d", targets[n], classes - 1);
    real *seed = xai_calloc((size_t)N * classes, sizeof *seed);
    if (!seed) return XAI_ERR;
    for (int n = 0; n < N; n++) seed[(size_t)n * classes + targets[n]] = 1.0;
    int status = REFERENCE(backward_seeded)(r, rule, seed, map, -1);
    free(seed);
    return status;
}

int REFERENCE(read_value)(reference_engine *r, int v, real *activation, real *gradient)
{
    if (v < 0 || v >= r->graph->n_values) return xai_fail("reference engine: no value %d", v);
    size_t n = (size_t)r->batch * xai_value_size(&r->graph->values[v]) * sizeof(real);
    if (activation) memcpy(activation, r->value[v], n);
    if (gradient) memcpy(gradient, r->grad[v], n);
    return XAI_OK;
}

int REFERENCE(backward_seeded)(reference_engine *r, const xai_rule *method, const real *seed, real *map, int stop_value)
{
    const xai_graph *g = r->graph;
    int N = r->batch;
    if (!r->forward_done) return xai_fail("reference engine: backward before forward");
    if (stop_value >= g->n_values) return xai_fail("reference engine: no value %d", stop_value);
    int classes = xai_graph_outputs(g), stop = stop_value >= 0 ? producer(g, stop_value) : -1;
    for (int v = 0; v < g->n_values; v++)
        memset(r->grad[v], 0, (size_t)N * xai_value_size(&g->values[v]) * sizeof(real));
    memcpy(r->grad[g->output], seed, (size_t)N * classes * sizeof(real));

    r->rule = method;
    for (int i = g->n_nodes - 1; i > stop; i--) registry[g->nodes[i].op].backward(r, i);
    if (stop_value < 0) memcpy(map, r->grad[g->input], (size_t)N * xai_value_size(&g->values[g->input]) * sizeof(real));
    return XAI_OK;
}
