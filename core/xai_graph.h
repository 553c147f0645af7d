/* xai_graph.h - the network graph xaibench runs: a topologically ordered list of CNN nodes over
 * named values, with weights in float32, read from ONNX (onnx_reader.c) and checked for shape.
 *
 * Activations with a rule (ReLU, Clip) are where saliency, deconvnet and guided backprop differ;
 * every other op, the smooth activations (Sigmoid, HardSigmoid, HardSwish, Tanh), the elementwise
 * functions (Erf, Sqrt, Pow) and the product of two branches (MUL) among them, passes its true
 * gradient under every rule (docs/rules.md).
 *
 * Every value is an activation with the batch as its first dimension: 4-D [N,C,H,W], 3-D [N,C,L]
 * (stored as H = L, W = 1 and rank 3) or 2-D [N,C] (stored as H = W = 1 and rank 2). The batch N is not part of the graph; an
 * engine chooses it. The graph has one input (the image tensor) and one output (the logits of a
 * classifier, or any value for single-op test graphs). */
#ifndef XAI_GRAPH_H
#define XAI_GRAPH_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    XAI_OP_CONV,            /* Conv (any group), bias always present (zeros if absent) */
    XAI_OP_BATCHNORM,       /* only when loaded with keep_batchnorm; else folded into Conv */
    XAI_OP_RELU,            /* ReLU: an activation with bounds (0, +inf) */
    XAI_OP_CLIP,            /* Clip with constant bounds (ReLU6 is Clip(0, 6)) */
    XAI_OP_MAXPOOL,
    XAI_OP_AVGPOOL,
    XAI_OP_GLOBALAVGPOOL,
    XAI_OP_ADD,             /* elementwise sum of two values of one rank, broadcast as MUL's */
    XAI_OP_FLATTEN,         /* the same elements in NCHW order under a new per-image shape (Flatten,
                               Reshape, Unsqueeze, Squeeze) */
    XAI_OP_GEMM,            /* y = x W^T + b, W stored [out,in], alpha and beta already applied */
    XAI_OP_CONCAT,          /* the inputs side by side along one per-image axis, in order */
    XAI_OP_SLICE,           /* every slice_step-th element from slice_first on, per per-image axis
                               (Split, Slice; a negative step runs backwards) */
    XAI_OP_SHUFFLE,         /* channel shuffle over `groups`: output channel i * groups + k is input
                               channel k * (C / groups) + i (Reshape, Transpose, Reshape in ONNX) */
    XAI_OP_MUL,             /* elementwise product of two values of one rank, NumPy-broadcast along
                               any axis where one has size 1 ([C,1,1] gates, [1,H,W] masks) */
    XAI_OP_SUB,             /* a - b and a / b of two values, broadcast as MUL's */
    XAI_OP_DIV,
    XAI_OP_SIGMOID,         /* 1 / (1 + exp(-x)) */
    XAI_OP_HARDSIGMOID,     /* clamp(alpha x + beta, 0, 1) */
    XAI_OP_HARDSWISH,       /* x * clamp(x / 6 + 1 / 2, 0, 1) */
    XAI_OP_ERF,             /* erf(x) (GELU is written with it) */
    XAI_OP_SCALE,           /* y = weight * x + bias, each one value or one per channel (a Mul,
                               Div, Add or Sub with a constant) */
    XAI_OP_TRANSPOSE,       /* the per-image axes permuted: output axis k is input axis perm[k]
                               (NCHW <-> NHWC: a value [H,W,C] is held as c = H, h = W, w = C) */
    XAI_OP_LAYERNORM,       /* over the per-image axes from norm_from on (the last by default):
                               weight * (x - mean) / sqrt(var + eps) + bias */
    XAI_OP_SQRT,            /* sqrt(x) */
    XAI_OP_POW,             /* x ^ alpha, a constant exponent */
    XAI_OP_TANH,            /* tanh(x) */
    XAI_OP_REDUCEMEAN,      /* the mean over the per-image axes in reduce_axes (ReduceMean; over H and W
                               alone it is GLOBALAVGPOOL) */
    XAI_OP_PAD,             /* H and W grown by the pads: a constant, their mirror image without
                               the edge (reflect) or the edge repeated (edge) */
    XAI_OP_MATMUL,          /* the product of two values' matrices: per image [M,K] x [K,P] (rank 3),
                               or one product per channel (rank 4, [G,M,K] x [G,K,P]) */
    XAI_OP_SOFTMAX,         /* exp(x) / sum exp(x) over the per-image axes in reduce_axes (one axis,
                               or every axis from one on) */
    XAI_OP_COUNT            /* the number of ops, not an op */
} xai_op;

typedef enum { XAI_PAD_CONSTANT, XAI_PAD_REFLECT, XAI_PAD_EDGE } xai_pad_mode;

typedef struct {
    char *name;
    int rank;               /* 4, 3 or 2 */
    int c, h, w;            /* per-image shape; w = 1 below rank 4, h = 1 at rank 2 */
} xai_value;

typedef struct {
    xai_op op;
    char *name;             /* the ONNX node name, or "<op_type>#<index>" when it had none */
    int *input;             /* n_inputs value indices: two for ADD and MUL, any number for CONCAT */
    int n_inputs;
    int output;

    /* CONV: weight [out_channels][in_channels/group][kernel_h][kernel_w], bias [out_channels] */
    int out_channels, in_channels, group;
    int kernel_h, kernel_w;
    int stride_h, stride_w;
    int dilation_h, dilation_w;
    int pad_top, pad_left, pad_bottom, pad_right;   /* also used by the pools */
    float *weight, *bias;
    int folded_bn;          /* 1: a BatchNormalization was folded in at load, with this epsilon: */
    float folded_bn_epsilon;

    /* BATCHNORM: y = gamma * (x - mean) / sqrt(var + epsilon) + beta, per channel */
    float *bn_gamma, *bn_beta, *bn_mean, *bn_var;
    float bn_epsilon;

    /* CLIP (and RELU, with 0 and +inf): bounds of the activation */
    float clip_min, clip_max;
    int plain_gradient;     /* 1: every method passes the true gradient here (saliency's rule):
                               a Clip whose min is not 0, or any Clip under relu-only rules */

    /* MAXPOOL / AVGPOOL: kernel, strides and pads above */
    int count_include_pad;  /* AVGPOOL: divide by the full window even where it is padding */
    int ceil_pad_bottom, ceil_pad_right; /* of pad_bottom and pad_right, what ceil_mode added: room
                               for the last window, counted neither as input nor as padding */

    /* GEMM: weight [out_channels][in_channels], bias [out_channels]; on the last axis of its
     * input (C of [N,C], W of [N,C,H,W]) */
    /* SCALE: weight and bias of in_channels = scale_dims[0] x [1] x [2] values, each dim 1
     * (broadcast) or the input's size on that per-image axis (c, h, w)
     * LAYERNORM: weight and bias of in_channels values (the normalized axes), epsilon in bn_epsilon;
     * norm_from: the first normalized per-image axis (0: c, 1: h, 2: w) */

    /* SLICE: output element (c, h, w) is input element (slice_first[0] + slice_step[0] c,
     * slice_first[1] + slice_step[1] h, slice_first[2] + slice_step[2] w) */
    int slice_first[3], slice_step[3];
    /* CONCAT: the per-image axis the inputs are side by side along (0: c, 1: h, 2: w) */
    int concat_axis;
    /* SHUFFLE: the number of groups */
    int groups;
    /* TRANSPOSE: output per-image axis k (0: c, 1: h, 2: w) is input axis perm[k] */
    int perm[3];
    /* HARDSIGMOID: y = clamp(alpha x + beta, 0, 1); POW: y = x ^ alpha */
    float alpha, beta;
    int scale_dims[3];
    /* REDUCEMEAN: the axes averaged, 1 << k for per-image axis k (0: c, 1: h, 2: w) of the input
     * (SOFTMAX: the axes normalized over);
     * the output holds the input's other axes in order (kept as size 1 with keepdims): its
     * NCHW order is that of the input's shape with 1 on the averaged axes */
    int reduce_axes;
    int norm_from;
    /* PAD: pad_top, pad_left, pad_bottom, pad_right above, and how the border is filled */
    xai_pad_mode pad_mode;
    float pad_value;        /* XAI_PAD_CONSTANT */
} xai_node;

typedef struct {
    char *key, *value;
} xai_metadata;

typedef struct {
    char *path;             /* file it was read from (for messages) */
    xai_value *values;
    int n_values;
    xai_node *nodes;        /* in topological order */
    int n_nodes;
    int input, output;      /* value indices */
    xai_metadata *metadata; /* ONNX metadata_props */
    int n_metadata;
    int64_t opset;
} xai_graph;

typedef struct {
    int keep_batchnorm;     /* 1: keep BatchNormalization nodes (reference engine and tests only) */
    int relu_only_rules;    /* 1: the methods' rules at ReLU only, Clip (ReLU6) passes the true
                               gradient (what Captum does: it hooks nn.ReLU modules only) */
    /* Graph inputs other than the first that are to be read as constants (ONNX node tests keep
     * weights as graph inputs): names and float tensors, in the same order. */
    int n_bound;
    const char *const *bound_names;
    const float *const *bound_data;
    const int64_t *const *bound_dims;
    const int *bound_ranks;
    /* The most GiB that the activations of one image may take (0: XAI_DEFAULT_MAX_ACTIVATION_GB);
     * a model past it is refused at load, before anything is allocated for it. */
    double max_activation_gb;
} xai_graph_options;

#define XAI_DEFAULT_MAX_ACTIVATION_GB 4.0

/* Read an ONNX model; NULL options mean the defaults (BatchNormalization folded). */
int xai_graph_load(xai_graph **out, const char *path, const xai_graph_options *options);

void xai_graph_free(xai_graph *graph);

/* Number of floats of one image of value v. */
static inline size_t xai_value_size(const xai_value *v) { return (size_t)v->c * v->h * v->w; }

/* REDUCEMEAN: the input's shape with 1 on the averaged axes (the order of the output's elements). */
static inline void xai_reduced_shape(const xai_node *n, const xai_value *in, int dims[3])
{
    dims[0] = n->reduce_axes & 1 ? 1 : in->c;
    dims[1] = n->reduce_axes & 2 ? 1 : in->h;
    dims[2] = n->reduce_axes & 4 ? 1 : in->w;
}

/* MATMUL of values a and b: `count` products of [m,k] x [k,p] per image; at rank 4 one product
 * per group g of [N,G,M,K] x [N,G,K,P], where either operand may have one group for all. */
static inline int xai_matmul_groups(const xai_value *v) { return v->rank == 4 ? v->c : 1; }

static inline void xai_matmul_dims(const xai_value *a, const xai_value *b, int *count, int *m, int *k, int *p)
{
    *count = xai_matmul_groups(a) > xai_matmul_groups(b) ? xai_matmul_groups(a) : xai_matmul_groups(b);
    *m = a->rank == 4 ? a->h : a->c;
    *k = a->rank == 4 ? a->w : a->h;
    *p = b->rank == 4 ? b->w : b->h;
}

/* SOFTMAX over the axes in `mask` (a run of adjacent per-image axes) of a [c, h, w] image:
 * `outer` runs of `length` elements, each element `inner` apart from the next. */
static inline void xai_softmax_dims(int mask, const int dims[3], size_t *outer, size_t *length, size_t *inner)
{
    *outer = *length = *inner = 1;
    for (int k = 0, seen = 0; k < 3; k++) {
        int in_run = mask >> k & 1;
        seen |= in_run;
        *(in_run ? length : seen ? inner : outer) *= (size_t)dims[k];
    }
}

/* SCALE: the index into weight and bias of element (c, h, w) of its input. */
static inline size_t xai_scale_index(const xai_node *n, int c, int h, int w)
{
    return ((size_t)(n->scale_dims[0] > 1 ? c : 0) * n->scale_dims[1] + (n->scale_dims[1] > 1 ? h : 0)) *
               n->scale_dims[2] + (n->scale_dims[2] > 1 ? w : 0);
}

/* PAD: the input row or column that output position `at` (counted from the padded start) reads,
 * for an input of `size` with `before` padded positions first; -1 where a constant goes. */
static inline int xai_pad_source(xai_pad_mode mode, int at, int before, int size)
{
    int i = at - before;
    if (i >= 0 && i < size) return i;
    if (mode == XAI_PAD_CONSTANT) return -1;
    if (mode == XAI_PAD_EDGE) return i < 0 ? 0 : size - 1;
    return i < 0 ? -i : 2 * (size - 1) - i; /* reflect: pads are below size (checked at load) */
}

/* Number of outputs per image (the classes of a classifier; a 4-D output counts C*H*W):
 * explanation targets index the output flattened per image. */
static inline int xai_graph_outputs(const xai_graph *g) { return (int)xai_value_size(&g->values[g->output]); }

/* The value of a metadata key, or NULL. */
const char *xai_graph_metadata(const xai_graph *graph, const char *key);

const char *xai_op_name(xai_op op);

/* Parameters and multiply-accumulates per image, of node i and of the whole graph. */
int64_t xai_node_parameters(const xai_graph *graph, int i);
int64_t xai_node_macs(const xai_graph *graph, int i);
int64_t xai_graph_parameter_count(const xai_graph *graph);
int64_t xai_graph_macs(const xai_graph *graph);

#endif
