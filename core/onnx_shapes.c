/* onnx_shapes.c - step 4 of the ONNX reader (onnx_internal.h): each node's output shape from its
 * inputs', checked, and BatchNormalization folded into the Conv before it. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_internal.h"
#include "xai_status.h"

/* ---- step 4: values and shapes ------------------------------------------------------------- */

/* The output size of a window over `in`; with ceil_mode, *pad_end grows by *ceil_extra to hold
 * the last window. */
static int window_output(int in, int kernel, int stride, int dilation, int *pad_begin,
                         int *pad_end, auto_pad_mode mode, int ceil_mode, int *ceil_extra)
{
    *ceil_extra = 0;
    /* In 64 bits: kernel, dilation, pads and input are each at most 65536 (attribute_ints). */
    int64_t span = (int64_t)(kernel - 1) * dilation + 1;
    if (mode == PAD_VALID) *pad_begin = *pad_end = 0;
    if (mode == PAD_SAME_UPPER || mode == PAD_SAME_LOWER) {
        int64_t out = (in + (int64_t)stride - 1) / stride;
        int64_t total = (out - 1) * stride + span - in;
        if (total < 0) total = 0;
        if (total > INT_MAX / 2) return 0;
        *pad_begin = (int)(mode == PAD_SAME_UPPER ? total / 2 : total - total / 2);
        *pad_end = (int)total - *pad_begin;
        return (int)out;
    }
    int64_t room = (int64_t)in + *pad_begin + *pad_end - span;
    if (room < 0) return 0;
    int64_t out = room / stride + 1;
    if (ceil_mode && room % stride) {
        /* The last window starts inside the input or the begin padding (PyTorch's rule). */
        if (out * stride < (int64_t)in + *pad_begin) out++;
        *ceil_extra = (int)((out - 1) * stride + span - ((int64_t)in + *pad_begin + *pad_end));
        if (*ceil_extra < 0) *ceil_extra = 0;
        *pad_end += *ceil_extra;
    }
    return (int)out;
}

/* An ONNX axis of a value of rank `rank` as a per-image axis (0: c, 1: h, 2: w); -1 for the batch,
 * -2 outside the rank. */
static int per_image_axis(int64_t axis, int rank)
{
    if (axis < 0) axis += rank;
    return axis < 0 || axis >= rank ? -2 : (int)axis - 1;
}

/* One axis of a Slice, ONNX's clamping: negative bounds count from the end; then with a positive
 * step both are clamped to [0, size], with a negative one start to [0, size - 1] and end to
 * [-1, size - 1]. *first and the element count out; 0 elements is an error. */
static int64_t slice_axis(int64_t start, int64_t end, int64_t step, int64_t size, int64_t *first)
{
    if (start < 0) start += size;
    if (end < 0) end += size;
    int64_t low = step > 0 ? 0 : -1, high = step > 0 ? size : size - 1;
    start = start < 0 ? 0 : start > high ? high : start;
    end = end < low ? low : end > high ? high : end;
    *first = start;
    int64_t span = step > 0 ? end - start : start - end, stride = step > 0 ? step : step == INT64_MIN ? INT64_MAX : -step;
    return span <= 0 ? 0 : 1 + (span - 1) / stride;
}

/* CONCAT: the inputs match but on the axis, whose sizes add up. */
static int concat_shape(const reader *r, xai_graph *g, pending_node *p)
{
    xai_node *node = &p->node;
    const xai_value *in = &g->values[node->input[0]];
    xai_value *out = &g->values[node->output];
    int axis = per_image_axis(p->axis, in->rank);
    if (axis < 0)
        return xai_fail("%s: node '%s' (Concat): axis %d of rank %d; %s", r->path, node->name, p->axis, in->rank,
                        axis == -1 ? "a Concat along the batch is not supported" : "outside the rank");
    int64_t total = 0;
    for (int k = 0; k < node->n_inputs; k++) {
        const xai_value *v = &g->values[node->input[k]];
        int dims[3] = {v->c, v->h, v->w}, first[3] = {in->c, in->h, in->w}, fits = v->rank == in->rank;
        for (int d = 0; d < 3; d++) fits &= d == axis || dims[d] == first[d];
        if (!fits)
            return xai_fail("%s: node '%s' (Concat): input '%s' (rank %d, %dx%dx%d) does not match '%s' (rank %d, "
                            "%dx%dx%d) outside axis %d", r->path, node->name, v->name, v->rank, v->c, v->h, v->w,
                            in->name, in->rank, in->c, in->h, in->w, p->axis);
        total += dims[axis];
    }
    if (total > INT_MAX / 2) return xai_fail("%s: node '%s' (Concat): too large along axis %d", r->path, node->name, p->axis);
    node->concat_axis = axis;
    int *out_dims[3] = {&out->c, &out->h, &out->w};
    *out_dims[axis] = (int)total;
    return XAI_OK;
}

/* SLICE: per sliced axis its first element, step and count; the batch may only be taken whole. */
static int slice_shape(const reader *r, xai_graph *g, pending_node *p)
{
    xai_node *node = &p->node;
    const xai_value *in = &g->values[node->input[0]];
    xai_value *out = &g->values[node->output];
    const char *label = node->name;
    int sizes[3] = {in->c, in->h, in->w}, *out_dims[3] = {&out->c, &out->h, &out->w}, seen = 0;
    for (int d = 0; d < 3; d++) node->slice_first[d] = 0, node->slice_step[d] = 1;
    for (int k = 0; k < p->n_slice_axes; k++) {
        int64_t start = p->slice_starts[k], end = p->slice_ends[k], step = p->slice_steps[k];
        int axis = per_image_axis(p->slice_axes[k], in->rank);
        if (axis == -2)
            return xai_fail("%s: node '%s' (%s): axis %lld outside rank %d", r->path, label, p->onnx_op,
                            (long long)p->slice_axes[k], in->rank);
        if (axis == -1) {
            if (step == 1 && start == 0 && end >= INT_MAX) continue; /* the whole batch */
            return xai_fail("%s: node '%s' (%s): a part of the batch is not supported", r->path, label, p->onnx_op);
        }
        if (seen & 1 << axis)
            return xai_fail("%s: node '%s' (%s): axis %lld given twice", r->path, label, p->onnx_op,
                            (long long)p->slice_axes[k]);
        seen |= 1 << axis;
        if (p->split_parts) {
            if (sizes[axis] % p->split_parts && !p->split_last_smaller)
                return xai_fail("%s: node '%s' (Split): %d elements along axis %lld do not split into %d equal parts",
                                r->path, label, sizes[axis], (long long)p->slice_axes[k], p->split_parts);
            int64_t part = (sizes[axis] + p->split_parts - 1) / p->split_parts;
            start = (int64_t)p->split_index * part, end = start + part < sizes[axis] ? start + part : sizes[axis];
        }
        if (strcmp(p->onnx_op, "Split") == 0 && end > sizes[axis])
            return xai_fail("%s: node '%s' (Split): the parts need %lld elements along axis %lld, input '%s' has %d",
                            r->path, label, (long long)end, (long long)p->slice_axes[k], in->name, sizes[axis]);
        int64_t first, count = slice_axis(start, end, step, sizes[axis], &first);
        if (count <= 0)
            return xai_fail("%s: node '%s' (%s): elements [%lld, %lld) step %lld of %d along axis %lld are none",
                            r->path, label, p->onnx_op, (long long)p->slice_starts[k], (long long)p->slice_ends[k],
                            (long long)step, sizes[axis], (long long)p->slice_axes[k]);
        node->slice_first[axis] = (int)first;
        node->slice_step[axis] = count == 1 ? 1 : (int)step; /* |step| < size when there are two */
        *out_dims[axis] = (int)count;
    }
    return XAI_OK;
}

/* SHUFFLE: groups x channels per group must be the input's channels. */
static int shuffle_shape(const reader *r, xai_graph *g, pending_node *p)
{
    const xai_node *node = &p->node;
    const xai_value *in = &g->values[node->input[0]];
    if (in->rank != 4 || (int64_t)node->groups * p->shuffle_channels_per_group != in->c)
        return xai_fail("%s: node '%s' (Reshape): %d groups of %d channels, but input '%s' has %d channels", r->path,
                        node->name, node->groups, p->shuffle_channels_per_group, in->name, in->c);
    return XAI_OK;
}

/* SCALE: the constant's dims right-aligned with the value's [N, c, h, w] (rank 4), [N, c, h]
 * (rank 3) or [N, c] (rank 2), NumPy's broadcasting; it may not vary along the batch nor be
 * larger than the value on any axis. */
static int scale_shape(const reader *r, const xai_value *in, pending_node *p)
{
    xai_node *node = &p->node;
    int sizes[3] = {in->c, in->h, in->w}, per_image = in->rank - 1, lead = p->scale_rank - per_image;
    if (lead > 1 || (lead == 1 && p->scale_dims[0] != 1))
        return xai_fail("%s: node '%s' (%s): its constant (rank %d) varies along the batch of '%s' (rank %d)",
                        r->path, node->name, p->onnx_op, p->scale_rank, in->name, in->rank);
    for (int k = 0; k < 3; k++) {
        int64_t d = k < per_image && k + lead >= 0 ? p->scale_dims[k + lead] : 1;
        if (d != 1 && d != sizes[k])
            return xai_fail("%s: node '%s' (%s): its constant's axis of %lld does not broadcast against '%s' "
                            "(rank %d, %dx%dx%d per image)", r->path, node->name, p->onnx_op, (long long)d,
                            in->name, in->rank, in->c, in->h, in->w);
        node->scale_dims[k] = (int)d;
    }
    return XAI_OK;
}

/* FLATTEN: the per-image shape a Flatten (axis 1), a Reshape, an Unsqueeze or a Squeeze makes;
 * the elements stay in NCHW order, so their count must not change. */
static int reshape_shape(const reader *r, const xai_value *in, xai_value *out, pending_node *p)
{
    const char *label = p->node.name, *op = p->onnx_op;
    int64_t from[4] = {1, in->c, in->h, in->w}, to[4] = {1, 1, 1, 1}, size = (int64_t)in->c * in->h * in->w;
    int rank = 2;
    if (strcmp(op, "Flatten") == 0) {
        if (p->flatten_axis != 1 && p->flatten_axis + in->rank != 1)
            return xai_fail("%s: node '%s' (Flatten): only axis 1 (keeping the batch) is supported, not %d", r->path,
                            label, p->flatten_axis);
        to[1] = size;
    } else if (strcmp(op, "Reshape") == 0) {
        /* Dimension 0 is the batch, whatever it says (folded Shapes take it as 1); 0 copies the
         * input's dimension, one -1 is inferred. */
        int64_t known = 1;
        int infer = -1;
        rank = p->reshape_rank;
        for (int k = 1; k < rank; k++) {
            int64_t d = p->reshape_dims[k];
            if (d == 0 && k < in->rank) d = from[k];
            if (d == -1 && infer < 0) infer = k, d = 1;
            else if (d < 1 || d > size) return xai_fail("%s: node '%s' (Reshape): dimension %lld of the target shape "
                                                        "does not fit input '%s'", r->path, label,
                                                        (long long)p->reshape_dims[k], in->name);
            to[k] = d, known *= d;
            if (known > size) break;
        }
        if (infer >= 0 && known && size % known == 0) to[infer] = size / known;
    } else { /* Unsqueeze: 1 at the new axes, the input's in order elsewhere; Squeeze: the input's
              * axes but the removed ones (every size-1 axis when none are named) */
        int unsqueeze = strcmp(op, "Unsqueeze") == 0, mask = p->size_one_axes, next = 1;
        rank = 1;
        for (int k = 1; k < 4 && (unsqueeze ? next < in->rank || (mask >> k) : k < in->rank); k++) {
            if (unsqueeze && (mask & 1 << k)) {
                to[rank++] = 1;
                continue;
            }
            int64_t d = from[unsqueeze ? next++ : k];
            if (!unsqueeze && ((mask & 1 << k) || (!mask && d == 1))) {
                if (d != 1)
                    return xai_fail("%s: node '%s' (Squeeze): axis %d of '%s' has size %lld, not 1", r->path, label, k,
                                    in->name, (long long)d);
                continue;
            }
            to[rank++] = d;
        }
        if (rank < 2) rank = 2; /* [N] squeezed from [N,1]: kept as [N,1] */
    }
    if (to[1] * to[2] * to[3] != size)
        return xai_fail("%s: node '%s' (%s): input '%s' of %lld values per image does not become the shape asked for",
                        r->path, label, op, in->name, (long long)size);
    *out = (xai_value){out->name, rank, (int)to[1], (int)to[2], (int)to[3]};
    return XAI_OK;
}

/* REDUCEMEAN: 1 on the averaged axes, or (keepdims = 0) the other axes packed in order. */
static int reduce_shape(const reader *r, const xai_value *in, xai_value *out, pending_node *p)
{
    xai_node *node = &p->node;
    int dims[3], kept[3] = {1, 1, 1}, n_kept = 0;
    if (node->reduce_axes >> (in->rank - 1))
        return xai_fail("%s: node '%s' (ReduceMean): an axis outside input '%s' (rank %d)", r->path, node->name,
                        in->name, in->rank);
    xai_reduced_shape(node, in, dims);
    if (!p->reduce_to_2d) {
        out->c = dims[0], out->h = dims[1], out->w = dims[2];
        return XAI_OK;
    }
    for (int k = 0; k < in->rank - 1; k++)
        if (!(node->reduce_axes & 1 << k)) kept[n_kept++] = k == 0 ? in->c : k == 1 ? in->h : in->w;
    if (n_kept == 0)
        return xai_fail("%s: node '%s' (ReduceMean): a mean over every axis but the batch without keepdims "
                        "leaves [N], which xaibench does not hold", r->path, node->name);
    *out = (xai_value){out->name, n_kept + 1, kept[0], kept[1], kept[2]};
    return XAI_OK;
}

/* PAD: H (L at rank 3) and W grown by the pads; reflect needs each pad below the axis' size. */
static int pad_shape(const reader *r, const xai_value *in, xai_value *out, pending_node *p)
{
    xai_node *node = &p->node;
    if (p->pad_rank != in->rank)
        return xai_fail("%s: node '%s' (Pad): pads for rank %d, input '%s' has rank %d", r->path, node->name,
                        p->pad_rank, in->name, in->rank);
    if (node->pad_mode == XAI_PAD_REFLECT &&
        (node->pad_top >= in->h || node->pad_bottom >= in->h || node->pad_left >= in->w || node->pad_right >= in->w))
        return xai_fail("%s: node '%s' (Pad): reflect pads must be below the input's size (%dx%d)", r->path,
                        node->name, in->h, in->w);
    int64_t h = (int64_t)in->h + node->pad_top + node->pad_bottom, w = (int64_t)in->w + node->pad_left + node->pad_right;
    if (h * w * in->c > INT_MAX)
        return xai_fail("%s: node '%s' (Pad): the output of %lldx%lld is too large", r->path, node->name,
                        (long long)h, (long long)w);
    out->h = (int)h, out->w = (int)w;
    return XAI_OK;
}

int onnx_infer_shape(const reader *r, xai_graph *g, pending_node *p)
{
    xai_node *node = &p->node;
    const xai_value *in = &g->values[node->input[0]];
    xai_value *out = &g->values[node->output];
    const char *label = node->name;
    *out = (xai_value){out->name, in->rank, in->c, in->h, in->w};
    switch (node->op) {
    case XAI_OP_CONV:
    case XAI_OP_MAXPOOL:
    case XAI_OP_AVGPOOL:
        if (in->rank != 4)
            return xai_fail("%s: node '%s' (%s): input '%s' has rank %d, not [N,C,H,W]", r->path, label,
                            p->onnx_op, in->name, in->rank);
        if (node->op == XAI_OP_CONV) {
            if (in->c != node->in_channels)
                return xai_fail("%s: node '%s' (Conv): input has %d channels, the weight "
                                "expects %d", r->path, label, in->c, node->in_channels);
            out->c = node->out_channels;
        } else {
            if (node->kernel_h < 1 || node->kernel_w < 1)
                return xai_fail("%s: node '%s' (%s): kernel_shape is missing", r->path, label,
                                p->onnx_op);
            if (node->op == XAI_OP_AVGPOOL) node->dilation_h = node->dilation_w = 1;
        }
        out->h = window_output(in->h, node->kernel_h, node->stride_h, node->dilation_h,
                               &node->pad_top, &node->pad_bottom, p->auto_pad, p->ceil_mode, &node->ceil_pad_bottom);
        out->w = window_output(in->w, node->kernel_w, node->stride_w, node->dilation_w,
                               &node->pad_left, &node->pad_right, p->auto_pad, p->ceil_mode, &node->ceil_pad_right);
        if (out->h < 1 || out->w < 1)
            return xai_fail("%s: node '%s' (%s): window larger than its %dx%d input", r->path,
                            label, p->onnx_op, in->h, in->w);
        return XAI_OK;
    case XAI_OP_BATCHNORM:
        if (in->c != node->out_channels)
            return xai_fail("%s: node '%s' (BatchNormalization): %d channels, parameters "
                            "for %d", r->path, label, in->c, node->out_channels);
        return XAI_OK;
    case XAI_OP_RELU:
    case XAI_OP_CLIP:
        return XAI_OK;
    case XAI_OP_GLOBALAVGPOOL:
        if (in->rank != 4)
            return xai_fail("%s: node '%s' (%s): input is not [N,C,H,W]", r->path, label, p->onnx_op);
        out->h = out->w = 1;
        if (p->reduce_to_2d) out->rank = 2;
        return XAI_OK;
    case XAI_OP_SIGMOID:
    case XAI_OP_HARDSIGMOID:
    case XAI_OP_HARDSWISH:
    case XAI_OP_ERF:
    case XAI_OP_SQRT:
    case XAI_OP_POW:
    case XAI_OP_TANH:
        return XAI_OK;
    case XAI_OP_SCALE:
        return scale_shape(r, in, p);
    case XAI_OP_REDUCEMEAN:
        return reduce_shape(r, in, out, p);
    case XAI_OP_PAD:
        return pad_shape(r, in, out, p);
    case XAI_OP_LAYERNORM: {
        /* over the axes from the ONNX axis on; the batch (axis 0) is not the graph's to normalize */
        int axis = p->norm_axis < 0 ? p->norm_axis + in->rank : p->norm_axis, dims[3] = {in->c, in->h, in->w};
        if (axis < 1 || axis >= in->rank)
            return xai_fail("%s: node '%s' (LayerNormalization): axis %d of input '%s' (rank %d); the batch and "
                            "axes past the last are not supported", r->path, label, p->norm_axis, in->name, in->rank);
        node->norm_from = axis - 1;
        int64_t features = 1;
        for (int k = node->norm_from; k < 3; k++) features *= dims[k];
        if (features != node->in_channels)
            return xai_fail("%s: node '%s' (LayerNormalization): input '%s' has %lld values from axis %d on, its "
                            "scale %d", r->path, label, in->name, (long long)features, axis, node->in_channels);
        return XAI_OK;
    }
    case XAI_OP_TRANSPOSE: {
        if (in->rank != p->perm_rank)
            return xai_fail("%s: node '%s' (Transpose): perm for rank %d, input '%s' has rank %d", r->path, label,
                            p->perm_rank, in->name, in->rank);
        int dims[3] = {in->c, in->h, in->w};
        out->c = dims[node->perm[0]], out->h = dims[node->perm[1]], out->w = dims[node->perm[2]];
        return XAI_OK;
    }
    case XAI_OP_CONCAT:
        return concat_shape(r, g, p);
    case XAI_OP_SLICE:
        return slice_shape(r, g, p);
    case XAI_OP_SHUFFLE:
        return shuffle_shape(r, g, p);
    case XAI_OP_ADD:
    case XAI_OP_SUB:
    case XAI_OP_MUL:
    case XAI_OP_DIV: {
        /* NumPy's broadcasting over the per-image axes of two values of one rank: each axis
         * equal, or 1 in one of them ([N,C,1,1] gates, [N,1,H,W] spatial attention). */
        const xai_value *b = &g->values[node->input[1]];
        int a_dims[3] = {in->c, in->h, in->w}, b_dims[3] = {b->c, b->h, b->w}, out_dims[3];
        int fits = b->rank == in->rank;
        for (int k = 0; k < 3; k++) {
            fits &= a_dims[k] == b_dims[k] || a_dims[k] == 1 || b_dims[k] == 1;
            out_dims[k] = a_dims[k] > b_dims[k] ? a_dims[k] : b_dims[k];
        }
        if (!fits)
            return xai_fail("%s: node '%s' (%s): inputs '%s' (rank %d, %dx%dx%d) and '%s' (rank %d, %dx%dx%d) do not "
                            "broadcast", r->path, label, p->onnx_op, in->name, in->rank, in->c, in->h, in->w, b->name,
                            b->rank, b->c, b->h, b->w);
        *out = (xai_value){out->name, in->rank, out_dims[0], out_dims[1], out_dims[2]};
        return XAI_OK;
    }
    case XAI_OP_MATMUL: {
        /* [M,K] x [K,P] per image (rank 3), one product per group (rank 4: groups equal, or one
         * operand's single group broadcast over the other's) */
        const xai_value *b = &g->values[node->input[1]];
        int count, m, k, n_out, b_rows = b->rank == 4 ? b->h : b->c;
        int a_groups = xai_matmul_groups(in), b_groups = xai_matmul_groups(b);
        xai_matmul_dims(in, b, &count, &m, &k, &n_out);
        if (in->rank < 3 || b->rank != in->rank || (a_groups != b_groups && a_groups != 1 && b_groups != 1) ||
            k != b_rows)
            return xai_fail("%s: node '%s' (MatMul): inputs '%s' (rank %d, %dx%dx%d) and '%s' (rank %d, %dx%dx%d) are "
                            "not [N,M,K] x [N,K,P] nor [N,G,M,K] x [N,G,K,P] (G may be 1 in either)", r->path, label,
                            in->name, in->rank, in->c, in->h, in->w, b->name, b->rank, b->c, b->h, b->w);
        if ((int64_t)count * m * n_out > INT_MAX / 2)
            return xai_fail("%s: node '%s' (MatMul): the output is too large", r->path, label);
        if (in->rank == 4) out->c = count, out->h = m, out->w = n_out;
        else out->c = m, out->h = n_out;
        return XAI_OK;
    }
    case XAI_OP_SOFTMAX: {
        int axis = per_image_axis(p->axis, in->rank);
        if (axis < 0)
            return xai_fail("%s: node '%s' (Softmax): axis %d of rank %d; %s", r->path, label, p->axis, in->rank,
                            axis == -1 ? "a softmax over the batch is not supported" : "outside the rank");
        node->reduce_axes = p->softmax_to_last ? (7 << axis) & ((1 << (in->rank - 1)) - 1) : 1 << axis;
        return XAI_OK;
    }
    case XAI_OP_COUNT:
        break;
    case XAI_OP_FLATTEN:
        return reshape_shape(r, in, out, p);
    case XAI_OP_GEMM: {
        /* On the last axis: [N,C] -> [N,out], and (MatMul) [N,C,H,W] -> [N,C,H,out]. */
        int last = in->rank == 2 ? in->c : in->w;
        if (in->rank == 3 || (in->rank == 4 && strcmp(p->onnx_op, "MatMul") != 0))
            return xai_fail("%s: node '%s' (%s): input '%s' is not 2-D (add a Flatten)",
                            r->path, label, p->onnx_op, in->name);
        if (last != node->in_channels)
            return xai_fail("%s: node '%s' (%s): input has %d features, the weight expects %d",
                            r->path, label, p->onnx_op, last, node->in_channels);
        *(in->rank == 2 ? &out->c : &out->w) = node->out_channels;
        return XAI_OK;
    }
    }
    return xai_fail("%s: node '%s': unknown op", r->path, label);
}

/* A BatchNormalization with no Conv before it becomes a 1x1 depthwise Conv with weight
 * s = gamma / sqrt(var + eps) and bias beta - s mean per channel. */
static int batchnorm_to_depthwise(xai_node *bn)
{
    int channels = bn->out_channels;
    float *weight = xai_malloc((size_t)channels * sizeof *weight);
    float *bias = xai_malloc((size_t)channels * sizeof *bias);
    if (!weight || !bias) {
        free(weight);
        free(bias);
        return XAI_ERR;
    }
    for (int c = 0; c < channels; c++) {
        double s = (double)bn->bn_gamma[c] / sqrt((double)bn->bn_var[c] + bn->bn_epsilon);
        weight[c] = (float)s;
        bias[c] = (float)(bn->bn_beta[c] - s * bn->bn_mean[c]);
    }
    free(bn->bn_gamma), free(bn->bn_beta), free(bn->bn_mean), free(bn->bn_var);
    bn->bn_gamma = bn->bn_beta = bn->bn_mean = bn->bn_var = NULL;
    bn->op = XAI_OP_CONV;
    bn->weight = weight;
    bn->bias = bias;
    bn->in_channels = bn->group = channels;
    bn->kernel_h = bn->kernel_w = bn->stride_h = bn->stride_w = 1;
    bn->dilation_h = bn->dilation_w = 1;
    return XAI_OK;
}

/* Fold BatchNormalization into the Conv that feeds it alone: with s = gamma / sqrt(var + eps),
 * W'[o] = s[o] W[o] and b'[o] = s[o] (b[o] - mean[o]) + beta[o], computed in double. */
int onnx_fold_batchnorm(xai_graph *g)
{
    char *folded = xai_calloc((size_t)g->n_nodes, 1);
    if (!folded) return XAI_ERR;
    for (int i = 0; i < g->n_nodes; i++) {
        xai_node *bn = &g->nodes[i];
        if (bn->op != XAI_OP_BATCHNORM) continue;
        int producer = -1, consumers = 0;
        for (int j = 0; j < i; j++)
            if (g->nodes[j].output == bn->input[0]) producer = j;
        for (int j = 0; j < g->n_nodes; j++)
            for (int k = 0; k < g->nodes[j].n_inputs; k++) consumers += g->nodes[j].input[k] == bn->input[0];
        if (producer < 0 || g->nodes[producer].op != XAI_OP_CONV || consumers != 1) {
            if (batchnorm_to_depthwise(bn)) {
                free(folded); /* the caller frees the half-folded graph */
                return XAI_ERR;
            }
            continue;
        }
        xai_node *conv = &g->nodes[producer];
        size_t per_out = (size_t)(conv->in_channels / conv->group) * conv->kernel_h * conv->kernel_w;
        for (int o = 0; o < conv->out_channels; o++) {
            double s = (double)bn->bn_gamma[o] / sqrt((double)bn->bn_var[o] + bn->bn_epsilon);
            for (size_t k = 0; k < per_out; k++)
                conv->weight[o * per_out + k] = (float)(s * conv->weight[o * per_out + k]);
            conv->bias[o] = (float)(s * ((double)conv->bias[o] - bn->bn_mean[o]) + bn->bn_beta[o]);
        }
        conv->output = bn->output;
        conv->folded_bn = 1, conv->folded_bn_epsilon = bn->bn_epsilon;
        folded[i] = 1;
    }
    int kept = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (folded[i]) onnx_free_node(&g->nodes[i]);
        else g->nodes[kept++] = g->nodes[i];
    }
    g->n_nodes = kept;
    free(folded);
    return XAI_OK;
}

/* ---- shapes while reading (for folding Shape nodes) ---------------------------------------- */

int onnx_value_shape(reader *r, const char *name, xai_value *out)
{
    name = onnx_resolve_alias(r, name);
    if (strcmp(name, r->input_value.name) == 0) {
        if (onnx_read_input_shape(r)) return XAI_ERR;
        *out = r->input_value;
        return XAI_OK;
    }
    for (int i = r->n_nodes - 1; i >= 0; i--) {
        pending_node *p = &r->nodes[i];
        if (strcmp(p->output_name, name) != 0) continue;
        if (!r->early[i].name) {
            /* Its inputs' shapes (each inferred once), then its own on a scratch graph of the
             * node alone, with a copy of the node: step 4 infers it again in the real graph. */
            if (r->shape_depth > r->n_nodes) /* deeper than there are nodes: a cycle */
                return xai_fail("%s: value '%s' depends on itself", r->path, name);
            int n = p->node.n_inputs, status = XAI_OK;
            xai_value *values = xai_calloc((size_t)n + 1, sizeof *values);
            int *inputs = xai_malloc((size_t)n * sizeof *inputs);
            r->shape_depth++;
            for (int k = 0; status == XAI_OK && k < n; k++) {
                if (!values || !inputs) status = XAI_ERR;
                else status = onnx_value_shape(r, p->input_name[k], &values[k]), inputs[k] = k;
            }
            r->shape_depth--;
            if (status == XAI_OK && (!values || !inputs)) status = XAI_ERR;
            if (status == XAI_OK) {
                pending_node copy = *p;
                copy.node.input = inputs, copy.node.output = n;
                values[n].name = (char *)p->output_name;
                xai_graph scratch = {.values = values, .n_values = n + 1};
                status = onnx_infer_shape(r, &scratch, &copy);
                if (status == XAI_OK) r->early[i] = values[n];
            }
            free(values);
            free(inputs);
            if (status) return XAI_ERR;
        }
        *out = r->early[i];
        return XAI_OK;
    }
    return xai_fail("%s: value '%s' has no shape known when it is read (a constant, or not yet computed)", r->path,
                    name);
}
