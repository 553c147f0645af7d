/* reference_internal.h - private to the reference engine's files (reference_engine.c, the engine
 * and the classic CNN ops; reference_ops.c, every other op): the precision they are compiled in.
 * Each file is compiled twice: as is, in double (xai_reference_*), and from its *_f32.c twin with
 * XAI_REFERENCE_F32 defined, in float (xai_reference_f32_*). */
#ifndef XAI_REFERENCE_INTERNAL_H
#define XAI_REFERENCE_INTERNAL_H

#include "xai_reference.h"

#ifdef XAI_REFERENCE_F32
typedef float real;
#define REFERENCE(name) xai_reference_f32_##name
#define reference_engine xai_reference_f32
#define reference_ops_forward reference_ops_f32_forward
#define reference_ops_backward reference_ops_f32_backward
#else
typedef double real;
#define REFERENCE(name) xai_reference_##name
#define reference_engine xai_reference
#endif

/* Forward of node `node` (an op of reference_ops.c) over `batch` images: its output value from its
 * inputs' (value[v]: NCHW, per value). */
void reference_ops_forward(const xai_graph *g, const xai_node *node, real *const *value, int batch);
/* Its backward-data: the inputs' gradients += what the output's gradient sends them. */
void reference_ops_backward(const xai_graph *g, const xai_node *node, real *const *value, real *const *grad,
                            int batch);

#endif
