/* dnnl_binary.c - the engine's loops for the elementwise ops of two values (dnnl_internal.h):
 * Mul, Sub, Div, and Add where an input broadcasts (NumPy's rules over the per-image axes: an
 * [N,C,1,1] gate, an [N,1,H,W] mask), forward and backward with their true gradients, over the
 * values' layouts. */
#include "dnnl_internal.h"

/* y = a op b */
static inline float apply(xai_op op, float a, float b)
{
    return op == XAI_OP_MUL ? a * b : op == XAI_OP_ADD ? a + b : op == XAI_OP_SUB ? a - b : a / b;
}

/* d(a op b) / d(input k) */
static inline float partial(xai_op op, int k, float a, float b)
{
    switch (op) {
    case XAI_OP_MUL: return k ? a : b;
    case XAI_OP_SUB: return k ? -1.f : 1.f;
    case XAI_OP_DIV: return k ? -a / (b * b) : 1.f / b;
    default: return 1.f; /* ADD */
    }
}

/* Does input k broadcast (have one value along an axis where the output has more)? */
static int broadcasts(const xai_graph *g, const xai_node *n, int k)
{
    const xai_value *v = &g->values[n->input[k]], *out = &g->values[n->output];
    return v->c != out->c || v->h != out->h || v->w != out->w;
}

/* Do both inputs have the output's shape and layout (one flat loop serves)? */
static int flat(const xai_engine *e, const xai_node *n)
{
    const dnnl_memory_desc_t *y = &e->values[n->output].md;
    return !broadcasts(e->graph, n, 0) && !broadcasts(e->graph, n, 1) &&
           dnnl_memory_desc_equal(&e->values[n->input[0]].md, y) && dnnl_memory_desc_equal(&e->values[n->input[1]].md, y);
}

/* The input of a Mul that is a [C,1,1] gate over the other's planes (squeeze-and-excitation),
 * or -1. */
static int gate_input(const xai_graph *g, const xai_node *n)
{
    if (n->op != XAI_OP_MUL) return -1;
    const xai_value *out = &g->values[n->output];
    for (int k = 0; k < 2; k++) {
        const xai_value *v = &g->values[n->input[k]], *other = &g->values[n->input[1 - k]];
        if (v->c == out->c && v->h == 1 && v->w == 1 && out->h * out->w > 1 && !broadcasts(g, n, 1 - k) &&
            other->rank == out->rank)
            return k;
    }
    return -1;
}

/* Mul by a gate, plane by plane with the gate's value read once: y = x g, and backward dx (+)=
 * dy g and dg (+)= the sum over the plane of dy x. */
static void gate_pass(xai_engine *e, int i, int k, int backward)
{
    const xai_graph *g = e->graph;
    const xai_node *n = &g->nodes[i];
    const value_buffer *gate = &e->values[n->input[k]], *x = &e->values[n->input[1 - k]];
    value_buffer *y = &e->values[n->output];
    const xai_value *out = &g->values[n->output];
    float *gate_grad = e->values[n->input[k]].grad, *x_grad = e->values[n->input[1 - k]].grad;
    int add_gate = e->exec[i].accumulate[k], add_x = e->exec[i].accumulate[1 - k];
#pragma omp parallel for collapse(2) schedule(static)
    for (int im = 0; im < e->batch; im++)
        for (int c = 0; c < out->c; c++) {
            size_t at = offset_of(&gate->lay, im, c, 0, 0);
            float gv = gate->data[at], sum = 0.f;
            for (int r = 0; r < out->h; r++)
                for (int q = 0; q < out->w; q++) {
                    size_t xo = offset_of(&x->lay, im, c, r, q), yo = offset_of(&y->lay, im, c, r, q);
                    if (!backward) {
                        y->data[yo] = x->data[xo] * gv;
                        continue;
                    }
                    float dy = y->grad[yo];
                    sum += dy * x->data[xo];
                    x_grad[xo] = add_x ? x_grad[xo] + dy * gv : dy * gv;
                }
            if (backward) gate_grad[at] = add_gate ? gate_grad[at] + sum : sum;
        }
}

/* Coordinate `at` of an output axis on an input's axis of `size` (1: broadcast). */
static inline int along(int size, int at) { return size == 1 ? 0 : at; }

/* Where output element (im, c, r, q) reads input v (buffer b). */
static inline size_t read_at(const value_buffer *b, const xai_value *v, int im, int c, int r, int q)
{
    return offset_of(&b->lay, im, along(v->c, c), along(v->h, r), along(v->w, q));
}

int kernel_binary_forward(xai_engine *e, int i)
{
    const xai_graph *g = e->graph;
    const xai_node *n = &g->nodes[i];
    const value_buffer *a = &e->values[n->input[0]], *b = &e->values[n->input[1]];
    value_buffer *y = &e->values[n->output];
    const xai_value *out = &g->values[n->output], *va = &g->values[n->input[0]], *vb = &g->values[n->input[1]];
    xai_op op = n->op;
    if (flat(e, n)) {
        const float *restrict pa = a->data, *restrict pb = b->data;
        float *restrict py = y->data;
        if (op == XAI_OP_MUL) {
#pragma omp parallel for simd schedule(static) if (y->floats > 65536)
            for (size_t k = 0; k < y->floats; k++) py[k] = pa[k] * pb[k];
        } else { /* 0 / b is 0 even for b = 0: the padding lanes of a blocked layout stay zero */
#pragma omp parallel for simd schedule(static) if (y->floats > 65536)
            for (size_t k = 0; k < y->floats; k++) py[k] = op == XAI_OP_DIV && pa[k] == 0.f ? 0.f : apply(op, pa[k], pb[k]);
        }
        return XAI_OK;
    }
    int gate = gate_input(g, n);
    if (gate >= 0) {
        gate_pass(e, i, gate, 0);
        return XAI_OK;
    }
#pragma omp parallel for collapse(2) schedule(static)
    for (int im = 0; im < e->batch; im++)
        for (int c = 0; c < out->c; c++)
            for (int r = 0; r < out->h; r++)
                for (int q = 0; q < out->w; q++)
                    y->data[offset_of(&y->lay, im, c, r, q)] =
                        apply(op, a->data[read_at(a, va, im, c, r, q)], b->data[read_at(b, vb, im, c, r, q)]);
    return XAI_OK;
}

/* d(input k) (+)= dy * d(a op b) / d(input k), summed over the output elements that an element
 * of input k was broadcast to: each input element gathers its own sum, so no two threads write
 * one element. */
int kernel_binary_backward(xai_engine *e, int i)
{
    const xai_graph *g = e->graph;
    const xai_node *n = &g->nodes[i];
    const value_buffer *y = &e->values[n->output], *in[2] = {&e->values[n->input[0]], &e->values[n->input[1]]};
    const xai_value *out = &g->values[n->output], *v[2] = {&g->values[n->input[0]], &g->values[n->input[1]]};
    xai_op op = n->op;
    int gate = gate_input(g, n);
    if (gate >= 0) {
        gate_pass(e, i, gate, 1);
        return XAI_OK;
    }
    for (int k = 0; k < 2; k++) {
        float *grad = e->values[n->input[k]].grad;
        int accumulate = e->exec[i].accumulate[k];
        if (flat(e, n)) {
            float *restrict d = grad;
            const float *restrict dy = y->grad, *restrict pa = in[0]->data, *restrict pb = in[1]->data;
            if (op == XAI_OP_MUL) {
                const float *restrict other = k ? pa : pb;
#pragma omp parallel for simd schedule(static) if (y->floats > 65536)
                for (size_t j = 0; j < y->floats; j++) d[j] = accumulate ? d[j] + dy[j] * other[j] : dy[j] * other[j];
            } else {
#pragma omp parallel for simd schedule(static) if (y->floats > 65536)
                for (size_t j = 0; j < y->floats; j++) {
                    float sent = dy[j] == 0.f ? 0.f : dy[j] * partial(op, k, pa[j], pb[j]); /* padding: 0 */
                    d[j] = accumulate ? d[j] + sent : sent;
                }
            }
            continue;
        }
        /* the output's range along each axis that one element of input k covers */
        const xai_value *vs = v[k];
        int span_c = vs->c == 1 ? out->c : 1, span_h = vs->h == 1 ? out->h : 1, span_w = vs->w == 1 ? out->w : 1;
#pragma omp parallel for collapse(2) schedule(static)
        for (int im = 0; im < e->batch; im++)
            for (int cs = 0; cs < vs->c; cs++)
                for (int rs = 0; rs < vs->h; rs++)
                    for (int qs = 0; qs < vs->w; qs++) {
                        float sum = 0.f;
                        for (int c = cs; c < cs + span_c; c++)
                            for (int r = rs; r < rs + span_h; r++)
                                for (int q = qs; q < qs + span_w; q++)
                                    sum += y->grad[offset_of(&y->lay, im, c, r, q)] *
                                           partial(op, k, in[0]->data[read_at(in[0], v[0], im, c, r, q)],
                                                   in[1]->data[read_at(in[1], v[1], im, c, r, q)]);
                        float *d = &grad[offset_of(&e->values[n->input[k]].lay, im, cs, rs, qs)];
                        *d = accumulate ? *d + sum : sum;
                    }
    }
    return XAI_OK;
}
