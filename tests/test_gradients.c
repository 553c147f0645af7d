/* test_gradients.c - saliency is the true gradient: it equals central finite differences of
 * the double-precision reference engine (resnet-tiny, 24 random input pixels, relative error
 * <= 1e-6); and folding BatchNormalization into the convolutions keeps the logits (1e-5). */
#include <math.h>
#include <stdlib.h>

#include <criterion/criterion.h>

#include "test_support.h"
#include "xai_engine.h"
#include "xai_reference.h"
#include "xai_status.h"

/* The network is piecewise linear, so a central difference with a small step is exact up to
 * rounding unless a ReLU or max-pool decision changes within the step; the step is 1e-6 of
 * the input's scale so that this is unlikely, and the check covers unmasked pixels. */
Test(gradients, saliency_equals_finite_differences)
{
    xai_graph *g = test_model("resnet-tiny", 5, 1, 1); /* BatchNormalization kept, unfolded */
    size_t image = xai_value_size(&g->values[g->input]);
    float *x = malloc(image * sizeof(float));
    test_normal_floats(x, image, 42);
    test_saliency_matches_finite_differences(g, x, 3, 1e-6, 24, 7);
    free(x);
    xai_graph_free(g);
}

/* Random BN statistics; the unfolded graph on the reference engine against the folded one on
 * both engines. */
Test(gradients, batchnorm_folding_keeps_logits)
{
    xai_graph *kept = test_model("resnet-tiny", 9, 1, 1), *folded = test_model("resnet-tiny", 9, 1, 0);
    int bn = 0;
    for (int i = 0; i < kept->n_nodes; i++) bn += kept->nodes[i].op == XAI_OP_BATCHNORM;
    for (int i = 0; i < folded->n_nodes; i++) cr_assert_neq(folded->nodes[i].op, XAI_OP_BATCHNORM);
    cr_assert_gt(bn, 0);
    size_t image = xai_value_size(&kept->values[kept->input]);
    int classes = xai_graph_outputs(kept), batch = 2;
    float *xf = malloc(batch * image * sizeof(float));
    double *x = malloc(batch * image * sizeof(double));
    test_normal_floats(xf, batch * image, 77);
    for (size_t i = 0; i < batch * image; i++) x[i] = xf[i];
    double *unfolded = malloc(batch * classes * sizeof(double)), *folded_ref = malloc(batch * classes * sizeof(double));
    float *folded_fast = malloc(batch * classes * sizeof(float));
    xai_reference *r1, *r2;
    cr_assert_eq(xai_reference_create(&r1, kept, batch), XAI_OK);
    cr_assert_eq(xai_reference_create(&r2, folded, batch), XAI_OK);
    cr_assert_eq(xai_reference_forward(r1, x, unfolded), XAI_OK);
    cr_assert_eq(xai_reference_forward(r2, x, folded_ref), XAI_OK);
    xai_engine *e;
    cr_assert_eq(xai_engine_create(&e, folded, batch, 0), XAI_OK, "%s", xai_last_error());
    cr_assert_eq(xai_engine_forward(e, xf, folded_fast), XAI_OK);
    double top = 0.0;
    for (int k = 0; k < batch * classes; k++) top = fmax(top, fabs(unfolded[k]));
    for (int k = 0; k < batch * classes; k++) {
        cr_expect_leq(fabs(folded_ref[k] - unfolded[k]), 1e-5 * top, "logit %d: folded %g, unfolded %g", k, folded_ref[k], unfolded[k]);
        cr_expect_leq(fabs(folded_fast[k] - unfolded[k]), 1e-5 * top, "logit %d: oneDNN %g, unfolded %g", k, folded_fast[k], unfolded[k]);
    }
    xai_engine_destroy(e);
    xai_reference_destroy(r1);
    xai_reference_destroy(r2);
    free(xf), free(x), free(unfolded), free(folded_ref), free(folded_fast);
    xai_graph_free(kept);
    xai_graph_free(folded);
}
