/* backend.c - the engines behind xai_backend.h: the oneDNN engine as it is, the reference
 * engines with float32 at the boundary. */
#include <stdlib.h>

#include "xai_backend.h"
#include "xai_reference.h"
#include "xai_status.h"

static int engine_forward(xai_backend *b, const float *input, float *logits)
{
    return xai_engine_forward(b->engine, input, logits);
}

static int engine_backward(xai_backend *b, const xai_rule *rule, const float *seed, float *map, int stop_value)
{
    return xai_engine_backward_seeded(b->engine, rule, seed, map, stop_value);
}

static int engine_read(xai_backend *b, int value, float *activation, float *gradient)
{
    return xai_engine_read_value(b->engine, value, activation, gradient);
}

void xai_backend_of_engine(xai_backend *b, xai_engine *e)
{
    *b = (xai_backend){.batch = xai_engine_batch(e), .classes = xai_engine_classes(e), .forward = engine_forward,
                       .backward = engine_backward, .read_value = engine_read, .engine = e};
    b->graph = xai_engine_graph(e);
}

/* The double reference and buffers to convert through, the largest value's size. */
typedef struct {
    xai_reference *ref;
    double *a, *b;
    size_t largest; /* floats of the largest value, whole batch */
} double_reference;

static void to_double(const float *from, double *to, size_t n)
{
    for (size_t k = 0; k < n; k++) to[k] = from[k];
}

static void to_float(const double *from, float *to, size_t n)
{
    for (size_t k = 0; k < n; k++) to[k] = (float)from[k];
}

static size_t value_floats(const xai_backend *b, int v)
{
    return (size_t)b->batch * xai_value_size(&b->graph->values[v]);
}

static int double_forward(xai_backend *b, const float *input, float *logits)
{
    double_reference *d = b->engine;
    to_double(input, d->a, value_floats(b, b->graph->input));
    if (xai_reference_forward(d->ref, d->a, d->b)) return XAI_ERR;
    if (logits) to_float(d->b, logits, (size_t)b->batch * b->classes);
    return XAI_OK;
}

static int double_backward(xai_backend *b, const xai_rule *rule, const float *seed, float *map, int stop_value)
{
    double_reference *d = b->engine;
    to_double(seed, d->b, (size_t)b->batch * b->classes);
    if (xai_reference_backward_seeded(d->ref, rule, d->b, d->a, stop_value)) return XAI_ERR;
    if (stop_value < 0) to_float(d->a, map, value_floats(b, b->graph->input));
    return XAI_OK;
}

static int double_read(xai_backend *b, int value, float *activation, float *gradient)
{
    double_reference *d = b->engine;
    if (xai_reference_read_value(d->ref, value, activation ? d->a : NULL, gradient ? d->b : NULL)) return XAI_ERR;
    size_t n = b->graph && value >= 0 && value < b->graph->n_values ? value_floats(b, value) : 0;
    if (activation) to_float(d->a, activation, n);
    if (gradient) to_float(d->b, gradient, n);
    return XAI_OK;
}

static void double_destroy(xai_backend *b)
{
    double_reference *d = b->engine;
    if (!d) return;
    xai_reference_destroy(d->ref);
    free(d->a), free(d->b), free(d);
}

static int float_forward(xai_backend *b, const float *input, float *logits)
{
    return xai_reference_f32_forward(b->engine, input, logits);
}

static int float_backward(xai_backend *b, const xai_rule *rule, const float *seed, float *map, int stop_value)
{
    return xai_reference_f32_backward_seeded(b->engine, rule, seed, map, stop_value);
}

static int float_read(xai_backend *b, int value, float *activation, float *gradient)
{
    return xai_reference_f32_read_value(b->engine, value, activation, gradient);
}

static void float_destroy(xai_backend *b)
{
    xai_reference_f32_destroy(b->engine);
}

int xai_backend_reference(xai_backend *b, const xai_graph *g, int batch, int precision)
{
    *b = (xai_backend){.graph = g, .batch = batch, .classes = xai_graph_outputs(g)};
    if (precision == 32) {
        b->forward = float_forward, b->backward = float_backward, b->read_value = float_read;
        b->destroy = float_destroy;
        return xai_reference_f32_create((xai_reference_f32 **)&b->engine, g, batch);
    }
    double_reference *d = xai_calloc(1, sizeof *d);
    if (!d) return XAI_ERR;
    b->engine = d;
    b->forward = double_forward, b->backward = double_backward, b->read_value = double_read;
    b->destroy = double_destroy;
    for (int v = 0; v < g->n_values; v++)
        if (value_floats(b, v) > d->largest) d->largest = value_floats(b, v);
    if (!(d->a = xai_malloc(d->largest * sizeof(double))) || !(d->b = xai_malloc(d->largest * sizeof(double))) ||
        xai_reference_create(&d->ref, g, batch)) {
        double_destroy(b);
        b->engine = NULL;
        return XAI_ERR;
    }
    return XAI_OK;
}

void xai_backend_destroy(xai_backend *b)
{
    if (b && b->destroy && b->engine) b->destroy(b);
    if (b) b->engine = NULL;
}
