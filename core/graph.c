/* graph.c - small queries over an xai_graph: op names, metadata, parameter and MAC counts. */
#include <string.h>

#include "xai_graph.h"

const char *xai_op_name(xai_op op)
{
    static const char *const names[XAI_OP_COUNT] = {
        [XAI_OP_CONV] = "Conv", [XAI_OP_BATCHNORM] = "BatchNormalization", [XAI_OP_RELU] = "Relu",
        [XAI_OP_CLIP] = "Clip", [XAI_OP_MAXPOOL] = "MaxPool", [XAI_OP_AVGPOOL] = "AveragePool",
        [XAI_OP_GLOBALAVGPOOL] = "GlobalAveragePool", [XAI_OP_ADD] = "Add", [XAI_OP_FLATTEN] = "Flatten",
        [XAI_OP_GEMM] = "Gemm", [XAI_OP_CONCAT] = "Concat", [XAI_OP_SLICE] = "Slice",
        [XAI_OP_SHUFFLE] = "ChannelShuffle", [XAI_OP_MUL] = "Mul", [XAI_OP_SUB] = "Sub", [XAI_OP_DIV] = "Div", [XAI_OP_SIGMOID] = "Sigmoid",
        [XAI_OP_HARDSIGMOID] = "HardSigmoid", [XAI_OP_HARDSWISH] = "HardSwish", [XAI_OP_ERF] = "Erf",
        [XAI_OP_SCALE] = "Scale", [XAI_OP_TRANSPOSE] = "Transpose", [XAI_OP_LAYERNORM] = "LayerNormalization",
        [XAI_OP_SQRT] = "Sqrt", [XAI_OP_POW] = "Pow", [XAI_OP_TANH] = "Tanh", [XAI_OP_REDUCEMEAN] = "ReduceMean",
        [XAI_OP_PAD] = "Pad", [XAI_OP_MATMUL] = "MatMul", [XAI_OP_SOFTMAX] = "Softmax",
    };
    return op >= 0 && op < XAI_OP_COUNT && names[op] ? names[op] : "?";
}

const char *xai_graph_metadata(const xai_graph *g, const char *key)
{
    for (int i = 0; i < g->n_metadata; i++)
        if (strcmp(g->metadata[i].key, key) == 0) return g->metadata[i].value;
    return NULL;
}

int64_t xai_node_parameters(const xai_graph *g, int i)
{
    const xai_node *n = &g->nodes[i];
    if (n->op == XAI_OP_CONV)
        return (int64_t)n->out_channels * (n->in_channels / n->group) * n->kernel_h * n->kernel_w +
               n->out_channels;
    if (n->op == XAI_OP_GEMM) return (int64_t)n->out_channels * n->in_channels + n->out_channels;
    if (n->op == XAI_OP_BATCHNORM) return 4 * (int64_t)n->out_channels;
    if (n->op == XAI_OP_SCALE || n->op == XAI_OP_LAYERNORM) return 2 * (int64_t)n->in_channels;
    return 0;
}

int64_t xai_node_macs(const xai_graph *g, int i)
{
    const xai_node *n = &g->nodes[i];
    const xai_value *out = &g->values[n->output];
    if (n->op == XAI_OP_CONV)
        return (int64_t)out->c * out->h * out->w * (n->in_channels / n->group) * n->kernel_h *
               n->kernel_w;
    if (n->op == XAI_OP_GEMM) return (int64_t)n->out_channels * n->in_channels * (out->rank == 4 ? out->c * out->h : 1);
    if (n->op == XAI_OP_MATMUL) {
        int count, m, k, p;
        xai_matmul_dims(&g->values[n->input[0]], &g->values[n->input[1]], &count, &m, &k, &p);
        return (int64_t)count * m * k * p;
    }
    return 0;
}

int64_t xai_graph_parameter_count(const xai_graph *g)
{
    int64_t count = 0;
    for (int i = 0; i < g->n_nodes; i++) count += xai_node_parameters(g, i);
    return count;
}

int64_t xai_graph_macs(const xai_graph *g)
{
    int64_t macs = 0;
    for (int i = 0; i < g->n_nodes; i++) macs += xai_node_macs(g, i);
    return macs;
}
