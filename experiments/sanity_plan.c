/* sanity_plan.c - which weight layers each step of a sanity check re-initializes, and how
 * (see xai_sanity.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xai_rng.h"
#include "xai_sanity.h"
#include "xai_status.h"

static int is_weight_layer(const xai_node *n) { return n->op == XAI_OP_CONV || n->op == XAI_OP_GEMM; }

/* Does a block end after node i (forward order)? At an Add, a pooling node, or a Conv whose
 * output feeds no activation and something other than an Add (a linear bottleneck that the next
 * block reads; it may feed a later skip Add too). */
static int ends_block(const xai_graph *g, int i)
{
    const xai_node *n = &g->nodes[i];
    if (n->op == XAI_OP_ADD || n->op == XAI_OP_MAXPOOL || n->op == XAI_OP_AVGPOOL || n->op == XAI_OP_GLOBALAVGPOOL)
        return 1;
    if (n->op != XAI_OP_CONV) return 0;
    int activation = 0, other = 0;
    for (int j = 0; j < g->n_nodes; j++)
        for (int k = 0; k < g->nodes[j].n_inputs; k++) {
            if (g->nodes[j].input[k] != n->output) continue;
            xai_op op = g->nodes[j].op;
            activation |= op == XAI_OP_RELU || op == XAI_OP_CLIP;
            other |= op != XAI_OP_RELU && op != XAI_OP_CLIP && op != XAI_OP_ADD;
        }
    return !activation && other;
}

static char *label_of(const xai_graph *g, int top, int bottom)
{
    const char *a = g->nodes[bottom].name, *b = g->nodes[top].name;
    size_t size = strlen(a) + strlen(b) + 4;
    char *label = xai_malloc(size);
    if (label && top == bottom) snprintf(label, size, "%s", a);
    else if (label) snprintf(label, size, "%s..%s", a, b);
    return label;
}

int xai_sanity_plan_make(xai_sanity_plan *p, const xai_graph *g, int granularity)
{
    memset(p, 0, sizeof *p);
    int layers = 0;
    for (int i = 0; i < g->n_nodes; i++) layers += is_weight_layer(&g->nodes[i]);
    if (!layers) return xai_fail("%s: no weight layers (Conv or Gemm) to randomize", g->path);
    p->nodes = xai_malloc((size_t)layers * sizeof *p->nodes);
    int *block = xai_malloc((size_t)layers * sizeof *block); /* per weight layer, forward order */
    p->first = xai_malloc((size_t)layers * sizeof *p->first);
    p->count = xai_malloc((size_t)layers * sizeof *p->count);
    p->label = xai_calloc((size_t)layers, sizeof *p->label);
    if (!p->nodes || !block || !p->first || !p->count || !p->label) {
        free(block);
        xai_sanity_plan_free(p);
        return XAI_ERR;
    }
    /* Forward order first, with each layer's block; then reversed, top first. */
    int at = 0, current = 0, open = 0;
    int *forward = p->first; /* borrowed as scratch until the steps are laid out */
    for (int i = 0; i < g->n_nodes; i++) {
        if (is_weight_layer(&g->nodes[i])) forward[at] = i, block[at++] = current, open = 1;
        if (open && (granularity == XAI_SANITY_LAYER ? is_weight_layer(&g->nodes[i]) : ends_block(g, i)))
            current++, open = 0;
    }
    for (int k = 0; k < layers; k++) p->nodes[k] = forward[layers - 1 - k];
    for (int k = 0; k < layers / 2; k++) {
        int t = block[k];
        block[k] = block[layers - 1 - k], block[layers - 1 - k] = t;
    }
    p->n_nodes = layers;
    for (int k = 0; k < layers; k++) {
        if (k == 0 || block[k] != block[k - 1]) p->first[p->n_steps] = k, p->count[p->n_steps++] = 0;
        p->count[p->n_steps - 1]++;
    }
    free(block);
    for (int s = 0; s < p->n_steps; s++) {
        int top = p->nodes[p->first[s]], bottom = p->nodes[p->first[s] + p->count[s] - 1];
        if (!(p->label[s] = label_of(g, top, bottom))) {
            xai_sanity_plan_free(p);
            return XAI_ERR;
        }
    }
    return XAI_OK;
}

void xai_sanity_plan_free(xai_sanity_plan *p)
{
    for (int s = 0; p->label && s < p->n_nodes; s++) free(p->label[s]);
    free(p->label), free(p->nodes), free(p->first), free(p->count);
    memset(p, 0, sizeof *p);
}

void xai_sanity_reinit(xai_graph *g, int node, uint64_t seed)
{
    xai_node *n = &g->nodes[node];
    uint64_t key = xai_rng_key(seed, (uint64_t)node, 0x5a417);
    if (n->op == XAI_OP_CONV) {
        size_t count = (size_t)n->out_channels * (n->in_channels / n->group) * n->kernel_h * n->kernel_w;
        double std = sqrt(2.0 / ((double)n->out_channels * n->kernel_h * n->kernel_w));
        if (n->folded_bn) std /= sqrt(1.0 + n->folded_bn_epsilon);
        xai_rng_keyed_normals(key, n->weight, count);
        for (size_t k = 0; k < count; k++) n->weight[k] = (float)(std * n->weight[k]);
        memset(n->bias, 0, (size_t)n->out_channels * sizeof *n->bias);
        return;
    }
    xai_rng rng;
    xai_rng_seed(&rng, key);
    double bound = 1.0 / sqrt((double)n->in_channels);
    for (size_t k = 0; k < (size_t)n->out_channels * n->in_channels; k++)
        n->weight[k] = (float)(bound * (2.0 * xai_rng_uniform(&rng) - 1.0));
    for (int o = 0; o < n->out_channels; o++) n->bias[o] = (float)(bound * (2.0 * xai_rng_uniform(&rng) - 1.0));
}
