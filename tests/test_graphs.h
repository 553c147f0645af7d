/* test_graphs.h - pieces of small ONNX graphs for the op tests (test_ops.c, test_op_forms.c):
 * each appends to a builder and returns the name of what it made. */
#ifndef XAI_TEST_GRAPHS_H
#define XAI_TEST_GRAPHS_H

#include <stdint.h>

#include "xai_onnx_builder.h"

/* A Conv with He-normal weights and small random biases, seeded by `seed`. */
const char *test_conv(xai_onnx_builder *b, const char *scope, const char *input, int in, int out, int kernel, int pad,
                      uint64_t seed);
/* A node of one input, and of two. */
const char *test_unary(xai_onnx_builder *b, const char *op, const char *scope, const char *input);
const char *test_binary(xai_onnx_builder *b, const char *op, const char *scope, const char *x, const char *y);
/* A 1-D int64 initializer, and a float scalar one. */
const char *test_int64s(xai_onnx_builder *b, const char *name, int count, const int64_t *values);
const char *test_scalar(xai_onnx_builder *b, const char *name, float value);
/* A Pad of H and W (pads in ONNX's order for [N,C,H,W]) in `mode`, filling with `value`. */
const char *test_pad(xai_onnx_builder *b, const char *scope, const char *x, const char *mode, const int64_t *pads,
                     float value);

#endif
