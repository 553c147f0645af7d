/* xai_onnx_builder.h - assembling ONNX graphs in memory (protobuf-c), for `model init` and for
 * tests that need small hand-made graphs. Names are copied; the builder owns everything and
 * frees it in one call. Errors (out of memory) are sticky and reported by xai_onnx_pack. */
#ifndef XAI_ONNX_BUILDER_H
#define XAI_ONNX_BUILDER_H

#include <stddef.h>
#include <stdint.h>

typedef struct xai_onnx_builder xai_onnx_builder;
typedef struct Onnx__AttributeProto xai_onnx_attribute;

xai_onnx_builder *xai_onnx_builder_new(const char *graph_name);
void xai_onnx_builder_free(xai_onnx_builder *b);

/* A float32 initializer (rank 0: a scalar, dims may be NULL); returns its name (owned by the
 * builder). */
const char *xai_onnx_initializer(xai_onnx_builder *b, const char *name, const int64_t *dims,
                                 int rank, const float *data);
/* An int64 initializer (Reshape shapes). */
const char *xai_onnx_initializer_int64(xai_onnx_builder *b, const char *name,
                                       const int64_t *dims, int rank, const int64_t *data);

xai_onnx_attribute *xai_onnx_int(xai_onnx_builder *b, const char *name, int64_t value);
xai_onnx_attribute *xai_onnx_float(xai_onnx_builder *b, const char *name, float value);
xai_onnx_attribute *xai_onnx_string(xai_onnx_builder *b, const char *name, const char *value);
xai_onnx_attribute *xai_onnx_ints(xai_onnx_builder *b, const char *name, int count,
                                  const int64_t *values);

/* Append node `op` named "<scope>/<op>" with NULL-terminated inputs and attributes (attributes
 * may be NULL). Returns the name of its one output, "<scope>/<op>_output_0". */
const char *xai_onnx_node(xai_onnx_builder *b, const char *op, const char *scope,
                          const char *const *inputs, xai_onnx_attribute *const *attributes);

/* The same with n_outputs outputs (Split), output k named "<scope>/<op>_output_<k>"; returns
 * the first. */
const char *xai_onnx_node_outputs(xai_onnx_builder *b, const char *op, const char *scope,
                                  const char *const *inputs, xai_onnx_attribute *const *attributes, int n_outputs);

/* Declare the graph's float input and output; a dimension < 0 is the symbolic batch "N". */
void xai_onnx_io(xai_onnx_builder *b, const char *input, int input_rank,
                 const int64_t *input_dims, const char *output, int output_rank,
                 const int64_t *output_dims);

void xai_onnx_metadata(xai_onnx_builder *b, const char *key, const char *value);

/* Serialize as a ModelProto with the given opset; *bytes is malloc'ed. */
int xai_onnx_pack(xai_onnx_builder *b, int64_t opset, uint8_t **bytes, size_t *size);

/* Serialize and write to `path` (through PATH.partial and a rename). */
int xai_onnx_write(xai_onnx_builder *b, int64_t opset, const char *path);

#endif
