/* dnnl_primitives.c - the oneDNN plumbing the engine's files share (dnnl_internal.h): layouts
 * and descriptors, memories, reorders. */
#include <stdio.h>

#include "dnnl_internal.h"

int engine_layout_of(const dnnl_memory_desc_t *md, layout *out, const char *what)
{
    if (md->format_kind != dnnl_blocked)
        return xai_fail("oneDNN: %s: unexpected memory format kind", what);
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    out->block = 1;
    if (b->inner_nblks == 1 && b->inner_idxs[0] == 1) out->block = (int)b->inner_blks[0];
    else if (b->inner_nblks != 0)
        return xai_fail("oneDNN: %s: a layout with %d inner blocks is not handled", what,
                        b->inner_nblks);
    out->sn = (size_t)b->strides[0];
    out->scb = (size_t)b->strides[1];
    out->sh = md->ndims == 4 ? (size_t)b->strides[2] : 0;
    out->sw = md->ndims == 4 ? (size_t)b->strides[3] : 0;
    return XAI_OK;
}


/* A descriptor for `dims` in the same kind of layout as `like` (plain NCHW, NHWC or nChw{b}c). */
int engine_md_like(dnnl_memory_desc_t *md, const dnnl_memory_desc_t *like, const layout *l,
                   const dnnl_dims_t dims)
{
    dnnl_format_tag_t tag;
    if (l->block == 8) tag = dnnl_nChw8c;
    else if (l->block == 16) tag = dnnl_nChw16c;
    else if (l->block == 4) tag = dnnl_nChw4c;
    else if (l->block == 1 && l->sw == (size_t)like->dims[1] && like->dims[1] > 1) tag = dnnl_nhwc;
    else tag = dnnl_nchw;
    CHECK(dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, tag), "memory descriptor");
    return XAI_OK;
}

/* ---- primitives ---------------------------------------------------------------------------- */

/* Rank 3 [N,C,L] is held as [N,C,L,1]. */
int engine_plain_md(dnnl_memory_desc_t *md, const xai_value *v, int batch)
{
    dnnl_dims_t d4 = {batch, v->c, v->h, v->w}, d2 = {batch, v->c};
    CHECK(v->rank >= 3 ? dnnl_memory_desc_init_by_tag(md, 4, d4, dnnl_f32, dnnl_nchw)
                       : dnnl_memory_desc_init_by_tag(md, 2, d2, dnnl_f32, dnnl_nc),
          "memory descriptor");
    return XAI_OK;
}


int engine_make_reorder(xai_engine *e, reorder *r, dnnl_memory_t src, dnnl_memory_t dst,
                        int accumulate)
{
    const dnnl_memory_desc_t *smd, *dmd;
    CHECK(dnnl_memory_get_memory_desc(src, &smd), "memory query");
    CHECK(dnnl_memory_get_memory_desc(dst, &dmd), "memory query");
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    dnnl_status_t s = dnnl_success;
    if (accumulate) {
        s = dnnl_primitive_attr_create(&attr);
        if (s == dnnl_success) s = dnnl_post_ops_create(&ops);
        if (s == dnnl_success) s = dnnl_post_ops_append_sum(ops, 1.f);
        if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(attr, ops);
    }
    dnnl_primitive_desc_t pd = NULL;
    if (s == dnnl_success) s = dnnl_reorder_primitive_desc_create(&pd, smd, e->dnnl, dmd, e->dnnl, attr);
    if (ops) dnnl_post_ops_destroy(ops);
    if (attr) dnnl_primitive_attr_destroy(attr);
    CHECK(s, "reorder descriptor");
    s = dnnl_primitive_create(&r->prim, pd);
    dnnl_primitive_desc_destroy(pd);
    if (s != dnnl_success) r->prim = NULL;
    CHECK(s, "reorder");
    r->src = src;
    r->dst = dst;
    return XAI_OK;
}

int engine_run_reorder(xai_engine *e, const reorder *r)
{
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, r->src}, {DNNL_ARG_TO, r->dst}};
    CHECK(dnnl_primitive_execute(r->prim, e->stream, 2, args), "reorder");
    return XAI_OK;
}

void engine_destroy_reorder(reorder *r)
{
    if (r->prim) dnnl_primitive_destroy(r->prim);
    r->prim = NULL;
}

int engine_memory(xai_engine *e, dnnl_memory_t *m, const dnnl_memory_desc_t *md, void *handle)
{
    CHECK(dnnl_memory_create(m, md, e->dnnl, handle ? handle : DNNL_MEMORY_ALLOCATE), "memory");
    return XAI_OK;
}

const char *engine_impl_name(const_dnnl_primitive_desc_t pd)
{
    const char *name = "?";
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name);
    return name;
}

int engine_bind_scratchpads(xai_engine *e, int i)
{
    node_exec *x = &e->exec[i];
    for (int k = 0; k < 3; k++)
        if (dnnl_memory_desc_get_size(&x->scratch_md[k]) &&
            engine_memory(e, &x->scratch[k], &x->scratch_md[k], e->scratchpad))
            return XAI_ERR;
    return XAI_OK;
}

/* What an op of oneDNN primitives holds (engine_ops' destroy step of MatMul of values, Softmax and
 * LayerNormalization): its primitives, memories, scratchpads and stand-ins. */
int engine_forward_backward(xai_engine *e, int i, const_dnnl_op_desc_t forward, const_dnnl_op_desc_t backward,
                            dnnl_memory_desc_t *workspace, const char *what)
{
    node_exec *x = &e->exec[i];
    dnnl_primitive_desc_t fpd = NULL, bpd = NULL;
    dnnl_status_t s = dnnl_primitive_desc_create(&fpd, forward, NULL, e->dnnl, NULL);
    if (s == dnnl_success) s = dnnl_primitive_desc_create(&bpd, backward, NULL, e->dnnl, fpd);
    if (s == dnnl_success) s = dnnl_primitive_create(&x->forward, fpd);
    if (s == dnnl_success) s = dnnl_primitive_create(&x->backward, bpd);
    if (s == dnnl_success) x->impl[0] = engine_impl_name(fpd), x->impl[1] = engine_impl_name(bpd);
    if (s == dnnl_success && workspace) *workspace = *dnnl_primitive_desc_query_md(fpd, dnnl_query_workspace_md, 0);
    if (fpd) dnnl_primitive_desc_destroy(fpd);
    if (bpd) dnnl_primitive_desc_destroy(bpd);
    CHECK(s, what);
    return XAI_OK;
}

void engine_primitive_op_destroy(xai_engine *e, int i)
{
    node_exec *x = &e->exec[i];
    if (x->forward) dnnl_primitive_destroy(x->forward);
    if (x->backward) dnnl_primitive_destroy(x->backward);
    if (x->backward_rhs) dnnl_primitive_destroy(x->backward_rhs);
    for (size_t t = 0; t < sizeof x->operand / sizeof *x->operand; t++)
        if (x->operand[t]) dnnl_memory_destroy(x->operand[t]);
    for (int k = 0; k < 3; k++)
        if (x->scratch[k]) dnnl_memory_destroy(x->scratch[k]);
    engine_destroy_reorder(&x->diff_src_reorder);
    engine_stand_ins_destroy(e, i);
}
