/* xai_model.h - writing seeded networks as ONNX files (`xaibench model init`). */
#ifndef XAI_MODEL_H
#define XAI_MODEL_H

#include <stdint.h>

typedef struct {
    const char *arch;          /* "resnet18", "resnet34" or "resnet-tiny" */
    uint64_t seed;
    int classes;               /* 0: 1000 (10 for resnet-tiny) */
    int image_size;            /* 0: 224 (64 for resnet-tiny) */
    int random_batchnorm;      /* 1: random BN statistics instead of torchvision's identity
                                  (gamma 1, beta 0, mean 0, var 1), to exercise BN folding */
} xai_model_spec;

/* Write torchvision's ResNet structure and weight names with Kaiming-normal convolutions
 * (fan_out, ReLU gain, as torchvision initializes them) and a uniform(+-1/sqrt(fan_in)) fc,
 * as an opset-13 ONNX graph with BatchNormalization nodes. Same spec, same bytes, anywhere. */
int xai_model_write_resnet(const xai_model_spec *spec, const char *path);

/* The architectures model init knows, NULL-terminated. */
extern const char *const xai_model_architectures[];

#endif
