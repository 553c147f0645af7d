/* xai_reference.h - the plain-C reference engine: naive loops in double precision over an
 * xai_graph in NCHW order. Slow and obviously right; the tests hold the oneDNN engine to it. */
#ifndef XAI_REFERENCE_H
#define XAI_REFERENCE_H

#include "xai_graph.h"
#include "xai_method.h"

typedef struct xai_reference xai_reference;

int xai_reference_create(xai_reference **out, const xai_graph *graph, int batch);
void xai_reference_destroy(xai_reference *ref);

/* input [batch][C][H][W] of the graph input; logits [batch][classes]. */
int xai_reference_forward(xai_reference *ref, const double *input, double *logits);

/* After a forward: the gradient of logit targets[n] of image n with respect to the input,
 * crossing every activation by `method`'s rule; map [batch][C][H][W]. */
int xai_reference_backward(xai_reference *ref, const xai_method *method, const int *targets,
                           double *map);

#endif
