/* driver.c - a batch of images through the requested methods (see xai_driver.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xai_clock.h"
#include "xai_driver.h"
#include "xai_engine.h"
#include "xai_heatmap.h"
#include "xai_status.h"

#define MAX_SAMPLE_ENGINES 2 /* one per distinct sample batch: smoothgrad's and IG's */
#define MAX_PART_ENGINES 4   /* partial batches of distinct sizes (a run's last one, in practice) */

struct xai_driver {
    const xai_graph *graph;
    const xai_method *methods[XAI_METHODS_MAX];
    int n_methods;
    xai_method_params params;
    xai_engine *engine, *sample_engines[MAX_SAMPLE_ENGINES];
    xai_backend backend, sample_backends[MAX_SAMPLE_ENGINES];
    int n_sample_engines;
    /* Engines for batches smaller than the configured one, made at their first such batch with
     * the main engine's weights (shared where the layouts agree), so that a partial batch costs
     * what its images cost instead of a padded full batch. */
    xai_engine *part_engines[MAX_PART_ENGINES];
    xai_backend part_backends[MAX_PART_ENGINES];
    int n_part_engines, next_part; /* next_part: the slot a new size takes when all are used */
    xai_engine_config part_config;
    xai_backend *last; /* the backend of the last batch (same_input runs again there) */
};

static int uses_layer(const xai_method *m, const xai_method_params *p)
{
    if (m == &xai_method_smoothgrad) m = p->base ? p->base : &xai_method_saliency;
    return m == &xai_method_grad_cam || m == &xai_method_guided_grad_cam;
}

/* Samples per image of a multi-pass method. */
static int samples_of(const xai_method *m, const xai_method_params *p)
{
    return m == &xai_method_smoothgrad ? p->samples : p->steps;
}

static int check_params(const xai_driver *d)
{
    const xai_method_params *p = &d->params;
    const xai_graph *g = d->graph;
    for (int m = 0; m < d->n_methods; m++) {
        const xai_method *method = d->methods[m];
        if (uses_layer(method, p) && p->layer < 0)
            return xai_fail("%s: no global pooling to take Grad-CAM's layer from; give --grad-cam-layer NAME", g->path);
        if (uses_layer(method, p) && (p->layer >= g->n_values || g->values[p->layer].rank != 4))
            return xai_fail("%s: Grad-CAM's layer must be a 4-D tensor", g->path);
        if (method == &xai_method_smoothgrad) {
            if (p->samples < 1) return xai_fail("--smoothgrad-samples %d: must be >= 1", p->samples);
            if (!(p->noise >= 0)) return xai_fail("--smoothgrad-noise %g: must be >= 0", p->noise);
            if (p->base && p->base->multi_pass)
                return xai_fail("--smoothgrad-base %s: must be a single-pass method", p->base->name);
        }
        if (method == &xai_method_integrated_gradients && p->steps < 1)
            return xai_fail("--ig-steps %d: must be >= 1", p->steps);
    }
    return XAI_OK;
}

/* The engines: one per distinct sample batch for the multi-pass methods (the graph keeps its
 * weights for them), then the batch's own, which frees the graph's weights. */
static int create_engines(xai_driver *d, xai_graph *graph, const xai_driver_config *c)
{
    int readable = d->params.layer, n_readable = 0;
    for (int m = 0; m < d->n_methods; m++) n_readable |= uses_layer(d->methods[m], &d->params);
    for (int m = 0; m < d->n_methods; m++) {
        if (!d->methods[m]->multi_pass) continue;
        int S = xai_sample_batch(samples_of(d->methods[m], &d->params)), seen = 0;
        for (int k = 0; k < d->n_sample_engines; k++) seen |= d->sample_backends[k].batch == S;
        if (seen) continue;
        xai_engine_config sc = {.batch = S, .threads = c->threads, .readable = &readable, .n_readable = n_readable};
        xai_engine **e = &d->sample_engines[d->n_sample_engines];
        if (d->n_sample_engines == MAX_SAMPLE_ENGINES || xai_engine_create_with(e, graph, &sc)) return XAI_ERR;
        xai_backend_of_engine(&d->sample_backends[d->n_sample_engines++], *e);
    }
    xai_engine_config main = {.batch = c->batch, .threads = c->threads, .consume = !c->keep_weights,
                              .readable = &readable, .n_readable = n_readable};
    if (xai_engine_create_with(&d->engine, graph, &main)) return XAI_ERR;
    xai_backend_of_engine(&d->backend, d->engine);
    d->part_config = main;
    d->part_config.consume = 0;
    d->part_config.weights_from = d->engine;
    d->part_config.readable = &d->params.layer;
    return XAI_OK;
}

int xai_driver_create(xai_driver **out, xai_graph *graph, const xai_driver_config *c)
{
    *out = NULL;
    if (c->n_methods < 1 || c->n_methods > XAI_METHODS_MAX) return xai_fail("1 to %d methods", XAI_METHODS_MAX);
    xai_driver *d = xai_calloc(1, sizeof *d);
    if (!d) return XAI_ERR;
    d->graph = graph;
    d->n_methods = c->n_methods;
    memcpy(d->methods, c->methods, (size_t)c->n_methods * sizeof *d->methods);
    if (c->params) d->params = *c->params;
    else xai_method_params_default(&d->params);
    if ((!c->params && xai_method_params_resolve(&d->params, graph, NULL)) || check_params(d) ||
        create_engines(d, graph, c)) {
        xai_driver_destroy(d);
        return XAI_ERR;
    }
    *out = d;
    return XAI_OK;
}

void xai_driver_destroy(xai_driver *d)
{
    if (!d) return;
    for (int k = 0; k < d->n_part_engines; k++) xai_engine_destroy(d->part_engines[k]);
    xai_engine_destroy(d->engine);
    for (int k = 0; k < d->n_sample_engines; k++) xai_engine_destroy(d->sample_engines[k]);
    free(d);
}

int xai_driver_reload_weights(xai_driver *d, int node)
{
    if (xai_engine_reload_weights(d->engine, node)) return XAI_ERR;
    for (int k = 0; k < d->n_part_engines; k++) /* after the main engine: they copy its weights */
        if (xai_engine_reload_weights(d->part_engines[k], node)) return XAI_ERR;
    for (int k = 0; k < d->n_sample_engines; k++)
        if (xai_engine_reload_weights(d->sample_engines[k], node)) return XAI_ERR;
    return XAI_OK;
}

int xai_driver_map_channels(const xai_driver *d, int m)
{
    return xai_method_channels(d->methods[m], &d->params, d->graph->values[d->graph->input].c);
}

/* The engine of a batch of `count` images: the main one, or one of exactly that size. */
static int backend_for(xai_driver *d, int count, xai_backend **out)
{
    *out = &d->backend;
    if (count == d->backend.batch) return XAI_OK;
    for (int k = 0; k < d->n_part_engines; k++)
        if (d->part_backends[k].batch == count) return *out = &d->part_backends[k], XAI_OK;
    int slot = d->n_part_engines < MAX_PART_ENGINES ? d->n_part_engines++ : d->next_part++ % MAX_PART_ENGINES;
    if (d->last == &d->part_backends[slot]) d->last = NULL;
    xai_engine_destroy(d->part_engines[slot]);
    d->part_engines[slot] = NULL;
    xai_engine_config c = d->part_config;
    c.batch = count;
    if (xai_engine_create_with(&d->part_engines[slot], (xai_graph *)d->graph, &c)) {
        d->part_engines[slot] = d->part_engines[--d->n_part_engines]; /* keep the list dense */
        d->part_engines[d->n_part_engines] = NULL;
        d->part_backends[slot] = d->part_backends[d->n_part_engines];
        d->last = NULL; /* it may have been the one moved */
        return XAI_ERR;
    }
    xai_backend_of_engine(&d->part_backends[slot], d->part_engines[slot]);
    *out = &d->part_backends[slot];
    return XAI_OK;
}

/* The targets: as given, or the top logit (the batch fills its engine: no padding rows). */
static void choose_targets(const xai_driver_batch *b, int classes, int *targets)
{
    for (int n = 0; n < b->count; n++) {
        int t = b->targets ? b->targets[n] : -1;
        if (t < 0) {
            const float *row = b->logits + (size_t)n * classes;
            t = 0;
            for (int k = 1; k < classes; k++)
                if (row[k] > row[t]) t = k;
        }
        targets[n] = t;
    }
}

static xai_backend *sample_backend(xai_driver *d, const xai_method *m)
{
    if (!m->multi_pass) return NULL;
    int S = xai_sample_batch(samples_of(m, &d->params));
    for (int k = 0; k < d->n_sample_engines; k++)
        if (d->sample_backends[k].batch == S) return &d->sample_backends[k];
    return NULL;
}

int xai_driver_explain(xai_driver *d, xai_driver_batch *b)
{
    int B = d->backend.batch, classes = d->backend.classes;
    if (b->count < 1 || b->count > B) return xai_fail("a batch of %d images for an engine of %d", b->count, B);
    if (b->same_input && (!d->last || d->last->batch != b->count))
        return xai_fail("same_input: the last batch was not one of %d images", b->count);
    const xai_value *in = &d->graph->values[d->graph->input];
    size_t plane = (size_t)in->h * in->w;
    for (int k = 0; k < b->count; k++)
        if (b->targets && b->targets[k] >= classes)
            return xai_fail("target class %d outside 0..%d", b->targets[k], classes - 1);
    xai_backend *backend;
    if (backend_for(d, b->count, &backend)) return XAI_ERR;
    int *targets = xai_malloc((size_t)B * sizeof *targets);
    long long *ids = xai_malloc((size_t)B * sizeof *ids);
    if (!targets || !ids) return free(targets), free(ids), XAI_ERR;
    for (int k = 0; k < B; k++) ids[k] = b->image_ids && k < b->count ? b->image_ids[k] : k;
    double t0 = xai_now_seconds();
    int status = b->same_input ? xai_engine_forward_again(backend->engine, b->logits)
                               : backend->forward(backend, b->input, b->logits);
    d->last = backend;
    b->ms_forward = 1e3 * (xai_now_seconds() - t0) / b->count;
    if (status == XAI_OK) choose_targets(b, classes, targets);
    xai_batch batch = {.backend = backend, .input = b->input, .count = b->count, .targets = targets,
                       .image_ids = ids, .logits = b->logits, .params = &d->params};
    for (int m = 0; status == XAI_OK && m < d->n_methods; m++) {
        const xai_method *method = d->methods[m];
        double t1 = xai_now_seconds();
        batch.samples = sample_backend(d, method);
        batch.pass_seconds = 0;
        double *completeness = method->completeness && b->completeness ? b->completeness[m] : NULL;
        status = method->explain(method, &batch, b->maps[m], completeness);
        int channels = xai_driver_map_channels(d, m);
        for (int k = 0; status == XAI_OK && k < b->count; k++)
            xai_heatmap_max_abs(b->maps[m] + (size_t)k * channels * plane, channels, plane, b->heatmaps[m] + (size_t)k * plane);
        b->ms_methods[m] = 1e3 * (xai_now_seconds() - t1) / b->count;
        b->ms_sample_passes[m] = 1e3 * batch.pass_seconds / b->count;
    }
    for (int k = 0; status == XAI_OK && k < b->count; k++) b->chosen[k] = targets[k];
    xai_batch_release(&batch);
    free(targets), free(ids);
    return status;
}

char *xai_driver_describe(const xai_method *const *methods, int n, const xai_method_params *p)
{
    size_t size = 1;
    char line[512];
    for (int m = 0; m < n; m++) {
        if (!methods[m]->describe) continue;
        methods[m]->describe(p, line, sizeof line);
        size_t lines = 1;
        for (const char *c = line; *c; c++) lines += *c == '\n';
        size += strlen(line) + lines * (strlen(methods[m]->name) + 2); /* "name." before, "\n" after each */
    }
    char *text = xai_calloc(size, 1);
    for (int m = 0; text && m < n; m++) {
        if (!methods[m]->describe) continue;
        methods[m]->describe(p, line, sizeof line);
        for (char *key = strtok(line, "\n"); key; key = strtok(NULL, "\n"))
            strcat(strcat(strcat(strcat(text, methods[m]->name), "."), key), "\n");
    }
    return text;
}
