/* xai_backend.h - what a method needs of an engine, so that every method runs on both engines
 * (the tests hold the oneDNN one to the reference): a forward on a batch, a backward from any
 * seed with an activation rule (optionally stopping at a value), and a value's activation and
 * gradient in NCHW order. All in float32; the double reference rounds at this boundary only. */
#ifndef XAI_BACKEND_H
#define XAI_BACKEND_H

#include "xai_engine.h"
#include "xai_graph.h"
#include "xai_rule.h"

typedef struct xai_backend xai_backend;
struct xai_backend {
    const xai_graph *graph;
    int batch, classes;
    int (*forward)(xai_backend *self, const float *input, float *logits);
    int (*backward)(xai_backend *self, const xai_rule *rule, const float *seed, float *map, int stop_value);
    int (*read_value)(xai_backend *self, int value, float *activation, float *gradient);
    void (*destroy)(xai_backend *self); /* frees what the backend made, not a borrowed engine */
    void *engine;
};

/* The oneDNN engine (borrowed: it outlives the backend). */
void xai_backend_of_engine(xai_backend *backend, xai_engine *engine);

/* A reference engine of its own, in double (precision 64) or float (32). */
int xai_backend_reference(xai_backend *backend, const xai_graph *graph, int batch, int precision);

void xai_backend_destroy(xai_backend *backend);

#endif
