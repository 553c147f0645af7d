/* guided_grad_cam.c - Selvaraju et al. 2017: the guided backprop map times the upsampled
 * Grad-CAM, channel by channel (both made once per batch and shared). */
#include <stdio.h>

#include "xai_method.h"
#include "xai_status.h"

static int explain(const xai_method *self, xai_batch *b, float *maps, double *completeness)
{
    (void)self, (void)completeness;
    const float *guided, *cam; /* shared: read, never written */
    if (xai_batch_rule_map(b, &xai_rule_guided_backprop, NULL, &guided) || xai_batch_cam(b, &cam)) return XAI_ERR;
    const xai_value *in = &b->backend->graph->values[b->backend->graph->input];
    size_t plane = (size_t)in->h * in->w;
    for (int n = 0; n < b->backend->batch; n++)
        for (int c = 0; c < in->c; c++) {
            size_t row = ((size_t)n * in->c + c) * plane;
            const float *weight = cam + (size_t)n * plane;
            for (size_t p = 0; p < plane; p++) maps[row + p] = guided[row + p] * weight[p];
        }
    return XAI_OK;
}

static void describe(const xai_method_params *p, char *out, size_t size)
{
    snprintf(out, size, "layer=%s", p->layer_name ? p->layer_name : "");
}

const xai_method xai_method_guided_grad_cam = {"guided_grad_cam",
    "guided backprop times Grad-CAM (Selvaraju et al. 2017)", .explain = explain, .describe = describe};
