/* xai_sanity.h - the model-parameter randomization test of Adebayo et al. 2018 ("Sanity
 * Checks for Saliency Maps"): re-initialize the network's weight layers from the output down,
 * explain the same images after each step, and measure how alike the maps stay.
 *
 * Weight layers are the Conv and Gemm nodes (a BatchNormalization after a Conv is folded into
 * it at load). Steps go from the top: with `layer` granularity one step per weight layer, with
 * `block` one per block, a block ending at an Add, a pooling node, or a Conv whose output feeds
 * no activation and something other than an Add (MobileNet's linear bottleneck, read by the next
 * block; a ResNet's downsampling Conv, which feeds only its Add, stays with its block). */
#ifndef XAI_SANITY_H
#define XAI_SANITY_H

#include <stdint.h>

#include "xai_graph.h"
#include "xai_method.h"
#include "xai_team.h"

enum { XAI_SANITY_CASCADING, XAI_SANITY_INDEPENDENT };
enum { XAI_SANITY_LAYER, XAI_SANITY_BLOCK };

/* The steps: step s (0-based, s = 0 the top) re-initializes nodes[first[s] .. first[s] +
 * count[s] - 1]; label[s] names it (the node, or a block's first and last nodes). */
typedef struct {
    int n_steps, n_nodes;
    int *nodes, *first, *count;
    char **label;
} xai_sanity_plan;

/* Fails (naming the model) for a graph with no weight layer. */
int xai_sanity_plan_make(xai_sanity_plan *plan, const xai_graph *graph, int granularity);
void xai_sanity_plan_free(xai_sanity_plan *plan);

/* Weight layer `node` re-initialized in the graph as `xaibench model init` initializes its kind
 * (torchvision's init): a Conv's weight ~ N(0, 2 / fan_out), fan_out = out_channels * kh * kw,
 * bias 0, and when a BatchNormalization was folded into it, that BN at its initial state (gamma
 * 1, beta 0, mean 0, var 1: the weight scaled by 1 / sqrt(1 + eps)); a Gemm's weight and bias ~
 * U(-1/sqrt(in), 1/sqrt(in)). The numbers depend on (seed, node) only. */
void xai_sanity_reinit(xai_graph *graph, int node, uint64_t seed);

/* One `xaibench sanity` run: the images (their names, and inputs preprocessed as the model
 * says), the methods with their parameters, and where the results go (xai_sanity_store.h).
 * The classes explained are the original model's top ones, kept for every step. The graph must
 * hold its weights; they are changed as the steps go and left randomized. */
typedef struct {
    const char *model, *output;
    const char *const *images;
    const float *inputs;              /* [n_images][C][H][W] */
    int n_images;
    const xai_method *const *methods;
    int n_methods;
    const xai_method_params *params;  /* resolved against the model */
    int mode, granularity;
    uint64_t seed;
    int batch, threads;
    int argc;                         /* the command line, for the provenance */
    char **argv;
    const xai_team *team;             /* NULL: alone; else the ranks share the images out, rank 0
                                         writes the file */
} xai_sanity_config;

int xai_sanity_run(const xai_sanity_config *config, xai_graph *graph);

#endif
