/* onnx_fold.c - step 2 of the ONNX reader (onnx_internal.h) for the int64 arithmetic that
 * exporters write around shapes: PyTorch's export of x.chunk(2, dim=1) on a static shape, for
 * one, computes the Slice bounds from Shape(x) through Gather, Add, Div and Mul. Each such node
 * whose inputs are all int64 constants (or, for Shape, a value of known shape) becomes an int64
 * constant, so that the Slice and Reshape after it see constants. Dimension 0 of a Shape stands
 * for the batch, which the graph does not fix: it is taken as 1. */
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

int onnx_fold_constant(reader *r, const Onnx__NodeProto *n, const char *label)
{
    if (n->n_output != 1 || !n->output[0][0]) return 0;
    if (is(n, "Shape")) return onnx_find_constant(r, onnx_resolve_alias(r, n->input[0])) ? 0 : fold_shape(r, n);
    static const char *const folded[] = {"Gather", "Add", "Sub", "Mul", "Div", "Unsqueeze", "Squeeze", "Concat",
                                         "Cast", NULL};
    int known = 0;
    for (int k = 0; folded[k]; k++) known |= is(n, folded[k]);
    if (!known || n->n_input < 1) return 0;
    int unary = is(n, "Unsqueeze") || is(n, "Squeeze") || is(n, "Cast");
    if (!unary && !is(n, "Concat") && n->n_input != 2) return 0; /* Gather and arithmetic take two */
    size_t data_inputs = unary ? 1 : n->n_input;
    for (size_t k = 0; k < data_inputs; k++)
        if (!int_constant(r, n, k)) return 0;
    constant *a = int_constant(r, n, 0), *b = int_constant(r, n, 1);
    if (is(n, "Gather")) return fold_gather(r, n, label, a, b);
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
