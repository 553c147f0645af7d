/* dnnl_pad.c - the engine's loop for Pad (dnnl_internal.h): H and W grown by a constant border,
 * a reflected one or a repeated edge, forward and backward, with the output in the input's
 * layout. */
#include <string.h>

#include "dnnl_internal.h"

/* y[n,c,p,q] = x[n,c,source(p),source(q)] or the pad value where there is none (xai_pad_source);
 * backward dx[n,c,i,j] (+)= the sum of dy over the outputs that copy (i, j). */
static int pad_pass(xai_engine *e, int i, int backward)
{
    const xai_graph *g = e->graph;
    const xai_node *n = &g->nodes[i];
    const xai_value *in = &g->values[n->input[0]], *out = &g->values[n->output];
    value_buffer *a = &e->values[n->input[0]], *y = &e->values[n->output];
    if (backward && !e->exec[i].accumulate[0]) memset(a->grad, 0, a->floats * sizeof(float));
#pragma omp parallel for collapse(2) schedule(static)
    for (int im = 0; im < e->batch; im++)
        for (int c = 0; c < in->c; c++)
            for (int p = 0; p < out->h; p++) {
                int ih = xai_pad_source(n->pad_mode, p, n->pad_top, in->h);
                for (int q = 0; q < out->w; q++) {
                    int iw = xai_pad_source(n->pad_mode, q, n->pad_left, in->w);
                    size_t to = offset_of(&y->lay, im, c, p, q);
                    int inside = ih >= 0 && iw >= 0;
                    size_t from = inside ? offset_of(&a->lay, im, c, ih, iw) : 0;
                    if (!backward) y->data[to] = inside ? a->data[from] : n->pad_value;
                    else if (inside) a->grad[from] += y->grad[to];
                }
            }
    return XAI_OK;
}

int kernel_pad_forward(xai_engine *e, int i) { return pad_pass(e, i, 0); }
int kernel_pad_backward(xai_engine *e, int i) { return pad_pass(e, i, 1); }
