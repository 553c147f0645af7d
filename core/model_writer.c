/* model_writer.c - seeded ResNets (BasicBlock) as ONNX. The graph is what torch.onnx.export
 * gives for torchvision's resnet18 in eval mode without BN folding: Conv, BatchNormalization,
 * Relu, MaxPool, Add, GlobalAveragePool, Flatten, Gemm, with torchvision's parameter names
 * (conv1.weight, bn1.running_mean, layer1.0.conv1.weight, layer2.0.downsample.0.weight, fc.bias).
 * Weights: conv ~ N(0, 2 / (out_channels k^2)) (Kaiming normal, fan_out, as torchvision), fc
 * weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's Linear default), BN identity. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xai_model.h"
#include "xai_onnx_builder.h"
#include "xai_rng.h"
#include "xai_status.h"

const char *const xai_model_architectures[] = {"resnet18", "resnet34", "resnet-tiny", NULL};

typedef struct {
    xai_onnx_builder *onnx;
    xai_rng rng;
    int random_batchnorm;
    int failed;
} resnet_writer;

static const char *join(char *buffer, size_t size, const char *a, const char *b)
{
    snprintf(buffer, size, "%s%s", a, b);
    return buffer;
}

/* Conv `name` (e.g. "layer1.0.conv1") without bias, in node scope `scope`. */
static const char *conv(resnet_writer *w, const char *scope, const char *name, const char *x,
                        int in, int out, int kernel, int stride, int pad)
{
    size_t count = (size_t)out * in * kernel * kernel;
    float *weight = xai_malloc(count * sizeof *weight);
    if (!weight) {
        w->failed = 1;
        return "";
    }
    double std = sqrt(2.0 / ((double)out * kernel * kernel));
    for (size_t i = 0; i < count; i++) weight[i] = (float)(std * xai_rng_normal(&w->rng));
    char wname[128];
    int64_t dims[4] = {out, in, kernel, kernel};
    const char *wn = xai_onnx_initializer(w->onnx, join(wname, sizeof wname, name, ".weight"),
                                          dims, 4, weight);
    free(weight);
    int64_t ones[2] = {1, 1}, k[2] = {kernel, kernel}, s[2] = {stride, stride};
    int64_t p[4] = {pad, pad, pad, pad};
    const char *inputs[] = {x, wn, NULL};
    xai_onnx_attribute *attrs[] = {xai_onnx_ints(w->onnx, "dilations", 2, ones),
                                   xai_onnx_int(w->onnx, "group", 1),
                                   xai_onnx_ints(w->onnx, "kernel_shape", 2, k),
                                   xai_onnx_ints(w->onnx, "pads", 4, p),
                                   xai_onnx_ints(w->onnx, "strides", 2, s), NULL};
    return xai_onnx_node(w->onnx, "Conv", scope, inputs, attrs);
}

/* BatchNormalization: torchvision's identity statistics, or random ones to test folding. */
static const char *batchnorm(resnet_writer *w, const char *scope, const char *name,
                             const char *x, int channels)
{
    static const char *const parts[4] = {".weight", ".bias", ".running_mean", ".running_var"};
    const char *inputs[6] = {x, NULL, NULL, NULL, NULL, NULL};
    float *v = xai_malloc((size_t)channels * sizeof *v);
    if (!v) {
        w->failed = 1;
        return "";
    }
    for (int p = 0; p < 4; p++) {
        int scale_like = p == 0 || p == 3;
        for (int c = 0; c < channels; c++) {
            if (!w->random_batchnorm) v[c] = scale_like ? 1.f : 0.f;
            else {
                double r = xai_rng_uniform(&w->rng);
                v[c] = (float)(scale_like ? 0.5 + r : 0.4 * (r - 0.5));
            }
        }
        char pname[128];
        int64_t dims[1] = {channels};
        inputs[p + 1] = xai_onnx_initializer(w->onnx, join(pname, sizeof pname, name, parts[p]),
                                             dims, 1, v);
    }
    free(v);
    xai_onnx_attribute *attrs[] = {xai_onnx_float(w->onnx, "epsilon", 1e-5f),
                                   xai_onnx_float(w->onnx, "momentum", 0.9f), NULL};
    return xai_onnx_node(w->onnx, "BatchNormalization", scope, inputs, attrs);
}

static const char *relu(resnet_writer *w, const char *scope, const char *x)
{
    const char *inputs[] = {x, NULL};
    return xai_onnx_node(w->onnx, "Relu", scope, inputs, NULL);
}

/* torchvision's BasicBlock: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)). */
static const char *basic_block(resnet_writer *w, const char *layer, int index, const char *x,
                               int in, int out, int stride)
{
    char block[64], scope[128], s[192], n[192];
    snprintf(block, sizeof block, "%s.%d", layer, index);
    snprintf(scope, sizeof scope, "/%s/%s", layer, block);
#define SCOPE(part) (snprintf(s, sizeof s, "%s/%s", scope, part), s)
#define NAME(part) (snprintf(n, sizeof n, "%s.%s", block, part), n)
    const char *y = conv(w, SCOPE("conv1"), NAME("conv1"), x, in, out, 3, stride, 1);
    y = batchnorm(w, SCOPE("bn1"), NAME("bn1"), y, out);
    y = relu(w, SCOPE("relu"), y);
    y = conv(w, SCOPE("conv2"), NAME("conv2"), y, out, out, 3, 1, 1);
    y = batchnorm(w, SCOPE("bn2"), NAME("bn2"), y, out);
    const char *shortcut = x;
    if (stride != 1 || in != out) {
        shortcut = conv(w, SCOPE("downsample/downsample.0"), NAME("downsample.0"), x, in, out, 1,
                        stride, 0);
        shortcut = batchnorm(w, SCOPE("downsample/downsample.1"), NAME("downsample.1"), shortcut,
                             out);
    }
#undef SCOPE
#undef NAME
    const char *sum_inputs[] = {y, shortcut, NULL};
    y = xai_onnx_node(w->onnx, "Add", scope, sum_inputs, NULL);
    snprintf(s, sizeof s, "%s/relu_1", scope);
    return relu(w, s, y);
}

static void build_resnet(resnet_writer *w, const int *blocks, const int *widths, int stem,
                         int classes, int size)
{
    const char *x = conv(w, "/conv1", "conv1", "input", 3, stem, 7, 2, 3);
    x = batchnorm(w, "/bn1", "bn1", x, stem);
    x = relu(w, "/relu", x);
    int64_t ones[2] = {1, 1}, k[2] = {3, 3}, s[2] = {2, 2}, p[4] = {1, 1, 1, 1};
    const char *pool_inputs[] = {x, NULL};
    xai_onnx_attribute *pool_attrs[] = {xai_onnx_int(w->onnx, "ceil_mode", 0),
                                        xai_onnx_ints(w->onnx, "dilations", 2, ones),
                                        xai_onnx_ints(w->onnx, "kernel_shape", 2, k),
                                        xai_onnx_ints(w->onnx, "pads", 4, p),
                                        xai_onnx_ints(w->onnx, "strides", 2, s), NULL};
    x = xai_onnx_node(w->onnx, "MaxPool", "/maxpool", pool_inputs, pool_attrs);
    int in = stem;
    for (int layer = 0; layer < 4; layer++) {
        char name[16];
        snprintf(name, sizeof name, "layer%d", layer + 1);
        for (int i = 0; i < blocks[layer]; i++) {
            x = basic_block(w, name, i, x, in, widths[layer], layer > 0 && i == 0 ? 2 : 1);
            in = widths[layer];
        }
    }
    const char *gap_inputs[] = {x, NULL};
    x = xai_onnx_node(w->onnx, "GlobalAveragePool", "/avgpool", gap_inputs, NULL);
    const char *flat_inputs[] = {x, NULL};
    xai_onnx_attribute *flat_attrs[] = {xai_onnx_int(w->onnx, "axis", 1), NULL};
    x = xai_onnx_node(w->onnx, "Flatten", "", flat_inputs, flat_attrs);

    size_t count = (size_t)classes * in;
    float *fc = xai_malloc((count + (size_t)classes) * sizeof *fc);
    if (!fc) {
        w->failed = 1;
        return;
    }
    double bound = 1.0 / sqrt((double)in);
    for (size_t i = 0; i < count + (size_t)classes; i++)
        fc[i] = (float)(bound * (2.0 * xai_rng_uniform(&w->rng) - 1.0));
    int64_t wdims[2] = {classes, in}, bdims[1] = {classes};
    const char *fc_inputs[] = {x, xai_onnx_initializer(w->onnx, "fc.weight", wdims, 2, fc),
                               xai_onnx_initializer(w->onnx, "fc.bias", bdims, 1, fc + count), NULL};
    free(fc);
    xai_onnx_attribute *fc_attrs[] = {xai_onnx_float(w->onnx, "alpha", 1.f),
                                      xai_onnx_float(w->onnx, "beta", 1.f),
                                      xai_onnx_int(w->onnx, "transB", 1), NULL};
    const char *logits = xai_onnx_node(w->onnx, "Gemm", "/fc", fc_inputs, fc_attrs);
    int64_t in_dims[4] = {-1, 3, size, size}, out_dims[2] = {-1, classes};
    xai_onnx_io(w->onnx, "input", 4, in_dims, logits, 2, out_dims);
}

int xai_model_write_resnet(const xai_model_spec *spec, const char *path)
{
    static const int blocks18[4] = {2, 2, 2, 2}, blocks34[4] = {3, 4, 6, 3};
    static const int blocks_tiny[4] = {1, 1, 1, 1};
    static const int widths[4] = {64, 128, 256, 512}, widths_tiny[4] = {8, 16, 16, 32};
    const int *blocks, *w = widths;
    int stem = 64, tiny = strcmp(spec->arch, "resnet-tiny") == 0;
    if (strcmp(spec->arch, "resnet18") == 0) blocks = blocks18;
    else if (strcmp(spec->arch, "resnet34") == 0) blocks = blocks34;
    else if (tiny) blocks = blocks_tiny, w = widths_tiny, stem = 8;
    else return xai_fail("%s: unknown architecture '%s' (resnet18, resnet34, resnet-tiny)",
                         path, spec->arch);
    int classes = spec->classes > 0 ? spec->classes : tiny ? 10 : 1000;
    int size = spec->image_size > 0 ? spec->image_size : tiny ? 64 : 224;
    if (size < 32 || size > 4096) return xai_fail("%s: image size %d outside 32..4096", path, size);

    resnet_writer writer = {.onnx = xai_onnx_builder_new(spec->arch),
                            .random_batchnorm = spec->random_batchnorm};
    if (!writer.onnx) return xai_fail("%s: out of memory", path);
    xai_rng_seed(&writer.rng, spec->seed);
    build_resnet(&writer, blocks, w, stem, classes, size);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)spec->seed);
    xai_onnx_metadata(writer.onnx, "xaibench.arch", spec->arch);
    xai_onnx_metadata(writer.onnx, "xaibench.seed", seed);
    xai_onnx_metadata(writer.onnx, "xaibench.weights",
                      spec->random_batchnorm
                          ? "seeded Kaiming-normal convolutions, random BN statistics, not trained"
                          : "seeded Kaiming-normal initialization, not trained");
    int status = writer.failed ? xai_fail("%s: out of memory", path)
                               : xai_onnx_write(writer.onnx, 13, path);
    xai_onnx_builder_free(writer.onnx);
    return status;
}
