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

#include "test_graphs.h"
#include "test_support.h"
#include "xai_engine.h"
#include "xai_reference.h"
#include "xai_status.h"

/* x [N,3,12,12] -> Conv 16 -> HardSwish -> SE (GlobalAveragePool, Conv 4, Relu, Conv 16,
 * HardSigmoid, Mul) -> Split 6 | 10 -> (Conv 6, SiLU as Sigmoid * x) and Relu -> Concat 16 ->
 * channel shuffle of 2 groups -> Conv 20 (not a whole channel block: padded lanes) -> Sigmoid ->
 * Slice channels 2..18 -> MaxPool -> ReduceMean over H, W -> Gemm 10. */
static const char *mixed_graph(const char *file)
{
    xai_onnx_builder *b = xai_onnx_builder_new("mixed");
    const char *x = test_conv(b, "/stem", "x", 3, 16, 3, 1, 1);
    x = test_unary(b, "HardSwish", "/stem", x);
    const char *squeeze = test_unary(b, "GlobalAveragePool", "/se", x);
    squeeze = test_unary(b, "Relu", "/se", test_conv(b, "/se/reduce", squeeze, 16, 4, 1, 0, 3));
    xai_onnx_attribute *hard[] = {xai_onnx_float(b, "alpha", 1.f / 6.f), NULL};
    const char *gate_in[] = {test_conv(b, "/se/expand", squeeze, 4, 16, 1, 0, 5), NULL};
    const char *gate = xai_onnx_node(b, "HardSigmoid", "/se", gate_in, hard);
    x = test_binary(b, "Mul", "/se", x, gate);

    int64_t sizes[2] = {6, 10};
    const char *split_in[] = {x, test_int64s(b, "split.sizes", 2, sizes), NULL};
    xai_onnx_attribute *axis1[] = {xai_onnx_int(b, "axis", 1), NULL};
    const char *left = xai_onnx_node_outputs(b, "Split", "/split", split_in, axis1, 2);
    const char *right = "/split/Split_output_1";
    left = test_conv(b, "/left", left, 6, 6, 3, 1, 7);
    left = test_binary(b, "Mul", "/left/silu", left, test_unary(b, "Sigmoid", "/left/silu", left));
    right = test_unary(b, "Relu", "/right", right);
    const char *concat_in[] = {left, right, NULL};
    x = xai_onnx_node(b, "Concat", "/concat", concat_in, axis1);

    int64_t grouped[5] = {1, 2, 8, 12, 12}, back[4] = {1, 16, 12, 12}, swap[5] = {0, 2, 1, 3, 4};
    const char *view_in[] = {x, test_int64s(b, "shuffle.grouped", 5, grouped), NULL};
    x = xai_onnx_node(b, "Reshape", "/shuffle/view", view_in, NULL);
    xai_onnx_attribute *perm[] = {xai_onnx_ints(b, "perm", 5, swap), NULL};
    const char *transpose_in[] = {x, NULL};
    x = xai_onnx_node(b, "Transpose", "/shuffle", transpose_in, perm);
    const char *back_in[] = {x, test_int64s(b, "shuffle.back", 4, back), NULL};
    x = xai_onnx_node(b, "Reshape", "/shuffle/back", back_in, NULL);

    x = test_unary(b, "Sigmoid", "/head", test_conv(b, "/head", x, 16, 20, 3, 1, 9));
    int64_t start[1] = {2}, end[1] = {18}, axes[1] = {1};
    const char *slice_in[] = {x, test_int64s(b, "slice.start", 1, start), test_int64s(b, "slice.end", 1, end),
                              test_int64s(b, "slice.axes", 1, axes), NULL};
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
            cr_expect_eq(g->nodes[i].slice_first[0], 2);
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
    *big = test_conv(b, "/a", "x", 4, 4, 1, 0, 41);
    *small = test_conv(b, "/b", "x", 4, 4, 3, 0, 43);
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

    b = two_sizes("concat-batch", &big, &small);
    const char *same_in[] = {big, big, NULL};
    xai_onnx_attribute *axis0[] = {xai_onnx_int(b, "axis", 0), NULL};
    finish(b, xai_onnx_node(b, "Concat", "/c", same_in, axis0));
    expect_error(b, "concat-batch.onnx", "a Concat along the batch is not supported");

    b = two_sizes("mul-shapes", &big, &small);
    finish(b, test_binary(b, "Mul", "/m", big, small));
    expect_error(b, "mul-shapes.onnx", "do not broadcast");

    b = two_sizes("split-sizes", &big, &small);
    int64_t sizes[2] = {3, 3};
    const char *split_in[] = {big, test_int64s(b, "sizes", 2, sizes), NULL};
    xai_onnx_attribute *split_axis[] = {xai_onnx_int(b, "axis", 1), NULL};
    finish(b, xai_onnx_node_outputs(b, "Split", "/s", split_in, split_axis, 2));
    expect_error(b, "split-sizes.onnx", "the parts need 6 elements along axis 1");

    b = two_sizes("slice-step", &big, &small);
    int64_t zero[1] = {0}, two[1] = {2}, one[1] = {1};
    const char *slice_in[] = {big, test_int64s(b, "s", 1, zero), test_int64s(b, "e", 1, two), test_int64s(b, "a", 1, one),
                              test_int64s(b, "p", 1, zero), NULL};
    finish(b, xai_onnx_node(b, "Slice", "/s", slice_in, NULL));
    expect_error(b, "slice-step.onnx", "a step of 0");

    b = two_sizes("slice-batch", &big, &small);
    const char *batch_in[] = {big, test_int64s(b, "s", 1, zero), test_int64s(b, "e", 1, one), test_int64s(b, "a", 1, zero), NULL};
    finish(b, xai_onnx_node(b, "Slice", "/s", batch_in, NULL));
    expect_error(b, "slice-batch.onnx", "a part of the batch is not supported");

    b = two_sizes("slice-empty", &big, &small);
    int64_t three[1] = {3};
    const char *empty_in[] = {big, test_int64s(b, "s", 1, three), test_int64s(b, "e", 1, two), test_int64s(b, "a", 1, two), NULL};
    finish(b, xai_onnx_node(b, "Slice", "/s", empty_in, NULL));
    expect_error(b, "slice-empty.onnx", "elements [3, 2) step 1 of 6 along axis 2 are none");

    b = two_sizes("reshape-5d", &big, &small);
    int64_t grouped[5] = {1, 2, 2, 6, 6};
    const char *view_in[] = {big, test_int64s(b, "shape", 5, grouped), NULL};
    finish(b, test_unary(b, "Relu", "/r", xai_onnx_node(b, "Reshape", "/v", view_in, NULL)));
    expect_error(b, "reshape-5d.onnx", "first step of a channel shuffle");

    b = two_sizes("mean-batch", &big, &small);
    int64_t batch_axis[2] = {0, 1};
    xai_onnx_attribute *mean[] = {xai_onnx_ints(b, "axes", 2, batch_axis), NULL};
    const char *mean_in[] = {big, NULL};
    finish(b, xai_onnx_node(b, "ReduceMean", "/m", mean_in, mean));
    expect_error(b, "mean-batch.onnx", "a mean over the batch is not supported");

    b = two_sizes("reshape-count", &big, &small);
    int64_t too_many[3] = {1, 4, 40};
    const char *reshape_in[] = {big, test_int64s(b, "shape", 3, too_many), NULL};
    finish(b, xai_onnx_node(b, "Reshape", "/v", reshape_in, NULL));
    expect_error(b, "reshape-count.onnx", "of 144 values per image does not become the shape asked for");

    b = two_sizes("squeeze-size", &big, &small);
    int64_t channel_axis[1] = {1};
    const char *squeeze_in[] = {big, test_int64s(b, "axes", 1, channel_axis), NULL};
    finish(b, xai_onnx_node(b, "Squeeze", "/q", squeeze_in, NULL));
    expect_error(b, "squeeze-size.onnx", "axis 1 of '/a/Conv_output_0' has size 4, not 1");

    b = two_sizes("reflect-too-far", &big, &small);
    int64_t far[8] = {0, 0, 4, 0, 0, 0, 0, 0};
    finish(b, test_pad(b, "/p", small, "reflect", far, 0.f));
    expect_error(b, "reflect-too-far.onnx", "reflect pads must be below the input's size (4x4)");

    b = two_sizes("pad-wrap", &big, &small);
    int64_t one_each[8] = {0, 0, 1, 1, 0, 0, 1, 1};
    finish(b, test_pad(b, "/p", small, "wrap", one_each, 0.f));
    expect_error(b, "pad-wrap.onnx", "mode 'wrap' is not supported");

    b = two_sizes("pad-channels", &big, &small);
    int64_t channels[8] = {0, 1, 0, 0, 0, 1, 0, 0};
    finish(b, test_pad(b, "/p", small, "constant", channels, 0.f));
    expect_error(b, "pad-channels.onnx", "padding the batch or the channels");

    b = two_sizes("scale-batch", &big, &small);
    int64_t batch_dims[4] = {2, 4, 1, 1};
    float batch_values[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    finish(b, test_binary(b, "Mul", "/m", big, xai_onnx_initializer(b, "by_image", batch_dims, 4, batch_values)));
    expect_error(b, "scale-batch.onnx", "varies along the batch");

    b = two_sizes("scale-shape", &big, &small);
    int64_t wrong_dims[1] = {5};
    finish(b, test_binary(b, "Add", "/a", big, xai_onnx_initializer(b, "wrong", wrong_dims, 1, batch_values)));
    expect_error(b, "scale-shape.onnx", "axis of 5 does not broadcast");

    b = two_sizes("cast-double", &big, &small);
    const char *cast_in[] = {big, NULL};
    xai_onnx_attribute *to_double[] = {xai_onnx_int(b, "to", 11), NULL};
    finish(b, xai_onnx_node(b, "Cast", "/c", cast_in, to_double));
    expect_error(b, "cast-double.onnx", "a Cast to data type 11 is not supported");

    b = two_sizes("unsupported", &big, &small);
    finish(b, test_unary(b, "Softplus", "/p", big));
    expect_error(b, "unsupported.onnx", "operator 'Softplus' is not supported (opset 13)");
}

/* What PyTorch writes for x.chunk(2, dim=1): the bounds from Shape(x) through Gather, Add, Div and
 * Mul, folded at load into the two Slices' channels. */
Test(ops, chunk_bounds_from_shape_are_folded)
{
    xai_onnx_builder *b = xai_onnx_builder_new("chunk");
    const char *x = test_conv(b, "/c", "x", 4, 6, 1, 0, 51);
    int64_t one[1] = {1}, two[1] = {2}, zero[1] = {0};
    const char *gather_in[] = {test_unary(b, "Shape", "/chunk", x), test_int64s(b, "index", 1, one), NULL};
    const char *channels = xai_onnx_node(b, "Gather", "/chunk", gather_in, NULL);
    const char *half = test_binary(b, "Div", "/chunk", test_binary(b, "Add", "/chunk", channels, test_int64s(b, "one", 1, one)),
                              test_int64s(b, "two", 1, two));
    const char *end = test_binary(b, "Mul", "/chunk/end", half, test_int64s(b, "twice", 1, two));
    const char *first_in[] = {x, test_int64s(b, "zero", 1, zero), half, test_int64s(b, "axis", 1, one), NULL};
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
        cr_expect_eq(n->slice_first[0], strstr(n->name, "second") ? 3 : 0, "%s starts at %d", n->name, n->slice_first[0]);
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
    x = test_conv(b, "/c", "x", 4, 6, 1, 0, 51);
    const char *shape_in[] = {test_unary(b, "Shape", "/s", x), test_int64s(b, "nothing", 1, zero), NULL};
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
    return test_binary(b, "Add", scope, floats(b, name, out, seed + 1, 0.1f, 0.f), xai_onnx_node(b, "MatMul", scope, inputs, NULL));
}

/* One ConvNeXt block on [N,8,6,6]: Conv 3x3 -> Transpose to NHWC -> LayerNorm -> Linear 8->16 ->
 * GELU (x * (1 + erf(x / sqrt 2)) * 0.5) -> Linear 16->8 -> Transpose back -> layer scale [8,1,1]
 * -> Add the Conv's output -> GlobalAveragePool, Flatten, Gemm 5. The LayerNorm is the opset-17
 * op, or (written_out) the nine nodes PyTorch writes below opset 17. */
static const char *convnext_block(const char *file, int written_out)
{
    xai_onnx_builder *b = xai_onnx_builder_new("convnext");
    const char *skip = test_conv(b, "/dw", "x", 8, 8, 3, 1, 61);
    int64_t nhwc[4] = {0, 2, 3, 1}, nchw[4] = {0, 3, 1, 2}, last[1] = {-1};
    xai_onnx_attribute *to_nhwc[] = {xai_onnx_ints(b, "perm", 4, nhwc), NULL};
    xai_onnx_attribute *to_nchw[] = {xai_onnx_ints(b, "perm", 4, nchw), NULL};
    const char *t_in[] = {skip, NULL};
    const char *x = xai_onnx_node(b, "Transpose", "/to_nhwc", t_in, to_nhwc);
    const char *gamma = floats(b, "ln.weight", 8, 62, 0.2f, 1.f), *beta = floats(b, "ln.bias", 8, 63, 0.1f, 0.f);
    if (written_out) {
        xai_onnx_attribute *axes[] = {xai_onnx_ints(b, "axes", 1, last), NULL};
        const char *mean_in[] = {x, NULL};
        const char *d = test_binary(b, "Sub", "/ln", x, xai_onnx_node(b, "ReduceMean", "/ln/mean", mean_in, axes));
        const char *var_in[] = {test_binary(b, "Pow", "/ln", d, test_scalar(b, "two", 2.f)), NULL};
        xai_onnx_attribute *axes2[] = {xai_onnx_ints(b, "axes", 1, last), NULL};
        const char *var = xai_onnx_node(b, "ReduceMean", "/ln/var", var_in, axes2);
        const char *s = test_unary(b, "Sqrt", "/ln", test_binary(b, "Add", "/ln/eps", var, test_scalar(b, "eps", 1e-6f)));
        x = test_binary(b, "Add", "/ln/shift", test_binary(b, "Mul", "/ln/scale", test_binary(b, "Div", "/ln", d, s), gamma), beta);
    } else {
        const char *ln_in[] = {x, gamma, beta, NULL};
        xai_onnx_attribute *eps[] = {xai_onnx_float(b, "epsilon", 1e-6f), NULL};
        x = xai_onnx_node(b, "LayerNormalization", "/ln", ln_in, eps);
    }
    x = linear(b, "/fc1", x, 8, 16, 64);
    const char *erf = test_unary(b, "Erf", "/gelu", test_binary(b, "Div", "/gelu", x, test_scalar(b, "sqrt2", sqrtf(2.f))));
    x = test_binary(b, "Mul", "/gelu/half", test_binary(b, "Mul", "/gelu", x, test_binary(b, "Add", "/gelu", erf, test_scalar(b, "one", 1.f))),
               test_scalar(b, "half", 0.5f));
    x = linear(b, "/fc2", x, 16, 8, 66);
    const char *back_in[] = {x, NULL};
    x = xai_onnx_node(b, "Transpose", "/to_nchw", back_in, to_nchw);
    float layer_scale[8];
    test_normal_floats(layer_scale, 8, 68);
    int64_t ls_dims[3] = {8, 1, 1};
    x = test_binary(b, "Mul", "/scale", xai_onnx_initializer(b, "layer_scale", ls_dims, 3, layer_scale), x);
    x = test_binary(b, "Add", "/residual", x, skip);
    const char *head_in[] = {test_unary(b, "GlobalAveragePool", "/head", x), NULL};
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
                                        "seed-pads", "seed-moves", "seed-attention", "seed-shared-operand"};
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
                                         {"bad-pad-reflect", "reflect pads must be below"},
                                         {"bad-matmul-shapes", "are not [N,M,K] x [N,K,P]"}};
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
