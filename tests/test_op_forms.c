/* test_op_forms.c - the general forms of ops that users' own CNNs use beyond torchvision's
 * families: Pad (constant, reflect, edge), pools with ceil_mode and dilations, constants and
 * values broadcast in Add, Sub, Mul and Div, Sqrt, Tanh, Pow, ReduceMean over any axes,
 * Unsqueeze; Slice, Split and Concat along any axis, Transpose of rank 3; MatMul of two values
 * (an operand of one group shared by every group too) and Softmax (attention blocks); opset 18's
 * Split by num_outputs, ReduceMean and Pad with axes as inputs. Each graph is held to finite differences and the reference;
 * the pool's divisors and a Softmax below opset 13 are checked by hand. bench/families.py's
 * `parts` model checks the same forms against PyTorch (tests/test_families.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The graph's end: Flatten'ed x of `features` values per image -> Gemm `classes` (seeded); the
 * graph's input x [N, in_dims...] and its output declared, the model written as `file`. */
static const char *classifier(xai_onnx_builder *b, const char *x, int features, int classes, uint64_t seed,
                              const int64_t *in_dims, const char *file)
{
    float *w = malloc((size_t)features * classes * sizeof(float));
    test_normal_floats(w, (size_t)features * classes, seed);
    int64_t dims[2] = {classes, features}, out_dims[2] = {-1, classes};
    xai_onnx_attribute *trans[] = {xai_onnx_int(b, "transB", 1), NULL};
    const char *gemm_in[] = {x, xai_onnx_initializer(b, "fc.weight", dims, 2, w), NULL};
    free(w);
    xai_onnx_io(b, "x", 4, in_dims, xai_onnx_node(b, "Gemm", "/fc", gemm_in, trans), 2, out_dims);
    return test_write_built(b, file);
}

/* Finite differences of the reference's saliency on one image (logit `target`), then the engine
 * against the reference at batch 5 and 1, under the three rules. */
static void check_graph(const xai_graph *g, int target, uint64_t seed, const char *what)
{
    size_t image = xai_value_size(&g->values[g->input]);
    float *inputs = malloc(5 * image * sizeof(float));
    test_normal_floats(inputs, 5 * image, seed);
    cr_log_info("%s, finite differences: largest relative error %.3g", what,
                test_saliency_matches_finite_differences(g, inputs, target, 1e-4, 32, seed + 1));
    test_engine_matches_reference(g, inputs, 5, what);
    free(inputs);
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
    int64_t in_dims[4] = {-1, 2, 6, 6};
    return classifier(b, x, 36, 5, 65, in_dims, file);
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
    check_graph(g, 4, 67, "padded graph");
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

static const char *reshape(xai_onnx_builder *b, const char *scope, const char *x, int rank, const int64_t *shape)
{
    char name[64];
    snprintf(name, sizeof name, "%s.shape", scope);
    const char *inputs[] = {x, test_int64s(b, name, rank, shape), NULL};
    return xai_onnx_node(b, "Reshape", scope, inputs, NULL);
}

static const char *transpose(xai_onnx_builder *b, const char *scope, const char *x, int rank, const int64_t *perm)
{
    const char *inputs[] = {x, NULL};
    xai_onnx_attribute *attributes[] = {xai_onnx_ints(b, "perm", rank, perm), NULL};
    return xai_onnx_node(b, "Transpose", scope, inputs, attributes);
}

static const char *softmax(xai_onnx_builder *b, const char *scope, const char *x, int axis)
{
    const char *inputs[] = {x, NULL};
    xai_onnx_attribute *attributes[] = {xai_onnx_int(b, "axis", axis), NULL};
    return xai_onnx_node(b, "Softmax", scope, inputs, attributes);
}

/* A Slice of the axes in `axes` (starts, ends, steps per axis). */
static const char *slice(xai_onnx_builder *b, const char *scope, const char *x, int count, const int64_t *starts,
                         const int64_t *ends, const int64_t *axes, const int64_t *steps)
{
    char names[4][64];
    const char *kinds[4] = {"starts", "ends", "axes", "steps"};
    for (int k = 0; k < 4; k++) snprintf(names[k], sizeof names[k], "%s.%s", scope, kinds[k]);
    const char *inputs[] = {x, test_int64s(b, names[0], count, starts), test_int64s(b, names[1], count, ends),
                            test_int64s(b, names[2], count, axes), test_int64s(b, names[3], count, steps), NULL};
    return xai_onnx_node(b, "Slice", scope, inputs, NULL);
}

static const char *concat(xai_onnx_builder *b, const char *scope, const char *const *inputs, int axis)
{
    xai_onnx_attribute *attributes[] = {xai_onnx_int(b, "axis", axis), NULL};
    return xai_onnx_node(b, "Concat", scope, inputs, attributes);
}

/* x [N,3,8,8] -> Conv 4 -> space to depth (YOLOv5's Focus: four Slices of H and W with step 2,
 * Concat of channels) [N,16,4,4] -> Conv 1x1 16 (a channel-blocked layout) -> flip of W (step
 * -1) -> Split of H into 1 and 3 rows, Concat back in the other order -> Concat along W with its
 * Relu [N,16,4,8] -> Cast to float (another name) -> every third channel from 1 and every second
 * column from the last, backwards [N,5,4,4] -> Reshape [N,5,16] -> Transpose [N,16,5] -> Relu ->
 * Flatten -> Gemm 3. */
static const char *moves_graph(const char *file)
{
    xai_onnx_builder *b = xai_onnx_builder_new(file);
    const char *x = test_conv(b, "/c", "x", 3, 4, 3, 1, 71);
    int64_t hw[2] = {2, 3}, two_two[2] = {2, 2}, big[2] = {INT64_MAX, INT64_MAX};
    int64_t corners[4][2] = {{0, 0}, {1, 0}, {0, 1}, {1, 1}};
    const char *quarters[5] = {NULL};
    for (int k = 0; k < 4; k++) {
        char scope[32];
        snprintf(scope, sizeof scope, "/focus%d", k);
        quarters[k] = slice(b, scope, x, 2, corners[k], big, hw, two_two);
    }
    x = test_conv(b, "/mix", concat(b, "/focus", quarters, 1), 16, 16, 1, 0, 72);
    int64_t last[1] = {-1}, before_first[1] = {INT64_MIN}, w_axis[1] = {3}, back[1] = {-1};
    x = slice(b, "/flip", x, 1, last, before_first, w_axis, back);
    int64_t parts[2] = {1, 3};
    const char *split_in[] = {x, test_int64s(b, "rows", 2, parts), NULL};
    xai_onnx_attribute *h_axis[] = {xai_onnx_int(b, "axis", 2), NULL};
    const char *top = xai_onnx_node_outputs(b, "Split", "/roll", split_in, h_axis, 2);
    char bottom[128];
    snprintf(bottom, sizeof bottom, "%.*s1", (int)strlen(top) - 1, top); /* the Split's second output */
    const char *rolled[] = {bottom, top, NULL};
    x = concat(b, "/roll", rolled, 2);
    const char *beside[] = {x, test_unary(b, "Relu", "/beside", x), NULL};
    const char *cast_in[] = {concat(b, "/beside", beside, -1), NULL};
    xai_onnx_attribute *to_float[] = {xai_onnx_int(b, "to", 1), NULL};
    x = xai_onnx_node(b, "Cast", "/float", cast_in, to_float);
    int64_t firsts[2] = {1, -1}, ends[2] = {INT64_MAX, -INT64_MAX}, axes[2] = {1, 3}, steps[2] = {3, -2};
    x = slice(b, "/pick", x, 2, firsts, ends, axes, steps);
    int64_t rows[3] = {0, 5, 16}, swap[3] = {0, 2, 1};
    x = transpose(b, "/swap", reshape(b, "/rows", x, 3, rows), 3, swap);
    x = test_unary(b, "Flatten", "/flat", test_unary(b, "Relu", "/out", x));
    int64_t in_dims[4] = {-1, 3, 8, 8};
    return classifier(b, x, 80, 3, 73, in_dims, file);
}

Test(ops, slices_concats_and_transposes_of_any_axis)
{
    xai_graph *g = load_graph(moves_graph("moves.onnx"));
    int count[XAI_OP_COUNT] = {0};
    for (int i = 0; i < g->n_nodes; i++) count[g->nodes[i].op]++;
    cr_expect_eq(count[XAI_OP_SLICE], 8, "four quarters, the flip, two parts of the Split, the pick");
    cr_expect_eq(count[XAI_OP_CONCAT], 3);
    cr_expect_eq(count[XAI_OP_TRANSPOSE], 1);
    for (int i = 0; i < g->n_nodes; i++) {
        const xai_node *n = &g->nodes[i];
        const xai_value *out = &g->values[n->output];
        if (strcmp(n->name, "/pick/Slice") == 0) {
            cr_expect(out->c == 5 && out->h == 4 && out->w == 4, "every third of 16 channels from 1, every second of 8 "
                                                                   "columns from 7 backwards: %dx%dx%d", out->c, out->h, out->w);
            cr_expect(n->slice_first[0] == 1 && n->slice_step[0] == 3 && n->slice_first[2] == 7 && n->slice_step[2] == -2);
        }
        if (strcmp(n->name, "/focus3/Slice") == 0)
            cr_expect(n->slice_first[1] == 1 && n->slice_first[2] == 1 && n->slice_step[1] == 2 && out->h == 4 && out->w == 4);
        if (strcmp(n->name, "/beside/Concat") == 0) cr_expect(n->concat_axis == 2 && out->w == 8);
        if (n->op == XAI_OP_TRANSPOSE) cr_expect(out->rank == 3 && out->c == 16 && out->h == 5 && out->w == 1);
    }
    check_graph(g, 2, 74, "moves graph");
    xai_graph_free(g);
}

/* x [N,2,6,6] -> Conv 4 -> Relu r -> r + MaxPool(r) + AveragePool(r), both 3x3 / 1 padded to
 * the same size: r's gradient is written by the AveragePool's backward and added to by the Add's
 * and the MaxPool's (oneDNN's pooling into the scratch buffer, then added) -> Flatten -> Gemm 3. */
Test(ops, a_pool_adds_to_a_gradient_another_node_wrote)
{
    xai_onnx_builder *b = xai_onnx_builder_new("pool-adds");
    const char *r = test_unary(b, "Relu", "/r", test_conv(b, "/c", "x", 2, 4, 3, 1, 111));
    int64_t kernel[2] = {3, 3}, strides[2] = {1, 1}, pads[4] = {1, 1, 1, 1};
    xai_onnx_attribute *window[] = {xai_onnx_ints(b, "kernel_shape", 2, kernel), xai_onnx_ints(b, "strides", 2, strides),
                                    xai_onnx_ints(b, "pads", 4, pads), NULL};
    const char *pool_in[] = {r, NULL};
    const char *x = test_binary(b, "Add", "/max", r, xai_onnx_node(b, "MaxPool", "/max", pool_in, window));
    x = test_binary(b, "Add", "/avg", x, xai_onnx_node(b, "AveragePool", "/avg", pool_in, window));
    int64_t in_dims[4] = {-1, 2, 6, 6};
    xai_graph *g = load_graph(classifier(b, test_unary(b, "Flatten", "/flat", x), 4 * 6 * 6, 3, 112, in_dims,
                                         "pool-adds.onnx"));
    check_graph(g, 0, 113, "pools adding to a gradient");
    xai_graph_free(g);
}

/* ---- attention: MatMul of two values, Softmax ------------------------------------------------ */

/* x [N,3,6,6] -> Conv 8 -> Relu r (a channel-blocked layout) -> Softmax of r over the channels +
 * 0.3 r times its own transpose (MatMul per channel, [6,6] x [6,6]) + r times a constant [6,6]
 * (a Gemm on W, reading r through a plain copy too) -> a non-local block: theta,
 * phi and g (Conv 1x1 4, [N,4,36]), Softmax(0.1 theta^T phi) over the last axis [N,36,36], times
 * g^T, back to [N,4,6,6] -> two heads [N,2,2,36] times their transposes [N,2,2,2], scaled by
 * 0.02 -> Softmax over the heads -> Flatten -> Gemm 3. The scales keep the softmaxes from
 * saturating, where float32 could not promise a map. */
static const char *attention_graph(const char *file)
{
    xai_onnx_builder *b = xai_onnx_builder_new(file);
    const char *r = test_unary(b, "Relu", "/r", test_conv(b, "/c", "x", 3, 8, 3, 1, 81));
    int64_t swap_last[4] = {0, 1, 3, 2}, swap[3] = {0, 2, 1}, flat[3] = {0, 4, 36}, image[4] = {0, 4, 6, 6};
    int64_t heads[4] = {0, 2, 2, 36};
    const char *gram = test_binary(b, "MatMul", "/gram", r, transpose(b, "/gram", r, 4, swap_last));
    float along_w[36];
    test_normal_floats(along_w, 36, 89);
    int64_t square[2] = {6, 6};
    const char *mixed = test_binary(b, "MatMul", "/along_w", r, xai_onnx_initializer(b, "along_w", square, 2, along_w));
    const char *z = test_binary(b, "Add", "/z", softmax(b, "/channels", r, 1),
                                test_binary(b, "Mul", "/gram", gram, test_scalar(b, "gram.scale", 0.3f)));
    z = test_binary(b, "Add", "/z2", z, mixed);
    const char *theta = transpose(b, "/theta", reshape(b, "/theta", test_conv(b, "/theta", z, 8, 4, 1, 0, 82), 3, flat), 3, swap);
    const char *phi = reshape(b, "/phi", test_conv(b, "/phi", z, 8, 4, 1, 0, 83), 3, flat);
    const char *g = transpose(b, "/g", reshape(b, "/g", test_conv(b, "/g", z, 8, 4, 1, 0, 84), 3, flat), 3, swap);
    const char *scores = test_binary(b, "MatMul", "/scores", theta, phi);
    const char *weights = softmax(b, "/weights", test_binary(b, "Mul", "/scores", scores, test_scalar(b, "scores.scale", 0.1f)), -1);
    const char *y = transpose(b, "/y", test_binary(b, "MatMul", "/attend", weights, g), 3, swap);
    const char *split = reshape(b, "/heads", reshape(b, "/y", y, 4, image), 4, heads);
    const char *agree = test_binary(b, "MatMul", "/heads", split, transpose(b, "/heads", split, 4, swap_last));
    agree = test_binary(b, "Mul", "/heads", agree, test_scalar(b, "heads.scale", 0.02f));
    int64_t in_dims[4] = {-1, 3, 6, 6};
    return classifier(b, test_unary(b, "Flatten", "/flat", softmax(b, "/over_heads", agree, 1)), 8, 3, 85, in_dims,
                      file);
}

Test(ops, attention_blocks)
{
    xai_graph *g = load_graph(attention_graph("attention.onnx"));
    int count[XAI_OP_COUNT] = {0};
    for (int i = 0; i < g->n_nodes; i++) {
        const xai_node *n = &g->nodes[i];
        const xai_value *out = &g->values[n->output];
        count[n->op]++;
        if (strcmp(n->name, "/scores/MatMul") == 0) cr_expect(out->rank == 3 && out->c == 36 && out->h == 36);
        if (strcmp(n->name, "/heads/MatMul") == 0) cr_expect(out->rank == 4 && out->c == 2 && out->h == 2 && out->w == 2);
        if (strcmp(n->name, "/weights/Softmax") == 0) cr_expect_eq(n->reduce_axes, 2, "the last axis of [N,36,36]");
        if (strcmp(n->name, "/channels/Softmax") == 0) cr_expect_eq(n->reduce_axes, 1);
    }
    cr_expect_eq(count[XAI_OP_MATMUL], 4);
    cr_expect_eq(count[XAI_OP_SOFTMAX], 3);
    cr_expect_eq(count[XAI_OP_GEMM], 2, "the MatMul with a constant and the classifier");
    check_graph(g, 1, 86, "attention graph");
    xai_graph_free(g);
}

/* x [N,3,6,6] -> Conv 8 -> Relu r -> multi-query attention: queries q [N,2,2,36] (two heads of
 * two rows) against one key k and one value v [N,1,2,36] that serve both heads (B broadcast:
 * q k^T [N,2,2,2], scaled by 0.05, Softmax over the last axis, times v: [N,2,2,36]); and one
 * matrix a [N,1,6,6] times two b [N,2,6,6] (A broadcast) -> both flattened, concatenated ->
 * Gemm 3. */
static const char *shared_operand_graph(const char *file)
{
    xai_onnx_builder *b = xai_onnx_builder_new(file);
    const char *r = test_unary(b, "Relu", "/r", test_conv(b, "/c", "x", 3, 8, 3, 1, 91));
    int64_t heads[4] = {0, 2, 2, 36}, one_head[4] = {0, 1, 2, 36}, swap_last[4] = {0, 1, 3, 2};
    int64_t one_map[4] = {0, 1, 6, 6}, two_maps[4] = {0, 2, 6, 6}, flat[2] = {0, -1};
    const char *q = reshape(b, "/q", test_conv(b, "/q", r, 8, 4, 1, 0, 92), 4, heads);
    const char *k = reshape(b, "/k", test_conv(b, "/k", r, 8, 2, 1, 0, 93), 4, one_head);
    const char *v = reshape(b, "/v", test_conv(b, "/v", r, 8, 2, 1, 0, 94), 4, one_head);
    const char *scores = test_binary(b, "MatMul", "/scores", q, transpose(b, "/k", k, 4, swap_last));
    scores = test_binary(b, "Mul", "/scores", scores, test_scalar(b, "scores.scale", 0.05f));
    const char *attended = test_binary(b, "MatMul", "/attend", softmax(b, "/weights", scores, -1), v);
    const char *a = reshape(b, "/a", test_conv(b, "/a", r, 8, 1, 1, 0, 95), 4, one_map);
    const char *bb = reshape(b, "/b", test_conv(b, "/b", r, 8, 2, 1, 0, 96), 4, two_maps);
    const char *products = test_binary(b, "MatMul", "/products", a, bb);
    const char *both[] = {reshape(b, "/attended", attended, 2, flat), reshape(b, "/products", products, 2, flat), NULL};
    int64_t in_dims[4] = {-1, 3, 6, 6};
    return classifier(b, concat(b, "/both", both, 1), 144 + 72, 3, 97, in_dims, file);
}

Test(ops, matmul_operands_shared_by_every_group)
{
    xai_graph *g = load_graph(shared_operand_graph("shared-operand.onnx"));
    int seen = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const xai_node *n = &g->nodes[i];
        if (n->op != XAI_OP_MATMUL) continue;
        const xai_value *out = &g->values[n->output], *a = &g->values[n->input[0]], *bv = &g->values[n->input[1]];
        seen++;
        if (strcmp(n->name, "/scores/MatMul") == 0)
            cr_expect(a->c == 2 && bv->c == 1 && out->c == 2 && out->h == 2 && out->w == 2, "B of one group");
        if (strcmp(n->name, "/products/MatMul") == 0)
            cr_expect(a->c == 1 && bv->c == 2 && out->c == 2 && out->h == 6 && out->w == 6, "A of one group");
    }
    cr_expect_eq(seen, 3);
    check_graph(g, 2, 98, "shared-operand graph");
    xai_graph_free(g);
}

/* Opset 18's forms: x [N,2,5,5] -> Conv 5 -> Relu r -> Split of the channels by num_outputs 3
 * (2, 2 and the last smaller, 1) -> the first plus its mean over the channels (ReduceMean with
 * its axes as an input) -> Concat back -> Pad of the listed axes only (H by 1 and 2, W by 0 and
 * 1) -> ReduceMean without axes and noop_with_empty_axes (no mean) -> Flatten -> Gemm 3. */
static const char *opset18_graph(const char *path)
{
    xai_onnx_builder *b = xai_onnx_builder_new("opset18");
    const char *r = test_unary(b, "Relu", "/r", test_conv(b, "/c", "x", 2, 5, 3, 1, 101));
    const char *split_in[] = {r, NULL};
    xai_onnx_attribute *split_attributes[] = {xai_onnx_int(b, "axis", 1), xai_onnx_int(b, "num_outputs", 3), NULL};
    const char *first = xai_onnx_node_outputs(b, "Split", "/parts", split_in, split_attributes, 3);
    char second[64], third[64];
    snprintf(second, sizeof second, "%.*s1", (int)strlen(first) - 1, first);
    snprintf(third, sizeof third, "%.*s2", (int)strlen(first) - 1, first);
    int64_t channels[1] = {1}, pads[4] = {1, 0, 2, 1}, spatial[2] = {2, 3};
    const char *mean_in[] = {first, test_int64s(b, "mean.axes", 1, channels), NULL};
    const char *mean = xai_onnx_node(b, "ReduceMean", "/mean", mean_in, NULL);
    const char *parts[] = {test_binary(b, "Add", "/first", first, mean), second, third, NULL};
    const char *pad_in[] = {concat(b, "/back", parts, 1), test_int64s(b, "pad.pads", 4, pads), "",
                            test_int64s(b, "pad.axes", 2, spatial), NULL};
    const char *padded = xai_onnx_node(b, "Pad", "/pad", pad_in, NULL);
    const char *noop_in[] = {padded, NULL};
    xai_onnx_attribute *noop[] = {xai_onnx_int(b, "noop_with_empty_axes", 1), NULL};
    const char *same = xai_onnx_node(b, "ReduceMean", "/noop", noop_in, noop);
    float w[3 * 5 * 8 * 6];
    test_normal_floats(w, sizeof w / sizeof *w, 102);
    int64_t dims[2] = {3, 5 * 8 * 6}, in_dims[4] = {-1, 2, 5, 5}, out_dims[2] = {-1, 3};
    xai_onnx_attribute *trans[] = {xai_onnx_int(b, "transB", 1), NULL};
    const char *gemm_in[] = {test_unary(b, "Flatten", "/flat", same), xai_onnx_initializer(b, "fc.weight", dims, 2, w),
                             NULL};
    xai_onnx_io(b, "x", 4, in_dims, xai_onnx_node(b, "Gemm", "/fc", gemm_in, trans), 2, out_dims);
    cr_assert_eq(xai_onnx_write(b, 18, path), XAI_OK, "%s", xai_last_error());
    xai_onnx_builder_free(b);
    return path;
}

Test(ops, opset_18_forms)
{
    xai_graph *g = load_graph(opset18_graph(test_path("opset18.onnx")));
    int slices = 0, widths[3] = {2, 2, 1};
    for (int i = 0; i < g->n_nodes; i++) {
        const xai_node *n = &g->nodes[i];
        if (n->op == XAI_OP_SLICE) cr_expect_eq(g->values[n->output].c, widths[slices++ % 3], "part %d", slices);
        if (n->op == XAI_OP_PAD)
            cr_expect(n->pad_top == 1 && n->pad_bottom == 2 && n->pad_left == 0 && n->pad_right == 1,
                      "pads %d %d %d %d", n->pad_top, n->pad_bottom, n->pad_left, n->pad_right);
        cr_expect(n->op != XAI_OP_REDUCEMEAN || g->values[n->output].c == 1, "only the mean over the channels");
    }
    cr_expect_eq(slices, 3);
    check_graph(g, 1, 103, "opset 18 graph");
    xai_graph_free(g);
}

/* Before opset 13 a Softmax normalizes over every axis from its axis on. */
Test(ops, softmax_before_opset_13_spans_the_axes_after)
{
    xai_onnx_builder *b = xai_onnx_builder_new("softmax11");
    const char *y = softmax(b, "/s", test_conv(b, "/c", "x", 2, 3, 1, 0, 87), 1);
    int64_t in_dims[4] = {-1, 2, 2, 2}, out_dims[4] = {-1, 3, 2, 2};
    xai_onnx_io(b, "x", 4, in_dims, y, 4, out_dims);
    const char *path = test_path("softmax11.onnx");
    cr_assert_eq(xai_onnx_write(b, 11, path), XAI_OK, "%s", xai_last_error());
    xai_onnx_builder_free(b);
    xai_graph *g = load_graph(path);
    cr_assert_eq(g->nodes[g->n_nodes - 1].op, XAI_OP_SOFTMAX);
    cr_expect_eq(g->nodes[g->n_nodes - 1].reduce_axes, 7, "over C, H and W");
    float x[8], fast[12];
    test_normal_floats(x, 8, 88);
    xai_engine *e;
    cr_assert_eq(xai_engine_create(&e, g, 1, 0), XAI_OK, "%s", xai_last_error());
    cr_assert_eq(xai_engine_forward(e, x, fast), XAI_OK, "%s", xai_last_error());
    double total = 0;
    for (int k = 0; k < 12; k++) total += fast[k];
    cr_expect_float_eq(total, 1.0, 1e-6, "one distribution over the 12 elements of the image");
    xai_engine_destroy(e);
    xai_graph_free(g);
}
