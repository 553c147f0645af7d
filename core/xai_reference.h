/* xai_reference.h - the plain-C reference engine: naive loops over an xai_graph in NCHW order.
 * Slow and obviously right; the tests hold the oneDNN engine to it.
 *
 * One source in two precisions. xai_reference_* computes in double: the truth. xai_reference_f32_*
 * runs the same loops in float: how close to the truth a straightforward float32 implementation
 * comes, which is the yardstick for the fast engine (its kernels sum in other orders, and where
 * a ReLU, Clip or max-pool decision lies within float rounding either may go either way). */
#ifndef XAI_REFERENCE_H
#define XAI_REFERENCE_H

#include "xai_graph.h"
#include "xai_rule.h"

typedef struct xai_reference xai_reference;
typedef struct xai_reference_f32 xai_reference_f32;

int xai_reference_create(xai_reference **out, const xai_graph *graph, int batch);
void xai_reference_destroy(xai_reference *ref);

/* input [batch][C][H][W] of the graph input; logits [batch][classes]. */
int xai_reference_forward(xai_reference *ref, const double *input, double *logits);

/* After a forward: the gradient of logit targets[n] of image n with respect to the input,
 * crossing every activation by `rule`; map [batch][C][H][W]. */
int xai_reference_backward(xai_reference *ref, const xai_rule *rule, const int *targets, double *map);

/* From any seed [batch][classes], stopping once value stop_value's gradient is complete (>= 0;
 * map then unused), as xai_engine_backward_seeded. */
int xai_reference_backward_seeded(xai_reference *ref, const xai_rule *rule, const double *seed, double *map,
                                  int stop_value);

/* Value v's activation and gradient, NCHW [batch][c][h][w]; either may be NULL. */
int xai_reference_read_value(xai_reference *ref, int value, double *activation, double *gradient);

/* The same in float32. */
int xai_reference_f32_create(xai_reference_f32 **out, const xai_graph *graph, int batch);
void xai_reference_f32_destroy(xai_reference_f32 *ref);
int xai_reference_f32_forward(xai_reference_f32 *ref, const float *input, float *logits);
int xai_reference_f32_backward(xai_reference_f32 *ref, const xai_rule *rule, const int *targets, float *map);
int xai_reference_f32_backward_seeded(xai_reference_f32 *ref, const xai_rule *rule, const float *seed, float *map,
                                      int stop_value);
int xai_reference_f32_read_value(xai_reference_f32 *ref, int value, float *activation, float *gradient);

#endif
