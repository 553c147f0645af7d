/* test_methods.c - the three ReLU rules on a two-layer net worked out on paper, the max-pool
 * tie contract (gradient to the first maximal element), and method lookup by name. Each case
 * runs on both engines. */
#include <math.h>
#include <string.h>

#include <criterion/criterion.h>

#include "test_support.h"
#include "xai_engine.h"
#include "xai_method.h"
#include "xai_onnx_builder.h"
#include "xai_reference.h"
#include "xai_status.h"

/* x = (x0, x1) as [1,2,1,1] -> Conv 1x1 (W1, b1) -> Relu -> Flatten -> Gemm (W2, transB) -> y.
 *   W1 = [[1, 0], [0, -1], [1, 1]], b1 = (0, 0, -1), W2[0] = (1, 3, -2), x = (1, 2)
 *   pre-activation h = (1, -2, 2), mask = (1, 0, 1), gradient at the ReLU output g = (1, 3, -2)
 *   saliency:        g * mask        = (1, 0, -2) -> dx = W1^T (1, 0, -2) = (-1, -2)
 *   deconvnet:       max(g, 0)       = (1, 3, 0)  -> dx = W1^T (1, 3, 0)  = ( 1, -3)
 *   guided backprop: max(g,0) * mask = (1, 0, 0)  -> dx = W1^T (1, 0, 0)  = ( 1,  0) */
static xai_graph *two_layer_net(void)
{
    xai_onnx_builder *b = xai_onnx_builder_new("two-layer");
    float w1[6] = {1, 0, 0, -1, 1, 1}, b1[3] = {0, 0, -1}, w2[6] = {1, 3, -2, 0.5f, 0.5f, 0.5f}, b2[2] = {0, 0};
    int64_t w1d[4] = {3, 2, 1, 1}, b1d[1] = {3}, w2d[2] = {2, 3}, b2d[1] = {2};
    const char *conv_in[] = {"x", xai_onnx_initializer(b, "w1", w1d, 4, w1),
                             xai_onnx_initializer(b, "b1", b1d, 1, b1), NULL};
    const char *h = xai_onnx_node(b, "Conv", "/conv", conv_in, NULL);
    const char *relu_in[] = {h, NULL};
    const char *a = xai_onnx_node(b, "Relu", "/relu", relu_in, NULL);
    const char *flat_in[] = {a, NULL};
    const char *f = xai_onnx_node(b, "Flatten", "/flatten", flat_in, NULL);
    const char *fc_in[] = {f, xai_onnx_initializer(b, "w2", w2d, 2, w2),
                           xai_onnx_initializer(b, "b2", b2d, 1, b2), NULL};
    xai_onnx_attribute *fc_attr[] = {xai_onnx_int(b, "transB", 1), NULL};
    const char *y = xai_onnx_node(b, "Gemm", "/fc", fc_in, fc_attr);
    int64_t in_dims[4] = {-1, 2, 1, 1}, out_dims[2] = {-1, 2};
    xai_onnx_io(b, "x", 4, in_dims, y, 2, out_dims);
    const char *path = test_write_built(b, "two-layer.onnx");
    xai_graph *g;
    cr_assert_eq(xai_graph_load(&g, path, NULL), XAI_OK, "%s", xai_last_error());
    return g;
}

/* Run `method` on both engines for target class `target` and check the map against `expect`. */
static void check_both_engines(const xai_graph *g, const float *x, int target,
                               const xai_rule *method, const float *expect, size_t n)
{
    double xd[64], md[64];
    float mf[64];
    for (size_t i = 0; i < n; i++) xd[i] = x[i];
    xai_reference *ref;
    cr_assert_eq(xai_reference_create(&ref, g, 1), XAI_OK);
    cr_assert_eq(xai_reference_forward(ref, xd, NULL), XAI_OK);
    cr_assert_eq(xai_reference_backward(ref, method, &target, md), XAI_OK);
    xai_reference_destroy(ref);
    xai_engine *e;
    cr_assert_eq(xai_engine_create(&e, g, 1, 1), XAI_OK, "%s", xai_last_error());
    cr_assert_eq(xai_engine_forward(e, x, NULL), XAI_OK, "%s", xai_last_error());
    cr_assert_eq(xai_engine_backward(e, method, &target, mf), XAI_OK, "%s", xai_last_error());
    xai_engine_destroy(e);
    for (size_t i = 0; i < n; i++) {
        cr_expect_float_eq(md[i], expect[i], 1e-12, "%s reference [%zu]: %g, expected %g", method->name, i, md[i], expect[i]);
        cr_expect_float_eq(mf[i], expect[i], 1e-6, "%s oneDNN [%zu]: %g, expected %g", method->name, i, mf[i], expect[i]);
    }
}

Test(methods, rules_by_hand)
{
    xai_graph *g = two_layer_net();
    float x[2] = {1, 2};
    float saliency[2] = {-1, -2}, deconvnet[2] = {1, -3}, guided[2] = {1, 0};
    check_both_engines(g, x, 0, &xai_rule_saliency, saliency, 2);
    check_both_engines(g, x, 0, &xai_rule_deconvnet, deconvnet, 2);
    check_both_engines(g, x, 0, &xai_rule_guided_backprop, guided, 2);
    xai_graph_free(g);
}

/* [1,1,4,4] -> Relu -> MaxPool 2x2 stride 2 -> Flatten -> Gemm (all-ones weight) -> one logit.
 * Where a window ties, the whole gradient goes to its top-left (first row-major) element. */
Test(methods, maxpool_ties_route_to_the_first_maximum)
{
    xai_onnx_builder *b = xai_onnx_builder_new("pool-ties");
    const char *relu_in[] = {"x", NULL};
    const char *a = xai_onnx_node(b, "Relu", "/relu", relu_in, NULL);
    int64_t k[2] = {2, 2};
    xai_onnx_attribute *pool_attr[] = {xai_onnx_ints(b, "kernel_shape", 2, k), xai_onnx_ints(b, "strides", 2, k), NULL};
    const char *pool_in[] = {a, NULL};
    const char *p = xai_onnx_node(b, "MaxPool", "/pool", pool_in, pool_attr);
    const char *flat_in[] = {p, NULL};
    const char *f = xai_onnx_node(b, "Flatten", "/flatten", flat_in, NULL);
    float w[4] = {1, 1, 1, 1};
    int64_t wd[2] = {1, 4};
    const char *fc_in[] = {f, xai_onnx_initializer(b, "w", wd, 2, w), NULL};
    xai_onnx_attribute *fc_attr[] = {xai_onnx_int(b, "transB", 1), NULL};
    const char *y = xai_onnx_node(b, "Gemm", "/fc", fc_in, fc_attr);
    int64_t in_dims[4] = {-1, 1, 4, 4}, out_dims[2] = {-1, 1};
    xai_onnx_io(b, "x", 4, in_dims, y, 2, out_dims);
    const char *path = test_write_built(b, "pool-ties.onnx");
    xai_graph *g;
    cr_assert_eq(xai_graph_load(&g, path, NULL), XAI_OK, "%s", xai_last_error());
    /* Windows: top-left all equal (2); top-right all zero after ReLU; bottom-left a tie of
     * two 5s at (1,0) and (1,1); bottom-right a single maximum 7 at (1,1). */
    float x[16] = {2, 2, -1, -3,
                   2, 2, -2, -4,
                   1, 0, 0, 1,
                   5, 5, 3, 7};
    float deconvnet[16] = {1, 0, 1, 0,
                           0, 0, 0, 0,
                           0, 0, 0, 0,
                           1, 0, 0, 1};
    /* Saliency also masks by x > 0: the top-right winner (x = -1) gets nothing. */
    float saliency[16] = {1, 0, 0, 0,
                          0, 0, 0, 0,
                          0, 0, 0, 0,
                          1, 0, 0, 1};
    check_both_engines(g, x, 0, &xai_rule_deconvnet, deconvnet, 16);
    check_both_engines(g, x, 0, &xai_rule_saliency, saliency, 16);
    check_both_engines(g, x, 0, &xai_rule_guided_backprop, saliency, 16);
    xai_graph_free(g);
}

Test(methods, lookup_by_name)
{
    cr_expect_eq(xai_method_find("saliency"), &xai_method_saliency);
    cr_expect_eq(xai_method_find("deconvnet"), &xai_method_deconvnet);
    cr_expect_eq(xai_method_find("guided_backprop"), &xai_method_guided_backprop);
    cr_expect_eq(xai_method_find("saliency")->rule, &xai_rule_saliency);
    cr_expect_null(xai_method_find("gradcam"));
    cr_expect(strstr(xai_last_error(), "grad_cam") && strstr(xai_last_error(), "integrated_gradients"), "%s",
              xai_last_error());
    cr_expect(strstr(xai_last_error(), "guided_backprop") != NULL, "%s", xai_last_error());
    const xai_method *list[4];
    cr_expect_eq(xai_methods_parse("guided_backprop,saliency", list, 4), 2);
    cr_expect_eq(list[0], &xai_method_guided_backprop);
    cr_expect_eq(xai_methods_parse("saliency,saliency", list, 4), XAI_ERR);
    cr_expect_eq(xai_methods_parse("", list, 4), XAI_ERR);
    const xai_method *every[XAI_METHODS_MAX];
    cr_expect_eq(xai_methods_parse("all", every, XAI_METHODS_MAX), 8, "--methods all: the eight methods");
}
