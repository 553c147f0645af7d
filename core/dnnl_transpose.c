/* dnnl_transpose.c - the engine's loop for Transpose (dnnl_internal.h): the per-image axes permuted
 * (NCHW <-> NHWC in ConvNeXt), forward and backward, reading the input in any layout; the output
 * is plain. */
#include "dnnl_internal.h"

/* y[n, o] = x[n, i] where output axis k is input axis perm[k]; backward dx[n, i] (+)= dy[n, o]. */
static int transpose_pass(xai_engine *e, int i, int backward)
{
    const xai_graph *g = e->graph;
    const xai_node *n = &g->nodes[i];
    const xai_value *out = &g->values[n->output];
    value_buffer *a = &e->values[n->input[0]], *y = &e->values[n->output];
    int accumulate = e->exec[i].accumulate[0];
#pragma omp parallel for collapse(2) schedule(static)
    for (int im = 0; im < e->batch; im++)
        for (int p = 0; p < out->c; p++)
            for (int q = 0; q < out->h; q++)
                for (int r = 0; r < out->w; r++) {
                    int o[3] = {p, q, r}, at[3];
                    for (int k = 0; k < 3; k++) at[n->perm[k]] = o[k];
                    size_t to = offset_of(&y->lay, im, p, q, r), from = offset_of(&a->lay, im, at[0], at[1], at[2]);
                    if (!backward) y->data[to] = a->data[from];
                    else a->grad[from] = accumulate ? a->grad[from] + y->grad[to] : y->grad[to];
                }
    return XAI_OK;
}

int kernel_transpose_forward(xai_engine *e, int i) { return transpose_pass(e, i, 0); }
int kernel_transpose_backward(xai_engine *e, int i) { return transpose_pass(e, i, 1); }
