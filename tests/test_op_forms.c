/* test_op_forms.c - the general forms of ops that users' own CNNs use beyond torchvision's
 * families: Pad (constant, reflect, edge), pools with ceil_mode and dilations, constants and
 * values broadcast in Add, Sub, Mul and Div, Sqrt, Tanh, Pow, ReduceMean over any axes,
 * Unsqueeze; one graph of them all against finite differences and the reference, and the
 * pool's divisors checked by hand. bench/families.py's `parts` model checks the same forms
 * against PyTorch (tests/test_families.c). */
#include <stdio.h>
#include <stdlib.h>

#include <criterion/criterion.h>

#include "test_graphs.h"
#include "test_support.h"
#include "xai_engine.h"
#include "xai_reference.h"
#include "xai_status.h"

static xai_graph *load_graph(const char *path)
{
    xai_graph *g;
    cr_assert_eq(xai_graph_load(&g, path, NULL), XAI_OK, "%s", xai_last_error());
    return g;
}

static const char *average_pool_ceil(xai_onnx_builder *b, const char *scope, const char *x, int include_pad)
{
    int64_t kernel[2] = {3, 3}, strides[2] = {2, 2}, pads[4] = {1, 1, 1, 1};
    xai_onnx_attribute *attributes[] = {xai_onnx_ints(b, "kernel_shape", 2, kernel),
                                        xai_onnx_ints(b, "strides", 2, strides), xai_onnx_ints(b, "pads", 4, pads),
                                        xai_onnx_int(b, "ceil_mode", 1),
                                        xai_onnx_int(b, "count_include_pad", include_pad), NULL};
    const char *inputs[] = {x, NULL};
    return xai_onnx_node(b, "AveragePool", scope, inputs, attributes);
}

/* x [N,2,6,6] -> Conv 4 -> Pad reflect (H 2,1; W 1,2) -> Relu -> Pad edge (H 0,1; W 1,0) -> Pad
 * 0.5 (H 1,1; W 0,1) -> AveragePool 3x3 / 2 with ceil_mode, the padding counted -> times a
 * spatial gate [N,1,H,W] (Conv 1, Sigmoid, Sqrt) -> Tanh -> Pow 3 -> times the Sigmoid of its
 * mean over the channels (ReduceMean, CBAM's) -> + its mean over W (ReduceMean without keepdims,
 * Unsqueeze: an Add broadcast along W) -> minus that mean again (Sub broadcast along W), divided
 * by 0.5 + the Sigmoid of the channels' mean (Div broadcast along C) -> * a constant
 * along W, + one along H, - one over the planes -> LayerNormalization over C, H and W (axis 1)
 * -> MaxPool 2x2 dilated 2 with ceil_mode -> Flatten -> Gemm 5. */
static const char *padded_graph(const char *file)
{
    xai_onnx_builder *b = xai_onnx_builder_new(file);
    int64_t reflect[8] = {0, 0, 2, 1, 0, 0, 1, 2}, edge[8] = {0, 0, 0, 1, 0, 0, 1, 0}, constant[8] = {0, 0, 1, 0, 0, 0, 1, 1};
    const char *x = test_pad(b, "/reflect", test_conv(b, "/c", "x", 2, 4, 1, 0, 61), "reflect", reflect, 0.f);
    x = test_pad(b, "/edge", test_unary(b, "Relu", "/r", x), "edge", edge, 0.f);
    x = average_pool_ceil(b, "/avg", test_pad(b, "/constant", x, "constant", constant, 0.5f), 1);
    x = test_binary(b, "Mul", "/spatial", test_unary(b, "Sqrt", "/spatial", test_unary(b, "Sigmoid", "/spatial", test_conv(b, "/spatial", x, 4, 1, 1, 0, 62))), x);
    x = test_binary(b, "Pow", "/cube", test_unary(b, "Tanh", "/tanh", x), test_scalar(b, "three", 3.f));
    int64_t channel_axis[1] = {1};
    xai_onnx_attribute *over_channels[] = {xai_onnx_ints(b, "axes", 1, channel_axis), NULL};
    const char *mean_in[] = {x, NULL};
    x = test_binary(b, "Mul", "/channel_mean", x,
               test_unary(b, "Sigmoid", "/channel_mean", xai_onnx_node(b, "ReduceMean", "/channel_mean", mean_in, over_channels)));
    int64_t last_axis[1] = {-1};
    xai_onnx_attribute *over_w[] = {xai_onnx_ints(b, "axes", 1, last_axis), xai_onnx_int(b, "keepdims", 0), NULL};
    const char *row_in[] = {x, NULL}, *row_mean = xai_onnx_node(b, "ReduceMean", "/row_mean", row_in, over_w);
    const char *unsqueeze_in[] = {row_mean, test_int64s(b, "w_axis", 1, last_axis), NULL};
    const char *row_mean_column = xai_onnx_node(b, "Unsqueeze", "/row_mean", unsqueeze_in, NULL);
    x = test_binary(b, "Add", "/row_mean", x, row_mean_column);
    const char *spread_in[] = {x, NULL};
    const char *spread = test_binary(b, "Add", "/spread",
                                test_unary(b, "Sigmoid", "/spread", xai_onnx_node(b, "ReduceMean", "/spread", spread_in, over_channels)),
                                test_scalar(b, "half", 0.5f));
    x = test_binary(b, "Div", "/ratio", test_binary(b, "Sub", "/centre", x, row_mean_column), spread);
    /* 6 + 3 + 1 + 2 = 12 rows, 6 + 3 + 1 + 1 = 11 columns -> 7 x 6 after the pool */
    int64_t along_w[1] = {6}, along_h[2] = {7, 1}, planes[4] = {1, 4, 7, 6};
    float w_values[6] = {0.5f, 1.5f, -1.f, 2.f, 0.25f, 1.f}, h_values[7] = {1, -2, 3, -4, 5, -6, 7}, plane_values[168];
    test_normal_floats(plane_values, 168, 63);
    x = test_binary(b, "Mul", "/w", x, xai_onnx_initializer(b, "along_w", along_w, 1, w_values));
    x = test_binary(b, "Add", "/h", xai_onnx_initializer(b, "along_h", along_h, 2, h_values), x);
    x = test_binary(b, "Sub", "/p", x, xai_onnx_initializer(b, "planes", planes, 4, plane_values));
    /* a layer normalization over C, H and W (axis 1), scaled and shifted per element */
    float norm_scale[168], norm_shift[168];
    test_normal_floats(norm_scale, 168, 64);
    test_normal_floats(norm_shift, 168, 66);
    int64_t per_image[3] = {4, 7, 6};
    const char *norm_in[] = {x, xai_onnx_initializer(b, "norm.weight", per_image, 3, norm_scale),
                             xai_onnx_initializer(b, "norm.bias", per_image, 3, norm_shift), NULL};
    xai_onnx_attribute *from_channels[] = {xai_onnx_int(b, "axis", 1), NULL};
    x = xai_onnx_node(b, "LayerNormalization", "/norm", norm_in, from_channels);
    int64_t kernel[2] = {2, 2}, strides[2] = {2, 2}, dilations[2] = {2, 2};
    xai_onnx_attribute *pool[] = {xai_onnx_ints(b, "kernel_shape", 2, kernel), xai_onnx_ints(b, "strides", 2, strides),
                                  xai_onnx_ints(b, "dilations", 2, dilations), xai_onnx_int(b, "ceil_mode", 1), NULL};
    const char *pool_in[] = {x, NULL};
    x = test_unary(b, "Flatten", "/flat", xai_onnx_node(b, "MaxPool", "/max", pool_in, pool));
    /* MaxPool: (7 - 3) / 2 + 1 = 3 rows, (6 - 3) / 2 + 1 = 2.5 -> 3 columns with ceil_mode */
    float gemm_w[5 * 36];
    test_normal_floats(gemm_w, 5 * 36, 65);
    int64_t gemm_dims[2] = {5, 36};
    xai_onnx_attribute *trans[] = {xai_onnx_int(b, "transB", 1), NULL};
    const char *gemm_in[] = {x, xai_onnx_initializer(b, "fc.weight", gemm_dims, 2, gemm_w), NULL};
    x = xai_onnx_node(b, "Gemm", "/fc", gemm_in, trans);
    int64_t in_dims[4] = {-1, 2, 6, 6}, out_dims[2] = {-1, 5};
    xai_onnx_io(b, "x", 4, in_dims, x, 2, out_dims);
    return test_write_built(b, file);
}

Test(ops, padding_and_ceil_windows)
{
    xai_graph *g = load_graph(padded_graph("padded.onnx"));
    int count[XAI_OP_COUNT] = {0};
    for (int i = 0; i < g->n_nodes; i++) count[g->nodes[i].op]++;
    cr_expect_eq(count[XAI_OP_PAD], 3);
    cr_expect_eq(count[XAI_OP_SCALE], 4, "three constants and 0.5 + the spread");
    cr_expect_eq(count[XAI_OP_MUL], 2);
    cr_expect_eq(count[XAI_OP_REDUCEMEAN], 3);
    cr_expect(count[XAI_OP_ADD] == 1 && count[XAI_OP_SUB] == 1 && count[XAI_OP_DIV] == 1);
    cr_expect_eq(count[XAI_OP_LAYERNORM], 1);
    cr_expect(count[XAI_OP_SQRT] == 1 && count[XAI_OP_TANH] == 1 && count[XAI_OP_POW] == 1);
    size_t image = xai_value_size(&g->values[g->input]);
    float *inputs = malloc(5 * image * sizeof(float));
    test_normal_floats(inputs, 5 * image, 67);
    cr_log_info("padded graph, finite differences: largest relative error %.3g",
                test_saliency_matches_finite_differences(g, inputs, 4, 1e-4, 32, 8));
    test_engine_matches_reference(g, inputs, 5, "padded graph");
    free(inputs);
    xai_graph_free(g);
}

/* AveragePool 3x3 / 2, pads 1, ceil_mode, over ones [1,1,6,6] -> 4 x 4: the divisor counts the
 * padding (count_include_pad) but not the row and column ceil_mode adds (PyTorch's rule), so
 * the last window holds 1 input row of its 2 rows (the pad row counted, the ceil row not). */
Test(ops, ceil_mode_room_is_not_padding)
{
    for (int include_pad = 0; include_pad < 2; include_pad++) {
        xai_onnx_builder *b = xai_onnx_builder_new("ceil");
        const char *y = average_pool_ceil(b, "/avg", "x", include_pad);
        int64_t in_dims[4] = {-1, 1, 6, 6}, out_dims[4] = {-1, 1, 4, 4};
        xai_onnx_io(b, "x", 4, in_dims, y, 4, out_dims);
        xai_graph *g = load_graph(test_write_built(b, "ceil.onnx"));
        cr_assert_eq(xai_graph_outputs(g), 16);
        float ones[36], fast[16];
        double ones_d[36], slow[16];
        for (int k = 0; k < 36; k++) ones[k] = 1.f, ones_d[k] = 1.0;
        xai_engine *e;
        xai_reference *r;
        cr_assert_eq(xai_engine_create(&e, g, 1, 0), XAI_OK, "%s", xai_last_error());
        cr_assert_eq(xai_engine_forward(e, ones, fast), XAI_OK, "%s", xai_last_error());
        cr_assert_eq(xai_reference_create(&r, g, 1), XAI_OK);
        cr_assert_eq(xai_reference_forward(r, ones_d, slow), XAI_OK);
        /* rows (and columns) of input in windows 0 and 3: 2 of 3, and 1 of 2 */
        double corner = include_pad ? 4.0 / 9 : 1.0, last = include_pad ? 1.0 / 4 : 1.0, edge = include_pad ? 2.0 / 6 : 1.0;
        double expected[4] = {corner, last, edge, include_pad ? 1.0 : 1.0};
        int at[4] = {0, 15, 3, 5};
        for (int k = 0; k < 4; k++) {
            cr_expect_float_eq(fast[at[k]], expected[k], 1e-6, "oneDNN engine, output %d, include_pad %d", at[k], include_pad);
            cr_expect_float_eq(slow[at[k]], expected[k], 1e-12, "reference, output %d, include_pad %d", at[k], include_pad);
        }
        xai_engine_destroy(e);
        xai_reference_destroy(r);
        xai_graph_free(g);
    }
}
