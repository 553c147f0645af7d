/* gradient_x_input.c - Shrikumar et al. 2016: the saliency gradient times the input, elementwise,
 * map = x * d logit / d x (from the batch's saliency map, made once and shared). */
#include "xai_method.h"
#include "xai_status.h"

static int explain(const xai_method *self, xai_batch *b, float *maps, double *completeness)
{
    (void)self, (void)completeness;
    const float *gradient; /* the shared saliency map: read, never written (others may read it too) */
    if (xai_batch_rule_map(b, &xai_rule_saliency, NULL, &gradient)) return XAI_ERR;
    size_t n = (size_t)b->backend->batch * xai_value_size(&b->backend->graph->values[b->backend->graph->input]);
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (size_t k = 0; k < n; k++) maps[k] = gradient[k] * b->input[k];
    return XAI_OK;
}

const xai_method xai_method_gradient_x_input = {"gradient_x_input",
    "the gradient times the input (Shrikumar et al. 2016)", .explain = explain};
