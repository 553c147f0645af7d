/* onnx_nodes.c - step 2 of the ONNX reader (onnx_internal.h): reading and checking attributes,
 * making pending nodes, and the converters (registered in onnx_ops.c) of the classic CNN ops,
 * the arithmetic ops, the activations and the aliases (Identity, Dropout). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_internal.h"
#include "xai_status.h"

/* ---- attributes ---------------------------------------------------------------------------- */

const Onnx__AttributeProto *onnx_find_attribute(const Onnx__NodeProto *n, const char *name)
{
    for (size_t i = 0; i < n->n_attribute; i++)
        if (n->attribute[i]->name && strcmp(n->attribute[i]->name, name) == 0)
            return n->attribute[i];
    return NULL;
}

int64_t onnx_attribute_int(const Onnx__NodeProto *n, const char *name, int64_t fallback)
{
    const Onnx__AttributeProto *a = onnx_find_attribute(n, name);
    return a && a->has_i ? a->i : fallback;
}

float onnx_attribute_float(const Onnx__NodeProto *n, const char *name, float fallback)
{
    const Onnx__AttributeProto *a = onnx_find_attribute(n, name);
    return a && a->has_f ? a->f : fallback;
}

/* Copy an INTS attribute of exactly `want` entries; absent leaves `out` unchanged. */
static int attribute_ints(reader *r, const Onnx__NodeProto *n, const char *label, const char *name,
                          int64_t *out, size_t want)
{
    const Onnx__AttributeProto *a = onnx_find_attribute(n, name);
    if (!a) return XAI_OK;
    if (a->n_ints != want)
        return xai_fail("%s: %s: attribute %s has %zu values, expected %zu (2-D only)", r->path,
                        label, name, a->n_ints, want);
    for (size_t i = 0; i < want; i++) {
        if (a->ints[i] < 0 || a->ints[i] > 65536)
            return xai_fail("%s: %s: attribute %s has value %lld", r->path, label, name,
                            (long long)a->ints[i]);
        out[i] = a->ints[i];
    }
    return XAI_OK;
}

static int read_auto_pad(reader *r, const Onnx__NodeProto *n, const char *label,
                         auto_pad_mode *mode)
{
    const Onnx__AttributeProto *a = onnx_find_attribute(n, "auto_pad");
    *mode = PAD_EXPLICIT;
    if (!a || !a->has_s || a->s.len == 0) return XAI_OK;
    char s[32] = {0};
    memcpy(s, a->s.data, a->s.len < sizeof s - 1 ? a->s.len : sizeof s - 1);
    if (strcmp(s, "NOTSET") == 0) *mode = PAD_EXPLICIT;
    else if (strcmp(s, "VALID") == 0) *mode = PAD_VALID;
    else if (strcmp(s, "SAME_UPPER") == 0) *mode = PAD_SAME_UPPER;
    else if (strcmp(s, "SAME_LOWER") == 0) *mode = PAD_SAME_LOWER;
    else return xai_fail("%s: %s: unknown auto_pad '%s'", r->path, label, s);
    return XAI_OK;
}

/* kernel_shape, strides, pads, dilations of Conv and the pools. */
int onnx_read_window(reader *r, const Onnx__NodeProto *n, const char *label, pending_node *p,
                       int allow_dilation)
{
    int64_t kernel[2] = {0, 0}, strides[2] = {1, 1}, pads[4] = {0, 0, 0, 0}, dil[2] = {1, 1};
    if (attribute_ints(r, n, label, "kernel_shape", kernel, 2) ||
        attribute_ints(r, n, label, "strides", strides, 2) ||
        attribute_ints(r, n, label, "pads", pads, 4) ||
        attribute_ints(r, n, label, "dilations", dil, 2) ||
        read_auto_pad(r, n, label, &p->auto_pad))
        return XAI_ERR;
    if (strides[0] < 1 || strides[1] < 1 || dil[0] < 1 || dil[1] < 1)
        return xai_fail("%s: %s: strides and dilations must be >= 1", r->path, label);
    if (!allow_dilation && (dil[0] != 1 || dil[1] != 1))
        return xai_fail("%s: %s: dilations other than 1 are not supported", r->path, label);
    p->explicit_kernel = onnx_find_attribute(n, "kernel_shape") != NULL;
    p->node.kernel_h = (int)kernel[0];
    p->node.kernel_w = (int)kernel[1];
    p->node.stride_h = (int)strides[0];
    p->node.stride_w = (int)strides[1];
    p->node.pad_top = (int)pads[0];
    p->node.pad_left = (int)pads[1];
    p->node.pad_bottom = (int)pads[2];
    p->node.pad_right = (int)pads[3];
    p->node.dilation_h = (int)dil[0];
    p->node.dilation_w = (int)dil[1];
    return XAI_OK;
}
/* ---- step 2: nodes ------------------------------------------------------------------------- */

/* A node of `op` reading the first n_inputs inputs of ONNX node n (at most as many as it has). */
static pending_node *value_node(reader *r, const Onnx__NodeProto *n, size_t index, xai_op op, int n_inputs)
{
    if (n_inputs > (int)n->n_input) n_inputs = (int)n->n_input;
    pending_node *p = onnx_new_node(r, n, index, op, n_inputs, n->output[0], "");
    for (int k = 0; p && k < n_inputs; k++) p->input_name[k] = n->input[k];
    return p;
}

int onnx_convert_unary(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op)
{
    (void)label;
    return value_node(r, g->node[index], index, op, 1) ? XAI_OK : XAI_ERR;
}

int onnx_convert_alias(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op)
{
    (void)label, (void)op;
    return onnx_add_alias(r, g->node[index]->output[0], g->node[index]->input[0]);
}

/* Cast to float32 of float32 data is another name for it; to any other type (the int64 arithmetic
 * is folded before) it is refused. */
int onnx_convert_cast(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op)
{
    int64_t to = onnx_attribute_int(g->node[index], "to", 0);
    if (to != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
        return xai_fail("%s: %s: a Cast to data type %lld is not supported; values stay float32", r->path, label,
                        (long long)to);
    return onnx_convert_alias(r, g, index, label, op);
}

int onnx_convert_conv(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op)
{
    const Onnx__NodeProto *n = g->node[index];
    pending_node *p = value_node(r, n, index, op, 1);
    if (!p || onnx_read_window(r, n, label, p, 1)) return XAI_ERR;
    constant *w = onnx_weight_input(r, n, label, 1);
    if (!w) return XAI_ERR;
    if (w->rank != 4)
        return xai_fail("%s: %s: weight has rank %d; only 2-D convolutions are supported",
                        r->path, label, w->rank);
    int64_t group = onnx_attribute_int(n, "group", 1);
    if (w->dims[0] < 1 || w->dims[1] < 1 || w->dims[2] < 1 || w->dims[3] < 1 || w->dims[2] > 65536 ||
        w->dims[3] > 65536)
        return xai_fail("%s: %s: weight [%lld,%lld,%lld,%lld] is not a convolution's", r->path, label,
                        (long long)w->dims[0], (long long)w->dims[1], (long long)w->dims[2], (long long)w->dims[3]);
    if (group < 1 || group > w->dims[0] || w->dims[0] % group)
        return xai_fail("%s: %s: group %lld does not divide the %lld output channels", r->path, label,
                        (long long)group, (long long)w->dims[0]);
    if (w->dims[1] * group > INT_MAX)
        return xai_fail("%s: %s: %lld input channels are too many", r->path, label, (long long)(w->dims[1] * group));
    p->node.group = (int)group;
    p->node.out_channels = (int)w->dims[0];
    p->node.in_channels = (int)(w->dims[1] * group);
    if (p->explicit_kernel &&
        (p->node.kernel_h != w->dims[2] || p->node.kernel_w != w->dims[3]))
        return xai_fail("%s: %s: kernel_shape does not match the weight", r->path, label);
    p->node.kernel_h = (int)w->dims[2];
    p->node.kernel_w = (int)w->dims[3];
    if (!(p->node.weight = onnx_take_floats(w))) return XAI_ERR;
    if (!(p->node.bias = xai_calloc((size_t)p->node.out_channels, sizeof(float)))) return XAI_ERR;
    if (n->n_input > 2 && n->input[2][0]) {
        constant *b = onnx_weight_input(r, n, label, 2);
        if (!b) return XAI_ERR;
        if (b->count != (size_t)p->node.out_channels)
            return xai_fail("%s: %s: bias has %zu values for %d channels", r->path, label,
                            b->count, p->node.out_channels);
        memcpy(p->node.bias, b->data, b->count * sizeof(float));
    }
    return XAI_OK;
}

int onnx_convert_batchnorm(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op)
{
    const Onnx__NodeProto *n = g->node[index];
    /* Before opset 7, is_test defaulted to 0 (training); spatial=0 meant per-pixel stats. */
    if (onnx_attribute_int(n, "training_mode", 0) || onnx_attribute_int(n, "is_test", r->opset >= 7) == 0)
        return xai_fail("%s: %s: training mode (batch statistics) is not supported", r->path, label);
    if (onnx_attribute_int(n, "spatial", 1) == 0)
        return xai_fail("%s: %s: spatial=0 is not supported", r->path, label);
    if (n->n_input != 5) return xai_fail("%s: %s: expected 5 inputs", r->path, label);
    pending_node *p = value_node(r, n, index, op, 1);
    if (!p) return XAI_ERR;
    constant *c[4];
    for (int i = 0; i < 4; i++)
        if (!(c[i] = onnx_weight_input(r, n, label, (size_t)i + 1))) return XAI_ERR;
    size_t channels = c[0]->count;
    for (int i = 1; i < 4; i++)
        if (c[i]->count != channels)
            return xai_fail("%s: %s: scale, bias, mean and var differ in size", r->path, label);
    p->node.out_channels = (int)channels;
    p->node.bn_epsilon = onnx_attribute_float(n, "epsilon", 1e-5f);
    if (!(p->node.bn_gamma = onnx_copy_floats(c[0]->data, channels)) ||
        !(p->node.bn_beta = onnx_copy_floats(c[1]->data, channels)) ||
        !(p->node.bn_mean = onnx_copy_floats(c[2]->data, channels)) ||
        !(p->node.bn_var = onnx_copy_floats(c[3]->data, channels)))
        return XAI_ERR;
    return XAI_OK;
}

int onnx_convert_clip(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op)
{
    const Onnx__NodeProto *n = g->node[index];
    pending_node *p = value_node(r, n, index, op, 1);
    if (!p) return XAI_ERR;
    p->node.clip_min = -INFINITY;
    p->node.clip_max = INFINITY;
    if (r->opset < 11) {
        p->node.clip_min = onnx_attribute_float(n, "min", -INFINITY);
        p->node.clip_max = onnx_attribute_float(n, "max", INFINITY);
    } else {
        for (size_t slot = 1; slot <= 2 && slot < n->n_input; slot++) {
            if (!n->input[slot][0]) continue;
            constant *c = onnx_find_constant(r, onnx_resolve_alias(r, n->input[slot]));
            if (!c || !c->data || c->count != 1)
                return xai_fail("%s: %s: bound '%s' is not a constant scalar; only constant "
                                "Clip bounds are supported", r->path, label, n->input[slot]);
            *(slot == 1 ? &p->node.clip_min : &p->node.clip_max) = c->data[0];
        }
    }
    if (!(p->node.clip_min < p->node.clip_max))
        return xai_fail("%s: %s: min %g is not below max %g", r->path, label,
                        p->node.clip_min, p->node.clip_max);
    return XAI_OK;
}

/* Gemm, and MatMul with a constant [in][out] (from_matmul). */
static int convert_gemm(reader *r, const Onnx__NodeProto *n, size_t index, const char *label, int from_matmul)
{
    pending_node *p = value_node(r, n, index, XAI_OP_GEMM, 1);
    if (!p) return XAI_ERR;
    if (!from_matmul && onnx_attribute_int(n, "transA", 0) != 0)
        return xai_fail("%s: %s: transA=1 is not supported", r->path, label);
    int trans_b = from_matmul ? 0 : (int)onnx_attribute_int(n, "transB", 0);
    float alpha = from_matmul ? 1.f : onnx_attribute_float(n, "alpha", 1.f);
    float beta = from_matmul ? 1.f : onnx_attribute_float(n, "beta", 1.f);
    constant *w = onnx_weight_input(r, n, label, 1);
    if (!w) return XAI_ERR;
    if (w->rank != 2 || w->dims[0] < 1 || w->dims[1] < 1)
        return xai_fail("%s: %s: weight must be 2-D and not empty", r->path, label);
    int out = (int)(trans_b ? w->dims[0] : w->dims[1]);
    int in = (int)(trans_b ? w->dims[1] : w->dims[0]);
    p->node.out_channels = out;
    p->node.in_channels = in;
    if (!(p->node.bias = xai_calloc((size_t)out, sizeof(float)))) return XAI_ERR;
    if (trans_b && alpha == 1.f) { /* already [out][in]: the constant's own buffer, as Conv takes it */
        if (!(p->node.weight = onnx_take_floats(w))) return XAI_ERR;
    } else {
        if (!(p->node.weight = xai_malloc((size_t)out * in * sizeof(float)))) return XAI_ERR;
        for (int o = 0; o < out; o++)
            for (int i = 0; i < in; i++)
                p->node.weight[(size_t)o * in + i] = alpha * w->data[trans_b ? (size_t)o * in + i : (size_t)i * out + o];
    }
    if (!from_matmul && n->n_input > 2 && n->input[2][0]) {
        constant *b = onnx_weight_input(r, n, label, 2);
        if (!b) return XAI_ERR;
        if (b->count != (size_t)out && b->count != 1)
            return xai_fail("%s: %s: bias of %zu values for %d outputs", r->path, label,
                            b->count, out);
        for (int o = 0; o < out; o++) p->node.bias[o] = beta * b->data[b->count == 1 ? 0 : o];
    }
    return XAI_OK;
}

/* Add(Gemm output, constant) where the Gemm output feeds only this Add: fold into the bias.
 * Returns 1 when folded, 0 when it is not such an Add, XAI_ERR on error. */
static int fold_bias_add(reader *r, const Onnx__GraphProto *g, const Onnx__NodeProto *n)
{
    constant *c = NULL;
    const char *activation = NULL;
    for (int slot = 0; slot < 2 && !c; slot++) {
        c = onnx_find_constant(r, onnx_resolve_alias(r, n->input[slot]));
        activation = n->input[1 - slot];
    }
    if (!c) return 0;
    activation = onnx_resolve_alias(r, activation);
    for (int i = r->n_nodes - 1; i >= 0; i--) {
        pending_node *p = &r->nodes[i];
        if (strcmp(p->output_name, activation) != 0) continue;
        if (p->node.op != XAI_OP_GEMM || !c->data ||
            (c->count != 1 && c->count != (size_t)p->node.out_channels))
            break;
        int consumers = 0;
        for (size_t k = 0; k < g->n_node; k++)
            for (size_t j = 0; j < g->node[k]->n_input; j++)
                consumers += strcmp(onnx_resolve_alias(r, g->node[k]->input[j]), activation) == 0;
        if (consumers != 1) break;
        for (int o = 0; o < p->node.out_channels; o++)
            p->node.bias[o] += c->data[c->count == 1 ? 0 : o];
        if (onnx_add_alias(r, n->output[0], activation)) return XAI_ERR;
        return 1;
    }
    return 0; /* an Add of a constant of its own (a SCALE) */
}

int onnx_convert_gemm(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op)
{
    (void)op;
    return convert_gemm(r, g->node[index], index, label, 0);
}

/* MatMul: with a constant [in][out] on the right, a Gemm on the last axis; of two values, MATMUL. */
int onnx_convert_matmul(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op)
{
    const Onnx__NodeProto *n = g->node[index];
    if (n->n_input != 2) return xai_fail("%s: %s: expected 2 inputs", r->path, label);
    if (onnx_find_constant(r, onnx_resolve_alias(r, n->input[1]))) return convert_gemm(r, n, index, label, 1);
    if (onnx_find_constant(r, onnx_resolve_alias(r, n->input[0])))
        return xai_fail("%s: %s: a constant on the left of a MatMul is not supported", r->path, label);
    return value_node(r, n, index, op, 2) ? XAI_OK : XAI_ERR;
}

/* Softmax over one axis (opset 13 on; the last by default), or before opset 13 over every axis
 * from `axis` on (1 by default); the mask of per-image axes is made in step 4. */
int onnx_convert_softmax(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op)
{
    (void)label;
    const Onnx__NodeProto *n = g->node[index];
    pending_node *p = value_node(r, n, index, op, 1);
    if (!p) return XAI_ERR;
    p->axis = (int)onnx_attribute_int(n, "axis", r->opset >= 13 ? -1 : 1);
    p->softmax_to_last = r->opset < 13;
    return XAI_OK;
}

/* Add, Sub, Mul and Div: an Add of a constant after a Gemm, its bias; with a constant, a SCALE;
 * of two values, op (ADD, SUB, MUL or DIV). */
int onnx_convert_arithmetic(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op)
{
    const Onnx__NodeProto *n = g->node[index];
    if (n->n_input != 2) return xai_fail("%s: %s: expected 2 inputs", r->path, label);
    if (onnx_attribute_int(n, "broadcast", 0) && !onnx_find_constant(r, onnx_resolve_alias(r, n->input[1])))
        return xai_fail("%s: %s: broadcasting is not supported", r->path, label);
    int folded;
    if ((strcmp(n->op_type, "Add") == 0 && (folded = fold_bias_add(r, g, n))) ||
        (folded = onnx_convert_scale(r, n, index, label)))
        return folded == 1 ? XAI_OK : XAI_ERR;
    return value_node(r, n, index, op, 2) ? XAI_OK : XAI_ERR;
}

int onnx_convert_maxpool(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op)
{
    const Onnx__NodeProto *n = g->node[index];
    if (n->n_output > 1 && n->output[1][0])
        return xai_fail("%s: %s: the Indices output is not supported", r->path, label);
    pending_node *p = value_node(r, n, index, op, 1);
    if (!p) return XAI_ERR;
    p->ceil_mode = (int)onnx_attribute_int(n, "ceil_mode", 0);
    return onnx_read_window(r, n, label, p, 1);
}

int onnx_convert_avgpool(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op)
{
    const Onnx__NodeProto *n = g->node[index];
    pending_node *p = value_node(r, n, index, op, 1);
    if (!p) return XAI_ERR;
    p->node.count_include_pad = (int)onnx_attribute_int(n, "count_include_pad", 0);
    p->ceil_mode = (int)onnx_attribute_int(n, "ceil_mode", 0);
    return onnx_read_window(r, n, label, p, 0);
}

int onnx_convert_flatten(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op)
{
    (void)label;
    const Onnx__NodeProto *n = g->node[index];
    pending_node *p = value_node(r, n, index, op, 1);
    if (!p) return XAI_ERR;
    p->flatten_axis = (int)onnx_attribute_int(n, "axis", 1);
    return XAI_OK;
}

/* Reshape: to 5-D, the first step of a channel shuffle; else to a constant shape of rank 2 to 4
 * that keeps the batch first (a FLATTEN: the same elements in NCHW order). */
int onnx_convert_reshape(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op)
{
    const Onnx__NodeProto *n = g->node[index];
    constant *s = n->n_input > 1 ? onnx_find_constant(r, onnx_resolve_alias(r, n->input[1])) : NULL;
    if (s && s->int_data && s->count == 5) return onnx_convert_shuffle(r, g, index, label);
    if (!s || !s->int_data || s->count < 2 || s->count > 4)
        return xai_fail("%s: %s: only a Reshape to a constant shape of rank 2 to 4, or the three steps of a "
                        "channel shuffle, are supported", r->path, label);
    pending_node *p = value_node(r, n, index, op, 1);
    if (!p) return XAI_ERR;
    p->reshape_rank = (int)s->count;
    memcpy(p->reshape_dims, s->int_data, s->count * sizeof *s->int_data);
    return XAI_OK;
}

/* Unsqueeze and Squeeze of a value: their axes (attribute before opset 13, input from 13) as a
 * mask for the shape step; a FLATTEN. */
int onnx_convert_squeeze(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op)
{
    const Onnx__NodeProto *n = g->node[index];
    const int64_t *axes;
    size_t n_axes;
    xai_value in;
    if (onnx_read_axes(r, n, label, &axes, &n_axes) || onnx_value_shape(r, n->input[0], &in)) return XAI_ERR;
    int unsqueeze = strcmp(n->op_type, "Unsqueeze") == 0, rank = unsqueeze ? in.rank + (int)n_axes : in.rank, mask = 0;
    if (unsqueeze && !n_axes) return xai_fail("%s: %s: no axes", r->path, label);
    if (rank > 4) return xai_fail("%s: %s: a result of rank %d; xaibench holds ranks 2 to 4", r->path, label, rank);
    for (size_t k = 0; k < n_axes; k++) {
        int64_t axis = axes[k] < 0 ? axes[k] + rank : axes[k];
        if (axis < 0 || axis >= rank || (mask & 1 << axis))
            return xai_fail("%s: %s: axis %lld outside rank %d, or given twice", r->path, label, (long long)axes[k],
                            rank);
        if (axis == 0) return xai_fail("%s: %s: the batch must stay the first axis", r->path, label);
        mask |= 1 << axis;
    }
    pending_node *p = value_node(r, n, index, op, 1);
    if (!p) return XAI_ERR;
    p->size_one_axes = mask;
    return XAI_OK;
}

int onnx_convert_hardsigmoid(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op)
{
    (void)label;
    const Onnx__NodeProto *n = g->node[index];
    pending_node *p = value_node(r, n, index, op, 1);
    if (!p) return XAI_ERR;
    p->node.alpha = onnx_attribute_float(n, "alpha", 0.2f);
    p->node.beta = onnx_attribute_float(n, "beta", 0.5f);
    return XAI_OK;
}

pending_node *onnx_new_node(reader *r, const Onnx__NodeProto *n, size_t index, xai_op op, int n_inputs,
                            const char *output, const char *suffix)
{
    pending_node *p = &r->nodes[r->n_nodes];
    memset(p, 0, sizeof *p);
    p->onnx_op = n->op_type;
    p->output_name = output;
    p->node.op = op;
    p->node.n_inputs = n_inputs;
    p->node.clip_min = 0.f;
    p->node.clip_max = INFINITY;
    char node_name[320];
    if (n->name && *n->name) snprintf(node_name, sizeof node_name, "%s%s", n->name, suffix);
    else snprintf(node_name, sizeof node_name, "%s#%zu%s", n->op_type, index, suffix);
    if (!(p->node.name = onnx_copy_string(node_name)) ||
        !(p->input_name = xai_calloc((size_t)n_inputs, sizeof *p->input_name))) {
        free(p->node.name);
        return NULL;
    }
    r->n_nodes++; /* from here on the node's allocations belong to the reader */
    return p;
}

int onnx_read_axes(reader *r, const Onnx__NodeProto *n, const char *label, const int64_t **axes, size_t *n_axes)
{
    const Onnx__AttributeProto *a = onnx_find_attribute(n, "axes");
    *axes = NULL, *n_axes = 0;
    if (a) *axes = a->ints, *n_axes = a->n_ints;
    else if (n->n_input > 1 && n->input[1][0]) {
        constant *c = onnx_int_input(r, n, label, 1);
        if (!c) return XAI_ERR;
        *axes = c->int_data, *n_axes = c->count;
    }
    return XAI_OK;
}

constant *onnx_int_input(reader *r, const Onnx__NodeProto *n, const char *label, size_t slot)
{
    constant *c = slot < n->n_input && n->input[slot][0] ? onnx_find_constant(r, onnx_resolve_alias(r, n->input[slot]))
                                                          : NULL;
    if (!c || !c->int_data) {
        xai_fail("%s: %s: input %zu is not a constant int64 tensor; only static shapes are supported", r->path,
                 label, slot);
        return NULL;
    }
    return c;
}

/* Pow with a constant scalar exponent (float or int64). */
int onnx_convert_pow(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op)
{
    const Onnx__NodeProto *n = g->node[index];
    constant *e = n->n_input == 2 ? onnx_find_constant(r, onnx_resolve_alias(r, n->input[1])) : NULL;
    if (!e || e->count != 1 || (!e->data && !e->int_data))
        return xai_fail("%s: %s: only a constant scalar exponent is supported", r->path, label);
    pending_node *p = value_node(r, n, index, op, 1);
    if (!p) return XAI_ERR;
    p->node.alpha = e->data ? e->data[0] : (float)e->int_data[0];
    return XAI_OK;
}
