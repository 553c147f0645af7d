/* test_ops.c - the ops beyond ResNet and MobileNetV2 (Concat, Split, Slice, the channel shuffle,
 * Mul with an SE gate, Sigmoid, HardSigmoid, HardSwish, ReduceMean; and ConvNeXt's Transpose,
 * LayerNormalization, MatMul on the last axis, Erf, arithmetic with constants) in hand-made
 * graphs that chain them as the torchvision families do: the double reference's saliency equals central
 * finite differences (each op's backward is its true gradient), and the oneDNN engine matches
 * the reference for the three rules by the float32 criterion of test_support.h. Bad uses of
 * them give one line naming the file and the node; the fuzzing corpus's seeds and bad models
 * (tools/make_onnx_seeds.py) are held to the same. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "test_support.h"
#include "xai_engine.h"
#include "xai_reference.h"
#include "xai_status.h"

/* A Conv with He-normal weights and small random biases, seeded by its scope's name. */
static const char *conv(xai_onnx_builder *b, const char *scope, const char *input, int in, int out, int kernel,
                        int pad, uint64_t seed)
{
    size_t count = (size_t)out * in * kernel * kernel;
    float *w = malloc(count * sizeof(float)), *bias = malloc((size_t)out * sizeof(float));
    test_normal_floats(w, count, seed);
    test_normal_floats(bias, (size_t)out, seed + 1);
    float scale = sqrtf(2.f / (float)(in * kernel * kernel));
    for (size_t k = 0; k < count; k++) w[k] *= scale;
    for (int k = 0; k < out; k++) bias[k] *= 0.1f;
    char name[128];
    int64_t wd[4] = {out, in, kernel, kernel}, bd[1] = {out}, pads[4] = {pad, pad, pad, pad};
    snprintf(name, sizeof name, "%s.weight", scope);
    const char *weight = xai_onnx_initializer(b, name, wd, 4, w);
    snprintf(name, sizeof name, "%s.bias", scope);
    const char *inputs[] = {input, weight, xai_onnx_initializer(b, name, bd, 1, bias), NULL};
    xai_onnx_attribute *attributes[] = {xai_onnx_ints(b, "pads", 4, pads), NULL};
    free(w), free(bias);
    return xai_onnx_node(b, "Conv", scope, inputs, attributes);
}

static const char *unary(xai_onnx_builder *b, const char *op, const char *scope, const char *input)
{
    const char *inputs[] = {input, NULL};
    return xai_onnx_node(b, op, scope, inputs, NULL);
}

static const char *binary(xai_onnx_builder *b, const char *op, const char *scope, const char *x, const char *y)
{
    const char *inputs[] = {x, y, NULL};
    return xai_onnx_node(b, op, scope, inputs, NULL);
}

static const char *int64s(xai_onnx_builder *b, const char *name, int count, const int64_t *values)
{
    int64_t dims[1] = {count};
    return xai_onnx_initializer_int64(b, name, dims, 1, values);
}

static const char *scalar(xai_onnx_builder *b, const char *name, float value)
{
    return xai_onnx_initializer(b, name, NULL, 0, &value);
}

/* x [N,3,12,12] -> Conv 16 -> HardSwish -> SE (GlobalAveragePool, Conv 4, Relu, Conv 16,
 * HardSigmoid, Mul) -> Split 6 | 10 -> (Conv 6, SiLU as Sigmoid * x) and Relu -> Concat 16 ->
 * channel shuffle of 2 groups -> Conv 20 (not a whole channel block: padded lanes) -> Sigmoid ->
 * Slice channels 2..18 -> MaxPool -> ReduceMean over H, W -> Gemm 10. */
static const char *mixed_graph(const char *file)
{
    xai_onnx_builder *b = xai_onnx_builder_new("mixed");
    const char *x = conv(b, "/stem", "x", 3, 16, 3, 1, 1);
    x = unary(b, "HardSwish", "/stem", x);
    const char *squeeze = unary(b, "GlobalAveragePool", "/se", x);
    squeeze = unary(b, "Relu", "/se", conv(b, "/se/reduce", squeeze, 16, 4, 1, 0, 3));
    xai_onnx_attribute *hard[] = {xai_onnx_float(b, "alpha", 1.f / 6.f), NULL};
    const char *gate_in[] = {conv(b, "/se/expand", squeeze, 4, 16, 1, 0, 5), NULL};
    const char *gate = xai_onnx_node(b, "HardSigmoid", "/se", gate_in, hard);
    x = binary(b, "Mul", "/se", x, gate);

    int64_t sizes[2] = {6, 10};
    const char *split_in[] = {x, int64s(b, "split.sizes", 2, sizes), NULL};
    xai_onnx_attribute *axis1[] = {xai_onnx_int(b, "axis", 1), NULL};
    const char *left = xai_onnx_node_outputs(b, "Split", "/split", split_in, axis1, 2);
    const char *right = "/split/Split_output_1";
    left = conv(b, "/left", left, 6, 6, 3, 1, 7);
    left = binary(b, "Mul", "/left/silu", left, unary(b, "Sigmoid", "/left/silu", left));
    right = unary(b, "Relu", "/right", right);
    const char *concat_in[] = {left, right, NULL};
    x = xai_onnx_node(b, "Concat", "/concat", concat_in, axis1);

    int64_t grouped[5] = {1, 2, 8, 12, 12}, back[4] = {1, 16, 12, 12}, swap[5] = {0, 2, 1, 3, 4};
    const char *view_in[] = {x, int64s(b, "shuffle.grouped", 5, grouped), NULL};
    x = xai_onnx_node(b, "Reshape", "/shuffle/view", view_in, NULL);
    xai_onnx_attribute *perm[] = {xai_onnx_ints(b, "perm", 5, swap), NULL};
    const char *transpose_in[] = {x, NULL};
    x = xai_onnx_node(b, "Transpose", "/shuffle", transpose_in, perm);
    const char *back_in[] = {x, int64s(b, "shuffle.back", 4, back), NULL};
    x = xai_onnx_node(b, "Reshape", "/shuffle/back", back_in, NULL);

    x = unary(b, "Sigmoid", "/head", conv(b, "/head", x, 16, 20, 3, 1, 9));
    int64_t start[1] = {2}, end[1] = {18}, axes[1] = {1};
    const char *slice_in[] = {x, int64s(b, "slice.start", 1, start), int64s(b, "slice.end", 1, end),
                              int64s(b, "slice.axes", 1, axes), NULL};
    x = xai_onnx_node(b, "Slice", "/slice", slice_in, NULL);
    int64_t kernel[2] = {2, 2};
    xai_onnx_attribute *pool[] = {xai_onnx_ints(b, "kernel_shape", 2, kernel), xai_onnx_ints(b, "strides", 2, kernel),
                                  NULL};
    const char *pool_in[] = {x, NULL};
    x = xai_onnx_node(b, "MaxPool", "/pool", pool_in, pool);
    int64_t spatial[2] = {2, 3};
    xai_onnx_attribute *mean[] = {xai_onnx_ints(b, "axes", 2, spatial), xai_onnx_int(b, "keepdims", 0), NULL};
    const char *mean_in[] = {x, NULL};
    x = xai_onnx_node(b, "ReduceMean", "/mean", mean_in, mean);

    float fc[10 * 16], fc_bias[10];
    test_normal_floats(fc, 160, 11);
    test_normal_floats(fc_bias, 10, 12);
    int64_t fd[2] = {10, 16}, fbd[1] = {10};
    const char *gemm_in[] = {x, xai_onnx_initializer(b, "fc.weight", fd, 2, fc),
                             xai_onnx_initializer(b, "fc.bias", fbd, 1, fc_bias), NULL};
    xai_onnx_attribute *trans[] = {xai_onnx_int(b, "transB", 1), NULL};
    x = xai_onnx_node(b, "Gemm", "/fc", gemm_in, trans);
    int64_t in_dims[4] = {-1, 3, 12, 12}, out_dims[2] = {-1, 10};
    xai_onnx_io(b, "x", 4, in_dims, x, 2, out_dims);
    const char *path = test_path(file);
    cr_assert_eq(xai_onnx_write(b, 14, path), XAI_OK, "%s", xai_last_error());
    xai_onnx_builder_free(b);
    return path;
}

static xai_graph *load(const char *path)
{
    xai_graph *g;
    cr_assert_eq(xai_graph_load(&g, path, NULL), XAI_OK, "%s", xai_last_error());
    return g;
}

Test(ops, every_op_is_read)
{
    xai_graph *g = load(mixed_graph("mixed.onnx"));
    int count[XAI_OP_COUNT] = {0};
    for (int i = 0; i < g->n_nodes; i++) count[g->nodes[i].op]++;
    cr_expect_eq(count[XAI_OP_CONCAT], 1);
    cr_expect_eq(count[XAI_OP_SLICE], 3, "two from the Split, one from the Slice");
    cr_expect_eq(count[XAI_OP_SHUFFLE], 1, "Reshape, Transpose, Reshape as one shuffle");
    cr_expect_eq(count[XAI_OP_MUL], 2);
    cr_expect_eq(count[XAI_OP_SIGMOID], 2);
    cr_expect_eq(count[XAI_OP_HARDSIGMOID], 1);
    cr_expect_eq(count[XAI_OP_HARDSWISH], 1);
    cr_expect_eq(count[XAI_OP_GLOBALAVGPOOL], 2, "GlobalAveragePool and ReduceMean");
    const xai_value *out = &g->values[g->output];
    cr_expect(out->rank == 2 && out->c == 10);
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op == XAI_OP_SLICE && g->values[g->nodes[i].output].c == 16)
            cr_expect_eq(g->nodes[i].slice_first, 2);
    xai_graph_free(g);
}

/* Saliency is the true gradient everywhere except at the kinks of ReLU, max-pool, HardSigmoid
 * and HardSwish, which a step of 1e-4 almost never crosses. The gradients here are ~1e-4 against
 * logits ~1, so a step of 1e-6 would leave the difference's own rounding (~1e-16 |logit| / h) at
 * 1e-5 of them; at 1e-4 rounding and the smooth ops' curvature (~h^2) both stay below 1e-7. */
Test(ops, saliency_equals_finite_differences)
{
    xai_graph *g = load(mixed_graph("mixed-fd.onnx"));
    size_t image = xai_value_size(&g->values[g->input]);
    float *x = malloc(image * sizeof(float));
    test_normal_floats(x, image, 21);
    cr_log_info("finite differences: largest relative error %.3g",
                test_saliency_matches_finite_differences(g, x, 4, 1e-4, 32, 8));
    free(x);
    xai_graph_free(g);
}

Test(ops, engine_matches_reference, .timeout = 300)
{
    xai_graph *g = load(mixed_graph("mixed-engine.onnx"));
    size_t image = xai_value_size(&g->values[g->input]);
    float *inputs = malloc(5 * image * sizeof(float));
    test_normal_floats(inputs, 5 * image, 31);
    test_engine_matches_reference(g, inputs, 5, "mixed ops");
    free(inputs);
    xai_graph_free(g);
}

/* ---- padding and ceil_mode windows --------------------------------------------------------- */

static const char *pad(xai_onnx_builder *b, const char *scope, const char *x, const char *mode, const int64_t *pads,
                       float value)
{
    char name[64];
    snprintf(name, sizeof name, "%s.pads", scope);
    const char *inputs[] = {x, int64s(b, name, 8, pads), value != 0.f ? scalar(b, "pad_value", value) : NULL, NULL};
    xai_onnx_attribute *attributes[] = {xai_onnx_string(b, "mode", mode), NULL};
    return xai_onnx_node(b, "Pad", scope, inputs, attributes);
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
 * along W, + one along H, - one over the planes -> MaxPool 2x2 dilated 2 with ceil_mode ->
 * Flatten -> Gemm 5. */
static const char *padded_graph(const char *file)
{
    xai_onnx_builder *b = xai_onnx_builder_new(file);
    int64_t reflect[8] = {0, 0, 2, 1, 0, 0, 1, 2}, edge[8] = {0, 0, 0, 1, 0, 0, 1, 0}, constant[8] = {0, 0, 1, 0, 0, 0, 1, 1};
    const char *x = pad(b, "/reflect", conv(b, "/c", "x", 2, 4, 1, 0, 61), "reflect", reflect, 0.f);
    x = pad(b, "/edge", unary(b, "Relu", "/r", x), "edge", edge, 0.f);
    x = average_pool_ceil(b, "/avg", pad(b, "/constant", x, "constant", constant, 0.5f), 1);
    x = binary(b, "Mul", "/spatial", unary(b, "Sqrt", "/spatial", unary(b, "Sigmoid", "/spatial", conv(b, "/spatial", x, 4, 1, 1, 0, 62))), x);
    x = binary(b, "Pow", "/cube", unary(b, "Tanh", "/tanh", x), scalar(b, "three", 3.f));
    int64_t channel_axis[1] = {1};
    xai_onnx_attribute *over_channels[] = {xai_onnx_ints(b, "axes", 1, channel_axis), NULL};
    const char *mean_in[] = {x, NULL};
    x = binary(b, "Mul", "/channel_mean", x,
               unary(b, "Sigmoid", "/channel_mean", xai_onnx_node(b, "ReduceMean", "/channel_mean", mean_in, over_channels)));
    int64_t last_axis[1] = {-1};
    xai_onnx_attribute *over_w[] = {xai_onnx_ints(b, "axes", 1, last_axis), xai_onnx_int(b, "keepdims", 0), NULL};
    const char *row_in[] = {x, NULL}, *row_mean = xai_onnx_node(b, "ReduceMean", "/row_mean", row_in, over_w);
    const char *unsqueeze_in[] = {row_mean, int64s(b, "w_axis", 1, last_axis), NULL};
    const char *row_mean_column = xai_onnx_node(b, "Unsqueeze", "/row_mean", unsqueeze_in, NULL);
    x = binary(b, "Add", "/row_mean", x, row_mean_column);
    const char *spread_in[] = {x, NULL};
    const char *spread = binary(b, "Add", "/spread",
                                unary(b, "Sigmoid", "/spread", xai_onnx_node(b, "ReduceMean", "/spread", spread_in, over_channels)),
                                scalar(b, "half", 0.5f));
    x = binary(b, "Div", "/ratio", binary(b, "Sub", "/centre", x, row_mean_column), spread);
    /* 6 + 3 + 1 + 2 = 12 rows, 6 + 3 + 1 + 1 = 11 columns -> 7 x 6 after the pool */
    int64_t along_w[1] = {6}, along_h[2] = {7, 1}, planes[4] = {1, 4, 7, 6};
    float w_values[6] = {0.5f, 1.5f, -1.f, 2.f, 0.25f, 1.f}, h_values[7] = {1, -2, 3, -4, 5, -6, 7}, plane_values[168];
    test_normal_floats(plane_values, 168, 63);
    x = binary(b, "Mul", "/w", x, xai_onnx_initializer(b, "along_w", along_w, 1, w_values));
    x = binary(b, "Add", "/h", xai_onnx_initializer(b, "along_h", along_h, 2, h_values), x);
    x = binary(b, "Sub", "/p", x, xai_onnx_initializer(b, "planes", planes, 4, plane_values));
    int64_t kernel[2] = {2, 2}, strides[2] = {2, 2}, dilations[2] = {2, 2};
    xai_onnx_attribute *pool[] = {xai_onnx_ints(b, "kernel_shape", 2, kernel), xai_onnx_ints(b, "strides", 2, strides),
                                  xai_onnx_ints(b, "dilations", 2, dilations), xai_onnx_int(b, "ceil_mode", 1), NULL};
    const char *pool_in[] = {x, NULL};
    x = unary(b, "Flatten", "/flat", xai_onnx_node(b, "MaxPool", "/max", pool_in, pool));
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
    xai_graph *g = load(padded_graph("padded.onnx"));
    int count[XAI_OP_COUNT] = {0};
    for (int i = 0; i < g->n_nodes; i++) count[g->nodes[i].op]++;
    cr_expect_eq(count[XAI_OP_PAD], 3);
    cr_expect_eq(count[XAI_OP_SCALE], 4, "three constants and 0.5 + the spread");
    cr_expect_eq(count[XAI_OP_MUL], 2);
    cr_expect_eq(count[XAI_OP_REDUCEMEAN], 3);
    cr_expect(count[XAI_OP_ADD] == 1 && count[XAI_OP_SUB] == 1 && count[XAI_OP_DIV] == 1);
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
        xai_graph *g = load(test_write_built(b, "ceil.onnx"));
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

/* ---- bad uses ------------------------------------------------------------------------------ */

static void expect_error(xai_onnx_builder *b, const char *file, const char *words)
{
    const char *path = test_write_built(b, file);
    xai_graph *g = NULL;
    cr_expect_eq(xai_graph_load(&g, path, NULL), XAI_ERR, "%s loaded", file);
    const char *message = xai_last_error();
    cr_expect(strstr(message, path) != NULL, "message does not name the file: %s", message);
    cr_expect(strstr(message, words) != NULL, "expected '%s' in: %s", words, message);
    cr_expect_null(strchr(message, '\n'), "not one line: %s", message);
    xai_graph_free(g);
}

/* x [N,4,6,6] and a 3x3 valid Conv of it [N,4,4,4]: two values of different sizes. */
static xai_onnx_builder *two_sizes(const char *name, const char **big, const char **small)
{
    xai_onnx_builder *b = xai_onnx_builder_new(name);
    *big = conv(b, "/a", "x", 4, 4, 1, 0, 41);
    *small = conv(b, "/b", "x", 4, 4, 3, 0, 43);
    return b;
}

static void finish(xai_onnx_builder *b, const char *output)
{
    int64_t in_dims[4] = {-1, 4, 6, 6}, out_dims[4] = {-1, 4, 6, 6};
    xai_onnx_io(b, "x", 4, in_dims, output, 4, out_dims);
}

Test(ops, bad_uses_get_one_line)
{
    const char *big, *small;
    xai_onnx_builder *b = two_sizes("concat-sizes", &big, &small);
    const char *concat_in[] = {big, small, NULL};
    xai_onnx_attribute *axis1[] = {xai_onnx_int(b, "axis", 1), NULL};
    finish(b, xai_onnx_node(b, "Concat", "/c", concat_in, axis1));
    expect_error(b, "concat-sizes.onnx", "does not match");

    b = two_sizes("concat-axis", &big, &small);
    const char *same_in[] = {big, big, NULL};
    xai_onnx_attribute *axis2[] = {xai_onnx_int(b, "axis", 2), NULL};
    finish(b, xai_onnx_node(b, "Concat", "/c", same_in, axis2));
    expect_error(b, "concat-axis.onnx", "only the channel axis");

    b = two_sizes("mul-shapes", &big, &small);
    finish(b, binary(b, "Mul", "/m", big, small));
    expect_error(b, "mul-shapes.onnx", "do not broadcast");

    b = two_sizes("split-sizes", &big, &small);
    int64_t sizes[2] = {3, 3};
    const char *split_in[] = {big, int64s(b, "sizes", 2, sizes), NULL};
    xai_onnx_attribute *split_axis[] = {xai_onnx_int(b, "axis", 1), NULL};
    finish(b, xai_onnx_node_outputs(b, "Split", "/s", split_in, split_axis, 2));
    expect_error(b, "split-sizes.onnx", "the parts need 6 channels");

    b = two_sizes("slice-step", &big, &small);
    int64_t zero[1] = {0}, two[1] = {2}, one[1] = {1};
    const char *slice_in[] = {big, int64s(b, "s", 1, zero), int64s(b, "e", 1, two), int64s(b, "a", 1, one),
                              int64s(b, "p", 1, two), NULL};
    finish(b, xai_onnx_node(b, "Slice", "/s", slice_in, NULL));
    expect_error(b, "slice-step.onnx", "only step 1");

    b = two_sizes("reshape-5d", &big, &small);
    int64_t grouped[5] = {1, 2, 2, 6, 6};
    const char *view_in[] = {big, int64s(b, "shape", 5, grouped), NULL};
    finish(b, unary(b, "Relu", "/r", xai_onnx_node(b, "Reshape", "/v", view_in, NULL)));
    expect_error(b, "reshape-5d.onnx", "first step of a channel shuffle");

    b = two_sizes("mean-batch", &big, &small);
    int64_t batch_axis[2] = {0, 1};
    xai_onnx_attribute *mean[] = {xai_onnx_ints(b, "axes", 2, batch_axis), NULL};
    const char *mean_in[] = {big, NULL};
    finish(b, xai_onnx_node(b, "ReduceMean", "/m", mean_in, mean));
    expect_error(b, "mean-batch.onnx", "a mean over the batch is not supported");

    b = two_sizes("reshape-count", &big, &small);
    int64_t too_many[3] = {1, 4, 40};
    const char *reshape_in[] = {big, int64s(b, "shape", 3, too_many), NULL};
    finish(b, xai_onnx_node(b, "Reshape", "/v", reshape_in, NULL));
    expect_error(b, "reshape-count.onnx", "of 144 values per image does not become the shape asked for");

    b = two_sizes("squeeze-size", &big, &small);
    int64_t channel_axis[1] = {1};
    const char *squeeze_in[] = {big, int64s(b, "axes", 1, channel_axis), NULL};
    finish(b, xai_onnx_node(b, "Squeeze", "/q", squeeze_in, NULL));
    expect_error(b, "squeeze-size.onnx", "axis 1 of '/a/Conv_output_0' has size 4, not 1");

    b = two_sizes("reflect-too-far", &big, &small);
    int64_t far[8] = {0, 0, 4, 0, 0, 0, 0, 0};
    finish(b, pad(b, "/p", small, "reflect", far, 0.f));
    expect_error(b, "reflect-too-far.onnx", "reflect pads must be below the input's size (4x4)");

    b = two_sizes("pad-wrap", &big, &small);
    int64_t one_each[8] = {0, 0, 1, 1, 0, 0, 1, 1};
    finish(b, pad(b, "/p", small, "wrap", one_each, 0.f));
    expect_error(b, "pad-wrap.onnx", "mode 'wrap' is not supported");

    b = two_sizes("pad-channels", &big, &small);
    int64_t channels[8] = {0, 1, 0, 0, 0, 1, 0, 0};
    finish(b, pad(b, "/p", small, "constant", channels, 0.f));
    expect_error(b, "pad-channels.onnx", "padding the batch or the channels");

    b = two_sizes("scale-batch", &big, &small);
    int64_t batch_dims[4] = {2, 4, 1, 1};
    float batch_values[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    finish(b, binary(b, "Mul", "/m", big, xai_onnx_initializer(b, "by_image", batch_dims, 4, batch_values)));
    expect_error(b, "scale-batch.onnx", "varies along the batch");

    b = two_sizes("scale-shape", &big, &small);
    int64_t wrong_dims[1] = {5};
    finish(b, binary(b, "Add", "/a", big, xai_onnx_initializer(b, "wrong", wrong_dims, 1, batch_values)));
    expect_error(b, "scale-shape.onnx", "axis of 5 does not broadcast");

    b = two_sizes("unsupported", &big, &small);
    finish(b, unary(b, "Softplus", "/p", big));
    expect_error(b, "unsupported.onnx", "operator 'Softplus' is not supported (opset 13)");
}

/* What PyTorch writes for x.chunk(2, dim=1): the bounds from Shape(x) through Gather, Add, Div and
 * Mul, folded at load into the two Slices' channels. */
Test(ops, chunk_bounds_from_shape_are_folded)
{
    xai_onnx_builder *b = xai_onnx_builder_new("chunk");
    const char *x = conv(b, "/c", "x", 4, 6, 1, 0, 51);
    int64_t one[1] = {1}, two[1] = {2}, zero[1] = {0};
    const char *gather_in[] = {unary(b, "Shape", "/chunk", x), int64s(b, "index", 1, one), NULL};
    const char *channels = xai_onnx_node(b, "Gather", "/chunk", gather_in, NULL);
    const char *half = binary(b, "Div", "/chunk", binary(b, "Add", "/chunk", channels, int64s(b, "one", 1, one)),
                              int64s(b, "two", 1, two));
    const char *end = binary(b, "Mul", "/chunk/end", half, int64s(b, "twice", 1, two));
    const char *first_in[] = {x, int64s(b, "zero", 1, zero), half, int64s(b, "axis", 1, one), NULL};
    const char *second_in[] = {x, half, end, "axis", NULL};
    const char *concat_in[] = {xai_onnx_node(b, "Slice", "/second", second_in, NULL),
                               xai_onnx_node(b, "Slice", "/first", first_in, NULL), NULL};
    xai_onnx_attribute *axis1[] = {xai_onnx_int(b, "axis", 1), NULL};
    const char *y = xai_onnx_node(b, "Concat", "/swap", concat_in, axis1);
    int64_t in_dims[4] = {-1, 4, 5, 5}, out_dims[4] = {-1, 6, 5, 5};
    xai_onnx_io(b, "x", 4, in_dims, y, 4, out_dims);
    xai_graph *g = load(test_write_built(b, "chunk.onnx"));
    int slices = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const xai_node *n = &g->nodes[i];
        if (n->op != XAI_OP_SLICE) continue;
        slices++;
        cr_expect_eq(g->values[n->output].c, 3, "each half has 3 of the 6 channels");
        cr_expect_eq(n->slice_first, strstr(n->name, "second") ? 3 : 0, "%s starts at %d", n->name, n->slice_first);
    }
    cr_expect_eq(slices, 2);
    cr_expect_eq(g->n_nodes, 4, "Conv, two Slices, Concat: the int64 arithmetic is gone");
    size_t image = xai_value_size(&g->values[g->input]);
    float *inputs = malloc(2 * image * sizeof(float));
    test_normal_floats(inputs, 2 * image, 52);
    test_engine_matches_reference(g, inputs, 2, "chunk");
    free(inputs);
    xai_graph_free(g);

    b = xai_onnx_builder_new("chunk-zero");
    x = conv(b, "/c", "x", 4, 6, 1, 0, 51);
    const char *shape_in[] = {unary(b, "Shape", "/s", x), int64s(b, "nothing", 1, zero), NULL};
    finish(b, xai_onnx_node(b, "Div", "/s", shape_in, NULL));
    expect_error(b, "chunk-zero.onnx", "int64 division by zero");
}

/* ---- channels-last blocks (ConvNeXt) ------------------------------------------------------- */

static const char *floats(xai_onnx_builder *b, const char *name, int64_t count, uint64_t seed, float scale,
                          float offset)
{
    float *v = malloc((size_t)count * sizeof(float));
    test_normal_floats(v, (size_t)count, seed);
    for (int64_t k = 0; k < count; k++) v[k] = offset + scale * v[k];
    const char *made = xai_onnx_initializer(b, name, &count, 1, v);
    free(v);
    return made;
}

/* y = x W + b on the last axis of [N,H,W,C] (MatMul, then the bias as an Add). */
static const char *linear(xai_onnx_builder *b, const char *scope, const char *x, int in, int out, uint64_t seed)
{
    float *w = malloc((size_t)in * out * sizeof(float));
    test_normal_floats(w, (size_t)in * out, seed);
    for (int k = 0; k < in * out; k++) w[k] *= 1.f / sqrtf((float)in);
    int64_t dims[2] = {in, out};
    char name[64];
    snprintf(name, sizeof name, "%s.weight", scope);
    const char *inputs[] = {x, xai_onnx_initializer(b, name, dims, 2, w), NULL};
    free(w);
    snprintf(name, sizeof name, "%s.bias", scope);
    return binary(b, "Add", scope, floats(b, name, out, seed + 1, 0.1f, 0.f), xai_onnx_node(b, "MatMul", scope, inputs, NULL));
}

/* One ConvNeXt block on [N,8,6,6]: Conv 3x3 -> Transpose to NHWC -> LayerNorm -> Linear 8->16 ->
 * GELU (x * (1 + erf(x / sqrt 2)) * 0.5) -> Linear 16->8 -> Transpose back -> layer scale [8,1,1]
 * -> Add the Conv's output -> GlobalAveragePool, Flatten, Gemm 5. The LayerNorm is the opset-17
 * op, or (written_out) the nine nodes PyTorch writes below opset 17. */
static const char *convnext_block(const char *file, int written_out)
{
    xai_onnx_builder *b = xai_onnx_builder_new("convnext");
    const char *skip = conv(b, "/dw", "x", 8, 8, 3, 1, 61);
    int64_t nhwc[4] = {0, 2, 3, 1}, nchw[4] = {0, 3, 1, 2}, last[1] = {-1};
    xai_onnx_attribute *to_nhwc[] = {xai_onnx_ints(b, "perm", 4, nhwc), NULL};
    xai_onnx_attribute *to_nchw[] = {xai_onnx_ints(b, "perm", 4, nchw), NULL};
    const char *t_in[] = {skip, NULL};
    const char *x = xai_onnx_node(b, "Transpose", "/to_nhwc", t_in, to_nhwc);
    const char *gamma = floats(b, "ln.weight", 8, 62, 0.2f, 1.f), *beta = floats(b, "ln.bias", 8, 63, 0.1f, 0.f);
    if (written_out) {
        xai_onnx_attribute *axes[] = {xai_onnx_ints(b, "axes", 1, last), NULL};
        const char *mean_in[] = {x, NULL};
        const char *d = binary(b, "Sub", "/ln", x, xai_onnx_node(b, "ReduceMean", "/ln/mean", mean_in, axes));
        const char *var_in[] = {binary(b, "Pow", "/ln", d, scalar(b, "two", 2.f)), NULL};
        xai_onnx_attribute *axes2[] = {xai_onnx_ints(b, "axes", 1, last), NULL};
        const char *var = xai_onnx_node(b, "ReduceMean", "/ln/var", var_in, axes2);
        const char *s = unary(b, "Sqrt", "/ln", binary(b, "Add", "/ln/eps", var, scalar(b, "eps", 1e-6f)));
        x = binary(b, "Add", "/ln/shift", binary(b, "Mul", "/ln/scale", binary(b, "Div", "/ln", d, s), gamma), beta);
    } else {
        const char *ln_in[] = {x, gamma, beta, NULL};
        xai_onnx_attribute *eps[] = {xai_onnx_float(b, "epsilon", 1e-6f), NULL};
        x = xai_onnx_node(b, "LayerNormalization", "/ln", ln_in, eps);
    }
    x = linear(b, "/fc1", x, 8, 16, 64);
    const char *erf = unary(b, "Erf", "/gelu", binary(b, "Div", "/gelu", x, scalar(b, "sqrt2", sqrtf(2.f))));
    x = binary(b, "Mul", "/gelu/half", binary(b, "Mul", "/gelu", x, binary(b, "Add", "/gelu", erf, scalar(b, "one", 1.f))),
               scalar(b, "half", 0.5f));
    x = linear(b, "/fc2", x, 16, 8, 66);
    const char *back_in[] = {x, NULL};
    x = xai_onnx_node(b, "Transpose", "/to_nchw", back_in, to_nchw);
    float layer_scale[8];
    test_normal_floats(layer_scale, 8, 68);
    int64_t ls_dims[3] = {8, 1, 1};
    x = binary(b, "Mul", "/scale", xai_onnx_initializer(b, "layer_scale", ls_dims, 3, layer_scale), x);
    x = binary(b, "Add", "/residual", x, skip);
    const char *head_in[] = {unary(b, "GlobalAveragePool", "/head", x), NULL};
    x = xai_onnx_node(b, "Flatten", "/head", head_in, NULL);
    float fc[5 * 8];
    test_normal_floats(fc, 40, 69);
    int64_t fd[2] = {5, 8};
    const char *gemm_in[] = {x, xai_onnx_initializer(b, "fc.weight", fd, 2, fc), NULL};
    xai_onnx_attribute *trans[] = {xai_onnx_int(b, "transB", 1), NULL};
    x = xai_onnx_node(b, "Gemm", "/fc", gemm_in, trans);
    int64_t in_dims[4] = {-1, 8, 6, 6}, out_dims[2] = {-1, 5};
    xai_onnx_io(b, "x", 4, in_dims, x, 2, out_dims);
    const char *path = test_path(file);
    cr_assert_eq(xai_onnx_write(b, written_out ? 13 : 17, path), XAI_OK, "%s", xai_last_error());
    xai_onnx_builder_free(b);
    return path;
}

Test(ops, convnext_block_both_ways, .timeout = 300)
{
    xai_graph *op = load(convnext_block("convnext-17.onnx", 0)), *nodes = load(convnext_block("convnext-13.onnx", 1));
    for (int k = 0; k < 2; k++) {
        xai_graph *g = k ? nodes : op;
        int count[XAI_OP_COUNT] = {0};
        for (int i = 0; i < g->n_nodes; i++) count[g->nodes[i].op]++;
        cr_expect_eq(count[XAI_OP_LAYERNORM], 1, "the nine nodes are one LayerNormalization");
        cr_expect_eq(count[XAI_OP_TRANSPOSE], 2);
        cr_expect_eq(count[XAI_OP_ERF], 1);
        cr_expect_eq(count[XAI_OP_SCALE], 4, "1 / sqrt 2, + 1, * 0.5 and the layer scale");
        cr_expect_eq(count[XAI_OP_GEMM], 3, "both MatMuls with their bias, and the head");
    }
    /* The two ways give the same network: the same double logits. */
    size_t image = xai_value_size(&op->values[op->input]);
    float *inputs = malloc(4 * image * sizeof(float));
    test_normal_floats(inputs, 4 * image, 70);
    double *x = malloc(image * sizeof(double)), a[5], b[5];
    for (size_t i = 0; i < image; i++) x[i] = inputs[i];
    xai_reference *ra, *rb;
    cr_assert_eq(xai_reference_create(&ra, op, 1), XAI_OK);
    cr_assert_eq(xai_reference_create(&rb, nodes, 1), XAI_OK);
    cr_assert_eq(xai_reference_forward(ra, x, a), XAI_OK);
    cr_assert_eq(xai_reference_forward(rb, x, b), XAI_OK);
    for (int k = 0; k < 5; k++) cr_expect_leq(fabs(a[k] - b[k]), 1e-12 * fmax(1.0, fabs(a[k])), "logit %d", k);

    /* Saliency against central differences (a smooth network: no ReLU, no max-pool), and the
     * engine against the reference. */
    cr_log_info("convnext block: finite differences within %.3g",
                test_saliency_matches_finite_differences(op, inputs, 2, 1e-4, 32, 9));
    test_engine_matches_reference(op, inputs, 4, "convnext block (LayerNormalization)");
    test_engine_matches_reference(nodes, inputs, 4, "convnext block (written out)");
    xai_reference_destroy(ra), xai_reference_destroy(rb);
    free(inputs), free(x);
    xai_graph_free(op), xai_graph_free(nodes);
}

/* The fuzzing seeds of tools/make_onnx_seeds.py run on both engines; its bad models are refused
 * in one line each. */
Test(ops, corpus_models, .timeout = 300)
{
    static const char *const seeds[] = {"seed-channel-ops", "seed-se-block", "seed-convnext-block", "seed-pad-pool",
                                        "seed-pads"};
    for (size_t k = 0; k < sizeof seeds / sizeof *seeds; k++) {
        char path[256];
        snprintf(path, sizeof path, "fuzz/corpus/onnx/%s.onnx", seeds[k]);
        xai_graph *g = load(path);
        size_t image = xai_value_size(&g->values[g->input]);
        float *inputs = malloc(2 * image * sizeof(float));
        test_normal_floats(inputs, 2 * image, 80 + k);
        test_engine_matches_reference(g, inputs, 2, seeds[k]);
        free(inputs);
        xai_graph_free(g);
    }
    static const char *const bad[][2] = {{"bad-mul-broadcast", "do not broadcast"},
                                         {"bad-concat-ranks", "does not match"},
                                         {"bad-pad-negative", "negative pad -1"},
                                         {"bad-pad-reflect", "reflect pads must be below"}};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        char path[256];
        snprintf(path, sizeof path, "fuzz/corpus/onnx/%s.onnx", bad[k][0]);
        xai_graph *g = NULL;
        cr_expect_eq(xai_graph_load(&g, path, NULL), XAI_ERR, "%s loaded", path);
        cr_expect(strstr(xai_last_error(), path) && strstr(xai_last_error(), bad[k][1]), "%s", xai_last_error());
        cr_expect_null(strchr(xai_last_error(), '\n'));
        xai_graph_free(g);
    }
}
