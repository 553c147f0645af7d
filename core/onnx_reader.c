/* onnx_reader.c - turns an ONNX ModelProto into an xai_graph (its pieces: onnx_internal.h).
 *
 * Reading happens in four steps, each reporting the first problem as "FILE: node 'X' (Op): what":
 *   1. constants: initializers (raw_data or float_data, float32; int64 for Reshape shapes),
 *      Constant nodes, and graph inputs bound by the caller;
 *   2. nodes: each ONNX node becomes an xai_node, or an alias (Identity, Dropout), or folds into
 *      its neighbour (MatMul -> Gemm, Add of a constant after Gemm -> Gemm bias);
 *   3. order: Kahn's algorithm over value names, which also finds cycles and undefined inputs;
 *   4. shapes: inferred from the input's [N,C,H,W] and checked at every node; then each
 *      BatchNormalization right after a Conv is folded into that Conv's weights and bias. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_internal.h"
#include "xai_status.h"

static void free_constants(reader *r)
{
    for (int i = 0; i < r->n_constants; i++) {
        free(r->constants[i].name);
        if (!r->constants[i].given_away) free(r->constants[i].data);
        free(r->constants[i].int_data);
    }
    free(r->constants);
}

constant *onnx_find_constant(reader *r, const char *name)
{
    for (int i = 0; i < r->n_constants; i++)
        if (strcmp(r->constants[i].name, name) == 0) return &r->constants[i];
    return NULL;
}

const char *onnx_resolve_alias(const reader *r, const char *name)
{
    for (int changed = 1; changed;) {
        changed = 0;
        for (int i = 0; i < r->n_alias; i++)
            if (strcmp(r->alias_from[i], name) == 0) { name = r->alias_to[i]; changed = 1; }
    }
    return name;
}

char *onnx_copy_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *c = xai_malloc(n);
    if (c) memcpy(c, s, n);
    return c;
}

constant *onnx_add_constant(reader *r, const char *name)
{
    constant *grown = xai_realloc(r->constants, (size_t)(r->n_constants + 1) * sizeof *grown);
    if (!grown) { xai_fail("%s: out of memory", r->path); return NULL; }
    r->constants = grown;
    constant *c = &r->constants[r->n_constants];
    memset(c, 0, sizeof *c);
    if (!(c->name = onnx_copy_string(name))) return NULL;
    r->n_constants++;
    return c;
}

/* Copy a TensorProto's contents into a constant: float32 or int64, inline data only. The
 * message's raw bytes are released as soon as they are copied, so that a large model is never
 * held three times over while it loads. */
/* A tensor's `count` elements of `size` bytes, from its raw data (little-endian, as ONNX says)
 * or its typed field, into *out. The length must match the shape before anything is allocated:
 * a corrupt shape over little data must not ask for gigabytes. */
static int copy_data(const reader *r, const Onnx__TensorProto *t, const char *name, size_t count, size_t size,
                     const void *typed, size_t n_typed, const char *kind, void **out)
{
    if (t->has_raw_data && t->raw_data.len != count * size)
        return xai_fail("%s: tensor '%s' holds %zu bytes for %zu %s", r->path, name, t->raw_data.len, count, kind);
    if (!t->has_raw_data && n_typed != count)
        return xai_fail("%s: tensor '%s' holds %zu %s for shape of %zu", r->path, name, n_typed, kind, count);
    if (!(*out = xai_malloc(count * size + 1))) return XAI_ERR;
    if (count * size == 0) return XAI_OK; /* an empty tensor: its data may be no pointer at all */
    if (t->has_raw_data && onnx_file_owns(r->file, t->raw_data.data))
        onnx_file_copy(r->file, *out, t->raw_data.data, count * size);
    else memcpy(*out, t->has_raw_data ? (const void *)t->raw_data.data : typed, count * size);
    return XAI_OK;
}

static int read_tensor(reader *r, Onnx__TensorProto *t, const char *name)
{
    if (t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL || t->n_external_data)
        return xai_fail("%s: tensor '%s' keeps its data in an external file, which is not "
                        "supported (save the model with all tensors inside)", r->path, name);
    if (t->n_dims > MAX_RANK)
        return xai_fail("%s: tensor '%s' has rank %zu", r->path, name, t->n_dims);
    /* Dimensions fit an int, and their product (checked for overflow) is at most what the file
     * can hold; the data's length is matched against it below, before it is copied. */
    size_t count = 1;
    for (size_t d = 0; d < t->n_dims; d++) {
        if (t->dims[d] < 0 || t->dims[d] > INT_MAX)
            return xai_fail("%s: tensor '%s' has dimension %lld", r->path, name,
                            (long long)t->dims[d]);
        if (__builtin_mul_overflow(count, (size_t)t->dims[d], &count) || count > ((size_t)1 << 40))
            return xai_fail("%s: tensor '%s' has too many elements for its dimensions", r->path, name);
    }
    constant *c = onnx_add_constant(r, name);
    if (!c) return XAI_ERR;
    c->rank = (int)t->n_dims;
    for (int d = 0; d < c->rank; d++) c->dims[d] = t->dims[d];
    c->count = count;

    if (t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
        int status = copy_data(r, t, name, count, sizeof(float), t->float_data, t->n_float_data, "floats",
                               (void **)&c->data);
        if (status == XAI_OK && t->has_raw_data) {
            if (!onnx_file_owns(r->file, t->raw_data.data)) free(t->raw_data.data); /* malloc'ed by protobuf-c */
            t->raw_data.data = NULL;
            t->raw_data.len = 0;
        }
        return status;
    }
    if (t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64)
        return copy_data(r, t, name, count, sizeof(int64_t), t->int64_data, t->n_int64_data, "int64",
                         (void **)&c->int_data);
    return xai_fail("%s: tensor '%s' has data type %d; xaibench reads float32 weights only",
                    r->path, name, t->data_type);
}
/* ---- step 1: constants --------------------------------------------------------------------- */

static int read_constants(reader *r, Onnx__GraphProto *g, const xai_graph_options *opt)
{
    for (size_t i = 0; i < g->n_initializer; i++) {
        Onnx__TensorProto *t = g->initializer[i];
        if (!t->name || !*t->name)
            return xai_fail("%s: initializer %zu has no name", r->path, i);
        if (read_tensor(r, t, t->name)) return XAI_ERR;
    }
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *n = g->node[i];
        if (!n->op_type || strcmp(n->op_type, "Constant") != 0) continue;
        const Onnx__AttributeProto *a = onnx_find_attribute(n, "value");
        if (!a || !a->t || n->n_output != 1)
            return xai_fail("%s: Constant node %zu: only the 'value' tensor form is supported",
                            r->path, i);
        if (read_tensor(r, a->t, n->output[0])) return XAI_ERR;
    }
    for (int i = 0; opt && i < opt->n_bound; i++) {
        constant *c = onnx_add_constant(r, opt->bound_names[i]);
        if (!c) return XAI_ERR;
        c->rank = opt->bound_ranks[i];
        c->count = 1;
        for (int d = 0; d < c->rank; d++) {
            c->dims[d] = opt->bound_dims[i][d];
            c->count *= (size_t)c->dims[d];
        }
        if (!(c->data = xai_malloc(c->count * sizeof(float)))) return XAI_ERR;
        memcpy(c->data, opt->bound_data[i], c->count * sizeof(float));
    }
    return XAI_OK;
}

/* A float constant of `count` values for node input `slot`, or NULL with the error recorded. */
constant *onnx_weight_input(reader *r, const Onnx__NodeProto *n, const char *label, size_t slot)
{
    if (slot >= n->n_input || !n->input[slot][0]) {
        xai_fail("%s: %s: input %zu is missing", r->path, label, slot);
        return NULL;
    }
    constant *c = onnx_find_constant(r, onnx_resolve_alias(r, n->input[slot]));
    if (!c) {
        xai_fail("%s: %s: weight '%s' is not an initializer (missing initializer, or a "
                 "computed weight, which is not supported)", r->path, label, n->input[slot]);
        return NULL;
    }
    if (!c->data) {
        xai_fail("%s: %s: weight '%s' is not float32", r->path, label, n->input[slot]);
        return NULL;
    }
    return c;
}

float *onnx_copy_floats(const float *src, size_t count)
{
    float *dst = xai_malloc(count * sizeof(float));
    if (dst) memcpy(dst, src, count * sizeof(float));
    return dst;
}

/* A node's own copy of a constant: the constant's buffer itself for its first user, a copy for
 * any later one (weights shared between nodes). */
float *onnx_take_floats(constant *c)
{
    if (c->given_away) return onnx_copy_floats(c->data, c->count);
    c->given_away = 1;
    return c->data;
}
int onnx_add_alias(reader *r, const char *from, const char *to)
{
    const char **f = xai_realloc(r->alias_from, (size_t)(r->n_alias + 1) * sizeof *f);
    if (!f) return xai_fail("%s: out of memory", r->path);
    r->alias_from = f;
    const char **t = xai_realloc(r->alias_to, (size_t)(r->n_alias + 1) * sizeof *t);
    if (!t) return xai_fail("%s: out of memory", r->path);
    r->alias_to = t;
    r->alias_from[r->n_alias] = from;
    r->alias_to[r->n_alias] = to;
    r->n_alias++;
    return XAI_OK;
}


/* ---- step 3: order ------------------------------------------------------------------------- */

static int order_nodes(reader *r, const char *input_name)
{
    int n = r->n_nodes;
    int *done = xai_calloc((size_t)n, sizeof *done);
    pending_node *sorted = xai_malloc((size_t)(n ? n : 1) * sizeof *sorted);
    if (!done || !sorted) { free(done); free(sorted); return XAI_ERR; }
    const char **ready = xai_malloc((size_t)(n + 1) * sizeof *ready);
    if (!ready) { free(done); free(sorted); return XAI_ERR; }
    int n_ready = 0, n_sorted = 0;
    ready[n_ready++] = input_name;
    for (int progress = 1; progress && n_sorted < n;) {
        progress = 0;
        for (int i = 0; i < n; i++) {
            if (done[i]) continue;
            int ok = 1;
            for (int k = 0; k < r->nodes[i].node.n_inputs && ok; k++) {
                const char *name = onnx_resolve_alias(r, r->nodes[i].input_name[k]);
                int found = 0;
                for (int j = 0; j < n_ready && !found; j++) found = strcmp(ready[j], name) == 0;
                ok = found;
            }
            if (!ok) continue;
            done[i] = 1;
            progress = 1;
            sorted[n_sorted++] = r->nodes[i];
            ready[n_ready++] = r->nodes[i].output_name;
        }
    }
    int status = XAI_OK;
    for (int i = 0; i < n && status == XAI_OK; i++) {
        if (done[i]) continue;
        /* Tell a cycle from an input that nothing produces. */
        for (int k = 0; k < r->nodes[i].node.n_inputs; k++) {
            const char *name = onnx_resolve_alias(r, r->nodes[i].input_name[k]);
            int produced = 0;
            for (int j = 0; j < n; j++) produced |= strcmp(r->nodes[j].output_name, name) == 0;
            if (!produced) {
                status = xai_fail("%s: node '%s' (%s): input '%s' is not produced by any node, "
                                  "nor an initializer or the graph input", r->path,
                                  r->nodes[i].node.name, r->nodes[i].onnx_op, name);
                break;
            }
        }
        if (status == XAI_OK)
            status = xai_fail("%s: node '%s' (%s): the graph has a cycle through it", r->path,
                              r->nodes[i].node.name, r->nodes[i].onnx_op);
    }
    if (status == XAI_OK) memcpy(r->nodes, sorted, (size_t)n * sizeof *sorted);
    free(done);
    free(sorted);
    free(ready);
    return status;
}

static int find_value(const xai_graph *g, const char *name)
{
    for (int i = 0; i < g->n_values; i++)
        if (strcmp(g->values[i].name, name) == 0) return i;
    return -1;
}

void onnx_free_node(xai_node *n)
{
    free(n->name);
    free(n->input);
    free(n->weight);
    free(n->bias);
    free(n->bn_gamma);
    free(n->bn_beta);
    free(n->bn_mean);
    free(n->bn_var);
}

/* The image input's shape into r->input_value, once: at the first Shape node that folds, else
 * in step 4 (so that errors come in the order of the steps). */
int onnx_read_input_shape(reader *r)
{
    if (r->input_value.rank) return XAI_OK;
    const Onnx__ValueInfoProto *v = r->input;
    xai_value *value = &r->input_value;
    const Onnx__TypeProto *t = v->type;
    if (!t || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !t->tensor_type->shape)
        return xai_fail("%s: input '%s' has no tensor shape", r->path, v->name);
    const Onnx__TypeProto__Tensor *tt = t->tensor_type;
    if (tt->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
        return xai_fail("%s: input '%s' has element type %d; float32 is required", r->path,
                        v->name, tt->elem_type);
    const Onnx__TensorShapeProto *s = tt->shape;
    if (s->n_dim < 2 || s->n_dim > 4)
        return xai_fail("%s: input '%s' has rank %zu; xaibench needs an image batch "
                        "[N,C,H,W] (or [N,C,L], [N,C])", r->path, v->name, s->n_dim);
    int64_t d[4] = {1, 1, 1, 1};
    for (int k = 1; k < (int)s->n_dim; k++) {
        if (s->dim[k]->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE ||
            s->dim[k]->dim_value < 1 || s->dim[k]->dim_value > 65536)
            return xai_fail("%s: input '%s': dimension %d must be a fixed positive size",
                            r->path, v->name, k);
        d[k] = s->dim[k]->dim_value;
    }
    value->rank = (int)s->n_dim;
    value->c = (int)d[1];
    value->h = (int)d[2];
    value->w = (int)d[3];
    return XAI_OK;
}

/* Add value v's floats per image to *floats; every dimension must be positive and the sum stay
 * within `limit`, so that no engine is asked to allocate what cannot be had. */
static int count_activations(const reader *r, const xai_graph *g, int v, uint64_t limit, uint64_t *floats)
{
    const xai_value *value = &g->values[v];
    if (value->c < 1 || value->h < 1 || value->w < 1)
        return xai_fail("%s: value '%s' has an empty shape %dx%dx%d", r->path, value->name, value->c, value->h,
                        value->w);
    *floats += (uint64_t)value->c * (uint64_t)value->h * (uint64_t)value->w;
    if (*floats > limit)
        return xai_fail("%s: at value '%s' the activations of one image pass %.3g GiB, the limit (raise it with "
                        "--max-activations-gb)", r->path, value->name, (double)limit * sizeof(float) / (1 << 30));
    return XAI_OK;
}

static int build_graph(reader *r, const Onnx__ModelProto *m, xai_graph *g,
                       const xai_graph_options *opt)
{
    const Onnx__GraphProto *gp = m->graph;
    if (gp->n_output < 1 || !gp->output[0]->name)
        return xai_fail("%s: the graph has no output", r->path);

    g->values = xai_calloc((size_t)r->n_nodes + 1, sizeof *g->values);
    g->nodes = xai_calloc((size_t)r->n_nodes + 1, sizeof *g->nodes);
    if (!g->values || !g->nodes) return XAI_ERR;
    if (onnx_read_input_shape(r)) return XAI_ERR;
    g->values[0] = r->input_value;
    if (!(g->values[0].name = onnx_copy_string(r->input_value.name))) return XAI_ERR;
    g->n_values = 1;
    g->input = 0;
    uint64_t floats = 0, limit = (uint64_t)((opt && opt->max_activation_gb > 0 ? opt->max_activation_gb
                                                                               : XAI_DEFAULT_MAX_ACTIVATION_GB) *
                                             (1 << 30) / sizeof(float));
    if (count_activations(r, g, 0, limit, &floats)) return XAI_ERR;

    for (int i = 0; i < r->n_nodes; i++) {
        pending_node *p = &r->nodes[i];
        if (!(p->node.input = xai_malloc((size_t)p->node.n_inputs * sizeof *p->node.input))) return XAI_ERR;
        for (int k = 0; k < p->node.n_inputs; k++)
            p->node.input[k] = find_value(g, onnx_resolve_alias(r, p->input_name[k]));
        if (find_value(g, p->output_name) >= 0)
            return xai_fail("%s: node '%s': value '%s' is produced twice", r->path,
                            p->node.name, p->output_name);
        if (!(g->values[g->n_values].name = onnx_copy_string(p->output_name))) return XAI_ERR;
        p->node.output = g->n_values++;
        if (onnx_infer_shape(r, g, p) || count_activations(r, g, p->node.output, limit, &floats)) return XAI_ERR;
        g->nodes[g->n_nodes] = p->node;
        memset(&p->node, 0, sizeof p->node); /* ownership moved to the graph */
        g->n_nodes++;
    }
    const char *output = onnx_resolve_alias(r, gp->output[0]->name);
    g->output = find_value(g, output);
    if (g->output < 0)
        return xai_fail("%s: graph output '%s' is not produced by any node", r->path, output);
    if (!(opt && opt->keep_batchnorm) && onnx_fold_batchnorm(g)) return XAI_ERR;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op == XAI_OP_CLIP)
            g->nodes[i].plain_gradient = g->nodes[i].clip_min != 0.f || (opt && opt->relu_only_rules);
    return XAI_OK;
}

static int read_model(reader *r, const Onnx__ModelProto *m, xai_graph *g,
                      const xai_graph_options *opt)
{
    if (!m->graph) return xai_fail("%s: the model has no graph", r->path);
    r->opset = -1;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = m->opset_import[i];
        if (!o->domain || !*o->domain || strcmp(o->domain, "ai.onnx") == 0) r->opset = o->version;
    }
    if (r->opset < 0) return xai_fail("%s: the model declares no ONNX opset", r->path);
    if (r->opset < 1 || r->opset > 18)
        return xai_fail("%s: opset %lld is not supported (1 to 18 are)", r->path,
                        (long long)r->opset);
    g->opset = r->opset;
    if (m->n_metadata_props) {
        g->metadata = xai_calloc(m->n_metadata_props, sizeof *g->metadata);
        if (!g->metadata) return XAI_ERR;
        for (size_t i = 0; i < m->n_metadata_props; i++) {
            const Onnx__StringStringEntryProto *e = m->metadata_props[i];
            g->metadata[i].key = onnx_copy_string(e->key ? e->key : "");
            g->metadata[i].value = onnx_copy_string(e->value ? e->value : "");
            g->n_metadata++;
            if (!g->metadata[i].key || !g->metadata[i].value) return XAI_ERR;
        }
    }
    if (read_constants(r, m->graph, opt)) return XAI_ERR;
    /* The image input, the one graph input that is not a constant (its shape is read when first
     * needed: folding a Shape node needs the shapes of the values before it). */
    const Onnx__GraphProto *gp = m->graph;
    const Onnx__ValueInfoProto *input = NULL;
    for (size_t i = 0; i < gp->n_input; i++) {
        if (!gp->input[i]->name || onnx_find_constant(r, gp->input[i]->name)) continue;
        if (input)
            return xai_fail("%s: the graph has several inputs ('%s', '%s'); xaibench needs one "
                            "image input", r->path, input->name, gp->input[i]->name);
        input = gp->input[i];
    }
    if (!input) return xai_fail("%s: the graph has no input", r->path);
    r->input = input;
    r->input_value.name = input->name;
    size_t capacity = 1; /* a Split makes a node per output */
    for (size_t i = 0; i < m->graph->n_node; i++)
        capacity += m->graph->node[i]->n_output > 1 ? m->graph->node[i]->n_output : 1;
    r->nodes = xai_calloc(capacity, sizeof *r->nodes);
    r->skip = xai_calloc(m->graph->n_node + 1, 1);
    r->early = xai_calloc(capacity, sizeof *r->early);
    if (!r->nodes || !r->skip || !r->early) return XAI_ERR;
    for (size_t i = 0; i < m->graph->n_node; i++)
        if (onnx_convert_node(r, m->graph, i)) return XAI_ERR;
    if (r->n_nodes == 0) return xai_fail("%s: the graph has no nodes", r->path);
    const char *input_name = input->name;
    if (order_nodes(r, input_name)) return XAI_ERR;
    return build_graph(r, m, g, opt);
}

void xai_graph_free(xai_graph *g)
{
    if (!g) return;
    for (int i = 0; i < g->n_nodes; i++) onnx_free_node(&g->nodes[i]);
    for (int i = 0; i < g->n_values; i++) free(g->values[i].name);
    for (int i = 0; i < g->n_metadata; i++) {
        free(g->metadata[i].key);
        free(g->metadata[i].value);
    }
    free(g->metadata);
    free(g->nodes);
    free(g->values);
    free(g->path);
    free(g);
}

/* Build the graph from the model unpacked from file f, then free the model and unmap the file. */
static int parse_model(xai_graph **out, onnx_file *f, Onnx__ModelProto *m, const char *path,
                       const xai_graph_options *options)
{
    reader r = {.path = path, .file = f};
    xai_graph *g = xai_calloc(1, sizeof *g);
    int status = g && (g->path = onnx_copy_string(path)) ? read_model(&r, m, g, options) : XAI_ERR;
    for (int i = 0; i < r.n_nodes; i++) {
        onnx_free_node(&r.nodes[i].node);
        free(r.nodes[i].input_name);
    }
    free(r.nodes);
    free(r.skip);
    free(r.early);
    free(r.alias_from);
    free(r.alias_to);
    free_constants(&r);
    onnx_file_close(f, m);
    if (status) {
        xai_graph_free(g);
        return XAI_ERR;
    }
    *out = g;
    return XAI_OK;
}

int xai_graph_load(xai_graph **out, const char *path, const xai_graph_options *options)
{
    *out = NULL;
    onnx_file f;
    Onnx__ModelProto *m = onnx_file_unpack(&f, path);
    return m ? parse_model(out, &f, m, path, options) : XAI_ERR;
}
