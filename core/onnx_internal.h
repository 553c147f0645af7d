/* onnx_internal.h - private to the ONNX reader's files: the reader's state while it turns a
 * ModelProto into an xai_graph, and the pieces they share. onnx_reader.c owns the steps and
 * the constants (steps 1 and 3, and building the graph); step 2, the conversion of each ONNX
 * node, is onnx_ops.c's registry of operators with their converters (onnx_nodes.c,
 * onnx_pad_nodes.c, onnx_channel_nodes.c, onnx_nhwc_nodes.c) and onnx_fold.c's int64 folding;
 * onnx_shapes.c does shape inference and BatchNormalization folding (step 4). */
#ifndef XAI_ONNX_INTERNAL_H
#define XAI_ONNX_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "onnx_subset.pb-c.h"
#include "xai_graph.h"

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

/* An ONNX file mapped while it is read (onnx_file.c). */
typedef struct {
    size_t offset, length;
} onnx_raw_range;

typedef struct {
    uint8_t *map;
    size_t size;
    onnx_raw_range *raw;      /* per initializer, in order: where its raw_data lies in the file */
    size_t n_raw;
} onnx_file;

typedef enum { PAD_EXPLICIT, PAD_VALID, PAD_SAME_UPPER, PAD_SAME_LOWER } auto_pad_mode;

/* A node while reading: value names not yet resolved to indices. */
typedef struct {
    xai_node node;
    const char *onnx_op;
    const char **input_name;  /* node.n_inputs names, owned by the reader */
    const char *output_name;
    auto_pad_mode auto_pad;
    int explicit_kernel;      /* pools and Conv with kernel_shape given */
    int ceil_mode;
    int flatten_axis;         /* FLATTEN from a Flatten: its axis */
    int reshape_rank;         /* FLATTEN from a Reshape: the target shape (the batch first) */
    int64_t reshape_dims[4];
    int size_one_axes;        /* FLATTEN from an Unsqueeze: the output's new axes; from a Squeeze:
                                 the input's axes removed (0: every per-image axis of size 1) */
    int reduce_to_2d;         /* ReduceMean with keepdims = 0: the averaged axes dropped */
    int shuffle_channels_per_group; /* SHUFFLE: C / groups as the ONNX Reshape said */
    int axis;                 /* CONCAT, SOFTMAX: the ONNX axis, checked against the rank later */
    int softmax_to_last;      /* SOFTMAX before opset 13: over every axis from `axis` on */
    int split_parts, split_index; /* SLICE from a Split into equal parts: which of how many */
    int split_last_smaller;       /* opset 18's num_outputs: parts of ceil(n / parts), the last smaller */
    int n_slice_axes;         /* SLICE: the ONNX axes sliced, with their bounds and steps (a Split's
                                 part: one axis, step 1), clamped to the input's sizes later */
    int64_t slice_axes[MAX_RANK], slice_starts[MAX_RANK], slice_ends[MAX_RANK], slice_steps[MAX_RANK];
    int pad_rank;             /* PAD: the rank its pads are for */
    int perm_rank;            /* TRANSPOSE: the rank its perm is for */
    int norm_axis;            /* LAYERNORM: the ONNX axis the normalized axes start at (-1: the last) */
    int scale_rank;           /* SCALE: the constant's dims, right-aligned with the value later */
    int64_t scale_dims[4];
} pending_node;

typedef struct {
    const char *path;
    constant *constants;
    int n_constants;
    pending_node *nodes;
    int n_nodes;
    char *skip;               /* per ONNX node: already converted as part of an earlier one */
    const Onnx__ValueInfoProto *input; /* the graph's image input */
    xai_value input_value;    /* its shape, once read (rank 0 before; its name the model's) */
    xai_value *early;         /* per pending node: its output's shape once asked for (name set) */
    int shape_depth;          /* how deep onnx_value_shape is in its inputs' inputs */
    const char **alias_from, **alias_to;  /* Identity and Dropout: output name -> input name */
    int n_alias;
    int64_t opset;
    onnx_file *file;          /* the mapped file the initializers' raw_data may point into */
} reader;

/* ---- onnx_file.c ---- */

/* Map `path` and unpack it, the initializers' raw_data left in the mapping (NULL with the error
 * recorded). onnx_file_close frees the model and unmaps. */
Onnx__ModelProto *onnx_file_unpack(onnx_file *f, const char *path);
/* Does data point into the mapping? */
int onnx_file_owns(const onnx_file *f, const void *data);
/* memcpy from the mapping, giving the pages back as it goes, so that a large tensor is never
 * resident twice. */
void onnx_file_copy(onnx_file *f, void *dst, const void *src, size_t length);
void onnx_file_close(onnx_file *f, Onnx__ModelProto *m);

/* ---- onnx_reader.c ---- */

/* A new constant called `name` (NULL with the error recorded). */
constant *onnx_add_constant(reader *r, const char *name);
/* The image input's shape into r->input_value (once). */
int onnx_read_input_shape(reader *r);
/* The constant called `name` (NULL: none). */
constant *onnx_find_constant(reader *r, const char *name);
/* What an Identity or Dropout output stands for (the name itself when no alias). */
const char *onnx_resolve_alias(const reader *r, const char *name);
/* Output name `from` is another name for `to` from now on. */
int onnx_add_alias(reader *r, const char *from, const char *to);
char *onnx_copy_string(const char *s);
/* Node input `slot` as a float32 constant (one-line error naming the node when it is not). */
constant *onnx_weight_input(reader *r, const Onnx__NodeProto *n, const char *label, size_t slot);
float *onnx_copy_floats(const float *src, size_t count);
/* The constant's floats, handed to a node (copied when already handed to another). */
float *onnx_take_floats(constant *c);
void onnx_free_node(xai_node *n);

/* ---- onnx_nodes.c: attributes and new nodes (the converters are below, by file) ---- */

/* A new pending node for ONNX node n (graph index `index`) with `n_inputs` inputs (names still to
 * fill), producing `output`; its name is the ONNX one, or "<op>#<index>", with `suffix` added. */
pending_node *onnx_new_node(reader *r, const Onnx__NodeProto *n, size_t index, xai_op op, int n_inputs,
                            const char *output, const char *suffix);
int64_t onnx_attribute_int(const Onnx__NodeProto *n, const char *name, int64_t fallback);
/* A node's axes: the attribute (ReduceMean before opset 18, Squeeze and Unsqueeze before 13), or
 * input 1 as an int64 constant; none: *n_axes 0. */
int onnx_read_axes(reader *r, const Onnx__NodeProto *n, const char *label, const int64_t **axes, size_t *n_axes);
/* Node input `slot` as an int64 constant (NULL with the error recorded when it is not one). */
constant *onnx_int_input(reader *r, const Onnx__NodeProto *n, const char *label, size_t slot);

/* Node n's attribute `name` (NULL: absent). */
const Onnx__AttributeProto *onnx_find_attribute(const Onnx__NodeProto *n, const char *name);
float onnx_attribute_float(const Onnx__NodeProto *n, const char *name, float fallback);
/* kernel_shape, strides, pads, dilations (refused unless allow_dilation) and auto_pad of a Conv
 * or a pool into p. */
int onnx_read_window(reader *r, const Onnx__NodeProto *n, const char *label, pending_node *p, int allow_dilation);

/* ---- onnx_ops.c: the registry of ONNX operators ---- */

/* Graph node `index` into a pending node, an alias, or a fold into its neighbour. */
int onnx_convert_node(reader *r, const Onnx__GraphProto *g, size_t index);

/* A converter: graph node `index` (label: how messages name it) into pending nodes of `op` (the
 * registry's), an alias or a fold; XAI_OK or XAI_ERR with the message set. */
typedef int (*onnx_converter)(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op);

/* onnx_nodes.c: the classic CNN ops, arithmetic, and the ops of one value input */
int onnx_convert_unary(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op);
int onnx_convert_alias(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op);
int onnx_convert_cast(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op);
int onnx_convert_conv(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op);
int onnx_convert_batchnorm(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op);
int onnx_convert_clip(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op);
int onnx_convert_maxpool(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op);
int onnx_convert_avgpool(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op);
int onnx_convert_flatten(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op);
int onnx_convert_reshape(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op);
int onnx_convert_squeeze(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op);
int onnx_convert_gemm(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op);
int onnx_convert_matmul(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op);
int onnx_convert_arithmetic(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op);
int onnx_convert_hardsigmoid(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op);
int onnx_convert_pow(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op);
int onnx_convert_softmax(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op);

/* onnx_pad_nodes.c */
int onnx_convert_pad(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op);

/* ---- onnx_channel_nodes.c: the ops that move channels, and means over space ---- */

int onnx_convert_concat(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op);
int onnx_convert_split(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op);
int onnx_convert_slice(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op);
/* A Reshape to 5-D, the Transpose and the Reshape back that together shuffle channels
 * (ShuffleNet), as one SHUFFLE node; the two later nodes are marked in r->skip. */
int onnx_convert_shuffle(reader *r, const Onnx__GraphProto *g, size_t index, const char *label);
/* ReduceMean over any axes but the batch (over H and W, a GLOBALAVGPOOL), or the start of a
 * written-out layer normalization. */
int onnx_convert_reduce_mean(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op);
/* The one node that reads value `name` (it is no graph output, and the node has an output), or -1. */
int onnx_only_consumer(reader *r, const Onnx__GraphProto *g, const char *name);

/* ---- onnx_nhwc_nodes.c: Transpose, LayerNormalization, arithmetic with a constant ---- */

int onnx_convert_transpose(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op);
int onnx_convert_layernorm(reader *r, const Onnx__GraphProto *g, size_t index, const char *label, xai_op op);
/* Is node n the ReduceMean over the last axis that starts a layer normalization written out? */
int onnx_is_layernorm_start(reader *r, const Onnx__NodeProto *n);
/* Those nine nodes as one LAYERNORM node (the eight after it marked in r->skip). */
int onnx_convert_layernorm_nodes(reader *r, const Onnx__GraphProto *g, size_t index, const char *label);
/* Mul, Div, Add or Sub of a value and a float constant as a SCALE node: 1, or 0 when neither
 * input is a float constant, or XAI_ERR. */
int onnx_convert_scale(reader *r, const Onnx__NodeProto *n, size_t index, const char *label);

/* ---- onnx_fold.c: the int64 shape arithmetic exporters write, folded at load ---- */

/* Shape of a value, and Gather, Add, Sub, Mul, Div, Unsqueeze, Squeeze, Concat, Cast,
 * ConstantOfShape, Reshape, Transpose and Slice of int64 constants, as a new int64 constant: 1 when node n was folded, 0 when it is no such node, XAI_ERR. */
int onnx_fold_constant(reader *r, const Onnx__NodeProto *n, const char *label);

/* ---- onnx_shapes.c ---- */

/* The shape of value `name` from the nodes read so far (inferred once, then remembered). */
int onnx_value_shape(reader *r, const char *name, xai_value *out);

/* The output shape of pending node p from its inputs', checked. */
int onnx_infer_shape(const reader *r, xai_graph *g, pending_node *p);
/* Each BatchNormalization after a Conv folded into it; one alone becomes a depthwise 1x1 Conv. */
int onnx_fold_batchnorm(xai_graph *g);

#endif
