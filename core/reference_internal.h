/* reference_internal.h - private to the reference engine's files (reference_engine.c, the engine,
 * its passes and its op registry; reference_cnn.c, the classic CNN ops; reference_attention.c,
 * MatMul of two values and Softmax; reference_ops.c, every other op): the precision they are compiled in, the engine's state and each op's steps.
 * Each file is compiled twice: as is, in double (xai_reference_*), and from its *_f32.c twin with
 * XAI_REFERENCE_F32 defined, in float (xai_reference_f32_*). */
#ifndef XAI_REFERENCE_INTERNAL_H
#define XAI_REFERENCE_INTERNAL_H

#include "xai_reference.h"

#ifdef XAI_REFERENCE_F32
typedef float real;
#define REFERENCE(name) xai_reference_f32_##name
#define REFERENCE_STEP(name) reference_f32_##name
#define reference_engine xai_reference_f32
#else
typedef double real;
#define REFERENCE(name) xai_reference_##name
#define REFERENCE_STEP(name) reference_##name
#define reference_engine xai_reference
#endif

struct reference_engine {
    const xai_graph *graph;
    int batch;
    real **value;           /* forward results, per value */
    real **grad;            /* gradients, per value */
    size_t **argmax;        /* MAXPOOL: input offset (within the image) chosen per output element */
    const xai_rule *rule;   /* the method's rule, during a backward pass */
    int forward_done;
};

/* One op's forward (its output from its inputs) and backward-data (its inputs' gradients +=
 * what its output's gradient sends them) on node i. */
typedef void (*reference_step)(reference_engine *r, int i);
typedef struct {
    reference_step forward, backward;
} reference_op;

/* reference_cnn.c */
void REFERENCE_STEP(conv_forward)(reference_engine *r, int i);
void REFERENCE_STEP(conv_backward)(reference_engine *r, int i);
void REFERENCE_STEP(batchnorm_forward)(reference_engine *r, int i);
void REFERENCE_STEP(batchnorm_backward)(reference_engine *r, int i);
void REFERENCE_STEP(activation_forward)(reference_engine *r, int i);
void REFERENCE_STEP(activation_backward)(reference_engine *r, int i);
void REFERENCE_STEP(maxpool_forward)(reference_engine *r, int i);
void REFERENCE_STEP(maxpool_backward)(reference_engine *r, int i);
void REFERENCE_STEP(avgpool_forward)(reference_engine *r, int i);
void REFERENCE_STEP(avgpool_backward)(reference_engine *r, int i);
void REFERENCE_STEP(global_avgpool_forward)(reference_engine *r, int i);
void REFERENCE_STEP(global_avgpool_backward)(reference_engine *r, int i);
void REFERENCE_STEP(flatten_forward)(reference_engine *r, int i);
void REFERENCE_STEP(flatten_backward)(reference_engine *r, int i);
void REFERENCE_STEP(gemm_forward)(reference_engine *r, int i);
void REFERENCE_STEP(gemm_backward)(reference_engine *r, int i);

/* reference_ops.c */
void REFERENCE_STEP(concat_forward)(reference_engine *r, int i);
void REFERENCE_STEP(concat_backward)(reference_engine *r, int i);
void REFERENCE_STEP(moves_forward)(reference_engine *r, int i);
void REFERENCE_STEP(moves_backward)(reference_engine *r, int i);
void REFERENCE_STEP(binary_forward)(reference_engine *r, int i);
void REFERENCE_STEP(binary_backward)(reference_engine *r, int i);
void REFERENCE_STEP(smooth_forward)(reference_engine *r, int i);
void REFERENCE_STEP(smooth_backward)(reference_engine *r, int i);
void REFERENCE_STEP(scale_forward)(reference_engine *r, int i);
void REFERENCE_STEP(scale_backward)(reference_engine *r, int i);
void REFERENCE_STEP(transpose_forward)(reference_engine *r, int i);
void REFERENCE_STEP(transpose_backward)(reference_engine *r, int i);
void REFERENCE_STEP(layernorm_forward)(reference_engine *r, int i);
void REFERENCE_STEP(layernorm_backward)(reference_engine *r, int i);
void REFERENCE_STEP(pad_forward)(reference_engine *r, int i);
void REFERENCE_STEP(pad_backward)(reference_engine *r, int i);
void REFERENCE_STEP(reduce_mean_forward)(reference_engine *r, int i);
void REFERENCE_STEP(reduce_mean_backward)(reference_engine *r, int i);

/* reference_attention.c */
void REFERENCE_STEP(matmul_forward)(reference_engine *r, int i);
void REFERENCE_STEP(matmul_backward)(reference_engine *r, int i);
void REFERENCE_STEP(softmax_forward)(reference_engine *r, int i);
void REFERENCE_STEP(softmax_backward)(reference_engine *r, int i);

#endif
