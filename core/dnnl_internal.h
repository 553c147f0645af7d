/* dnnl_internal.h - private to the oneDNN engine's files (core/dnnl_*.c): the engine's state,
 * the layouts its loops read, and the pieces the files share. dnnl_engine.c owns creation and the
 * passes, dnnl_ops.c the op registry (each op's steps), dnnl_setup.c the set-up,
 * dnnl_gradient_plan.c where the gradients live, dnnl_conv.c the convolutions, dnnl_matmul.c
 * Gemm, dnnl_attention.c MatMul of values and Softmax, dnnl_layernorm.c LayerNormalization,
 * dnnl_stand_in.c plain copies of blocked inputs for the ops that read plain ones, dnnl_eltwise.c
 * Sigmoid and Tanh; dnnl_kernels.c, dnnl_channels.c, dnnl_pointwise.c, dnnl_binary.c, dnnl_transpose.c, dnnl_pad.c
 * and dnnl_reduce.c our own loops; dnnl_primitives.c the oneDNN plumbing (memories, reorders,
 * descriptors, clean-up). */
#ifndef XAI_DNNL_INTERNAL_H
#define XAI_DNNL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <dnnl.h>
#include <dnnl_debug.h>

#include "xai_engine.h"
#include "xai_status.h"

#define CHECK(call, what)                                                                    \
    do {                                                                                     \
        dnnl_status_t status_ = (call);                                                      \
        if (status_ != dnnl_success)                                                         \
            return xai_fail("oneDNN: %s: %s", what, dnnl_status2str(status_));               \
    } while (0)

/* Where element (n, c, h, w) sits: n*sn + (c/block)*scb + h*sh + w*sw + c%block. */
typedef struct {
    size_t sn, scb, sh, sw;
    int block;
} layout;

typedef struct {
    dnnl_memory_desc_t md;
    layout lay;
    float *data, *grad;
    dnnl_memory_t data_mem, grad_mem; /* data NULL: never materialized (a fused Conv's output) */
    size_t floats;          /* buffer size, padding included */
    size_t bytes;           /* each buffer's bytes, a multiple of 64; 0: no buffers (not in the passes) */
    int gradient_kept;      /* the gradient's memory is its own, not shared (dnnl_gradient_plan.c) */
} value_buffer;

/* A reorder primitive with its two memories bound. */
typedef struct {
    dnnl_primitive_t prim;
    dnnl_memory_t src, dst;
} reorder;

/* A plain NCHW stand-in for an input that an op reads plain (dnnl_stand_in.c): its data (NULL
 * when the value is plain itself) copied in before the forward, and the gradient written into
 * it (NULL when written into the value's own) added back after the backward. */
typedef struct {
    float *data, *grad;
    dnnl_memory_t data_mem, grad_mem;
    reorder in, back;
} stand_in;

typedef struct {
    /* CONV and GEMM (MATMUL and SOFTMAX: forward, backward, backward_rhs, scratch) */
    dnnl_primitive_t forward, backward;
    dnnl_memory_t weight_forward, weight_backward, bias;
    dnnl_memory_t src;                  /* what the forward reads (value or src_reorder.dst) */
    reorder src_reorder;                /* value layout -> forward src layout */
    reorder diff_dst_reorder;           /* gradient layout -> backward diff_dst layout */
    dnnl_memory_t diff_dst;             /* what the backward reads */
    dnnl_memory_t diff_src;             /* what the backward writes */
    reorder diff_src_reorder;           /* diff_src -> input gradient (adds when accumulating) */
    dnnl_memory_desc_t scratch_md[3];   /* the forward's and the backward's scratchpads (and MATMUL's
                                           second backward's) */
    dnnl_memory_t scratch[3];           /* over the engine's scratchpad buffer; NULL when none */
    dnnl_primitive_t backward_rhs;      /* MATMUL: the second input's gradient */
    dnnl_memory_t operand[10];          /* MATMUL, SOFTMAX, LAYERNORM: the primitives' memories */
    stand_in *stand_in;                 /* GEMM, MATMUL, SOFTMAX, LAYERNORM: per input */
    int fused_activation;               /* the next node (an activation) runs as a post-op */
    int gemm_backward;                  /* backward-data by dnnl_conv_gemm.c, not by oneDNN's primitive */
    float *gemm_work;                   /* its per-thread tile, column and phase-row buffers */
    size_t gemm_work_floats;            /* per thread */
    int gemm_tile_rows, gemm_lead, gemm_phase_len;
    int skip_forward;                   /* an activation fused into the Conv before it */
    /* FLATTEN */
    reorder flatten_forward, flatten_backward;
    /* ADD: input[1] in input[0]'s layout when they differ, and the output's gradient back into
     * input[1]'s layout (adding when it accumulates) */
    reorder add_rhs, add_rhs_grad;
    /* MAXPOOL: buffer offset of the chosen input element, per output element */
    int32_t *argmax;
    /* GEMM: the weight [out][in] (both passes read it); CONV with gemm_backward: the weight as
     * ONNX stores it, [out][in][kh][kw] */
    float *weight;
    int *channel_map;                   /* SLICE, SHUFFLE: the input channel of each output channel */
    dnnl_memory_t rows[4];              /* GEMM: [rows][K or out] views of the input's and output's data
                                           and gradients (dnnl_matmul.c) */
    int shared_weight[2];               /* weight_forward / weight_backward are weights_from's memory */
    int borrowed;                       /* weight is weights_from's */
    int *accumulate;                    /* per input: the backward adds into its gradient */
    const char *impl[2];                /* oneDNN kernel names, forward and backward */
} node_exec;

struct xai_engine {
    const xai_graph *graph;
    xai_graph *consumed;                /* set when weights are freed as they are copied */
    const xai_engine *weights_from;     /* the engine whose weights this one takes (see xai_engine_config) */
    const xai_rule *rule;               /* the method's rule, during a backward pass */
    int batch, threads;
    dnnl_engine_t dnnl;
    dnnl_stream_t stream;
    value_buffer *values;
    node_exec *exec;
    float *scratch;                     /* activation gradient before adding */
    size_t scratch_floats;
    /* Outputs kept in a blocked layout (single-op graphs) are read and seeded in NCHW order. */
    float *output_plain;
    dnnl_memory_t output_plain_mem;
    reorder output_reorder, output_seed_reorder;
    char *kernels;
    float *seed;                        /* [batch][classes]: one-hot seeds of xai_engine_backward */
    void *scratchpad;                   /* the convolutions' scratchpad, the largest one's size */
    size_t scratchpad_bytes;
    char *readable;                     /* per value: must stay materialized (xai_engine_config) */
    void *gradient_arena;               /* the gradients that share memory (dnnl_gradient_plan.c) */
    size_t gradient_arena_bytes;
    int stopped_at;                     /* the value the last backward pass stopped at; -1: none */
    int *channel_index;                 /* 0, 1, 2, ...: the channel lists of Concat and Slice */
    int forward_done;
    int has_input;                      /* a forward ran: the input value holds its batch */
    int fresh_nodes;                    /* nodes 0 .. fresh_nodes - 1 computed with today's weights */
    int profiling;
    double *node_ms;                    /* [2][n_nodes]: forward, backward */
};

static inline size_t offset_of(const layout *l, int n, int c, int h, int w)
{
    return n * l->sn + (size_t)(c / l->block) * l->scb + h * l->sh + w * l->sw +
           (size_t)(c % l->block);
}

/* ---- dnnl_setup.c ---- */

/* Every node's layouts, buffers and state, then the gradient bindings (e's graph, batch and
 * threads set; the caller holds the engine's thread count). */
int engine_setup(xai_engine *e);
/* A Gemm's copy of the graph's weight [out][in] (again, after the graph's changed). */
void engine_gemm_load_weights(xai_engine *e, int i);

/* ---- dnnl_gradient_plan.c ---- */

/* Every value's gradient (values with bytes set), in an arena shared by values whose backward
 * steps do not overlap or in memory of its own, and its grad_mem. */
int engine_place_gradients(xai_engine *e);

/* ---- dnnl_primitives.c ---- */

/* The layout of a blocked memory descriptor; fails for layouts our loops do not read. */
int engine_layout_of(const dnnl_memory_desc_t *md, layout *out, const char *what);

/* A descriptor for `dims` in the same kind of layout as `like` (plain NCHW, NHWC or nChw{b}c). */
int engine_md_like(dnnl_memory_desc_t *md, const dnnl_memory_desc_t *like, const layout *l, const dnnl_dims_t dims);

/* NCHW (rank 4, and rank 3 as [N,C,L,1]) or NC (rank 2) for value v at this batch. */
int engine_plain_md(dnnl_memory_desc_t *md, const xai_value *v, int batch);

/* A reorder from src to dst (dst += src when accumulating), with both memories bound. */
int engine_make_reorder(xai_engine *e, reorder *r, dnnl_memory_t src, dnnl_memory_t dst, int accumulate);
int engine_run_reorder(xai_engine *e, const reorder *r);
void engine_destroy_reorder(reorder *r);

/* A memory on the engine over `handle`, or allocated by oneDNN when it is NULL. */
int engine_memory(xai_engine *e, dnnl_memory_t *m, const dnnl_memory_desc_t *md, void *handle);

/* The kernel oneDNN chose for a primitive descriptor. */
const char *engine_impl_name(const_dnnl_primitive_desc_t pd);

/* Memories over the engine's scratchpad buffer for node i's primitives whose scratchpad_md is not
 * empty (their bind step, once the buffer exists). */
int engine_bind_scratchpads(xai_engine *e, int i);

/* Node i's forward (training) and backward primitives from their op descriptors (the forward's
 * descriptor the backward's hint), with oneDNN's implementation names; the forward's workspace
 * descriptor into *workspace when not NULL. */
int engine_forward_backward(xai_engine *e, int i, const_dnnl_op_desc_t forward, const_dnnl_op_desc_t backward,
                            dnnl_memory_desc_t *workspace, const char *what);
/* The destroy step of the ops made of oneDNN primitives (MatMul of values, Softmax,
 * LayerNormalization, the pools, Sigmoid and Tanh): primitives, operand memories, scratchpads, the
 * summing reorder of a gradient written into the scratch buffer, and stand-ins. */
void engine_primitive_op_destroy(xai_engine *e, int i);

/* ---- dnnl_conv.c ---- */

/* Node i's convolution: primitives, weights in their layouts, and its input's reorder; *out_md
 * gets the layout of its output value. The gradient side is bound once every value exists. */
int engine_conv_create(xai_engine *e, int i, dnnl_memory_desc_t *out_md);
int engine_conv_bind_gradients(xai_engine *e, int i);
int engine_conv_forward(xai_engine *e, int i);
int engine_conv_backward(xai_engine *e, int i);
/* The graph's weights of node i again, into the primitives' layouts (they were changed). */
int engine_conv_reload_weights(xai_engine *e, int i);
void engine_conv_destroy(xai_engine *e, int i);

/* ---- dnnl_conv_gemm.c: backward-data of convolutions with few input channels ---- */

/* Does node i's backward-data run there (a Conv of one group with under 16 input channels)? */
int engine_conv_gemm_fits(const xai_engine *e, int i);
/* Its buffers, then its copy of the graph's weights (before the graph's copy may be freed). */
int engine_conv_gemm_plan(xai_engine *e, int i);
void engine_conv_gemm_load_weights(xai_engine *e, int i);
int engine_conv_gemm_backward(xai_engine *e, int i);

/* ---- dnnl_matmul.c: Gemm as oneDNN matmul ---- */

/* One matmul primitive dst (+)= src x weights (+ bias, which may be NULL); its scratchpad's size
 * joins the engine's. */
int engine_matmul_primitive(xai_engine *e, const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *weights,
                            const dnnl_memory_desc_t *bias, const dnnl_memory_desc_t *dst, int accumulate,
                            dnnl_primitive_t *prim, dnnl_memory_desc_t *scratch_md);

/* Node i's primitives (forward, and backward-data adding when it accumulates) and its weight and
 * bias memories; its value and scratchpad memories once those exist (bind). */
int engine_matmul_create(xai_engine *e, int i);
int engine_matmul_bind(xai_engine *e, int i);
int engine_matmul_forward(xai_engine *e, int i);
int engine_matmul_backward(xai_engine *e, int i);
void engine_matmul_destroy(xai_engine *e, int i);

/* ---- the ops' passes: int (*)(xai_engine *, int node); backward reads e->rule ---- */

/* dnnl_channels.c: Concat and Slice along any per-image axis, the channel shuffle (and the
 * channel maps of Slice and shuffle, at set-up) */
int kernel_concat_forward(xai_engine *e, int i);
int kernel_concat_backward(xai_engine *e, int i);
int kernel_moves_forward(xai_engine *e, int i);
int kernel_moves_backward(xai_engine *e, int i);
int kernel_moves_plan(xai_engine *e, int i);

/* dnnl_pointwise.c: smooth activations and elementwise functions, SCALE */
int kernel_smooth_forward(xai_engine *e, int i);
int kernel_smooth_backward(xai_engine *e, int i);
/* Padding lanes of a channel-blocked value past its last channel set to zero again (the next
 * convolution reads them) after an activation with f(0) != 0. */
void engine_zero_padding(value_buffer *b, const xai_value *v, int batch);
/* dnnl_eltwise.c: Sigmoid and Tanh as oneDNN eltwise primitives */
int engine_setup_eltwise(xai_engine *e, int i);
int kernel_eltwise_forward(xai_engine *e, int i);
int kernel_eltwise_backward(xai_engine *e, int i);
int kernel_scale_forward(xai_engine *e, int i);
int kernel_scale_backward(xai_engine *e, int i);

/* dnnl_binary.c: Mul, Sub, Div, and Add where an input broadcasts (kernel_add_* call these) */
int kernel_binary_forward(xai_engine *e, int i);
int kernel_binary_backward(xai_engine *e, int i);

/* dnnl_transpose.c: Transpose */
int kernel_transpose_forward(xai_engine *e, int i);
int kernel_transpose_backward(xai_engine *e, int i);

/* dnnl_pooling.c: MaxPool and AveragePool, oneDNN's pooling primitives (our loops, kernel_maxpool_*
 * and kernel_avgpool_*, for the forms oneDNN has no kernel for) */
int engine_setup_pool(xai_engine *e, int i);
int kernel_pool_forward(xai_engine *e, int i);
int kernel_pool_backward(xai_engine *e, int i);

/* dnnl_layernorm.c: LayerNormalization, oneDNN's primitives */
int engine_setup_layernorm(xai_engine *e, int i);
int kernel_layernorm_forward(xai_engine *e, int i);
int kernel_layernorm_backward(xai_engine *e, int i);

/* dnnl_reduce.c: ReduceMean over any per-image axes */
int kernel_reduce_mean_forward(xai_engine *e, int i);
int kernel_reduce_mean_backward(xai_engine *e, int i);

/* ---- dnnl_stand_in.c: plain stand-ins for inputs in blocked layouts ---- */

/* Stand-ins for node i's inputs that are not plain (data and gradient), and gradients only for
 * those that accumulate when grad_when_accumulating (the op cannot add); x->stand_in is set. */
int engine_stand_ins(xai_engine *e, int i, int grad_when_accumulating);
/* What the op reads as input k's data, and where it writes input k's gradient. */
float *engine_input_data(xai_engine *e, int i, int k);
float *engine_input_grad(xai_engine *e, int i, int k);
/* Copy the blocked inputs in (before the forward); add the gradients back (after the backward). */
int engine_stand_ins_in(xai_engine *e, int i);
int engine_stand_ins_back(xai_engine *e, int i);
void engine_stand_ins_destroy(xai_engine *e, int i);

/* dnnl_attention.c: MatMul of two values and Softmax, oneDNN primitives */
int engine_setup_matmul_values(xai_engine *e, int i);
int engine_setup_softmax(xai_engine *e, int i);
int kernel_matmul_values_forward(xai_engine *e, int i);
int kernel_matmul_values_backward(xai_engine *e, int i);
int kernel_softmax_forward(xai_engine *e, int i);
int kernel_softmax_backward(xai_engine *e, int i);

/* dnnl_pad.c: Pad of H and W */
int kernel_pad_forward(xai_engine *e, int i);
int kernel_pad_backward(xai_engine *e, int i);

/* dnnl_kernels.c: ReLU and Clip (the method's rule), Add, the pools that dnnl_pooling.c leaves to us,
 * Flatten */
int kernel_activation_pass_forward(xai_engine *e, int i);
int kernel_activation_pass_backward(xai_engine *e, int i);
int kernel_add_forward(xai_engine *e, int i);
int kernel_add_backward(xai_engine *e, int i);
int kernel_maxpool_pass_forward(xai_engine *e, int i);
int kernel_maxpool_pass_backward(xai_engine *e, int i);
int kernel_avgpool_forward(xai_engine *e, int i);
int kernel_avgpool_backward(xai_engine *e, int i);
int kernel_global_avgpool_forward(xai_engine *e, int i);
int kernel_global_avgpool_backward(xai_engine *e, int i);
int kernel_flatten_forward(xai_engine *e, int i);
int kernel_flatten_backward(xai_engine *e, int i);

/* ---- dnnl_setup.c: the ops' set-up steps ---- */

/* Output layouts: the input's; the input's for ReLU, Clip and Add (fused into a Conv before
 * them); Mul's; the input's kind at the output's size; plain; a Conv's from oneDNN. */
int engine_layout_like_input(xai_engine *e, int i);
int engine_layout_activation(xai_engine *e, int i);
int engine_layout_mul(xai_engine *e, int i);
int engine_layout_same_kind(xai_engine *e, int i);
int engine_layout_plain(xai_engine *e, int i);
int engine_layout_conv(xai_engine *e, int i);
/* What MaxPool, Add and Gemm keep besides their outputs; Flatten's bindings. */
int engine_setup_maxpool(xai_engine *e, int i);
int engine_setup_add(xai_engine *e, int i);
int engine_setup_gemm(xai_engine *e, int i);
int engine_bind_flatten(xai_engine *e, int i);

/* ---- dnnl_ops.c: the op registry ---- */

/* What the engine does for one op, step by step (NULL: nothing to do): its output's layout, what
 * it keeps besides its output, its bindings once every value exists, its forward and backward
 * passes, and what it frees beyond node_exec's common fields. An op without a layout step
 * (BatchNormalization) cannot run on this engine. */
typedef int (*engine_step)(xai_engine *e, int i);
typedef struct {
    engine_step layout, setup, bind, forward, backward;
    void (*destroy)(xai_engine *e, int i);
} engine_op;

extern const engine_op engine_ops[XAI_OP_COUNT];

#endif
