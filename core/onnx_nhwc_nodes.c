/* onnx_nhwc_nodes.c - step 2 of the ONNX reader (onnx_internal.h) for the ops of blocks that work
 * channels-last (ConvNeXt): Transpose, LayerNormalization (also as the nine nodes PyTorch writes
 * for it below opset 17), Erf, and Mul, Div, Add or Sub with a constant (GELU's scalars, a layer
 * scale of [C,1,1]). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_internal.h"
#include "xai_status.h"

int onnx_convert_transpose(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op)
{
    const Onnx__NodeProto *n = g->node[index];
    const Onnx__AttributeProto *perm = onnx_find_attribute(n, "perm");
    if (!perm || perm->n_ints < 2 || perm->n_ints > 4 || perm->ints[0] != 0)
        return xai_fail("%s: %s: only a Transpose of rank 2 to 4 that keeps the batch first is supported", r->path,
                        label);
    int seen[4] = {0};
    for (size_t k = 0; k < perm->n_ints; k++) {
        if (perm->ints[k] < 0 || perm->ints[k] >= (int64_t)perm->n_ints || seen[perm->ints[k]]++)
            return xai_fail("%s: %s: perm is not a permutation of 0..%zu", r->path, label, perm->n_ints - 1);
    }
    pending_node *p = onnx_new_node(r, n, index, op, 1, n->output[0], "");
    if (!p) return XAI_ERR;
    p->input_name[0] = n->input[0];
    p->perm_rank = (int)perm->n_ints;
    for (int k = 0; k < 3; k++) p->node.perm[k] = k + 1 < p->perm_rank ? (int)perm->ints[k + 1] - 1 : k;
    return XAI_OK;
}

/* Weight and bias of a LayerNormalization, `features` values each (bias NULL: zeros). */
static int layernorm_node(reader *r, const Onnx__NodeProto *n, size_t index, const char *input, const char *output,
                          const constant *weight, const constant *bias, float epsilon, int axis, const char *label)
{
    if (weight->count < 1 || weight->count > 1 << 24 || (bias && bias->count != weight->count))
        return xai_fail("%s: %s: scale of %zu and bias of %zu values", r->path, label, weight->count,
                        bias ? bias->count : weight->count);
    pending_node *p = onnx_new_node(r, n, index, XAI_OP_LAYERNORM, 1, output, "");
    if (!p) return XAI_ERR;
    p->input_name[0] = input;
    p->norm_axis = axis;
    p->node.in_channels = (int)weight->count;
    p->node.bn_epsilon = epsilon;
    if (!(p->node.weight = onnx_copy_floats(weight->data, weight->count)) ||
        !(p->node.bias = xai_calloc(weight->count, sizeof(float))))
        return XAI_ERR;
    if (bias) memcpy(p->node.bias, bias->data, bias->count * sizeof(float));
    return XAI_OK;
}

int onnx_convert_layernorm(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op)
{
    (void)op; /* LAYERNORM, as the nine nodes of the written-out form make it */
    const Onnx__NodeProto *n = g->node[index];
    int64_t axis = onnx_attribute_int(n, "axis", -1);
    if (axis < -4 || axis > 3) return xai_fail("%s: %s: axis %lld", r->path, label, (long long)axis);
    /* Mean and InvStdDev (outputs 1 and 2, for training) are not produced: a node that reads one
     * is refused when the graph is put in order, as reading any value nothing produces is. */
    const Onnx__AttributeProto *epsilon = onnx_find_attribute(n, "epsilon");
    constant *weight = onnx_weight_input(r, n, label, 1);
    constant *bias = n->n_input > 2 && n->input[2][0] ? onnx_weight_input(r, n, label, 2) : NULL;
    if (!weight || (n->n_input > 2 && n->input[2][0] && !bias)) return XAI_ERR;
    return layernorm_node(r, n, index, n->input[0], n->output[0], weight, bias,
                          epsilon && epsilon->has_f ? epsilon->f : 1e-5f, (int)axis, label);
}

/* ---- LayerNormalization as nine nodes ----------------------------------------------------- */

/* The node of type `op` that reads value `name` and has an output (the first, in graph order), or -1. */
static int reader_of(reader *r, const Onnx__GraphProto *g, const char *name, const char *op)
{
    for (size_t k = 0; k < g->n_node; k++) {
        const Onnx__NodeProto *n = g->node[k];
        if (!n->op_type || strcmp(n->op_type, op) != 0 || n->n_output < 1 || !n->output[0][0]) continue;
        for (size_t j = 0; j < n->n_input; j++)
            if (strcmp(onnx_resolve_alias(r, n->input[j]), name) == 0) return (int)k;
    }
    return -1;
}

/* The float constant among node k's two inputs (its other input is `value`), or NULL. */
static constant *constant_beside(reader *r, const Onnx__GraphProto *g, int k, const char *value)
{
    if (k < 0 || g->node[k]->n_input != 2) return NULL;
    for (int slot = 0; slot < 2; slot++)
        if (strcmp(onnx_resolve_alias(r, g->node[k]->input[1 - slot]), value) == 0) {
            constant *c = onnx_find_constant(r, onnx_resolve_alias(r, g->node[k]->input[slot]));
            return c && c->data ? c : NULL;
        }
    return NULL;
}

/* A ReduceMean over the last axis of rank 4, keeping it: axes as an attribute, or from opset 18 as
 * a constant input. */
static int mean_of_last_axis(reader *r, const Onnx__NodeProto *n)
{
    const Onnx__AttributeProto *attribute = onnx_find_attribute(n, "axes");
    constant *input = !attribute && n->n_input > 1 && n->input[1][0]
                          ? onnx_find_constant(r, onnx_resolve_alias(r, n->input[1]))
                          : NULL;
    const int64_t *axes = attribute ? attribute->ints : input ? input->int_data : NULL;
    size_t count = attribute ? attribute->n_ints : input ? input->count : 0;
    return axes && count == 1 && (axes[0] == -1 || axes[0] == 3) && onnx_attribute_int(n, "keepdims", 1) == 1;
}

int onnx_is_layernorm_start(reader *r, const Onnx__NodeProto *n)
{
    return n->op_type && strcmp(n->op_type, "ReduceMean") == 0 && mean_of_last_axis(r, n);
}

/* From ReduceMean(X) over the last axis: Sub(X, mean) = D; Pow(D, 2); ReduceMean; Add eps; Sqrt;
 * Div(D, sqrt) = Q; then Mul(Q, weight) and Add(., bias) when there: one LAYERNORM node. */
int onnx_convert_layernorm_nodes(reader *r, const Onnx__GraphProto *g, size_t index, const char *label)
{
    const Onnx__NodeProto *n = g->node[index];
    const char *x = onnx_resolve_alias(r, n->input[0]);
    int sub = reader_of(r, g, n->output[0], "Sub");
    int ok = sub >= 0 && g->node[sub]->n_input == 2 && strcmp(onnx_resolve_alias(r, g->node[sub]->input[0]), x) == 0;
    const char *d = ok ? g->node[sub]->output[0] : "";
    int pow = ok ? reader_of(r, g, d, "Pow") : -1;
    constant *two = constant_beside(r, g, pow, d);
    ok = two && two->count == 1 && two->data[0] == 2.f;
    int mean2 = ok ? reader_of(r, g, g->node[pow]->output[0], "ReduceMean") : -1;
    ok = mean2 >= 0 && mean_of_last_axis(r, g->node[mean2]);
    int add = ok ? reader_of(r, g, g->node[mean2]->output[0], "Add") : -1;
    constant *epsilon = ok ? constant_beside(r, g, add, g->node[mean2]->output[0]) : NULL;
    ok = epsilon && epsilon->count == 1;
    int sqrt_node = ok ? reader_of(r, g, g->node[add]->output[0], "Sqrt") : -1;
    int div = sqrt_node >= 0 ? reader_of(r, g, g->node[sqrt_node]->output[0], "Div") : -1;
    ok = div >= 0 && strcmp(onnx_resolve_alias(r, g->node[div]->input[0]), d) == 0;
    if (!ok)
        return xai_fail("%s: %s: a ReduceMean over the last axis is supported only as the start of a layer "
                        "normalization (Sub, Pow 2, ReduceMean, Add eps, Sqrt, Div)", r->path, label);
    const char *output = g->node[div]->output[0];
    int used[8] = {sub, pow, mean2, add, sqrt_node, div, -1, -1}, n_used = 6;
    int mul = reader_of(r, g, output, "Mul");
    constant *weight = constant_beside(r, g, mul, output), *bias = NULL;
    if (weight) {
        output = g->node[mul]->output[0], used[n_used++] = mul;
        int shift = reader_of(r, g, output, "Add");
        if ((bias = constant_beside(r, g, shift, output))) output = g->node[shift]->output[0], used[n_used++] = shift;
    }
    if (!weight) return xai_fail("%s: %s: a layer normalization without a scale is not supported", r->path, label);
    for (int k = 0; k < n_used; k++) r->skip[used[k]] = 1;
    return layernorm_node(r, n, index, x, output, weight, bias, epsilon->data[0], -1, label);
}

/* ---- arithmetic with a constant ---------------------------------------------------------- */

/* Mul, Div, Add or Sub of a value and a float constant that broadcasts over it without varying
 * along the batch (a scalar, [C,1,1], [W], [1,C,H,W], ...): a SCALE node. Returns 0 when neither input is a float constant. */
int onnx_convert_scale(reader *r, const Onnx__NodeProto *n, size_t index, const char *label)
{
    constant *c = NULL;
    int slot;
    for (slot = 0; slot < 2 && !c; slot++) {
        c = onnx_find_constant(r, onnx_resolve_alias(r, n->input[slot]));
        if (c && !c->data) c = NULL;
    }
    if (!c) return 0;
    slot--; /* the constant's input */
    if (c->rank > 4)
        return xai_fail("%s: %s: a constant of rank %d does not broadcast over a value of rank 2 to 4", r->path,
                        label, c->rank);
    const char *op = n->op_type;
    if (strcmp(op, "Div") == 0 && slot == 0)
        return xai_fail("%s: %s: dividing a constant by a value is not supported", r->path, label);
    pending_node *p = onnx_new_node(r, n, index, XAI_OP_SCALE, 1, n->output[0], "");
    if (!p) return XAI_ERR;
    p->input_name[0] = n->input[1 - slot];
    p->node.in_channels = (int)c->count;
    p->scale_rank = c->rank; /* aligned with the value's axes once its shape is known */
    for (int k = 0; k < c->rank; k++) p->scale_dims[k] = c->dims[k];
    if (!(p->node.weight = xai_malloc(c->count * sizeof(float))) || !(p->node.bias = xai_malloc(c->count * sizeof(float))))
        return XAI_ERR;
    for (size_t k = 0; k < c->count; k++) {
        float v = c->data[k];
        int mul = strcmp(op, "Mul") == 0, div = strcmp(op, "Div") == 0, add = strcmp(op, "Add") == 0;
        p->node.weight[k] = mul ? v : div ? 1.f / v : add || slot == 1 ? 1.f : -1.f;
        p->node.bias[k] = mul || div ? 0.f : add || slot == 0 ? v : -v;
    }
    return 1;
}
