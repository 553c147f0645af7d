/* onnx_fold.c - step 2 of the ONNX reader (onnx_internal.h) for the int64 arithmetic that
 * exporters write around shapes: PyTorch's export of x.chunk(2, dim=1) on a static shape, for
 * one, computes the Slice bounds from Shape(x) through Gather, Add, Div and Mul, and its export of
 * F.pad turns PyTorch's pad order into ONNX's with ConstantOfShape, Concat, Reshape, a reversing
 * Slice and Transpose. Each such node
 * whose inputs are all int64 constants (or, for Shape, a value of known shape) becomes an int64
 * constant, so that the Slice and Reshape after it see constants. Dimension 0 of a Shape stands
 * for the batch, which the graph does not fix: it is taken as 1. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_internal.h"
#include "xai_status.h"

static int is(const Onnx__NodeProto *n, const char *op) { return n->op_type && strcmp(n->op_type, op) == 0; }

/* Input k as an int64 constant, or NULL. */
static constant *int_constant(reader *r, const Onnx__NodeProto *n, size_t k)
{
    if (k >= n->n_input || !n->input[k][0]) return NULL;
    constant *c = onnx_find_constant(r, onnx_resolve_alias(r, n->input[k]));
    return c && c->int_data ? c : NULL;
}

/* The node's output as a new int64 constant holding `values` (taken over, freed on failure);
 * made last, since adding a constant moves the others. */
static int store_output(reader *r, const Onnx__NodeProto *n, int64_t *values, size_t count, int rank,
                        const int64_t *dims)
{
    constant *c = onnx_add_constant(r, n->output[0]);
    if (!c) {
        free(values);
        return XAI_ERR;
    }
    c->rank = rank;
    c->count = count;
    c->int_data = values;
    if (dims) memcpy(c->dims, dims, sizeof c->dims);
    else c->dims[0] = (int64_t)count;
    return 1;
}

static int64_t *new_values(size_t count) { return xai_calloc(count ? count : 1, sizeof(int64_t)); }

static int fold_shape(reader *r, const Onnx__NodeProto *n)
{
    xai_value v;
    if (onnx_value_shape(r, n->input[0], &v)) return XAI_ERR;
    int64_t dims[4] = {1, v.c, v.h, v.w};
    int64_t start = onnx_attribute_int(n, "start", 0), end = onnx_attribute_int(n, "end", v.rank);
    if (start < 0) start += v.rank;
    if (end < 0) end += v.rank;
    start = start < 0 ? 0 : start > v.rank ? v.rank : start;
    end = end < start ? start : end > v.rank ? v.rank : end;
    int64_t *values = new_values((size_t)(end - start));
    if (!values) return XAI_ERR;
    for (int64_t k = start; k < end; k++) values[k - start] = dims[k];
    return store_output(r, n, values, (size_t)(end - start), 1, NULL);
}

static int fold_arithmetic(reader *r, const Onnx__NodeProto *n, const char *label, const constant *a,
                           const constant *b)
{
    if (a->count != b->count && a->count != 1 && b->count != 1)
        return xai_fail("%s: %s: int64 operands of %zu and %zu values do not broadcast", r->path, label, a->count,
                        b->count);
    const constant *big = a->count >= b->count ? a : b;
    int64_t dims[MAX_RANK], *values = new_values(big->count);
    if (!values) return XAI_ERR;
    memcpy(dims, big->dims, sizeof dims);
    for (size_t k = 0; k < big->count; k++) {
        int64_t p = a->int_data[a->count == 1 ? 0 : k], q = b->int_data[b->count == 1 ? 0 : k];
        if (is(n, "Div") && q == 0) {
            free(values);
            return xai_fail("%s: %s: int64 division by zero", r->path, label);
        }
        values[k] = is(n, "Add") ? p + q : is(n, "Sub") ? p - q : is(n, "Mul") ? p * q : p / q;
    }
    return store_output(r, n, values, big->count, big->rank, dims);
}

static int fold_gather(reader *r, const Onnx__NodeProto *n, const char *label, const constant *data,
                       const constant *indices)
{
    if (onnx_attribute_int(n, "axis", 0) != 0 || data->rank > 1)
        return xai_fail("%s: %s: only a Gather from a 1-D int64 constant is folded", r->path, label);
    int64_t dims[MAX_RANK], *values = new_values(indices->count);
    if (!values) return XAI_ERR;
    memcpy(dims, indices->dims, sizeof dims);
    for (size_t k = 0; k < indices->count; k++) {
        int64_t at = indices->int_data[k] < 0 ? indices->int_data[k] + (int64_t)data->count : indices->int_data[k];
        if (at < 0 || at >= (int64_t)data->count) {
            free(values);
            return xai_fail("%s: %s: index %lld outside the %zu values", r->path, label,
                            (long long)indices->int_data[k], data->count);
        }
        values[k] = data->int_data[at];
    }
    return store_output(r, n, values, indices->count, indices->rank, dims);
}

/* The element index of position `at` (rank entries) in row-major dims. */
static size_t flat_index(const int64_t *dims, int rank, const int64_t *at)
{
    size_t k = 0;
    for (int d = 0; d < rank; d++) k = k * (size_t)dims[d] + (size_t)at[d];
    return k;
}

/* Step position `at` through row-major dims; 0 after the last. */
static int next_position(const int64_t *dims, int rank, int64_t *at)
{
    for (int d = rank - 1; d >= 0; d--) {
        if (++at[d] < dims[d]) return 1;
        at[d] = 0;
    }
    return 0;
}

/* ConstantOfShape: `value` (int64; one element) repeated over the shape given. */
static int fold_constant_of_shape(reader *r, const Onnx__NodeProto *n, const char *label, const constant *shape)
{
    const Onnx__AttributeProto *a = onnx_find_attribute(n, "value");
    const Onnx__TensorProto *t = a ? a->t : NULL;
    int64_t fill = 0;
    if (!t || t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__INT64) return 0; /* a float tensor: not folded */
    if (t->n_int64_data == 1) fill = t->int64_data[0];
    else if (t->raw_data.len == sizeof fill) memcpy(&fill, t->raw_data.data, sizeof fill);
    else return xai_fail("%s: %s: the value is not one int64", r->path, label);
    if (shape->count > MAX_RANK) return xai_fail("%s: %s: a shape of rank %zu", r->path, label, shape->count);
    int64_t dims[MAX_RANK] = {0};
    size_t count = 1;
    for (size_t d = 0; d < shape->count; d++) {
        if (shape->int_data[d] < 0 || shape->int_data[d] > 65536)
            return xai_fail("%s: %s: dimension %lld", r->path, label, (long long)shape->int_data[d]);
        dims[d] = shape->int_data[d], count *= (size_t)dims[d];
        if (count > 65536) return xai_fail("%s: %s: over 65536 int64 values", r->path, label);
    }
    int64_t *values = new_values(count);
    if (!values) return XAI_ERR;
    for (size_t k = 0; k < count; k++) values[k] = fill;
    return store_output(r, n, values, count, (int)shape->count, dims);
}

/* Reshape of an int64 constant: the same values, the new dims (0 copies, -1 infers). */
static int fold_reshape(reader *r, const Onnx__NodeProto *n, const char *label, const constant *data,
                        const constant *shape)
{
    if (shape->count > MAX_RANK) return xai_fail("%s: %s: a shape of rank %zu", r->path, label, shape->count);
    int64_t dims[MAX_RANK] = {0}, known = 1;
    int infer = -1;
    for (size_t d = 0; d < shape->count; d++) {
        int64_t v = shape->int_data[d];
        if (v == 0 && d < (size_t)data->rank) v = data->dims[d];
        if (v == -1 && infer < 0) infer = (int)d, v = 1;
        else if (v < 0) return xai_fail("%s: %s: shape entry %lld", r->path, label, (long long)shape->int_data[d]);
        else if (v && known > INT64_MAX / v)
            return xai_fail("%s: %s: the shape holds over 2^63 values", r->path, label);
        else known *= v;
        dims[d] = v;
    }
    if (infer >= 0 && known > 0) dims[infer] = (int64_t)data->count / known;
    int64_t total = 1;
    for (size_t d = 0; d < shape->count; d++) total *= dims[d];
    if (total != (int64_t)data->count)
        return xai_fail("%s: %s: %zu int64 values do not reshape to the shape given", r->path, label, data->count);
    int64_t *values = new_values(data->count);
    if (!values) return XAI_ERR;
    memcpy(values, data->int_data, data->count * sizeof(int64_t));
    return store_output(r, n, values, data->count, (int)shape->count, dims);
}

/* Transpose of an int64 constant: output axis k is input axis perm[k] (reversed by default). */
static int fold_transpose(reader *r, const Onnx__NodeProto *n, const char *label, const constant *data)
{
    int rank = data->rank, perm[MAX_RANK];
    const Onnx__AttributeProto *a = onnx_find_attribute(n, "perm");
    if (a && a->n_ints != (size_t)rank) return xai_fail("%s: %s: perm of %zu axes for rank %d", r->path, label, a->n_ints, rank);
    int seen = 0;
    for (int k = 0; k < rank; k++) {
        int64_t axis = a ? a->ints[k] : rank - 1 - k;
        perm[k] = axis >= 0 && axis < rank ? (int)axis : -1;
        if (perm[k] < 0 || (seen & 1 << perm[k]))
            return xai_fail("%s: %s: perm is not a permutation", r->path, label);
        seen |= 1 << perm[k];
    }
    int64_t dims[MAX_RANK] = {0}, at[MAX_RANK] = {0}, from[MAX_RANK];
    for (int k = 0; k < rank; k++) dims[k] = data->dims[perm[k]];
    int64_t *values = new_values(data->count);
    if (!values) return XAI_ERR;
    for (size_t k = 0; k < data->count; k++, next_position(dims, rank, at)) {
        for (int d = 0; d < rank; d++) from[perm[d]] = at[d];
        values[k] = data->int_data[flat_index(data->dims, rank, from)];
    }
    return store_output(r, n, values, data->count, rank, dims);
}

/* Slice (opset 10 on) of an int64 constant: starts, ends, axes and steps as ONNX clamps them. */
static int fold_slice(reader *r, const Onnx__NodeProto *n, const char *label, const constant *data)
{
    const constant *starts = int_constant(r, n, 1), *ends = int_constant(r, n, 2);
    const constant *axes = int_constant(r, n, 3), *steps = int_constant(r, n, 4);
    int rank = data->rank;
    if (!starts || !ends || starts->count != ends->count || (axes && axes->count != starts->count) ||
        (steps && steps->count != starts->count) || rank < 1)
        return xai_fail("%s: %s: starts, ends, axes and steps do not match", r->path, label);
    int64_t first[MAX_RANK], step[MAX_RANK], dims[MAX_RANK] = {0};
    for (int d = 0; d < rank; d++) first[d] = 0, step[d] = 1, dims[d] = data->dims[d];
    for (size_t k = 0; k < starts->count; k++) {
        int64_t axis = axes ? axes->int_data[k] : (int64_t)k, size;
        if (axis < 0) axis += rank;
        if (axis < 0 || axis >= rank) return xai_fail("%s: %s: axis outside rank %d", r->path, label, rank);
        size = data->dims[axis];
        int64_t s = starts->int_data[k], e = ends->int_data[k], t = steps ? steps->int_data[k] : 1;
        if (t == 0) return xai_fail("%s: %s: step 0", r->path, label);
        int64_t longest = size > 1 ? size : 1; /* a longer step takes one element, as this one does */
        t = t > longest ? longest : t < -longest ? -longest : t;
        if (s < 0) s += size;
        if (e < 0) e += size;
        if (t > 0) {
            s = s < 0 ? 0 : s > size ? size : s;
            e = e < 0 ? 0 : e > size ? size : e;
        } else {
            s = s < 0 ? 0 : s > size - 1 ? size - 1 : s;
            e = e < -1 ? -1 : e > size - 1 ? size - 1 : e;
        }
        int64_t count = t > 0 ? (e - s + t - 1) / t : (s - e - t - 1) / -t;
        first[axis] = s, step[axis] = t, dims[axis] = count > 0 ? count : 0;
    }
    size_t count = 1;
    for (int d = 0; d < rank; d++) count *= (size_t)dims[d];
    int64_t *values = new_values(count), at[MAX_RANK] = {0}, from[MAX_RANK];
    if (!values) return XAI_ERR;
    for (size_t k = 0; k < count; k++, next_position(dims, rank, at)) {
        for (int d = 0; d < rank; d++) from[d] = first[d] + at[d] * step[d];
        values[k] = data->int_data[flat_index(data->dims, rank, from)];
    }
    return store_output(r, n, values, count, rank, dims);
}

int onnx_fold_constant(reader *r, const Onnx__NodeProto *n, const char *label)
{
    if (n->n_output != 1 || !n->output[0][0]) return 0;
    if (is(n, "Shape")) return onnx_find_constant(r, onnx_resolve_alias(r, n->input[0])) ? 0 : fold_shape(r, n);
    static const char *const folded[] = {"Gather", "Add", "Sub", "Mul", "Div", "Unsqueeze", "Squeeze", "Concat",
                                         "Cast", "ConstantOfShape", "Reshape", "Transpose", "Slice", NULL};
    int known = 0;
    for (int k = 0; folded[k]; k++) known |= is(n, folded[k]);
    if (!known || n->n_input < 1) return 0;
    int unary = is(n, "Unsqueeze") || is(n, "Squeeze") || is(n, "Cast") || is(n, "ConstantOfShape") ||
                is(n, "Transpose");
    if (is(n, "Slice") && (n->n_input < 3 || n->n_input > 5)) return 0;
    if (!unary && !is(n, "Concat") && !is(n, "Slice") && n->n_input != 2) return 0; /* Gather, Reshape and
                                                                                      arithmetic take two */
    size_t data_inputs = unary ? 1 : n->n_input;
    for (size_t k = 0; k < data_inputs; k++)
        if (n->input[k][0] && !int_constant(r, n, k)) return 0;
    constant *a = int_constant(r, n, 0), *b = int_constant(r, n, 1);
    if (!a) return 0;
    if (is(n, "Gather")) return fold_gather(r, n, label, a, b);
    if (is(n, "ConstantOfShape")) return fold_constant_of_shape(r, n, label, a);
    if (is(n, "Reshape")) return fold_reshape(r, n, label, a, b);
    if (is(n, "Transpose")) return fold_transpose(r, n, label, a);
    if (is(n, "Slice")) return fold_slice(r, n, label, a);
    if (is(n, "Concat")) {
        size_t count = 0;
        for (size_t k = 0; k < n->n_input; k++) count += int_constant(r, n, k)->count;
        int64_t *values = new_values(count);
        if (!values) return XAI_ERR;
        for (size_t k = 0, at = 0; k < n->n_input; k++) {
            const constant *part = int_constant(r, n, k);
            memcpy(values + at, part->int_data, part->count * sizeof(int64_t));
            at += part->count;
        }
        return store_output(r, n, values, count, 1, NULL);
    }
    if (data_inputs == 1) { /* Unsqueeze, Squeeze, Cast to int64: the same values */
        if (is(n, "Cast") && onnx_attribute_int(n, "to", 0) != ONNX__TENSOR_PROTO__DATA_TYPE__INT64) return 0;
        int64_t *values = new_values(a->count);
        if (!values) return XAI_ERR;
        memcpy(values, a->int_data, a->count * sizeof(int64_t));
        return store_output(r, n, values, a->count, is(n, "Squeeze") && a->count == 1 ? 0 : 1, NULL);
    }
    return fold_arithmetic(r, n, label, a, b);
}
