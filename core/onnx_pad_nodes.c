/* onnx_pad_nodes.c - step 2 of the ONNX reader (onnx_internal.h) for Pad: of nothing, an alias;
 * zeros before an AveragePool, that pool's own padding; else a PAD node (constant, reflect or
 * edge) of H and W. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_internal.h"
#include "xai_status.h"

/* Pad's mode attribute: constant (the default), reflect or edge. */
static int read_pad_mode(reader *r, const Onnx__NodeProto *n, const char *label, xai_pad_mode *mode)
{
    const Onnx__AttributeProto *a = onnx_find_attribute(n, "mode");
    *mode = XAI_PAD_CONSTANT;
    if (!a || !a->has_s || a->s.len == 0) return XAI_OK;
    static const struct { const char *name; xai_pad_mode mode; } modes[] = {
        {"constant", XAI_PAD_CONSTANT}, {"reflect", XAI_PAD_REFLECT}, {"edge", XAI_PAD_EDGE}};
    for (size_t k = 0; k < sizeof modes / sizeof *modes; k++)
        if (a->s.len == strlen(modes[k].name) && memcmp(a->s.data, modes[k].name, a->s.len) == 0) {
            *mode = modes[k].mode;
            return XAI_OK;
        }
    return xai_fail("%s: %s: mode '%.*s' is not supported (constant, reflect and edge are)", r->path, label,
                    (int)(a->s.len < 32 ? a->s.len : 32), (const char *)a->s.data);
}

/* Opset 18's axes input: *pads (begins, then ends, of the axes listed) spread over every axis of
 * the input into `every` (zeros elsewhere). */
static int pads_of_axes(reader *r, const Onnx__NodeProto *n, const char *label, const int64_t **pads, size_t *n_pads,
                        int64_t every[8])
{
    constant *axes = onnx_int_input(r, n, label, 3);
    xai_value in;
    if (!axes || onnx_value_shape(r, n->input[0], &in)) return XAI_ERR;
    if (in.rank > 4) return xai_fail("%s: %s: a value of rank %d; Pad takes rank 2 to 4", r->path, label, in.rank);
    if (*n_pads != 2 * axes->count)
        return xai_fail("%s: %s: %zu pads for %zu axes", r->path, label, *n_pads, axes->count);
    memset(every, 0, 8 * sizeof *every);
    for (size_t k = 0; k < axes->count; k++) {
        int64_t axis = axes->int_data[k] < 0 ? axes->int_data[k] + in.rank : axes->int_data[k];
        if (axis < 0 || axis >= in.rank)
            return xai_fail("%s: %s: axis %lld outside rank %d", r->path, label, (long long)axes->int_data[k], in.rank);
        every[axis] = (*pads)[k], every[axis + in.rank] = (*pads)[k + axes->count];
    }
    *pads = every, *n_pads = 2 * (size_t)in.rank;
    return XAI_OK;
}

/* Pad: of nothing, an alias; zeros around H and W before an AveragePool without pads of its own,
 * that pool with those pads counted in its divisor (count_include_pad), which is what
 * PyTorch's exporter writes for avg_pool2d(padding=p) (Inception, DenseNet's transitions); any
 * other padding of H and W (and of L at rank 3), a PAD node. */
int onnx_convert_pad(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op)
{
    const Onnx__NodeProto *n = g->node[index];
    const int64_t *pads = NULL;
    int64_t every_axis[8];
    size_t n_pads = 0;
    float value = 0.f;
    if (r->opset >= 11) {
        constant *c = onnx_int_input(r, n, label, 1);
        if (!c) return XAI_ERR;
        pads = c->int_data, n_pads = c->count;
        if (n->n_input > 2 && n->input[2][0]) {
            constant *v = onnx_find_constant(r, onnx_resolve_alias(r, n->input[2]));
            if (!v || !v->data || v->count != 1)
                return xai_fail("%s: %s: the pad value is not a constant float", r->path, label);
            value = v->data[0];
        }
        if (n->n_input > 3 && n->input[3][0] && pads_of_axes(r, n, label, &pads, &n_pads, every_axis)) return XAI_ERR;
    } else {
        const Onnx__AttributeProto *a = onnx_find_attribute(n, "pads");
        if (a) pads = a->ints, n_pads = a->n_ints;
        value = onnx_attribute_float(n, "value", 0.f);
    }
    xai_pad_mode mode;
    if (read_pad_mode(r, n, label, &mode)) return XAI_ERR;
    if (n_pads % 2 || n_pads < 4 || n_pads > 8)
        return xai_fail("%s: %s: %zu pads; a value of rank 2 to 4 takes 4 to 8", r->path, label, n_pads);
    int rank = (int)(n_pads / 2), any = 0;
    for (size_t k = 0; k < n_pads; k++) {
        if (pads[k] < 0) return xai_fail("%s: %s: negative pad %lld (cropping) is not supported", r->path, label,
                                         (long long)pads[k]);
        if (pads[k] > 65536) return xai_fail("%s: %s: pad %lld is too large", r->path, label, (long long)pads[k]);
        if (k % (size_t)rank < 2 && pads[k])
            return xai_fail("%s: %s: padding the batch or the channels is not supported (only H and W)", r->path,
                            label);
        any |= pads[k] != 0;
    }
    if (!any) return onnx_add_alias(r, n->output[0], n->input[0]);
    int t = onnx_only_consumer(r, g, n->output[0]);
    const Onnx__NodeProto *pool = t >= 0 && g->node[t]->op_type && strcmp(g->node[t]->op_type, "AveragePool") == 0
                                      ? g->node[t]
                                      : NULL;
    char pool_label[256];
    snprintf(pool_label, sizeof pool_label, "node '%s' (AveragePool)", pool && pool->name ? pool->name : "");
    pending_node *p = NULL;
    if (pool && mode == XAI_PAD_CONSTANT && value == 0.f && rank == 4 && onnx_attribute_int(pool, "ceil_mode", 0) == 0 &&
        (p = onnx_new_node(r, pool, (size_t)t, XAI_OP_AVGPOOL, 1, pool->output[0], "")) &&
        onnx_read_window(r, pool, pool_label, p, 0) == XAI_OK && p->auto_pad == PAD_EXPLICIT && !p->node.pad_top &&
        !p->node.pad_left && !p->node.pad_bottom && !p->node.pad_right) {
        p->input_name[0] = n->input[0];
        p->node.pad_top = (int)pads[2], p->node.pad_left = (int)pads[3];
        p->node.pad_bottom = (int)pads[6], p->node.pad_right = (int)pads[7];
        p->node.count_include_pad = 1;
        r->skip[t] = 1;
        return XAI_OK;
    }
    if (p) r->n_nodes--, onnx_free_node(&p->node), free(p->input_name);
    xai_clear_error();
    if (!(p = onnx_new_node(r, n, index, op, 1, n->output[0], ""))) return XAI_ERR;
    p->input_name[0] = n->input[0];
    p->pad_rank = rank;
    p->node.pad_mode = mode;
    p->node.pad_value = value;
    p->node.pad_top = (int)pads[2], p->node.pad_bottom = (int)pads[rank + 2];
    if (rank == 4) p->node.pad_left = (int)pads[3], p->node.pad_right = (int)pads[7];
    return XAI_OK;
}
