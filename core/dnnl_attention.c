/* dnnl_attention.c - the ops of attention blocks on the oneDNN engine (dnnl_internal.h), as oneDNN
 * primitives over plain NCHW values:
 *   MatMul of two values, Y = A B over batch x groups matrices [m,k] x [k,p], an operand of one
 *     group serving every group (oneDNN broadcasts it); backward dA (+)= dY B^T and
 *     dB (+)= A^T dY, the transposes read through strides, adding through a sum post-op. The
 *     gradient of a B that served every group is one product (A's groups and rows read as one
 *     long row axis); that of such an A is one product per group, each added in turn;
 *   Softmax over a run of per-image axes, the value seen as [batch x outer, length, inner]:
 *     y = exp(x - max) / sum exp(x - max), backward dx (+)= y (dy - sum(dy y)).
 * An input kept in a blocked layout (a convolution's output) is read through a plain stand-in
 * (dnnl_stand_in.c). */
#include <string.h>

#include "dnnl_internal.h"

/* The MatMul's memories: the forward's, dA's product (dY, B^T) and dB's (A^T, dY). */
enum { A, B, Y, DY_A, B_T, DA, A_T, DY_B, DB, MATMUL_OPERANDS };

/* [batch, groups, rows, columns] over a plain buffer with images `image` floats apart and groups
 * rows x columns apart, or (transposed) over matrices stored [columns][rows]. */
static int matrices_md(dnnl_memory_desc_t *md, int64_t batch, int64_t groups, int64_t rows, int64_t columns,
                       int64_t image, int transposed)
{
    dnnl_dims_t dims = {batch, groups, rows, columns};
    dnnl_dims_t strides = {image, rows * columns, transposed ? 1 : columns, transposed ? rows : 1};
    CHECK(dnnl_memory_desc_init_by_strides(md, 4, dims, dnnl_f32, strides), "matmul memory descriptor");
    return XAI_OK;
}

/* ---- MatMul of two values ---------------------------------------------------------------- */

typedef struct {
    int groups, a_groups, b_groups, m, k, p;
} matmul_shape;

static matmul_shape shape_of(const xai_engine *e, int i)
{
    const xai_graph *g = e->graph;
    const xai_value *a = &g->values[g->nodes[i].input[0]], *b = &g->values[g->nodes[i].input[1]];
    matmul_shape s = {.a_groups = xai_matmul_groups(a), .b_groups = xai_matmul_groups(b)};
    xai_matmul_dims(a, b, &s.groups, &s.m, &s.k, &s.p);
    return s;
}

/* dA one group at a time: A has one group and the output more. */
static int a_per_group(const matmul_shape *s) { return s->a_groups < s->groups; }

int engine_setup_matmul_values(xai_engine *e, int i)
{
    const xai_node *n = &e->graph->nodes[i];
    node_exec *x = &e->exec[i];
    matmul_shape s = shape_of(e, i);
    int64_t N = e->batch, G = s.groups, ga = s.a_groups, gb = s.b_groups, m = s.m, k = s.k, p = s.p;
    dnnl_memory_desc_t md[MATMUL_OPERANDS];
    int status = engine_stand_ins(e, i, 0) || matrices_md(&md[A], N, ga, m, k, ga * m * k, 0) ||
                 matrices_md(&md[B], N, gb, k, p, gb * k * p, 0) || matrices_md(&md[Y], N, G, m, p, G * m * p, 0);
    if (!status && a_per_group(&s)) /* group g's dY and B^T; the handles move from group to group */
        status = matrices_md(&md[DY_A], N, 1, m, p, G * m * p, 0) || matrices_md(&md[B_T], N, 1, p, k, G * k * p, 1) ||
                 matrices_md(&md[DA], N, 1, m, k, m * k, 0);
    else if (!status)
        status = matrices_md(&md[DY_A], N, G, m, p, G * m * p, 0) || matrices_md(&md[B_T], N, gb, p, k, gb * k * p, 1) ||
                 matrices_md(&md[DA], N, G, m, k, G * m * k, 0);
    if (!status && gb < G) /* every group's rows of A as one axis of G x m rows */
        status = matrices_md(&md[A_T], N, 1, k, G * m, G * m * k, 1) ||
                 matrices_md(&md[DY_B], N, 1, G * m, p, G * m * p, 0) || matrices_md(&md[DB], N, 1, k, p, k * p, 0);
    else if (!status)
        status = matrices_md(&md[A_T], N, ga, k, m, ga * m * k, 1) || matrices_md(&md[DY_B], N, G, m, p, G * m * p, 0) ||
                 matrices_md(&md[DB], N, G, k, p, G * k * p, 0);
    if (status) return XAI_ERR;
    int sum[2] = {a_per_group(&s) || (x->accumulate[0] && !x->stand_in[0].grad),
                  x->accumulate[1] && !x->stand_in[1].grad};
    if (engine_matmul_primitive(e, &md[A], &md[B], NULL, &md[Y], 0, &x->forward, &x->scratch_md[0]) ||
        engine_matmul_primitive(e, &md[DY_A], &md[B_T], NULL, &md[DA], sum[0], &x->backward, &x->scratch_md[1]) ||
        engine_matmul_primitive(e, &md[A_T], &md[DY_B], NULL, &md[DB], sum[1], &x->backward_rhs, &x->scratch_md[2]))
        return XAI_ERR;
    value_buffer *y = &e->values[n->output];
    float *a = engine_input_data(e, i, 0), *b = engine_input_data(e, i, 1);
    float *over[MATMUL_OPERANDS] = {a, b, y->data, y->grad, b, engine_input_grad(e, i, 0), a, y->grad,
                                    engine_input_grad(e, i, 1)};
    for (int t = 0; t < MATMUL_OPERANDS; t++)
        if (engine_memory(e, &x->operand[t], &md[t], over[t])) return XAI_ERR;
    return XAI_OK;
}

/* Execute prim with src, weights and dst, and its scratchpad when it has one. */
static int run_matmul(xai_engine *e, int i, dnnl_primitive_t prim, int src, int weights, int dst, int scratch)
{
    node_exec *x = &e->exec[i];
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, x->operand[src]}, {DNNL_ARG_WEIGHTS, x->operand[weights]},
                               {DNNL_ARG_DST, x->operand[dst]}, {DNNL_ARG_SCRATCHPAD, x->scratch[scratch]}};
    CHECK(dnnl_primitive_execute(prim, e->stream, x->scratch[scratch] ? 4 : 3, args), e->graph->nodes[i].name);
    return XAI_OK;
}

/* dA (+)= sum over the groups g of dY_g B_g^T, for an A of one group: zeroed first unless it
 * accumulates, then each group's product added (the backward primitive sums). */
static int backward_per_group(xai_engine *e, int i, const matmul_shape *s)
{
    node_exec *x = &e->exec[i];
    float *dy = e->values[e->graph->nodes[i].output].grad, *b = engine_input_data(e, i, 1);
    if (!(x->accumulate[0] && !x->stand_in[0].grad))
        memset(engine_input_grad(e, i, 0), 0, (size_t)e->batch * s->m * s->k * sizeof(float));
    for (int g = 0; g < s->groups; g++) {
        CHECK(dnnl_stream_wait(e->stream), e->graph->nodes[i].name); /* the last product has read the handles */
        CHECK(dnnl_memory_set_data_handle(x->operand[DY_A], dy + (size_t)g * s->m * s->p), "matmul handle");
        CHECK(dnnl_memory_set_data_handle(x->operand[B_T], b + (size_t)g * s->k * s->p), "matmul handle");
        if (run_matmul(e, i, x->backward, DY_A, B_T, DA, 1)) return XAI_ERR;
    }
    return XAI_OK;
}

int kernel_matmul_values_forward(xai_engine *e, int i)
{
    return engine_stand_ins_in(e, i) || run_matmul(e, i, e->exec[i].forward, A, B, Y, 0) ? XAI_ERR : XAI_OK;
}

int kernel_matmul_values_backward(xai_engine *e, int i)
{
    node_exec *x = &e->exec[i];
    matmul_shape s = shape_of(e, i);
    int status = a_per_group(&s) ? backward_per_group(e, i, &s) : run_matmul(e, i, x->backward, DY_A, B_T, DA, 1);
    return status || run_matmul(e, i, x->backward_rhs, A_T, DY_B, DB, 2) || engine_stand_ins_back(e, i) ? XAI_ERR
                                                                                                          : XAI_OK;
}

/* ---- Softmax ------------------------------------------------------------------------------ */

int engine_setup_softmax(xai_engine *e, int i)
{
    const xai_graph *g = e->graph;
    const xai_node *n = &g->nodes[i];
    const xai_value *in = &g->values[n->input[0]];
    node_exec *x = &e->exec[i];
    int dims[3] = {in->c, in->h, in->w};
    size_t outer, length, inner;
    xai_softmax_dims(n->reduce_axes, dims, &outer, &length, &inner);
    dnnl_dims_t view = {(int64_t)e->batch * (int64_t)outer, (int64_t)length, (int64_t)inner};
    dnnl_memory_desc_t md;
    CHECK(dnnl_memory_desc_init_by_tag(&md, 3, view, dnnl_f32, dnnl_abc), "softmax memory descriptor");
    if (engine_stand_ins(e, i, 1)) return XAI_ERR;
    dnnl_softmax_v2_desc_t forward, backward;
    dnnl_primitive_desc_t fpd = NULL, bpd = NULL;
    dnnl_status_t s = dnnl_softmax_v2_forward_desc_init(&forward, dnnl_forward_training, dnnl_softmax_accurate, &md,
                                                        &md, 1);
    if (s == dnnl_success) s = dnnl_softmax_v2_backward_desc_init(&backward, dnnl_softmax_accurate, &md, &md, &md, 1);
    if (s == dnnl_success) s = dnnl_primitive_desc_create(&fpd, &forward, NULL, e->dnnl, NULL);
    if (s == dnnl_success) s = dnnl_primitive_desc_create(&bpd, &backward, NULL, e->dnnl, fpd);
    if (s == dnnl_success) s = dnnl_primitive_create(&x->forward, fpd);
    if (s == dnnl_success) s = dnnl_primitive_create(&x->backward, bpd);
    if (fpd) dnnl_primitive_desc_destroy(fpd);
    if (bpd) dnnl_primitive_desc_destroy(bpd);
    CHECK(s, "softmax primitive");
    float *over[3] = {engine_input_data(e, i, 0), e->values[n->output].data, e->values[n->output].grad};
    for (int t = 0; t < 3; t++)
        if (engine_memory(e, &x->operand[t], &md, over[t])) return XAI_ERR;
    return engine_memory(e, &x->operand[3], &md, engine_input_grad(e, i, 0));
}

int kernel_softmax_forward(xai_engine *e, int i)
{
    node_exec *x = &e->exec[i];
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_SRC, x->operand[0]}, {DNNL_ARG_DST, x->operand[1]}};
    if (engine_stand_ins_in(e, i)) return XAI_ERR;
    CHECK(dnnl_primitive_execute(x->forward, e->stream, 2, args), e->graph->nodes[i].name);
    return XAI_OK;
}

int kernel_softmax_backward(xai_engine *e, int i)
{
    node_exec *x = &e->exec[i];
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_DST, x->operand[1]}, {DNNL_ARG_DIFF_DST, x->operand[2]},
                               {DNNL_ARG_DIFF_SRC, x->operand[3]}};
    CHECK(dnnl_primitive_execute(x->backward, e->stream, 3, args), e->graph->nodes[i].name);
    return engine_stand_ins_back(e, i);
}
