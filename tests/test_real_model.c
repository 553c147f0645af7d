/* test_real_model.c - a real ImageNet-trained network (../shared/models, MobileNetV2 with
 * depthwise convolutions and ReLU6 as Clip(0, 6)): its own preprocessing from metadata gives
 * "Italian greyhound" then "Boston bull" for pets.jpg; the fast engine matches the reference on
 * it; saliency through depthwise convs and Clip equals finite differences; Clip's rules; errors.
 * Cases that need ../shared skip with a message when it is absent. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "test_support.h"
#include "xai_engine.h"
#include "xai_image.h"
#include "xai_onnx_builder.h"
#include "xai_reference.h"
#include "xai_rng.h"
#include "xai_status.h"

#define MOBILENET "../shared/models/mobilenet_v2_coral_float.onnx"
#define PETS "../shared/images/pets.jpg"

static xai_graph *mobilenet(void)
{
    if (access(MOBILENET, R_OK) != 0 || access(PETS, R_OK) != 0)
        cr_skip_test("../shared/models or ../shared/images is absent: the real-weights tests need them");
    xai_graph *g;
    cr_assert_eq(xai_graph_load(&g, MOBILENET, NULL), XAI_OK, "%s", xai_last_error());
    return g;
}

static void load_image(const char *path, const xai_transform *t, float *out)
{
    xai_image image;
    cr_assert_eq(xai_image_load(&image, path, 0), XAI_OK, "%s", xai_last_error());
    cr_assert_eq(xai_preprocess(&image, t, out, NULL), XAI_OK, "%s", xai_last_error());
    xai_image_free(&image);
}

Test(real_model, pets_are_an_italian_greyhound_then_a_boston_bull, .timeout = 120)
{
    xai_graph *g = mobilenet();
    xai_transform t;
    cr_assert_eq(xai_transform_for_model(&t, g), XAI_OK, "%s", xai_last_error());
    cr_expect_eq(t.label_offset, 1);
    cr_expect_eq(t.resize_w, 224, "metadata: resize 224x224, no crop");
    cr_expect_eq(t.crop_w, 0);
    size_t image = xai_value_size(&g->values[g->input]);
    int classes = xai_graph_outputs(g);
    float *input = malloc(image * sizeof(float)), *logits = malloc(classes * sizeof(float));
    load_image(PETS, &t, input);
    xai_engine *e;
    cr_assert_eq(xai_engine_create(&e, g, 1, 0), XAI_OK, "%s", xai_last_error());
    cr_assert_eq(xai_engine_forward(e, input, logits), XAI_OK);
    int first = 0, second = -1;
    for (int k = 1; k < classes; k++)
        if (logits[k] > logits[first]) first = k;
    for (int k = 0; k < classes; k++)
        if (k != first && (second < 0 || logits[k] > logits[second])) second = k;
    cr_expect_eq(first - t.label_offset, 171, "top-1 is ImageNet %d", first - t.label_offset);
    cr_expect_eq(second - t.label_offset, 195, "top-2 is ImageNet %d", second - t.label_offset);
    xai_engine_destroy(e);
    free(input), free(logits);
    xai_graph_free(g);
}

Test(real_model, engine_matches_reference_on_mobilenet_v2, .timeout = 600, .disabled = XAI_SANITIZED)
{
    xai_graph *g = mobilenet();
    xai_transform t;
    cr_assert_eq(xai_transform_for_model(&t, g), XAI_OK);
    /* Photos, and pets.jpg with 1 % noise. On a trained ReLU6 network many units sit exactly on a
     * Clip bound, so some of these inputs have decisions within float rounding: judged all the
     * same, by the float32 criterion. */
    static const char *const photos[] = {PETS, "data/samples/dog.jpg", PETS, PETS, "data/samples/chelsea.png",
                                         "data/samples/coffee.png", "data/samples/rocket.jpg",
                                         "data/samples/motorcycle_left.png"};
    enum { CANDIDATES = sizeof photos / sizeof *photos };
    if (access(photos[1], R_OK) != 0) cr_skip_test("run scripts/fetch-samples.sh");
    size_t image = xai_value_size(&g->values[g->input]);
    float *candidates = malloc(CANDIDATES * image * sizeof(float)), *noise = malloc(image * sizeof(float));
    for (int k = 0; k < CANDIDATES; k++) {
        load_image(photos[k], &t, candidates + k * image);
        if (k != 2 && k != 3) continue; /* the two noisy copies of pets.jpg */
        test_normal_floats(noise, image, 300 + k);
        for (size_t i = 0; i < image; i++) candidates[k * image + i] += 0.01f * noise[i];
    }
    test_engine_matches_reference(g, candidates, CANDIDATES, "mobilenet_v2");
    free(noise);
    free(candidates);
    xai_graph_free(g);
}

/* x [N,3,12,12] -> Conv 3->6 (pads 0,1,1,0) -> Clip(0,6) -> depthwise Conv k3 s2 (pads 1,0,0,1)
 * -> Clip(clip_min, 6) -> GlobalAveragePool -> Flatten -> Gemm 6->4. Weights are scaled so that
 * both bounds of the Clips are reached by some units. */
static xai_graph *depthwise_clip_graph(float clip_min, int relu_only)
{
    xai_onnx_builder *b = xai_onnx_builder_new("depthwise-clip");
    xai_rng rng;
    xai_rng_seed(&rng, 11);
    float w1[6 * 3 * 9], w2[6 * 9], b2[6], fc[4 * 6], lo[1] = {clip_min}, lo0[1] = {0.f}, hi[1] = {6.f};
    for (int i = 0; i < 6 * 3 * 9; i++) w1[i] = (float)(1.2 * xai_rng_normal(&rng));
    for (int i = 0; i < 6 * 9; i++) w2[i] = (float)(0.8 * xai_rng_normal(&rng));
    for (int i = 0; i < 6; i++) b2[i] = (float)(0.5 * xai_rng_normal(&rng));
    for (int i = 0; i < 24; i++) fc[i] = (float)xai_rng_normal(&rng);
    int64_t d1[4] = {6, 3, 3, 3}, d2[4] = {6, 1, 3, 3}, db[1] = {6}, dfc[2] = {4, 6}, scalar[1] = {1};
    int64_t pads1[4] = {0, 1, 1, 0}, pads2[4] = {1, 0, 0, 1}, two[2] = {2, 2};
    const char *c1_in[] = {"x", xai_onnx_initializer(b, "w1", d1, 4, w1), NULL};
    xai_onnx_attribute *c1_attr[] = {xai_onnx_ints(b, "pads", 4, pads1), NULL};
    const char *h = xai_onnx_node(b, "Conv", "/c1", c1_in, c1_attr);
    const char *k1_in[] = {h, xai_onnx_initializer(b, "lo0", scalar, 0, lo0), xai_onnx_initializer(b, "hi", scalar, 0, hi), NULL};
    h = xai_onnx_node(b, "Clip", "/clip1", k1_in, NULL);
    const char *c2_in[] = {h, xai_onnx_initializer(b, "w2", d2, 4, w2), xai_onnx_initializer(b, "b2", db, 1, b2), NULL};
    xai_onnx_attribute *c2_attr[] = {xai_onnx_int(b, "group", 6), xai_onnx_ints(b, "pads", 4, pads2),
                                     xai_onnx_ints(b, "strides", 2, two), NULL};
    h = xai_onnx_node(b, "Conv", "/c2", c2_in, c2_attr);
    const char *k2_in[] = {h, xai_onnx_initializer(b, "lo", scalar, 0, lo), "hi", NULL};
    h = xai_onnx_node(b, "Clip", "/clip2", k2_in, NULL);
    const char *gap_in[] = {h, NULL};
    h = xai_onnx_node(b, "GlobalAveragePool", "/gap", gap_in, NULL);
    const char *flat_in[] = {h, NULL};
    h = xai_onnx_node(b, "Flatten", "/flat", flat_in, NULL);
    const char *fc_in[] = {h, xai_onnx_initializer(b, "fc", dfc, 2, fc), NULL};
    xai_onnx_attribute *fc_attr[] = {xai_onnx_int(b, "transB", 1), NULL};
    const char *y = xai_onnx_node(b, "Gemm", "/fc", fc_in, fc_attr);
    int64_t in_dims[4] = {-1, 3, 12, 12}, out_dims[2] = {-1, 4};
    xai_onnx_io(b, "x", 4, in_dims, y, 2, out_dims);
    char name[64];
    snprintf(name, sizeof name, "depthwise-clip-%g.onnx", clip_min);
    const char *path = test_write_built(b, name);
    xai_graph_options options = {.relu_only_rules = relu_only};
    xai_graph *g;
    cr_assert_eq(xai_graph_load(&g, path, &options), XAI_OK, "%s", xai_last_error());
    return g;
}

Test(real_model, saliency_through_depthwise_and_clip_equals_finite_differences)
{
    xai_graph *g = depthwise_clip_graph(0.f, 0);
    size_t image = xai_value_size(&g->values[g->input]);
    float *xf = malloc(image * sizeof(float));
    double *x = malloc(image * sizeof(double)), *map = malloc(image * sizeof(double)), logits[4];
    test_normal_floats(xf, image, 5);
    for (size_t i = 0; i < image; i++) x[i] = xf[i];
    xai_reference *ref;
    cr_assert_eq(xai_reference_create(&ref, g, 1), XAI_OK);
    int target = 2;
    cr_assert_eq(xai_reference_forward(ref, x, logits), XAI_OK);
    cr_assert_eq(xai_reference_backward(ref, &xai_rule_saliency, &target, map), XAI_OK);
    double top = 0.0;
    for (size_t i = 0; i < image; i++) top = fmax(top, fabs(map[i]));
    cr_assert_gt(top, 0.0);
    for (size_t i = 0; i < image; i++) {
        const double h = 1e-6;
        double keep = x[i];
        x[i] = keep + h;
        cr_assert_eq(xai_reference_forward(ref, x, logits), XAI_OK);
        double up = logits[target];
        x[i] = keep - h;
        cr_assert_eq(xai_reference_forward(ref, x, logits), XAI_OK);
        double fd = (up - logits[target]) / (2 * h);
        x[i] = keep;
        cr_expect_leq(fabs(fd - map[i]), 1e-6 * fmax(fabs(map[i]), 1e-2 * top), "pixel %zu: fd %.10g, saliency %.10g",
                      i, fd, map[i]);
    }
    xai_reference_destroy(ref);
    free(xf), free(x), free(map);
    xai_graph_free(g);
}

/* Both engines; GBP differs from saliency at Clip(0, 6) under the default rules, equals it under
 * relu-only rules (the graph has no ReLU) and when the Clip's min is not 0 (true gradient). */
static void maps_on_both_engines(xai_graph *g, const xai_rule *m, float *fast, double *slow)
{
    size_t image = xai_value_size(&g->values[g->input]);
    float *xf = malloc(2 * image * sizeof(float));
    double *x = malloc(2 * image * sizeof(double));
    test_normal_floats(xf, 2 * image, 9);
    for (size_t i = 0; i < 2 * image; i++) x[i] = xf[i];
    int targets[2] = {0, 3};
    xai_engine *e;
    xai_reference *r;
    cr_assert_eq(xai_engine_create(&e, g, 2, 1), XAI_OK, "%s", xai_last_error());
    cr_assert_eq(xai_engine_forward(e, xf, NULL), XAI_OK);
    cr_assert_eq(xai_engine_backward(e, m, targets, fast), XAI_OK);
    cr_assert_eq(xai_reference_create(&r, g, 2), XAI_OK);
    cr_assert_eq(xai_reference_forward(r, x, NULL), XAI_OK);
    cr_assert_eq(xai_reference_backward(r, m, targets, slow), XAI_OK);
    double diff = test_max_abs_diff_fd(fast, slow, 2 * image, NULL), top = 0;
    for (size_t i = 0; i < 2 * image; i++) top = fmax(top, fabs(slow[i]));
    cr_expect_leq(diff, 1e-4 * top, "%s: engines differ by %g (max %g)", m->name, diff, top);
    xai_engine_destroy(e);
    xai_reference_destroy(r);
    free(xf), free(x);
}

Test(real_model, rules_at_clip)
{
    size_t n = 2 * 3 * 12 * 12;
    float *fast_s = malloc(n * sizeof(float)), *fast_g = malloc(n * sizeof(float));
    double *slow_s = malloc(n * sizeof(double)), *slow_g = malloc(n * sizeof(double));
    xai_graph *relu6 = depthwise_clip_graph(0.f, 0), *captum = depthwise_clip_graph(0.f, 1), *shifted = depthwise_clip_graph(-1.f, 0);
    cr_expect_eq(shifted->nodes[3].plain_gradient, 1, "Clip(-1, 6) passes the true gradient");
    maps_on_both_engines(relu6, &xai_rule_saliency, fast_s, slow_s);
    maps_on_both_engines(relu6, &xai_rule_guided_backprop, fast_g, slow_g);
    double differ = 0;
    for (size_t i = 0; i < n; i++) differ = fmax(differ, fabs(slow_s[i] - slow_g[i]));
    cr_expect_gt(differ, 0.0, "at Clip(0, 6), guided backprop's rule applies");
    maps_on_both_engines(captum, &xai_rule_saliency, fast_s, slow_s);
    maps_on_both_engines(captum, &xai_rule_guided_backprop, fast_g, slow_g);
    for (size_t i = 0; i < n; i++) cr_assert_eq(slow_s[i], slow_g[i], "relu-only rules: GBP = saliency here");
    cr_expect_eq(memcmp(fast_s, fast_g, n * sizeof(float)), 0);
    free(fast_s), free(fast_g), free(slow_s), free(slow_g);
    xai_graph_free(relu6), xai_graph_free(captum), xai_graph_free(shifted);
}

Test(real_model, clip_and_group_errors)
{
    xai_onnx_builder *b = xai_onnx_builder_new("bad-clip");
    const char *r_in[] = {"x", NULL};
    const char *r = xai_onnx_node(b, "Relu", "/r", r_in, NULL);
    const char *c_in[] = {"x", r, NULL};
    const char *y = xai_onnx_node(b, "Clip", "/clip", c_in, NULL);
    int64_t dims[4] = {-1, 1, 4, 4};
    xai_onnx_io(b, "x", 4, dims, y, 4, dims);
    const char *path = test_write_built(b, "bad-clip.onnx");
    xai_graph *g;
    cr_expect_eq(xai_graph_load(&g, path, NULL), XAI_ERR);
    cr_expect(strstr(xai_last_error(), path) && strstr(xai_last_error(), "not a constant"), "%s", xai_last_error());

    b = xai_onnx_builder_new("bad-group");
    float w[6 * 9] = {0};
    int64_t wd[4] = {6, 1, 3, 3};
    const char *conv_in[] = {"x", xai_onnx_initializer(b, "w", wd, 4, w), NULL};
    xai_onnx_attribute *attr[] = {xai_onnx_int(b, "group", 4), NULL};
    y = xai_onnx_node(b, "Conv", "/conv", conv_in, attr);
    int64_t in_dims[4] = {-1, 4, 8, 8}, out_dims[4] = {-1, 6, 6, 6};
    xai_onnx_io(b, "x", 4, in_dims, y, 4, out_dims);
    path = test_write_built(b, "bad-group.onnx");
    cr_expect_eq(xai_graph_load(&g, path, NULL), XAI_ERR);
    cr_expect(strstr(xai_last_error(), path) && strstr(xai_last_error(), "group 4 does not divide"), "%s", xai_last_error());
}
