/* dnnl_channels.c - the engine's loops for the ops that move whole channels (dnnl_internal.h):
 * Concat, Slice and the channel shuffle, forward and backward, over the values' layouts. Each is
 * one kernel: a plane-by-plane copy (or sum) from a list of source channels. */
#include <string.h>

#include "dnnl_internal.h"

/* For every image n and j < count: plane (n, to_first + j) of `to` (+)= plane (n, from_channel[j])
 * of `from`. The planes are h x w in both; padding lanes are never touched. */
static void copy_channels(float *restrict to, const layout *to_lay, int to_first, const float *restrict from,
                          const layout *from_lay, const int *from_channel, int count, int h, int w, int batch,
                          int accumulate)
{
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < batch; n++)
        for (int j = 0; j < count; j++) {
            size_t t = offset_of(to_lay, n, to_first + j, 0, 0), f = offset_of(from_lay, n, from_channel[j], 0, 0);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    float v = from[f + y * from_lay->sh + x * from_lay->sw];
                    float *d = &to[t + y * to_lay->sh + x * to_lay->sw];
                    *d = accumulate ? *d + v : v;
                }
        }
}

/* The channel list that node i's pass reads: e->channel_index (0, 1, 2, ...) from an offset, or the
 * shuffle's own maps (forward: output j reads input map[j]; backward the inverse). */
static int channels_pass(xai_engine *e, int i, int backward)
{
    const xai_graph *g = e->graph;
    const xai_node *n = &g->nodes[i];
    node_exec *x = &e->exec[i];
    const xai_value *out = &g->values[n->output];
    value_buffer *y = &e->values[n->output], *a = &e->values[n->input[0]];
    int h = out->h, w = out->w;
    switch (n->op) {
    case XAI_OP_CONCAT:
        for (int k = 0, first = 0; k < n->n_inputs; k++) {
            value_buffer *in = &e->values[n->input[k]];
            int channels = g->values[n->input[k]].c;
            if (backward)
                copy_channels(in->grad, &in->lay, 0, y->grad, &y->lay, e->channel_index + first, channels, h, w,
                              e->batch, x->accumulate[k]);
            else
                copy_channels(y->data, &y->lay, first, in->data, &in->lay, e->channel_index, channels, h, w,
                              e->batch, 0);
            first += channels;
        }
        return XAI_OK;
    case XAI_OP_SLICE:
        if (!backward) {
            copy_channels(y->data, &y->lay, 0, a->data, &a->lay, e->channel_index + n->slice_first, out->c, h, w,
                          e->batch, 0);
            return XAI_OK;
        }
        if (!x->accumulate[0]) memset(a->grad, 0, a->floats * sizeof(float)); /* the other channels get none */
        copy_channels(a->grad, &a->lay, n->slice_first, y->grad, &y->lay, e->channel_index, out->c, h, w, e->batch,
                      1);
        return XAI_OK;
    case XAI_OP_SHUFFLE:
        if (backward)
            copy_channels(a->grad, &a->lay, 0, y->grad, &y->lay, x->channel_map[1], out->c, h, w, e->batch,
                          x->accumulate[0]);
        else
            copy_channels(y->data, &y->lay, 0, a->data, &a->lay, x->channel_map[0], out->c, h, w, e->batch, 0);
        return XAI_OK;
    default:
        return XAI_OK;
    }
}

int kernel_channels_forward(xai_engine *e, int i) { return channels_pass(e, i, 0); }
int kernel_channels_backward(xai_engine *e, int i) { return channels_pass(e, i, 1); }

/* The shuffle's two maps: output j = i * groups + k reads input k * (C / groups) + i. */
int kernel_channels_plan(xai_engine *e, int i)
{
    const xai_node *n = &e->graph->nodes[i];
    node_exec *x = &e->exec[i];
    int channels = e->graph->values[n->output].c, per_group = channels / n->groups;
    if (!(x->channel_map[0] = xai_malloc((size_t)channels * sizeof(int))) ||
        !(x->channel_map[1] = xai_malloc((size_t)channels * sizeof(int))))
        return XAI_ERR;
    for (int j = 0; j < channels; j++) {
        int source = (j % n->groups) * per_group + j / n->groups;
        x->channel_map[0][j] = source;
        x->channel_map[1][source] = j;
    }
    return XAI_OK;
}
