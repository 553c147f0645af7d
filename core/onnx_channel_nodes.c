/* onnx_channel_nodes.c - step 2 of the ONNX reader (onnx_internal.h) for the ops that move parts
 * of a value (Concat, Split, Slice along any per-image axis, the channel shuffle of ShuffleNet)
 * and for ReduceMean. Sizes that depend on the input's channels are resolved in step 4. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_internal.h"
#include "xai_status.h"

int onnx_convert_concat(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op)
{
    const Onnx__NodeProto *n = g->node[index];
    const Onnx__AttributeProto *axis = onnx_find_attribute(n, "axis");
    if (!axis || !axis->has_i) return xai_fail("%s: %s: the axis attribute is missing", r->path, label);
    for (size_t k = 0; k < n->n_input; k++)
        if (!n->input[k][0] || onnx_find_constant(r, onnx_resolve_alias(r, n->input[k])))
            return xai_fail("%s: %s: input %zu is %s; only computed values can be concatenated", r->path, label, k,
                            n->input[k][0] ? "a constant" : "empty");
    pending_node *p = onnx_new_node(r, n, index, op, (int)n->n_input, n->output[0], "");
    if (!p) return XAI_ERR;
    for (size_t k = 0; k < n->n_input; k++) p->input_name[k] = n->input[k];
    p->axis = (int)axis->i;
    return XAI_OK;
}

/* Split: each output becomes a SLICE node of one part along the axis. */
int onnx_convert_split(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op)
{
    const Onnx__NodeProto *n = g->node[index];
    const int64_t *sizes = NULL;
    size_t n_sizes = 0;
    if (r->opset >= 13 && n->n_input > 1 && n->input[1][0]) {
        constant *c = onnx_int_input(r, n, label, 1);
        if (!c) return XAI_ERR;
        sizes = c->int_data, n_sizes = c->count;
    } else if (r->opset < 13) {
        const Onnx__AttributeProto *a = onnx_find_attribute(n, "split");
        if (a) sizes = a->ints, n_sizes = a->n_ints;
    }
    if (sizes && n_sizes != n->n_output)
        return xai_fail("%s: %s: %zu split sizes for %zu outputs", r->path, label, n_sizes, n->n_output);
    const Onnx__AttributeProto *num_outputs = r->opset >= 18 ? onnx_find_attribute(n, "num_outputs") : NULL;
    if (num_outputs && (sizes || num_outputs->i != (int64_t)n->n_output))
        return xai_fail("%s: %s: num_outputs %lld for %zu outputs%s", r->path, label, (long long)num_outputs->i,
                        n->n_output, sizes ? " and split sizes besides" : "");
    int64_t first = 0;
    for (size_t k = 0; k < n->n_output; k++) {
        if (sizes && (sizes[k] < 1 || sizes[k] > 65536 * 16))
            return xai_fail("%s: %s: split size %lld", r->path, label, (long long)sizes[k]);
        if (!n->output[k][0]) {
            first += sizes ? sizes[k] : 0;
            continue;
        }
        char suffix[32];
        snprintf(suffix, sizeof suffix, ":%zu", k);
        pending_node *p = onnx_new_node(r, n, index, op, 1, n->output[k], suffix);
        if (!p) return XAI_ERR;
        p->input_name[0] = n->input[0];
        p->n_slice_axes = 1;
        p->slice_axes[0] = onnx_attribute_int(n, "axis", 0), p->slice_steps[0] = 1;
        if (sizes) p->slice_starts[0] = first, p->slice_ends[0] = first + sizes[k], first += sizes[k];
        else p->split_parts = (int)n->n_output, p->split_index = (int)k, p->split_last_smaller = num_outputs != NULL;
    }
    return XAI_OK;
}

/* Slice: starts, ends, axes and steps as inputs (opset 10 on) or attributes (no steps); axes
 * default to 0, 1, ... and steps to 1. */
int onnx_convert_slice(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op)
{
    const Onnx__NodeProto *n = g->node[index];
    const int64_t *lists[4] = {NULL, NULL, NULL, NULL}; /* starts, ends, axes, steps */
    size_t counts[4] = {0, 0, 0, 0};
    static const char *names[4] = {"starts", "ends", "axes", "steps"};
    for (size_t k = 0; k < 4; k++) {
        if (r->opset >= 10) {
            if (k >= 2 && (k + 1 >= n->n_input || !n->input[k + 1][0])) continue;
            constant *c = onnx_int_input(r, n, label, k + 1);
            if (!c) return XAI_ERR;
            lists[k] = c->int_data, counts[k] = c->count;
        } else if (k < 3) {
            const Onnx__AttributeProto *a = onnx_find_attribute(n, names[k]);
            if (!a && k < 2) return xai_fail("%s: %s: attribute %s is missing", r->path, label, names[k]);
            if (a) lists[k] = a->ints, counts[k] = a->n_ints;
        }
    }
    size_t axes = counts[0];
    if (axes < 1 || axes > MAX_RANK) return xai_fail("%s: %s: %zu starts", r->path, label, axes);
    for (int k = 1; k < 4; k++)
        if (lists[k] && counts[k] != axes)
            return xai_fail("%s: %s: %zu %s for %zu starts", r->path, label, counts[k], names[k], axes);
    pending_node *p = onnx_new_node(r, n, index, op, 1, n->output[0], "");
    if (!p) return XAI_ERR;
    p->input_name[0] = n->input[0];
    p->n_slice_axes = (int)axes;
    for (size_t k = 0; k < axes; k++) {
        p->slice_starts[k] = lists[0][k], p->slice_ends[k] = lists[1][k];
        p->slice_axes[k] = lists[2] ? lists[2][k] : (int64_t)k;
        p->slice_steps[k] = lists[3] ? lists[3][k] : 1;
        if (p->slice_steps[k] == 0) return xai_fail("%s: %s: a step of 0", r->path, label);
    }
    return XAI_OK;
}

int onnx_only_consumer(reader *r, const Onnx__GraphProto *g, const char *name)
{
    int found = -1;
    for (size_t k = 0; k < g->n_node; k++)
        for (size_t j = 0; j < g->node[k]->n_input; j++)
            if (strcmp(onnx_resolve_alias(r, g->node[k]->input[j]), name) == 0) {
                if (found >= 0 || g->node[k]->n_output < 1 || !g->node[k]->output[0][0]) return -1;
                found = (int)k;
            }
    for (size_t k = 0; k < g->n_output; k++)
        if (g->output[k]->name && strcmp(g->output[k]->name, name) == 0) return -1;
    return found;
}

static int is_op(const Onnx__NodeProto *n, const char *op) { return n->op_type && strcmp(n->op_type, op) == 0; }

int onnx_convert_shuffle(reader *r, const Onnx__GraphProto *g, size_t index, const char *label)
{
    const Onnx__NodeProto *n = g->node[index];
    const int64_t *shape = onnx_find_constant(r, onnx_resolve_alias(r, n->input[1]))->int_data;
    int t = onnx_only_consumer(r, g, n->output[0]);
    const Onnx__NodeProto *transpose = t >= 0 ? g->node[t] : NULL;
    const Onnx__AttributeProto *perm = transpose && is_op(transpose, "Transpose") ? onnx_find_attribute(transpose, "perm")
                                                                                   : NULL;
    static const int64_t swap[5] = {0, 2, 1, 3, 4};
    int back = perm && perm->n_ints == 5 && memcmp(perm->ints, swap, sizeof swap) == 0 && transpose->n_output == 1
                   ? onnx_only_consumer(r, g, transpose->output[0])
                   : -1;
    const Onnx__NodeProto *reshape = back >= 0 ? g->node[back] : NULL;
    constant *s = reshape && is_op(reshape, "Reshape") && reshape->n_input > 1
                      ? onnx_find_constant(r, onnx_resolve_alias(r, reshape->input[1]))
                      : NULL;
    if (!s || !s->int_data || s->count != 4)
        return xai_fail("%s: %s: a Reshape to 5-D is supported only as the first step of a channel shuffle "
                        "(Reshape [N,g,C/g,H,W], Transpose perm [0,2,1,3,4], Reshape [N,C,H,W])", r->path, label);
    if (shape[1] < 1 || shape[2] < 1 || shape[1] > 65536 || shape[2] > 65536)
        return xai_fail("%s: %s: %lld groups of %lld channels", r->path, label, (long long)shape[1],
                        (long long)shape[2]);
    pending_node *p = onnx_new_node(r, n, index, XAI_OP_SHUFFLE, 1, reshape->output[0], "");
    if (!p) return XAI_ERR;
    p->input_name[0] = n->input[0];
    p->node.groups = (int)shape[1];
    p->shuffle_channels_per_group = (int)shape[2];
    r->skip[t] = r->skip[back] = 1;
    return XAI_OK;
}

/* ReduceMean over the two spatial axes is a global average pool (keepdims = 0 drops them). */
int onnx_convert_reduce_mean(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op)
{
    (void)op;
    const Onnx__NodeProto *n = g->node[index];
    if (onnx_is_layernorm_start(r, n)) return onnx_convert_layernorm_nodes(r, g, index, label);
    const int64_t *axes;
    size_t n_axes;
    xai_value in;
    if (onnx_read_axes(r, n, label, &axes, &n_axes)) return XAI_ERR;
    if (!n_axes && onnx_attribute_int(n, "noop_with_empty_axes", 0)) /* opset 18: no axes, no mean */
        return onnx_add_alias(r, n->output[0], n->input[0]);
    if (!n_axes) return xai_fail("%s: %s: a mean over every axis, the batch's too, is not supported", r->path, label);
    if (onnx_value_shape(r, n->input[0], &in)) return XAI_ERR;
    int mask = 0;
    for (size_t k = 0; k < n_axes; k++) {
        int64_t axis = axes[k] < 0 ? axes[k] + in.rank : axes[k];
        if (axis < 0 || axis >= in.rank)
            return xai_fail("%s: %s: axis %lld outside rank %d", r->path, label, (long long)axes[k], in.rank);
        if (axis == 0) return xai_fail("%s: %s: a mean over the batch is not supported", r->path, label);
        mask |= 1 << (axis - 1);
    }
    int keepdims = onnx_attribute_int(n, "keepdims", 1) != 0;
    int spatial = in.rank == 4 && mask == 6; /* over H and W: the global average pool */
    pending_node *p = onnx_new_node(r, n, index, spatial ? XAI_OP_GLOBALAVGPOOL : XAI_OP_REDUCEMEAN, 1, n->output[0], "");
    if (!p) return XAI_ERR;
    p->input_name[0] = n->input[0];
    p->reduce_to_2d = !keepdims;
    p->node.reduce_axes = mask;
    return XAI_OK;
}
