/* xai_engine.h - the fast engine: oneDNN forward and backward-data over an xai_graph, for a
 * fixed batch size, with an activation rule (xai_rule.h) at every activation.
 *
 * Primitives and buffers are created once (xai_engine_create) and reused by every call. The
 * forward keeps what the backward passes need (activation outputs, max-pool argmax), so any
 * number of methods can run from one forward (xai_engine_explain). */
#ifndef XAI_ENGINE_H
#define XAI_ENGINE_H

#include "xai_graph.h"
#include "xai_rule.h"

typedef struct xai_engine xai_engine;

/* `graph` must outlive the engine. threads <= 0: OpenMP's default at creation. The count is the
 * engine's own: its passes run on that many threads whatever the caller's OpenMP setting, which
 * each call leaves as it found it (so engines of different sizes share a process). */
int xai_engine_create(xai_engine **out, const xai_graph *graph, int batch, int threads);

/* The same, freeing each Conv's and Gemm's weights in `graph` as soon as the engine holds its
 * own copies, so that a model is never in memory three times (graph, forward layout, backward
 * layout). Afterwards the graph serves for shapes and names only: no other engine can be built
 * from it. */
int xai_engine_create_consuming(xai_engine **out, xai_graph *graph, int batch, int threads);

/* Either of the above (consume: free the graph's weights) with values that xai_engine_read_value
 * must be able to read: a Conv whose output is one of them keeps its activation unfused, so that
 * the pre-activation value is materialized. */
typedef struct {
    int batch, threads, consume;
    const int *readable; /* value indices */
    int n_readable;
    /* An engine of the same graph (of another batch size) to take the weights from, rather than
     * from the graph (whose weights it may have consumed): a layout both batch sizes' kernels
     * want is shared, not copied, and a layout only this one wants is reordered from the other's.
     * It must outlive this engine, and take any xai_engine_reload_weights before this one. */
    const xai_engine *weights_from;
} xai_engine_config;
int xai_engine_create_with(xai_engine **out, xai_graph *graph, const xai_engine_config *config);
void xai_engine_destroy(xai_engine *engine);

int xai_engine_batch(const xai_engine *engine);
const xai_graph *xai_engine_graph(const xai_engine *engine);
int xai_engine_classes(const xai_engine *engine);

/* input [batch][C][H][W] (NCHW, as the graph's input); logits [batch][classes] (may be NULL). */
int xai_engine_forward(xai_engine *engine, const float *input, float *logits);

/* The last forward's input again, after xai_engine_reload_weights: only the nodes from the
 * first whose weights changed run again (the values before it still hold). */
int xai_engine_forward_again(xai_engine *engine, float *logits);

/* After a forward: d logit[targets[n]] / d input for each image n, with `rule` at every
 * activation; map [batch][C][H][W]. Leaves the forward state intact for further passes. */
int xai_engine_backward(xai_engine *engine, const xai_rule *rule, const int *targets, float *map);

/* The same from any seed: d (sum_k seed[n][k] logit[n][k]) / d input. With stop_value >= 0 the
 * pass stops as soon as that value's gradient is complete (the nodes after its producer have
 * run) and map is not written (may be NULL): a layer's gradient costs only the head's backward. */
int xai_engine_backward_seeded(xai_engine *engine, const xai_rule *rule, const float *seed, float *map,
                               int stop_value);

/* Node `node` (a Conv or a Gemm) had its weight or bias changed in the graph: bring the engine's
 * copies up to date, in the primitives it has (nothing is rebuilt). Needs an engine that did not
 * consume the graph's weights; a forward must follow before the next backward. An engine made
 * with weights_from takes them again from that engine, which must have reloaded them first. */
int xai_engine_reload_weights(xai_engine *engine, int node);

/* Value v's activation (after a forward) and gradient, in NCHW order, [batch][c][h][w]; either
 * may be NULL. Fails for a value that is not materialized (a fused Conv's output not asked for at
 * creation). Gradients whose backward steps do not overlap share memory, so a value's gradient
 * can be read after a pass that stopped at it (xai_engine_backward_seeded), and after any pass
 * for the input and the values asked for at creation; otherwise the read fails. */
int xai_engine_read_value(xai_engine *engine, int value, float *activation, float *gradient);

/* Bytes of gradient memory the engine holds (shared and its own), and what a gradient per value
 * would take. */
void xai_engine_gradient_bytes(const xai_engine *engine, size_t *held, size_t *one_per_value);

/* Per-node wall-clock time, for benchmarks: when on, every forward and backward pass adds each
 * node's milliseconds (the stream is waited on after every node anyway). */
void xai_engine_set_profiling(xai_engine *engine, int on);
/* Accumulated milliseconds of node i in forward passes and in backward passes (all rules). */
void xai_engine_node_time(const xai_engine *engine, int i, double *forward_ms, double *backward_ms);

/* oneDNN's implementation name for each primitive, one "node: kind: impl" per line. A name
 * starting with "ref" is a slow reference kernel. The text lives as long as the engine. */
const char *xai_engine_kernels(const xai_engine *engine);

/* Several rules' maps from one forward pass. targets: NULL or entries < 0 mean "the top logit";
 * chosen targets are written to targets_out. maps[m] is [batch][C][H][W] for rules[m].
 * ms_forward and ms_methods[m] (optional) receive wall-clock milliseconds for the batch. */
typedef struct {
    const float *input;
    int n_methods;
    const xai_rule *const *methods;
    const int *targets;
    int *targets_out;
    float *logits;
    float *const *maps;
    double *ms_forward;
    double *ms_methods;
} xai_explain_request;

int xai_engine_explain(xai_engine *engine, const xai_explain_request *request);

#endif
