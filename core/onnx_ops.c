/* onnx_ops.c - step 2 of the ONNX reader (onnx_internal.h): the registry of the ONNX operators
 * it reads, each with the converter that turns a node of it into xaibench's nodes (or an alias, or
 * a fold into a neighbour) and the xai_op it makes, and the dispatch over it. Adding an op: its
 * converter in a file of its kind and one line here. */
#include <stdio.h>
#include <string.h>

#include "onnx_internal.h"
#include "xai_status.h"

static const struct {
    const char *onnx;
    onnx_converter convert;
    xai_op op;              /* what convert makes (XAI_OP_COUNT: it decides, or makes none) */
} registry[] = {
    {"Conv", onnx_convert_conv, XAI_OP_CONV},
    {"BatchNormalization", onnx_convert_batchnorm, XAI_OP_BATCHNORM},
    {"Relu", onnx_convert_unary, XAI_OP_RELU},
    {"Clip", onnx_convert_clip, XAI_OP_CLIP},
    {"MaxPool", onnx_convert_maxpool, XAI_OP_MAXPOOL},
    {"AveragePool", onnx_convert_avgpool, XAI_OP_AVGPOOL},
    {"GlobalAveragePool", onnx_convert_unary, XAI_OP_GLOBALAVGPOOL},
    {"ReduceMean", onnx_convert_reduce_mean, XAI_OP_COUNT},
    {"Add", onnx_convert_arithmetic, XAI_OP_ADD},
    {"Mul", onnx_convert_arithmetic, XAI_OP_MUL},
    {"Sub", onnx_convert_arithmetic, XAI_OP_SUB},
    {"Div", onnx_convert_arithmetic, XAI_OP_DIV},
    {"Flatten", onnx_convert_flatten, XAI_OP_FLATTEN},
    {"Reshape", onnx_convert_reshape, XAI_OP_FLATTEN},
    {"Unsqueeze", onnx_convert_squeeze, XAI_OP_FLATTEN},
    {"Squeeze", onnx_convert_squeeze, XAI_OP_FLATTEN},
    {"Gemm", onnx_convert_gemm, XAI_OP_GEMM},
    {"MatMul", onnx_convert_matmul, XAI_OP_MATMUL},
    {"Softmax", onnx_convert_softmax, XAI_OP_SOFTMAX},
    {"Concat", onnx_convert_concat, XAI_OP_CONCAT},
    {"Split", onnx_convert_split, XAI_OP_SLICE},
    {"Slice", onnx_convert_slice, XAI_OP_SLICE},
    {"Sigmoid", onnx_convert_unary, XAI_OP_SIGMOID},
    {"HardSigmoid", onnx_convert_hardsigmoid, XAI_OP_HARDSIGMOID},
    {"HardSwish", onnx_convert_unary, XAI_OP_HARDSWISH},
    {"Erf", onnx_convert_unary, XAI_OP_ERF},
    {"Sqrt", onnx_convert_unary, XAI_OP_SQRT},
    {"Tanh", onnx_convert_unary, XAI_OP_TANH},
    {"Pow", onnx_convert_pow, XAI_OP_POW},
    {"Transpose", onnx_convert_transpose, XAI_OP_TRANSPOSE},
    {"LayerNormalization", onnx_convert_layernorm, XAI_OP_LAYERNORM},
    {"Pad", onnx_convert_pad, XAI_OP_PAD},
    {"Identity", onnx_convert_alias, XAI_OP_COUNT},
    {"Dropout", onnx_convert_alias, XAI_OP_COUNT},
    {"Cast", onnx_convert_cast, XAI_OP_COUNT},
};

int onnx_convert_node(reader *r, const Onnx__GraphProto *g, size_t index)
{
    const Onnx__NodeProto *n = g->node[index];
    const char *op = n->op_type ? n->op_type : "";
    char label[256];
    if (n->name && *n->name) snprintf(label, sizeof label, "node '%s' (%s)", n->name, op);
    else snprintf(label, sizeof label, "node #%zu (%s)", index, op);

    if (r->skip[index]) return XAI_OK;
    if (n->domain && *n->domain && strcmp(n->domain, "ai.onnx") != 0)
        return xai_fail("%s: %s: operator domain '%s' is not supported", r->path, label,
                        n->domain);
    if (strcmp(op, "Constant") == 0) return XAI_OK;
    if (n->n_input < 1 || !n->input[0][0] || n->n_output < 1 || !n->output[0][0])
        return xai_fail("%s: %s: needs an input and an output", r->path, label);
    int folded = onnx_fold_constant(r, n, label);
    if (folded) return folded == 1 ? XAI_OK : XAI_ERR;
    for (size_t k = 0; k < sizeof registry / sizeof *registry; k++)
        if (strcmp(op, registry[k].onnx) == 0) return registry[k].convert(r, g, index, label, registry[k].op);
    return xai_fail("%s: %s: operator '%s' is not supported (opset %lld)", r->path, label, op, (long long)r->opset);
}
