/* onnx_builder.c - ModelProto assembly with protobuf-c (see xai_onnx_builder.h). Every block
 * the message points to is recorded in `blocks` and freed together. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_subset.pb-c.h"
#include "xai_onnx_builder.h"
#include "xai_status.h"
#include "xai_version.h"

struct xai_onnx_builder {
    Onnx__GraphProto graph;
    Onnx__StringStringEntryProto **metadata;
    size_t n_metadata;
    void **blocks;
    size_t n_blocks;
    int failed;
};

static void *keep(xai_onnx_builder *b, void *p)
{
    void **grown = p ? xai_realloc(b->blocks, (b->n_blocks + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(p);
        b->failed = 1;
        return NULL;
    }
    b->blocks = grown;
    b->blocks[b->n_blocks++] = p;
    return p;
}

static void *block(xai_onnx_builder *b, size_t size) { return keep(b, xai_calloc(1, size ? size : 1)); }

static char *text(xai_onnx_builder *b, const char *a, const char *sep, const char *c)
{
    size_t n = strlen(a) + strlen(sep) + strlen(c) + 1;
    char *s = block(b, n);
    if (s) snprintf(s, n, "%s%s%s", a, sep, c);
    return s ? s : "";
}

/* Append `item` to a growing pointer array whose blocks are kept by the builder. */
static void push(xai_onnx_builder *b, void ***array, size_t *count, void *item)
{
    void **grown = block(b, (*count + 1) * sizeof *grown);
    if (!grown || !item) {
        b->failed = 1;
        return;
    }
    if (*count) memcpy(grown, *array, *count * sizeof *grown);
    grown[(*count)++] = item;
    *array = grown;
}

xai_onnx_builder *xai_onnx_builder_new(const char *graph_name)
{
    xai_onnx_builder *b = xai_calloc(1, sizeof *b);
    if (!b) return NULL;
    onnx__graph_proto__init(&b->graph);
    b->graph.name = text(b, graph_name, "", "");
    return b;
}

void xai_onnx_builder_free(xai_onnx_builder *b)
{
    if (!b) return;
    for (size_t i = 0; i < b->n_blocks; i++) free(b->blocks[i]);
    free(b->blocks);
    free(b);
}

static Onnx__TensorProto *tensor(xai_onnx_builder *b, const char *name, const int64_t *dims,
                                 int rank, const void *data, size_t bytes_per_value, int type)
{
    size_t count = 1;
    for (int d = 0; d < rank; d++) count *= (size_t)dims[d];
    Onnx__TensorProto *t = block(b, sizeof *t);
    int64_t *d = block(b, (size_t)rank * sizeof *d);
    uint8_t *raw = block(b, count * bytes_per_value);
    if (!t || !d || !raw) return NULL;
    onnx__tensor_proto__init(t);
    if (rank) memcpy(d, dims, (size_t)rank * sizeof *d); /* a scalar (rank 0) may come with no dims */
    memcpy(raw, data, count * bytes_per_value);
    t->name = text(b, name, "", "");
    t->has_data_type = 1;
    t->data_type = type;
    t->n_dims = (size_t)rank;
    t->dims = d;
    t->has_raw_data = 1;
    t->raw_data.len = count * bytes_per_value;
    t->raw_data.data = raw;
    push(b, (void ***)&b->graph.initializer, &b->graph.n_initializer, t);
    return t;
}

const char *xai_onnx_initializer(xai_onnx_builder *b, const char *name, const int64_t *dims,
                                 int rank, const float *data)
{
    Onnx__TensorProto *t = tensor(b, name, dims, rank, data, sizeof(float),
                                  ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    return t ? t->name : "";
}

const char *xai_onnx_initializer_int64(xai_onnx_builder *b, const char *name,
                                       const int64_t *dims, int rank, const int64_t *data)
{
    Onnx__TensorProto *t = tensor(b, name, dims, rank, data, sizeof(int64_t),
                                  ONNX__TENSOR_PROTO__DATA_TYPE__INT64);
    return t ? t->name : "";
}

static xai_onnx_attribute *attribute(xai_onnx_builder *b, const char *name,
                                     Onnx__AttributeProto__AttributeType type)
{
    Onnx__AttributeProto *a = block(b, sizeof *a);
    if (!a) return NULL;
    onnx__attribute_proto__init(a);
    a->name = text(b, name, "", "");
    a->has_type = 1;
    a->type = type;
    return a;
}

xai_onnx_attribute *xai_onnx_int(xai_onnx_builder *b, const char *name, int64_t value)
{
    Onnx__AttributeProto *a = attribute(b, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a) a->has_i = 1, a->i = value;
    return a;
}

xai_onnx_attribute *xai_onnx_float(xai_onnx_builder *b, const char *name, float value)
{
    Onnx__AttributeProto *a = attribute(b, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a) a->has_f = 1, a->f = value;
    return a;
}

xai_onnx_attribute *xai_onnx_string(xai_onnx_builder *b, const char *name, const char *value)
{
    Onnx__AttributeProto *a = attribute(b, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    char *copy = text(b, value, "", "");
    if (a) a->has_s = 1, a->s.data = (uint8_t *)copy, a->s.len = strlen(copy);
    return a;
}

xai_onnx_attribute *xai_onnx_ints(xai_onnx_builder *b, const char *name, int count,
                                  const int64_t *values)
{
    Onnx__AttributeProto *a = attribute(b, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t *v = block(b, (size_t)count * sizeof *v);
    if (!a || !v) return a;
    memcpy(v, values, (size_t)count * sizeof *v);
    a->n_ints = (size_t)count;
    a->ints = v;
    return a;
}

const char *xai_onnx_node(xai_onnx_builder *b, const char *op, const char *scope,
                          const char *const *inputs, xai_onnx_attribute *const *attributes)
{
    return xai_onnx_node_outputs(b, op, scope, inputs, attributes, 1);
}

const char *xai_onnx_node_outputs(xai_onnx_builder *b, const char *op, const char *scope,
                                  const char *const *inputs, xai_onnx_attribute *const *attributes, int n_outputs)
{
    Onnx__NodeProto *n = block(b, sizeof *n);
    if (!n) return "";
    onnx__node_proto__init(n);
    n->op_type = text(b, op, "", "");
    n->name = text(b, scope, "/", op);
    for (size_t i = 0; inputs[i]; i++)
        push(b, (void ***)&n->input, &n->n_input, text(b, inputs[i], "", ""));
    for (size_t i = 0; attributes && attributes[i]; i++)
        push(b, (void ***)&n->attribute, &n->n_attribute, attributes[i]);
    char *first = NULL;
    for (int k = 0; k < n_outputs; k++) {
        char suffix[32];
        snprintf(suffix, sizeof suffix, "_output_%d", k);
        char *output = text(b, n->name, suffix, "");
        push(b, (void ***)&n->output, &n->n_output, output);
        if (!first) first = output;
    }
    push(b, (void ***)&b->graph.node, &b->graph.n_node, n);
    return first ? first : "";
}

static Onnx__ValueInfoProto *value_info(xai_onnx_builder *b, const char *name, int rank,
                                        const int64_t *dims)
{
    Onnx__ValueInfoProto *v = block(b, sizeof *v);
    Onnx__TypeProto *t = block(b, sizeof *t);
    Onnx__TypeProto__Tensor *tt = block(b, sizeof *tt);
    Onnx__TensorShapeProto *s = block(b, sizeof *s);
    if (!v || !t || !tt || !s) return NULL;
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(t);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(s);
    for (int i = 0; i < rank; i++) {
        Onnx__TensorShapeProto__Dimension *d = block(b, sizeof *d);
        if (!d) return NULL;
        onnx__tensor_shape_proto__dimension__init(d);
        if (dims[i] < 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = "N";
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = dims[i];
        }
        push(b, (void ***)&s->dim, &s->n_dim, d);
    }
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = s;
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->tensor_type = tt;
    v->name = text(b, name, "", "");
    v->type = t;
    return v;
}

void xai_onnx_io(xai_onnx_builder *b, const char *input, int input_rank,
                 const int64_t *input_dims, const char *output, int output_rank,
                 const int64_t *output_dims)
{
    push(b, (void ***)&b->graph.input, &b->graph.n_input,
         value_info(b, input, input_rank, input_dims));
    push(b, (void ***)&b->graph.output, &b->graph.n_output,
         value_info(b, output, output_rank, output_dims));
}

void xai_onnx_metadata(xai_onnx_builder *b, const char *key, const char *value)
{
    Onnx__StringStringEntryProto *e = block(b, sizeof *e);
    if (!e) return;
    onnx__string_string_entry_proto__init(e);
    e->key = text(b, key, "", "");
    e->value = text(b, value, "", "");
    push(b, (void ***)&b->metadata, &b->n_metadata, e);
}

int xai_onnx_pack(xai_onnx_builder *b, int64_t opset, uint8_t **bytes, size_t *size)
{
    *bytes = NULL;
    *size = 0;
    if (b->failed) return xai_fail("out of memory while building an ONNX graph");
    Onnx__OperatorSetIdProto set = ONNX__OPERATOR_SET_ID_PROTO__INIT;
    Onnx__OperatorSetIdProto *sets[1] = {&set};
    set.domain = "";
    set.has_version = 1;
    set.version = opset;
    Onnx__ModelProto model = ONNX__MODEL_PROTO__INIT;
    model.has_ir_version = 1;
    model.ir_version = opset <= 8 ? 3 : opset <= 12 ? 6 : 7;
    model.producer_name = "xaibench";
    model.producer_version = XAI_VERSION;
    model.graph = &b->graph;
    model.n_opset_import = 1;
    model.opset_import = sets;
    model.n_metadata_props = b->n_metadata;
    model.metadata_props = b->metadata;
    *size = onnx__model_proto__get_packed_size(&model);
    if (!(*bytes = xai_malloc(*size))) return XAI_ERR;
    onnx__model_proto__pack(&model, *bytes);
    return XAI_OK;
}

int xai_onnx_write(xai_onnx_builder *b, int64_t opset, const char *path)
{
    uint8_t *bytes;
    size_t size;
    if (xai_onnx_pack(b, opset, &bytes, &size)) return xai_fail("%s: %s", path, xai_last_error());
    size_t n = strlen(path) + 9;
    char *tmp = xai_malloc(n);
    if (!tmp) {
        free(bytes);
        return XAI_ERR;
    }
    snprintf(tmp, n, "%s.partial", path);
    int status = XAI_OK;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        status = xai_fail("%s: cannot create: %s", tmp, strerror(errno));
    } else {
        int bad = fwrite(bytes, 1, size, f) != size;
        bad |= fflush(f) != 0;
        int err = errno;
        bad |= fclose(f) != 0;
        if (bad) status = xai_fail("%s: cannot write: %s", path, strerror(err ? err : errno));
        else if (rename(tmp, path) != 0) status = xai_fail("%s: cannot write: %s", path, strerror(errno));
        if (status) remove(tmp);
    }
    free(tmp);
    free(bytes);
    return status;
}
