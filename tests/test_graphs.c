/* test_graphs.c - pieces of small ONNX graphs for the op tests (test_graphs.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "test_graphs.h"
#include "test_support.h"

/* A Conv with He-normal weights and small random biases, seeded by `seed`. */
const char *test_conv(xai_onnx_builder *b, const char *scope, const char *input, int in, int out, int kernel, int pad,
                      uint64_t seed)
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

const char *test_unary(xai_onnx_builder *b, const char *op, const char *scope, const char *input)
{
    const char *inputs[] = {input, NULL};
    return xai_onnx_node(b, op, scope, inputs, NULL);
}

const char *test_binary(xai_onnx_builder *b, const char *op, const char *scope, const char *x, const char *y)
{
    const char *inputs[] = {x, y, NULL};
    return xai_onnx_node(b, op, scope, inputs, NULL);
}

const char *test_int64s(xai_onnx_builder *b, const char *name, int count, const int64_t *values)
{
    int64_t dims[1] = {count};
    return xai_onnx_initializer_int64(b, name, dims, 1, values);
}

const char *test_scalar(xai_onnx_builder *b, const char *name, float value)
{
    return xai_onnx_initializer(b, name, NULL, 0, &value);
}

const char *test_pad(xai_onnx_builder *b, const char *scope, const char *x, const char *mode, const int64_t *pads,
                       float value)
{
    char name[64];
    snprintf(name, sizeof name, "%s.pads", scope);
    const char *inputs[] = {x, test_int64s(b, name, 8, pads), value != 0.f ? test_scalar(b, "pad_value", value) : NULL, NULL};
    xai_onnx_attribute *attributes[] = {xai_onnx_string(b, "mode", mode), NULL};
    return xai_onnx_node(b, "Pad", scope, inputs, attributes);
}
