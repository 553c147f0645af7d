/* grad_cam.c - Selvaraju et al. 2017: at layer L, a_c = the spatial mean of d logit / d A_c and
 * cam = ReLU(sum_c a_c A_c), upsampled to the input's H x W (bilinear, half-pixel centres), one
 * channel. The gradient from the logit to L is the plain one, and only the nodes after L run. */
#include <stdio.h>
#include <string.h>

#include "xai_method.h"
#include "xai_status.h"

static int explain(const xai_method *self, xai_batch *b, float *maps, double *completeness)
{
    (void)self, (void)completeness;
    const float *cam;
    if (xai_batch_cam(b, &cam)) return XAI_ERR;
    const xai_value *in = &b->backend->graph->values[b->backend->graph->input];
    memcpy(maps, cam, (size_t)b->backend->batch * in->h * in->w * sizeof(float));
    return XAI_OK;
}

static void describe(const xai_method_params *p, char *out, size_t size)
{
    snprintf(out, size, "layer=%s", p->layer_name ? p->layer_name : "");
}

const xai_method xai_method_grad_cam = {"grad_cam", "class activation map of a layer's gradients (Selvaraju et al. 2017)",
                                        .one_channel = 1, .explain = explain, .describe = describe};
