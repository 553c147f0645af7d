/* dnnl_reduce.c - the engine's loop for ReduceMean over any per-image axes (dnnl_internal.h),
 * forward and backward, reading the input in any layout; the output is plain, its elements in the
 * order of the input's shape with 1 on the averaged axes (xai_reduced_shape). */
#include <string.h>

#include "dnnl_internal.h"

/* y[n, kept coordinates] = the mean of x over the averaged axes. */
int kernel_reduce_mean_forward(xai_engine *e, int i)
{
    const xai_node *n = &e->graph->nodes[i];
    const xai_value *in = &e->graph->values[n->input[0]];
    const value_buffer *a = &e->values[n->input[0]];
    float *y = e->values[n->output].data;
    int kept[3];
    xai_reduced_shape(n, in, kept);
    int span[3] = {kept[0] == 1 ? in->c : 1, kept[1] == 1 ? in->h : 1, kept[2] == 1 ? in->w : 1};
    float scale = 1.f / (float)(span[0] * span[1] * span[2]);
#pragma omp parallel for collapse(2) schedule(static)
    for (int im = 0; im < e->batch; im++)
        for (int oc = 0; oc < kept[0]; oc++)
            for (int oh = 0; oh < kept[1]; oh++)
                for (int ow = 0; ow < kept[2]; ow++) {
                    float sum = 0.f;
                    for (int c = oc; c < oc + span[0]; c++)
                        for (int h = oh; h < oh + span[1]; h++)
                            for (int w = ow; w < ow + span[2]; w++) sum += a->data[offset_of(&a->lay, im, c, h, w)];
                    y[(((size_t)im * kept[0] + oc) * kept[1] + oh) * kept[2] + ow] = sum * scale;
                }
    return XAI_OK;
}

/* dx[n, c, h, w] (+)= dy[n, its kept coordinates] / the count averaged. */
int kernel_reduce_mean_backward(xai_engine *e, int i)
{
    const xai_node *n = &e->graph->nodes[i];
    const xai_value *in = &e->graph->values[n->input[0]];
    value_buffer *a = &e->values[n->input[0]];
    const float *dy = e->values[n->output].grad;
    int accumulate = e->exec[i].accumulate[0], kept[3];
    xai_reduced_shape(n, in, kept);
    float scale = (float)((size_t)kept[0] * kept[1] * kept[2]) / (float)xai_value_size(in);
#pragma omp parallel for collapse(2) schedule(static)
    for (int im = 0; im < e->batch; im++)
        for (int c = 0; c < in->c; c++)
            for (int h = 0; h < in->h; h++)
                for (int w = 0; w < in->w; w++) {
                    size_t o = (((size_t)im * kept[0] + (kept[0] > 1 ? c : 0)) * kept[1] + (kept[1] > 1 ? h : 0)) *
                                   kept[2] + (kept[2] > 1 ? w : 0);
                    float *d = &a->grad[offset_of(&a->lay, im, c, h, w)];
                    *d = accumulate ? *d + dy[o] * scale : dy[o] * scale;
                }
    return XAI_OK;
}
