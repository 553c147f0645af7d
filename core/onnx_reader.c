/* onnx_reader.c - turns an ONNX ModelProto into an xai_graph.
 *
 * Reading happens in four steps, each reporting the first problem as "FILE: node 'X' (Op): what":
 *   1. constants: initializers (raw_data or float_data, float32; int64 for Reshape shapes),
 *      Constant nodes, and graph inputs bound by the caller;
 *   2. nodes: each ONNX node becomes an xai_node, or an alias (Identity, Dropout), or folds into
 *      its neighbour (MatMul -> Gemm, Add of a constant after Gemm -> Gemm bias);
 *   3. order: Kahn's algorithm over value names, which also finds cycles and undefined inputs;
 *   4. shapes: inferred from the input's [N,C,H,W] and checked at every node; then each
 *      BatchNormalization right after a Conv is folded into that Conv's weights and bias. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_subset.pb-c.h"
#include "xai_graph.h"
#include "xai_status.h"

#define MAX_RANK 8

typedef struct {
    char *name;
    int rank;
    int64_t dims[MAX_RANK];
    size_t count;
    float *data;          /* float32 constants */
    int given_away;       /* data now belongs to a node (see take_floats) */
    int64_t *int_data;    /* int64 constants (Reshape shapes) */
} constant;

typedef enum { PAD_EXPLICIT, PAD_VALID, PAD_SAME_UPPER, PAD_SAME_LOWER } auto_pad_mode;

/* A node while reading: value names not yet resolved to indices. */
typedef struct {
    xai_node node;
    const char *onnx_op;
    const char *input_name[2];
    const char *output_name;
    auto_pad_mode auto_pad;
    int explicit_kernel;      /* pools and Conv with kernel_shape given */
    int ceil_mode;
    int reshape_to_2d;
    int flatten_axis;
} pending_node;

typedef struct {
    const char *path;
    constant *constants;
    int n_constants;
    pending_node *nodes;
    int n_nodes;
    const char **alias_from, **alias_to;  /* Identity and Dropout: output name -> input name */
    int n_alias;
    int64_t opset;
} reader;

static void free_constants(reader *r)
{
    for (int i = 0; i < r->n_constants; i++) {
        free(r->constants[i].name);
        if (!r->constants[i].given_away) free(r->constants[i].data);
        free(r->constants[i].int_data);
    }
    free(r->constants);
}

static constant *find_constant(reader *r, const char *name)
{
    for (int i = 0; i < r->n_constants; i++)
        if (strcmp(r->constants[i].name, name) == 0) return &r->constants[i];
    return NULL;
}

static const char *resolve_alias(const reader *r, const char *name)
{
    for (int changed = 1; changed;) {
        changed = 0;
        for (int i = 0; i < r->n_alias; i++)
            if (strcmp(r->alias_from[i], name) == 0) { name = r->alias_to[i]; changed = 1; }
    }
    return name;
}

static char *copy_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *c = xai_malloc(n);
    if (c) memcpy(c, s, n);
    return c;
}

static constant *add_constant(reader *r, const char *name)
{
    constant *grown = xai_realloc(r->constants, (size_t)(r->n_constants + 1) * sizeof *grown);
    if (!grown) { xai_fail("%s: out of memory", r->path); return NULL; }
    r->constants = grown;
    constant *c = &r->constants[r->n_constants];
    memset(c, 0, sizeof *c);
    if (!(c->name = copy_string(name))) return NULL;
    r->n_constants++;
    return c;
}

/* Copy a TensorProto's contents into a constant: float32 or int64, inline data only. The
 * message's raw bytes are released as soon as they are copied, so that a large model is never
 * held three times over while it loads. */
/* A tensor's `count` elements of `size` bytes, from its raw data (little-endian, as ONNX says)
 * or its typed field, into *out. The length must match the shape before anything is allocated:
 * a corrupt shape over little data must not ask for gigabytes. */
static int copy_data(const reader *r, const Onnx__TensorProto *t, const char *name, size_t count, size_t size,
                     const void *typed, size_t n_typed, const char *kind, void **out)
{
    if (t->has_raw_data && t->raw_data.len != count * size)
        return xai_fail("%s: tensor '%s' holds %zu bytes for %zu %s", r->path, name, t->raw_data.len, count, kind);
    if (!t->has_raw_data && n_typed != count)
        return xai_fail("%s: tensor '%s' holds %zu %s for shape of %zu", r->path, name, n_typed, kind, count);
    if (!(*out = xai_malloc(count * size + 1))) return XAI_ERR;
    memcpy(*out, t->has_raw_data ? (const void *)t->raw_data.data : typed, count * size);
    return XAI_OK;
}

static int read_tensor(reader *r, Onnx__TensorProto *t, const char *name)
{
    if (t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL || t->n_external_data)
        return xai_fail("%s: tensor '%s' keeps its data in an external file, which is not "
                        "supported (save the model with all tensors inside)", r->path, name);
    if (t->n_dims > MAX_RANK)
        return xai_fail("%s: tensor '%s' has rank %zu", r->path, name, t->n_dims);
    /* Dimensions fit an int, and their product (checked for overflow) is at most what the file
     * can hold; the data's length is matched against it below, before it is copied. */
    size_t count = 1;
    for (size_t d = 0; d < t->n_dims; d++) {
        if (t->dims[d] < 0 || t->dims[d] > INT_MAX)
            return xai_fail("%s: tensor '%s' has dimension %lld", r->path, name,
                            (long long)t->dims[d]);
        if (__builtin_mul_overflow(count, (size_t)t->dims[d], &count) || count > ((size_t)1 << 40))
            return xai_fail("%s: tensor '%s' has too many elements for its dimensions", r->path, name);
    }
    constant *c = add_constant(r, name);
    if (!c) return XAI_ERR;
    c->rank = (int)t->n_dims;
    for (int d = 0; d < c->rank; d++) c->dims[d] = t->dims[d];
    c->count = count;

    if (t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
        int status = copy_data(r, t, name, count, sizeof(float), t->float_data, t->n_float_data, "floats",
                               (void **)&c->data);
        if (status == XAI_OK && t->has_raw_data) {
            free(t->raw_data.data); /* protobuf-c's default allocator is malloc */
            t->raw_data.data = NULL;
            t->raw_data.len = 0;
        }
        return status;
    }
    if (t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64)
        return copy_data(r, t, name, count, sizeof(int64_t), t->int64_data, t->n_int64_data, "int64",
                         (void **)&c->int_data);
    return xai_fail("%s: tensor '%s' has data type %d; xaibench reads float32 weights only",
                    r->path, name, t->data_type);
}

/* ---- attributes ---------------------------------------------------------------------------- */

static const Onnx__AttributeProto *find_attribute(const Onnx__NodeProto *n, const char *name)
{
    for (size_t i = 0; i < n->n_attribute; i++)
        if (n->attribute[i]->name && strcmp(n->attribute[i]->name, name) == 0)
            return n->attribute[i];
    return NULL;
}

static int64_t attribute_int(const Onnx__NodeProto *n, const char *name, int64_t fallback)
{
    const Onnx__AttributeProto *a = find_attribute(n, name);
    return a && a->has_i ? a->i : fallback;
}

static float attribute_float(const Onnx__NodeProto *n, const char *name, float fallback)
{
    const Onnx__AttributeProto *a = find_attribute(n, name);
    return a && a->has_f ? a->f : fallback;
}

/* Copy an INTS attribute of exactly `want` entries; absent leaves `out` unchanged. */
static int attribute_ints(reader *r, const Onnx__NodeProto *n, const char *label, const char *name,
                          int64_t *out, size_t want)
{
    const Onnx__AttributeProto *a = find_attribute(n, name);
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
    const Onnx__AttributeProto *a = find_attribute(n, "auto_pad");
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
static int read_window(reader *r, const Onnx__NodeProto *n, const char *label, pending_node *p,
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
    p->explicit_kernel = find_attribute(n, "kernel_shape") != NULL;
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

/* ---- step 1: constants --------------------------------------------------------------------- */

static int read_constants(reader *r, Onnx__GraphProto *g, const xai_graph_options *opt)
{
    for (size_t i = 0; i < g->n_initializer; i++) {
        Onnx__TensorProto *t = g->initializer[i];
        if (!t->name || !*t->name)
            return xai_fail("%s: initializer %zu has no name", r->path, i);
        if (read_tensor(r, t, t->name)) return XAI_ERR;
    }
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *n = g->node[i];
        if (!n->op_type || strcmp(n->op_type, "Constant") != 0) continue;
        const Onnx__AttributeProto *a = find_attribute(n, "value");
        if (!a || !a->t || n->n_output != 1)
            return xai_fail("%s: Constant node %zu: only the 'value' tensor form is supported",
                            r->path, i);
        if (read_tensor(r, a->t, n->output[0])) return XAI_ERR;
    }
    for (int i = 0; opt && i < opt->n_bound; i++) {
        constant *c = add_constant(r, opt->bound_names[i]);
        if (!c) return XAI_ERR;
        c->rank = opt->bound_ranks[i];
        c->count = 1;
        for (int d = 0; d < c->rank; d++) {
            c->dims[d] = opt->bound_dims[i][d];
            c->count *= (size_t)c->dims[d];
        }
        if (!(c->data = xai_malloc(c->count * sizeof(float)))) return XAI_ERR;
        memcpy(c->data, opt->bound_data[i], c->count * sizeof(float));
    }
    return XAI_OK;
}

/* A float constant of `count` values for node input `slot`, or NULL with the error recorded. */
static constant *weight_input(reader *r, const Onnx__NodeProto *n, const char *label, size_t slot)
{
    if (slot >= n->n_input || !n->input[slot][0]) {
        xai_fail("%s: %s: input %zu is missing", r->path, label, slot);
        return NULL;
    }
    constant *c = find_constant(r, resolve_alias(r, n->input[slot]));
    if (!c) {
        xai_fail("%s: %s: weight '%s' is not an initializer (missing initializer, or a "
                 "computed weight, which is not supported)", r->path, label, n->input[slot]);
        return NULL;
    }
    if (!c->data) {
        xai_fail("%s: %s: weight '%s' is not float32", r->path, label, n->input[slot]);
        return NULL;
    }
    return c;
}

static float *copy_floats(const float *src, size_t count)
{
    float *dst = xai_malloc(count * sizeof(float));
    if (dst) memcpy(dst, src, count * sizeof(float));
    return dst;
}

/* A node's own copy of a constant: the constant's buffer itself for its first user, a copy for
 * any later one (weights shared between nodes). */
static float *take_floats(constant *c)
{
    if (c->given_away) return copy_floats(c->data, c->count);
    c->given_away = 1;
    return c->data;
}

/* ---- step 2: nodes ------------------------------------------------------------------------- */

static int add_alias(reader *r, const char *from, const char *to)
{
    const char **f = xai_realloc(r->alias_from, (size_t)(r->n_alias + 1) * sizeof *f);
    if (!f) return xai_fail("%s: out of memory", r->path);
    r->alias_from = f;
    const char **t = xai_realloc(r->alias_to, (size_t)(r->n_alias + 1) * sizeof *t);
    if (!t) return xai_fail("%s: out of memory", r->path);
    r->alias_to = t;
    r->alias_from[r->n_alias] = from;
    r->alias_to[r->n_alias] = to;
    r->n_alias++;
    return XAI_OK;
}

static int convert_conv(reader *r, const Onnx__NodeProto *n, const char *label, pending_node *p)
{
    if (read_window(r, n, label, p, 1)) return XAI_ERR;
    constant *w = weight_input(r, n, label, 1);
    if (!w) return XAI_ERR;
    if (w->rank != 4)
        return xai_fail("%s: %s: weight has rank %d; only 2-D convolutions are supported",
                        r->path, label, w->rank);
    int64_t group = attribute_int(n, "group", 1);
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
    if (!(p->node.weight = take_floats(w))) return XAI_ERR;
    if (!(p->node.bias = xai_calloc((size_t)p->node.out_channels, sizeof(float)))) return XAI_ERR;
    if (n->n_input > 2 && n->input[2][0]) {
        constant *b = weight_input(r, n, label, 2);
        if (!b) return XAI_ERR;
        if (b->count != (size_t)p->node.out_channels)
            return xai_fail("%s: %s: bias has %zu values for %d channels", r->path, label,
                            b->count, p->node.out_channels);
        memcpy(p->node.bias, b->data, b->count * sizeof(float));
    }
    return XAI_OK;
}

static int convert_batchnorm(reader *r, const Onnx__NodeProto *n, const char *label,
                             pending_node *p)
{
    if (n->n_input != 5) return xai_fail("%s: %s: expected 5 inputs", r->path, label);
    constant *c[4];
    for (int i = 0; i < 4; i++)
        if (!(c[i] = weight_input(r, n, label, (size_t)i + 1))) return XAI_ERR;
    size_t channels = c[0]->count;
    for (int i = 1; i < 4; i++)
        if (c[i]->count != channels)
            return xai_fail("%s: %s: scale, bias, mean and var differ in size", r->path, label);
    p->node.out_channels = (int)channels;
    p->node.bn_epsilon = attribute_float(n, "epsilon", 1e-5f);
    if (!(p->node.bn_gamma = copy_floats(c[0]->data, channels)) ||
        !(p->node.bn_beta = copy_floats(c[1]->data, channels)) ||
        !(p->node.bn_mean = copy_floats(c[2]->data, channels)) ||
        !(p->node.bn_var = copy_floats(c[3]->data, channels)))
        return XAI_ERR;
    return XAI_OK;
}

static int convert_clip(reader *r, const Onnx__NodeProto *n, const char *label, pending_node *p)
{
    p->node.clip_min = -INFINITY;
    p->node.clip_max = INFINITY;
    if (r->opset < 11) {
        p->node.clip_min = attribute_float(n, "min", -INFINITY);
        p->node.clip_max = attribute_float(n, "max", INFINITY);
    } else {
        for (size_t slot = 1; slot <= 2 && slot < n->n_input; slot++) {
            if (!n->input[slot][0]) continue;
            constant *c = find_constant(r, resolve_alias(r, n->input[slot]));
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

static int convert_gemm(reader *r, const Onnx__NodeProto *n, const char *label, pending_node *p,
                        int from_matmul)
{
    if (!from_matmul && attribute_int(n, "transA", 0) != 0)
        return xai_fail("%s: %s: transA=1 is not supported", r->path, label);
    int trans_b = from_matmul ? 0 : (int)attribute_int(n, "transB", 0);
    float alpha = from_matmul ? 1.f : attribute_float(n, "alpha", 1.f);
    float beta = from_matmul ? 1.f : attribute_float(n, "beta", 1.f);
    constant *w = weight_input(r, n, label, 1);
    if (!w) return XAI_ERR;
    if (w->rank != 2 || w->dims[0] < 1 || w->dims[1] < 1)
        return xai_fail("%s: %s: weight must be 2-D and not empty", r->path, label);
    int out = (int)(trans_b ? w->dims[0] : w->dims[1]);
    int in = (int)(trans_b ? w->dims[1] : w->dims[0]);
    p->node.out_channels = out;
    p->node.in_channels = in;
    if (!(p->node.weight = xai_malloc((size_t)out * in * sizeof(float))) ||
        !(p->node.bias = xai_calloc((size_t)out, sizeof(float))))
        return XAI_ERR;
    for (int o = 0; o < out; o++)
        for (int i = 0; i < in; i++)
            p->node.weight[(size_t)o * in + i] =
                alpha * w->data[trans_b ? (size_t)o * in + i : (size_t)i * out + o];
    if (!from_matmul && n->n_input > 2 && n->input[2][0]) {
        constant *b = weight_input(r, n, label, 2);
        if (!b) return XAI_ERR;
        if (b->count != (size_t)out && b->count != 1)
            return xai_fail("%s: %s: bias of %zu values for %d outputs", r->path, label,
                            b->count, out);
        for (int o = 0; o < out; o++) p->node.bias[o] = beta * b->data[b->count == 1 ? 0 : o];
    }
    return XAI_OK;
}

/* Add(Gemm output, constant) where the Gemm output feeds only this Add: fold into the bias.
 * Returns 1 when folded, 0 when the Add is an ordinary one, XAI_ERR on error. */
static int fold_bias_add(reader *r, const Onnx__GraphProto *g, const Onnx__NodeProto *n)
{
    constant *c = NULL;
    const char *activation = NULL;
    for (int slot = 0; slot < 2 && !c; slot++) {
        c = find_constant(r, resolve_alias(r, n->input[slot]));
        activation = n->input[1 - slot];
    }
    if (!c) return 0;
    activation = resolve_alias(r, activation);
    for (int i = r->n_nodes - 1; i >= 0; i--) {
        pending_node *p = &r->nodes[i];
        if (strcmp(p->output_name, activation) != 0) continue;
        if (p->node.op != XAI_OP_GEMM || !c->data ||
            (c->count != 1 && c->count != (size_t)p->node.out_channels))
            break;
        int consumers = 0;
        for (size_t k = 0; k < g->n_node; k++)
            for (size_t j = 0; j < g->node[k]->n_input; j++)
                consumers += strcmp(resolve_alias(r, g->node[k]->input[j]), activation) == 0;
        if (consumers != 1) break;
        for (int o = 0; o < p->node.out_channels; o++)
            p->node.bias[o] += c->data[c->count == 1 ? 0 : o];
        if (add_alias(r, n->output[0], activation)) return XAI_ERR;
        return 1;
    }
    return xai_fail("%s: Add node '%s': adding a constant is supported only as the bias of a "
                    "Gemm or MatMul", r->path, n->name ? n->name : "");
}

static int convert_node(reader *r, const Onnx__GraphProto *g, size_t index)
{
    const Onnx__NodeProto *n = g->node[index];
    const char *op = n->op_type ? n->op_type : "";
    char label[256];
    if (n->name && *n->name) snprintf(label, sizeof label, "node '%s' (%s)", n->name, op);
    else snprintf(label, sizeof label, "node #%zu (%s)", index, op);

    if (n->domain && *n->domain && strcmp(n->domain, "ai.onnx") != 0)
        return xai_fail("%s: %s: operator domain '%s' is not supported", r->path, label,
                        n->domain);
    if (strcmp(op, "Constant") == 0) return XAI_OK;
    if (n->n_input < 1 || !n->input[0][0] || n->n_output < 1 || !n->output[0][0])
        return xai_fail("%s: %s: needs an input and an output", r->path, label);
    if (strcmp(op, "Identity") == 0 || strcmp(op, "Dropout") == 0)
        return add_alias(r, n->output[0], n->input[0]);
    if (strcmp(op, "Add") == 0) {
        if (n->n_input != 2) return xai_fail("%s: %s: expected 2 inputs", r->path, label);
        if (attribute_int(n, "broadcast", 0) && !find_constant(r, resolve_alias(r, n->input[1])))
            return xai_fail("%s: %s: broadcasting is not supported", r->path, label);
        int folded = fold_bias_add(r, g, n);
        if (folded) return folded == 1 ? XAI_OK : XAI_ERR;
    }

    pending_node *p = &r->nodes[r->n_nodes];
    memset(p, 0, sizeof *p);
    p->onnx_op = op;
    p->input_name[0] = n->input[0];
    p->output_name = n->output[0];
    p->node.n_inputs = 1;
    p->node.clip_min = 0.f;
    p->node.clip_max = INFINITY;
    char node_name[64];
    snprintf(node_name, sizeof node_name, "%s#%zu", op, index);
    if (!(p->node.name = copy_string(n->name && *n->name ? n->name : node_name))) return XAI_ERR;
    r->n_nodes++; /* from here on the node's allocations belong to the reader */

    int status = XAI_OK;
    if (strcmp(op, "Conv") == 0) {
        p->node.op = XAI_OP_CONV;
        status = convert_conv(r, n, label, p);
    } else if (strcmp(op, "BatchNormalization") == 0) {
        p->node.op = XAI_OP_BATCHNORM;
        /* Before opset 7, is_test defaulted to 0 (training); spatial=0 meant per-pixel stats. */
        if (attribute_int(n, "training_mode", 0) || attribute_int(n, "is_test", r->opset >= 7) == 0)
            return xai_fail("%s: %s: training mode (batch statistics) is not supported", r->path,
                            label);
        if (attribute_int(n, "spatial", 1) == 0)
            return xai_fail("%s: %s: spatial=0 is not supported", r->path, label);
        status = convert_batchnorm(r, n, label, p);
    } else if (strcmp(op, "Relu") == 0) {
        p->node.op = XAI_OP_RELU;
    } else if (strcmp(op, "Clip") == 0) {
        p->node.op = XAI_OP_CLIP;
        status = convert_clip(r, n, label, p);
    } else if (strcmp(op, "MaxPool") == 0) {
        p->node.op = XAI_OP_MAXPOOL;
        if (n->n_output > 1 && n->output[1][0])
            return xai_fail("%s: %s: the Indices output is not supported", r->path, label);
        p->ceil_mode = (int)attribute_int(n, "ceil_mode", 0);
        status = read_window(r, n, label, p, 0);
    } else if (strcmp(op, "AveragePool") == 0) {
        p->node.op = XAI_OP_AVGPOOL;
        p->node.count_include_pad = (int)attribute_int(n, "count_include_pad", 0);
        if (attribute_int(n, "ceil_mode", 0))
            return xai_fail("%s: %s: ceil_mode=1 is not supported", r->path, label);
        status = read_window(r, n, label, p, 0);
    } else if (strcmp(op, "GlobalAveragePool") == 0) {
        p->node.op = XAI_OP_GLOBALAVGPOOL;
    } else if (strcmp(op, "Add") == 0) {
        p->node.op = XAI_OP_ADD;
        p->node.n_inputs = 2;
        p->input_name[1] = n->input[1];
    } else if (strcmp(op, "Flatten") == 0) {
        p->node.op = XAI_OP_FLATTEN;
        p->flatten_axis = (int)attribute_int(n, "axis", 1);
    } else if (strcmp(op, "Reshape") == 0) {
        p->node.op = XAI_OP_FLATTEN;
        p->reshape_to_2d = 1;
        p->flatten_axis = 1;
        constant *s = n->n_input > 1 ? find_constant(r, resolve_alias(r, n->input[1])) : NULL;
        if (!s || !s->int_data || s->count != 2)
            return xai_fail("%s: %s: only a Reshape to 2-D with a constant shape is supported",
                            r->path, label);
        p->node.out_channels = (int)s->int_data[1]; /* checked against the shape later */
    } else if (strcmp(op, "Gemm") == 0 || strcmp(op, "MatMul") == 0) {
        p->node.op = XAI_OP_GEMM;
        status = convert_gemm(r, n, label, p, strcmp(op, "MatMul") == 0);
    } else {
        return xai_fail("%s: %s: operator '%s' is not supported", r->path, label, op);
    }
    return status;
}

/* ---- step 3: order ------------------------------------------------------------------------- */

static int order_nodes(reader *r, const char *input_name)
{
    int n = r->n_nodes;
    int *done = xai_calloc((size_t)n, sizeof *done);
    pending_node *sorted = xai_malloc((size_t)(n ? n : 1) * sizeof *sorted);
    if (!done || !sorted) { free(done); free(sorted); return XAI_ERR; }
    const char **ready = xai_malloc((size_t)(n + 1) * sizeof *ready);
    if (!ready) { free(done); free(sorted); return XAI_ERR; }
    int n_ready = 0, n_sorted = 0;
    ready[n_ready++] = input_name;
    for (int progress = 1; progress && n_sorted < n;) {
        progress = 0;
        for (int i = 0; i < n; i++) {
            if (done[i]) continue;
            int ok = 1;
            for (int k = 0; k < r->nodes[i].node.n_inputs && ok; k++) {
                const char *name = resolve_alias(r, r->nodes[i].input_name[k]);
                int found = 0;
                for (int j = 0; j < n_ready && !found; j++) found = strcmp(ready[j], name) == 0;
                ok = found;
            }
            if (!ok) continue;
            done[i] = 1;
            progress = 1;
            sorted[n_sorted++] = r->nodes[i];
            ready[n_ready++] = r->nodes[i].output_name;
        }
    }
    int status = XAI_OK;
    for (int i = 0; i < n && status == XAI_OK; i++) {
        if (done[i]) continue;
        /* Tell a cycle from an input that nothing produces. */
        for (int k = 0; k < r->nodes[i].node.n_inputs; k++) {
            const char *name = resolve_alias(r, r->nodes[i].input_name[k]);
            int produced = 0;
            for (int j = 0; j < n; j++) produced |= strcmp(r->nodes[j].output_name, name) == 0;
            if (!produced) {
                status = xai_fail("%s: node '%s' (%s): input '%s' is not produced by any node, "
                                  "nor an initializer or the graph input", r->path,
                                  r->nodes[i].node.name, r->nodes[i].onnx_op, name);
                break;
            }
        }
        if (status == XAI_OK)
            status = xai_fail("%s: node '%s' (%s): the graph has a cycle through it", r->path,
                              r->nodes[i].node.name, r->nodes[i].onnx_op);
    }
    if (status == XAI_OK) memcpy(r->nodes, sorted, (size_t)n * sizeof *sorted);
    free(done);
    free(sorted);
    free(ready);
    return status;
}

/* ---- step 4: values and shapes ------------------------------------------------------------- */

static int window_output(int in, int kernel, int stride, int dilation, int *pad_begin,
                         int *pad_end, auto_pad_mode mode, int ceil_mode)
{
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
        *pad_end += (int)((out - 1) * stride + span - ((int64_t)in + *pad_begin + *pad_end));
    }
    return (int)out;
}

static int infer_shape(const reader *r, xai_graph *g, pending_node *p)
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
            return xai_fail("%s: node '%s' (%s): input '%s' is not [N,C,H,W]", r->path, label,
                            p->onnx_op, in->name);
        if (node->op == XAI_OP_CONV) {
            if (in->c != node->in_channels)
                return xai_fail("%s: node '%s' (Conv): input has %d channels, the weight "
                                "expects %d", r->path, label, in->c, node->in_channels);
            out->c = node->out_channels;
        } else {
            if (node->kernel_h < 1 || node->kernel_w < 1)
                return xai_fail("%s: node '%s' (%s): kernel_shape is missing", r->path, label,
                                p->onnx_op);
            node->dilation_h = node->dilation_w = 1;
        }
        out->h = window_output(in->h, node->kernel_h, node->stride_h, node->dilation_h,
                               &node->pad_top, &node->pad_bottom, p->auto_pad, p->ceil_mode);
        out->w = window_output(in->w, node->kernel_w, node->stride_w, node->dilation_w,
                               &node->pad_left, &node->pad_right, p->auto_pad, p->ceil_mode);
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
            return xai_fail("%s: node '%s' (GlobalAveragePool): input is not [N,C,H,W]",
                            r->path, label);
        out->h = out->w = 1;
        return XAI_OK;
    case XAI_OP_ADD: {
        const xai_value *b = &g->values[node->input[1]];
        if (b->rank != in->rank || b->c != in->c || b->h != in->h || b->w != in->w)
            return xai_fail("%s: node '%s' (Add): inputs '%s' and '%s' differ in shape "
                            "(broadcasting is not supported)", r->path, label, in->name,
                            b->name);
        return XAI_OK;
    }
    case XAI_OP_FLATTEN:
        if (p->flatten_axis != 1 && p->flatten_axis + in->rank != 1)
            return xai_fail("%s: node '%s' (Flatten): only axis 1 (keeping the batch) is "
                            "supported, not %d", r->path, label, p->flatten_axis);
        out->rank = 2;
        if ((int64_t)in->c * in->h * in->w > INT_MAX)
            return xai_fail("%s: node '%s' (Flatten): %d x %d x %d features are too many", r->path, label,
                            in->c, in->h, in->w);
        out->c = in->c * in->h * in->w;
        out->h = out->w = 1;
        if (p->reshape_to_2d && node->out_channels != -1 && node->out_channels != out->c)
            return xai_fail("%s: node '%s' (Reshape): target shape does not keep the batch "
                            "(only [N, -1] is supported)", r->path, label);
        node->out_channels = 0;
        return XAI_OK;
    case XAI_OP_GEMM:
        if (in->rank != 2)
            return xai_fail("%s: node '%s' (%s): input '%s' is not 2-D (add a Flatten)",
                            r->path, label, p->onnx_op, in->name);
        if (in->c != node->in_channels)
            return xai_fail("%s: node '%s' (%s): input has %d features, the weight expects %d",
                            r->path, label, p->onnx_op, in->c, node->in_channels);
        out->c = node->out_channels;
        return XAI_OK;
    }
    return xai_fail("%s: node '%s': unknown op", r->path, label);
}

static int find_value(const xai_graph *g, const char *name)
{
    for (int i = 0; i < g->n_values; i++)
        if (strcmp(g->values[i].name, name) == 0) return i;
    return -1;
}

static void free_node(xai_node *n)
{
    free(n->name);
    free(n->weight);
    free(n->bias);
    free(n->bn_gamma);
    free(n->bn_beta);
    free(n->bn_mean);
    free(n->bn_var);
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
static int fold_batchnorm(xai_graph *g)
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
        if (folded[i]) free_node(&g->nodes[i]);
        else g->nodes[kept++] = g->nodes[i];
    }
    g->n_nodes = kept;
    free(folded);
    return XAI_OK;
}

static int read_input_shape(reader *r, const Onnx__ValueInfoProto *v, xai_value *value)
{
    const Onnx__TypeProto *t = v->type;
    if (!t || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !t->tensor_type->shape)
        return xai_fail("%s: input '%s' has no tensor shape", r->path, v->name);
    const Onnx__TypeProto__Tensor *tt = t->tensor_type;
    if (tt->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
        return xai_fail("%s: input '%s' has element type %d; float32 is required", r->path,
                        v->name, tt->elem_type);
    const Onnx__TensorShapeProto *s = tt->shape;
    if (s->n_dim != 4)
        return xai_fail("%s: input '%s' has rank %zu; xaibench needs an image batch "
                        "[N,C,H,W]", r->path, v->name, s->n_dim);
    int64_t d[4];
    for (int k = 1; k < 4; k++) {
        if (s->dim[k]->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE ||
            s->dim[k]->dim_value < 1 || s->dim[k]->dim_value > 65536)
            return xai_fail("%s: input '%s': dimension %d must be a fixed positive size",
                            r->path, v->name, k);
        d[k] = s->dim[k]->dim_value;
    }
    value->rank = 4;
    value->c = (int)d[1];
    value->h = (int)d[2];
    value->w = (int)d[3];
    return XAI_OK;
}

/* Add value v's floats per image to *floats; every dimension must be positive and the sum stay
 * within `limit`, so that no engine is asked to allocate what cannot be had. */
static int count_activations(const reader *r, const xai_graph *g, int v, uint64_t limit, uint64_t *floats)
{
    const xai_value *value = &g->values[v];
    if (value->c < 1 || value->h < 1 || value->w < 1)
        return xai_fail("%s: value '%s' has an empty shape %dx%dx%d", r->path, value->name, value->c, value->h,
                        value->w);
    *floats += (uint64_t)value->c * (uint64_t)value->h * (uint64_t)value->w;
    if (*floats > limit)
        return xai_fail("%s: at value '%s' the activations of one image pass %.3g GiB, the limit (raise it with "
                        "--max-activations-gb)", r->path, value->name, (double)limit * sizeof(float) / (1 << 30));
    return XAI_OK;
}

static int build_graph(reader *r, const Onnx__ModelProto *m, xai_graph *g,
                       const xai_graph_options *opt)
{
    const Onnx__GraphProto *gp = m->graph;
    /* The image input: the one graph input that is not a constant. */
    const Onnx__ValueInfoProto *input = NULL;
    for (size_t i = 0; i < gp->n_input; i++) {
        if (!gp->input[i]->name || find_constant(r, gp->input[i]->name)) continue;
        if (input)
            return xai_fail("%s: the graph has several inputs ('%s', '%s'); xaibench needs one "
                            "image input", r->path, input->name, gp->input[i]->name);
        input = gp->input[i];
    }
    if (!input) return xai_fail("%s: the graph has no input", r->path);
    if (gp->n_output < 1 || !gp->output[0]->name)
        return xai_fail("%s: the graph has no output", r->path);

    g->values = xai_calloc((size_t)r->n_nodes + 1, sizeof *g->values);
    g->nodes = xai_calloc((size_t)r->n_nodes + 1, sizeof *g->nodes);
    if (!g->values || !g->nodes) return XAI_ERR;
    if (!(g->values[0].name = copy_string(input->name))) return XAI_ERR;
    g->n_values = 1;
    g->input = 0;
    if (read_input_shape(r, input, &g->values[0])) return XAI_ERR;
    uint64_t floats = 0, limit = (uint64_t)((opt && opt->max_activation_gb > 0 ? opt->max_activation_gb
                                                                               : XAI_DEFAULT_MAX_ACTIVATION_GB) *
                                             (1 << 30) / sizeof(float));
    if (count_activations(r, g, 0, limit, &floats)) return XAI_ERR;

    for (int i = 0; i < r->n_nodes; i++) {
        pending_node *p = &r->nodes[i];
        for (int k = 0; k < p->node.n_inputs; k++)
            p->node.input[k] = find_value(g, resolve_alias(r, p->input_name[k]));
        if (find_value(g, p->output_name) >= 0)
            return xai_fail("%s: node '%s': value '%s' is produced twice", r->path,
                            p->node.name, p->output_name);
        if (!(g->values[g->n_values].name = copy_string(p->output_name))) return XAI_ERR;
        p->node.output = g->n_values++;
        if (infer_shape(r, g, p) || count_activations(r, g, p->node.output, limit, &floats)) return XAI_ERR;
        g->nodes[g->n_nodes] = p->node;
        memset(&p->node, 0, sizeof p->node); /* ownership moved to the graph */
        g->n_nodes++;
    }
    const char *output = resolve_alias(r, gp->output[0]->name);
    g->output = find_value(g, output);
    if (g->output < 0)
        return xai_fail("%s: graph output '%s' is not produced by any node", r->path, output);
    if (!(opt && opt->keep_batchnorm) && fold_batchnorm(g)) return XAI_ERR;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op == XAI_OP_CLIP)
            g->nodes[i].plain_gradient = g->nodes[i].clip_min != 0.f || (opt && opt->relu_only_rules);
    return XAI_OK;
}

static int read_model(reader *r, const Onnx__ModelProto *m, xai_graph *g,
                      const xai_graph_options *opt)
{
    if (!m->graph) return xai_fail("%s: the model has no graph", r->path);
    r->opset = -1;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = m->opset_import[i];
        if (!o->domain || !*o->domain || strcmp(o->domain, "ai.onnx") == 0) r->opset = o->version;
    }
    if (r->opset < 0) return xai_fail("%s: the model declares no ONNX opset", r->path);
    if (r->opset < 1 || r->opset > 17)
        return xai_fail("%s: opset %lld is not supported (1 to 17 are)", r->path,
                        (long long)r->opset);
    g->opset = r->opset;
    if (m->n_metadata_props) {
        g->metadata = xai_calloc(m->n_metadata_props, sizeof *g->metadata);
        if (!g->metadata) return XAI_ERR;
        for (size_t i = 0; i < m->n_metadata_props; i++) {
            const Onnx__StringStringEntryProto *e = m->metadata_props[i];
            g->metadata[i].key = copy_string(e->key ? e->key : "");
            g->metadata[i].value = copy_string(e->value ? e->value : "");
            g->n_metadata++;
            if (!g->metadata[i].key || !g->metadata[i].value) return XAI_ERR;
        }
    }
    if (read_constants(r, m->graph, opt)) return XAI_ERR;
    r->nodes = xai_calloc(m->graph->n_node + 1, sizeof *r->nodes);
    if (!r->nodes) return XAI_ERR;
    for (size_t i = 0; i < m->graph->n_node; i++)
        if (convert_node(r, m->graph, i)) return XAI_ERR;
    if (r->n_nodes == 0) return xai_fail("%s: the graph has no nodes", r->path);
    const char *input_name = NULL;
    for (size_t i = 0; i < m->graph->n_input && !input_name; i++)
        if (m->graph->input[i]->name && !find_constant(r, m->graph->input[i]->name))
            input_name = m->graph->input[i]->name;
    if (!input_name) return xai_fail("%s: the graph has no input", r->path);
    if (order_nodes(r, input_name)) return XAI_ERR;
    return build_graph(r, m, g, opt);
}

void xai_graph_free(xai_graph *g)
{
    if (!g) return;
    for (int i = 0; i < g->n_nodes; i++) free_node(&g->nodes[i]);
    for (int i = 0; i < g->n_values; i++) free(g->values[i].name);
    for (int i = 0; i < g->n_metadata; i++) {
        free(g->metadata[i].key);
        free(g->metadata[i].value);
    }
    free(g->metadata);
    free(g->nodes);
    free(g->values);
    free(g->path);
    free(g);
}

static Onnx__ModelProto *unpack(const void *bytes, size_t size, const char *path)
{
    if (size == 0) {
        xai_fail("%s: empty file, not an ONNX model", path);
        return NULL;
    }
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, size, bytes);
    if (!m) xai_fail("%s: not a valid ONNX model (truncated or corrupt protobuf)", path);
    return m;
}

/* Build the graph from an unpacked model, and free the model. */
static int parse_model(xai_graph **out, Onnx__ModelProto *m, const char *path,
                       const xai_graph_options *options)
{
    reader r = {.path = path};
    xai_graph *g = xai_calloc(1, sizeof *g);
    int status = g && (g->path = copy_string(path)) ? read_model(&r, m, g, options) : XAI_ERR;
    for (int i = 0; i < r.n_nodes; i++) free_node(&r.nodes[i].node);
    free(r.nodes);
    free(r.alias_from);
    free(r.alias_to);
    free_constants(&r);
    onnx__model_proto__free_unpacked(m, NULL);
    if (status) {
        xai_graph_free(g);
        return XAI_ERR;
    }
    *out = g;
    return XAI_OK;
}

int xai_graph_load(xai_graph **out, const char *path, const xai_graph_options *options)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return xai_fail("%s: cannot open: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return xai_fail("%s: cannot seek: %s", path, strerror(errno));
    }
    long size = ftell(f);
    rewind(f);
    if (size < 0) {
        fclose(f);
        return xai_fail("%s: cannot read: %s", path, strerror(errno));
    }
    unsigned char *bytes = xai_malloc((size_t)size);
    if (!bytes) {
        fclose(f);
        return XAI_ERR;
    }
    size_t got = fread(bytes, 1, (size_t)size, f);
    int read_error = ferror(f);
    fclose(f);
    if (got != (size_t)size || read_error) {
        free(bytes);
        return xai_fail("%s: cannot read: %s", path, read_error ? strerror(errno) : "short read");
    }
    Onnx__ModelProto *m = unpack(bytes, (size_t)size, path);
    free(bytes); /* the unpacked model holds its own copy */
    return m ? parse_model(out, m, path, options) : XAI_ERR;
}
