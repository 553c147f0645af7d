/* dnnl_channels.c - the engine's loops for the ops that move parts of a value (dnnl_internal.h):
 * Concat and Slice along any per-image axis and the channel shuffle, forward and backward, over
 * the values' layouts. Each is one kernel: a copy (or sum) of a box of planes, the channels from
 * a list, the rows and columns every step-th from a first. */
#include <string.h>

#include "dnnl_internal.h"

/* One side of a copy: plane j of the box is channel channel[j]; its row y is first_row + row_step
 * y, its column x first_column + column_step x. */
typedef struct {
    const layout *lay;
    const int *channel;
    int first_row, row_step, first_column, column_step;
} box_side;

/* For every image n, j < count, y < h, x < w: element (j, y, x) of the box in `to` (+)= the same
 * element of the box in `from`. Padding lanes are never touched. */
static void copy_box(float *restrict to, const box_side *t, const float *restrict from, const box_side *f, int count,
                     int h, int w, int batch, int accumulate)
{
    ptrdiff_t to_row = (ptrdiff_t)t->row_step * (ptrdiff_t)t->lay->sh;
    ptrdiff_t to_column = (ptrdiff_t)t->column_step * (ptrdiff_t)t->lay->sw;
    ptrdiff_t from_row = (ptrdiff_t)f->row_step * (ptrdiff_t)f->lay->sh;
    ptrdiff_t from_column = (ptrdiff_t)f->column_step * (ptrdiff_t)f->lay->sw;
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < batch; n++)
        for (int j = 0; j < count; j++) {
            float *d = to + offset_of(t->lay, n, t->channel[j], t->first_row, t->first_column);
            const float *s = from + offset_of(f->lay, n, f->channel[j], f->first_row, f->first_column);
            for (int y = 0; y < h; y++, d += to_row, s += from_row)
                for (int x = 0; x < w; x++) {
                    float v = s[x * from_column];
                    d[x * to_column] = accumulate ? d[x * to_column] + v : v;
                }
        }
}

/* A whole value's side: channels 0, 1, 2, ... from `first_channel`, rows and columns from 0. */
static box_side whole(const xai_engine *e, const value_buffer *v, int first_channel)
{
    return (box_side){&v->lay, e->channel_index + first_channel, 0, 1, 0, 1};
}

static int concat_pass(xai_engine *e, int i, int backward)
{
    const xai_graph *g = e->graph;
    const xai_node *n = &g->nodes[i];
    value_buffer *y = &e->values[n->output];
    for (int k = 0, at = 0; k < n->n_inputs; k++) {
        const xai_value *shape = &g->values[n->input[k]];
        value_buffer *in = &e->values[n->input[k]];
        box_side part = whole(e, y, n->concat_axis == 0 ? at : 0), input = whole(e, in, 0);
        if (n->concat_axis == 1) part.first_row = at;
        if (n->concat_axis == 2) part.first_column = at;
        if (backward)
            copy_box(in->grad, &input, y->grad, &part, shape->c, shape->h, shape->w, e->batch,
                     e->exec[i].accumulate[k]);
        else copy_box(y->data, &part, in->data, &input, shape->c, shape->h, shape->w, e->batch, 0);
        at += n->concat_axis == 0 ? shape->c : n->concat_axis == 1 ? shape->h : shape->w;
    }
    return XAI_OK;
}

int kernel_concat_forward(xai_engine *e, int i) { return concat_pass(e, i, 0); }
int kernel_concat_backward(xai_engine *e, int i) { return concat_pass(e, i, 1); }

/* Slice and shuffle: the output is the box of the input that channel_map (channel by channel)
 * and the slice's rows and columns say; backward it goes back there (a slice's other elements
 * get no gradient). */
static int moves_pass(xai_engine *e, int i, int backward)
{
    const xai_node *n = &e->graph->nodes[i];
    const xai_value *out = &e->graph->values[n->output];
    node_exec *x = &e->exec[i];
    value_buffer *y = &e->values[n->output], *a = &e->values[n->input[0]];
    box_side output = whole(e, y, 0), input = whole(e, a, 0);
    input.channel = x->channel_map;
    if (n->op == XAI_OP_SLICE)
        input.first_row = n->slice_first[1], input.row_step = n->slice_step[1], input.first_column = n->slice_first[2],
        input.column_step = n->slice_step[2];
    if (!backward) {
        copy_box(y->data, &output, a->data, &input, out->c, out->h, out->w, e->batch, 0);
        return XAI_OK;
    }
    int covers = n->op == XAI_OP_SHUFFLE; /* every input element is some output's */
    if (!covers && !x->accumulate[0]) memset(a->grad, 0, a->floats * sizeof(float));
    copy_box(a->grad, &input, y->grad, &output, out->c, out->h, out->w, e->batch, covers ? x->accumulate[0] : 1);
    return XAI_OK;
}

int kernel_moves_forward(xai_engine *e, int i) { return moves_pass(e, i, 0); }
int kernel_moves_backward(xai_engine *e, int i) { return moves_pass(e, i, 1); }

/* channel_map: the input channel of each output channel. A slice's are first + step j; the
 * shuffle's output j = i * groups + k reads input k * (C / groups) + i. */
int kernel_moves_plan(xai_engine *e, int i)
{
    const xai_node *n = &e->graph->nodes[i];
    node_exec *x = &e->exec[i];
    int channels = e->graph->values[n->output].c;
    if (!(x->channel_map = xai_malloc((size_t)channels * sizeof(int)))) return XAI_ERR;
    for (int j = 0; j < channels; j++)
        x->channel_map[j] = n->op == XAI_OP_SLICE ? n->slice_first[0] + n->slice_step[0] * j
                                                     : (j % n->groups) * (channels / n->groups) + j / n->groups;
    return XAI_OK;
}
