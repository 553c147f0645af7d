/* dnnl_gradient_plan.c - where the oneDNN engine keeps each value's gradient (dnnl_internal.h).
 *
 * The backward pass runs the nodes last first, and node i touches only the gradients of its
 * output (read) and of its inputs (written or added). Value v's gradient is therefore in use
 * from the step of its last consumer down to that of its producer, the interval
 * [producer(v), last consumer(v)] of node indices, and nowhere else. Two values whose intervals
 * do not meet can hold their gradients in the same bytes: within a pass the later one's first
 * writer overwrites the whole buffer before anything reads it (every op writes each input's
 * gradient whole when it is the first to reach it: the accumulation plan already relies on that).
 * The shared gradients are laid out in one arena, the largest first, each at the lowest offset
 * free of every gradient whose interval meets its own; in a chain of layers the arena holds
 * about two of them, whatever the depth.
 *
 * A gradient keeps memory of its own, zeroed once, when something reads it outside its interval
 * or relies on bytes nobody writes: the input's (the map, read after the pass), a value the
 * caller will read (xai_engine_config.readable), a value nothing consumes (its producer reads its
 * zeros), and a layout with padding lanes (blocked channels beyond C, which some of our loops do
 * not write and the next primitive reads). */
#include <stdlib.h>
#include <string.h>

#include "dnnl_internal.h"

typedef struct {
    int value, first, last; /* the interval of node indices, first <= last */
    size_t bytes, offset;
} gradient_slot;

/* Does value v's layout have padding lanes (its buffer larger than its elements)? */
static int padded(const value_buffer *b)
{
    size_t elements = 1;
    for (int d = 0; d < b->md.ndims; d++) elements *= (size_t)b->md.dims[d];
    return elements != b->floats;
}

static int by_size_descending(const void *a, const void *b)
{
    const gradient_slot *x = a, *y = b;
    if (x->bytes != y->bytes) return x->bytes < y->bytes ? 1 : -1;
    return x->value - y->value;
}

static int by_offset(const void *a, const void *b)
{
    const gradient_slot *x = *(const gradient_slot *const *)a, *y = *(const gradient_slot *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Offsets for slots[0..n) (sorted largest first): each the lowest gap between the placed slots
 * whose intervals meet its own. Returns the arena's size in bytes. */
static size_t place_slots(gradient_slot *slots, int n, const gradient_slot **meeting)
{
    size_t arena = 0;
    for (int s = 0; s < n; s++) {
        int count = 0;
        for (int t = 0; t < s; t++)
            if (slots[t].first <= slots[s].last && slots[s].first <= slots[t].last) meeting[count++] = &slots[t];
        qsort(meeting, (size_t)count, sizeof *meeting, by_offset);
        size_t offset = 0;
        for (int t = 0; t < count; t++) {
            if (meeting[t]->offset >= offset + slots[s].bytes) break; /* the gap before it fits */
            size_t end = meeting[t]->offset + meeting[t]->bytes;
            if (end > offset) offset = end;
        }
        slots[s].offset = offset;
        if (offset + slots[s].bytes > arena) arena = offset + slots[s].bytes;
    }
    return arena;
}

/* A gradient of its own, 64-byte aligned and zeroed. */
static int own_gradient(xai_engine *e, int v, size_t bytes)
{
    value_buffer *b = &e->values[v];
    if (!(b->grad = xai_aligned_alloc(64, bytes)))
        return xai_fail("out of memory for the gradient of value '%s' (%zu bytes)", e->graph->values[v].name, bytes);
    memset(b->grad, 0, bytes);
    b->gradient_kept = 1;
    return XAI_OK;
}

int engine_place_gradients(xai_engine *e)
{
    const xai_graph *g = e->graph;
    int *first = xai_malloc((size_t)g->n_values * sizeof(int)), *last = xai_malloc((size_t)g->n_values * sizeof(int));
    gradient_slot *slots = xai_malloc((size_t)g->n_values * sizeof *slots);
    const gradient_slot **meeting = xai_malloc((size_t)g->n_values * sizeof *meeting);
    int status = first && last && slots && meeting ? XAI_OK : XAI_ERR, n = 0;
    for (int v = 0; status == XAI_OK && v < g->n_values; v++) first[v] = -1, last[v] = -1;
    for (int i = 0; status == XAI_OK && i < g->n_nodes; i++) {
        first[g->nodes[i].output] = i;
        for (int k = 0; k < g->nodes[i].n_inputs; k++) last[g->nodes[i].input[k]] = i;
    }
    if (status == XAI_OK) last[g->output] = g->n_nodes; /* the seed is written before node n - 1 runs */
    for (int v = 0; status == XAI_OK && v < g->n_values; v++) {
        value_buffer *b = &e->values[v];
        if (!b->bytes) continue; /* a value no node produces or reads */
        int kept = v == g->input || last[v] < 0 || (e->readable && e->readable[v]) || padded(b);
        if (kept) status = own_gradient(e, v, b->bytes);
        else slots[n++] = (gradient_slot){v, first[v], last[v], b->bytes, 0};
    }
    if (status == XAI_OK && n) {
        qsort(slots, (size_t)n, sizeof *slots, by_size_descending);
        e->gradient_arena_bytes = place_slots(slots, n, meeting);
        if (!(e->gradient_arena = xai_aligned_alloc(64, e->gradient_arena_bytes)))
            status = xai_fail("out of memory for the gradients (%zu bytes)", e->gradient_arena_bytes);
        else memset(e->gradient_arena, 0, e->gradient_arena_bytes);
        for (int s = 0; status == XAI_OK && s < n; s++)
            e->values[slots[s].value].grad = (float *)((char *)e->gradient_arena + slots[s].offset);
    }
    for (int v = 0; status == XAI_OK && v < g->n_values; v++)
        if (e->values[v].bytes) status = engine_memory(e, &e->values[v].grad_mem, &e->values[v].md, e->values[v].grad);
    free(first);
    free(last);
    free(slots);
    free(meeting);
    return status;
}

void xai_engine_gradient_bytes(const xai_engine *e, size_t *held, size_t *one_per_value)
{
    *held = e->gradient_arena_bytes, *one_per_value = 0;
    for (int v = 0; v < e->graph->n_values; v++) {
        *one_per_value += e->values[v].bytes;
        if (e->values[v].gradient_kept) *held += e->values[v].bytes;
    }
}
