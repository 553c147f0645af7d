/* batch.c - what the methods of one batch share (see xai_method.h): each rule's map and the
 * Grad-CAM made once, and the sampling loop of the multi-pass methods. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xai_clock.h"
#include "xai_method.h"
#include "xai_status.h"

static const xai_rule *const shared_rules[3] = {&xai_rule_saliency, &xai_rule_deconvnet, &xai_rule_guided_backprop};

static size_t image_floats(const xai_backend *b)
{
    return xai_value_size(&b->graph->values[b->graph->input]);
}

/* One-hot seeds at the batch's targets, allocated. */
static float *one_hot(const xai_batch *b)
{
    xai_backend *e = b->backend;
    float *seed = xai_calloc((size_t)e->batch * e->classes, sizeof *seed);
    for (int n = 0; seed && n < e->batch; n++) {
        if (b->targets[n] < 0 || b->targets[n] >= e->classes) {
            free(seed);
            xai_fail("target class %d outside 0..%d", b->targets[n], e->classes - 1);
            return NULL;
        }
        seed[(size_t)n * e->classes + b->targets[n]] = 1.f;
    }
    return seed;
}

int xai_batch_rule_map(xai_batch *b, const xai_rule *rule, float *into, const float **map)
{
    int r = 0;
    while (r < 3 && shared_rules[r] != rule) r++;
    size_t bytes = (size_t)b->backend->batch * image_floats(b->backend) * sizeof(float);
    if (r < 3 && b->rule_maps[r]) {
        if (into && into != b->rule_maps[r]) memcpy(into, b->rule_maps[r], bytes);
        *map = into ? into : b->rule_maps[r];
        return XAI_OK;
    }
    float *dest = into;
    if (!dest && !(dest = xai_malloc(bytes))) return XAI_ERR;
    float *seed = one_hot(b);
    int status = seed ? b->backend->backward(b->backend, rule, seed, dest, -1) : XAI_ERR;
    free(seed);
    if (status) {
        if (!into) free(dest);
        return XAI_ERR;
    }
    if (r < 3) {
        b->rule_maps[r] = dest;
        if (!into) b->own_maps[r] = dest;
    }
    *map = dest;
    return XAI_OK;
}

/* out [H][W] = in [h][w] resized bilinearly with half-pixel centres, as PyTorch's
 * F.interpolate(mode="bilinear", align_corners=False): source = (x + 0.5) * in / out - 0.5,
 * clamped below at 0, between the two nearest samples. */
static void upsample_bilinear(const float *in, int h, int w, float *out, int H, int W)
{
    double sy = (double)h / H, sx = (double)w / W;
    for (int y = 0; y < H; y++) {
        double fy = (y + 0.5) * sy - 0.5;
        if (fy < 0) fy = 0;
        int y0 = (int)fy, y1 = y0 + (y0 < h - 1);
        double ly = fy - y0;
        for (int x = 0; x < W; x++) {
            double fx = (x + 0.5) * sx - 0.5;
            if (fx < 0) fx = 0;
            int x0 = (int)fx, x1 = x0 + (x0 < w - 1);
            double lx = fx - x0;
            double top = (1 - lx) * in[y0 * w + x0] + lx * in[y0 * w + x1];
            double bottom = (1 - lx) * in[y1 * w + x0] + lx * in[y1 * w + x1];
            out[(size_t)y * W + x] = (float)((1 - ly) * top + ly * bottom);
        }
    }
}

/* cam[n] = ReLU(sum_c a_c A[n,c]) with a_c the spatial mean of dA[n,c], at the layer's h x w. */
static void weigh_channels(const float *A, const float *dA, int batch, int c, size_t plane, float *cam)
{
#pragma omp parallel for schedule(static)
    for (int n = 0; n < batch; n++) {
        double *sum = calloc(plane, sizeof *sum);
        if (!sum) continue; /* cannot happen for a layer's plane; the map stays zero */
        for (int k = 0; k < c; k++) {
            const float *a = A + ((size_t)n * c + k) * plane, *g = dA + ((size_t)n * c + k) * plane;
            double weight = 0.0;
            for (size_t p = 0; p < plane; p++) weight += g[p];
            weight /= (double)plane;
            for (size_t p = 0; p < plane; p++) sum[p] += weight * a[p];
        }
        for (size_t p = 0; p < plane; p++) cam[(size_t)n * plane + p] = sum[p] > 0 ? (float)sum[p] : 0.f;
        free(sum);
    }
}

int xai_batch_cam(xai_batch *b, const float **cam)
{
    if (b->cam) return *cam = b->cam, XAI_OK;
    xai_backend *e = b->backend;
    const xai_graph *g = e->graph;
    int layer = b->params->layer;
    if (layer < 0 || layer >= g->n_values || g->values[layer].rank != 4)
        return xai_fail("%s: Grad-CAM needs a 4-D layer (--grad-cam-layer)", g->path);
    const xai_value *L = &g->values[layer], *in = &g->values[g->input];
    size_t plane = (size_t)L->h * L->w, floats = (size_t)e->batch * L->c * plane;
    float *A = xai_malloc(floats * sizeof *A), *dA = xai_malloc(floats * sizeof *dA);
    float *small = xai_malloc((size_t)e->batch * plane * sizeof *small), *seed = one_hot(b);
    b->cam = xai_malloc((size_t)e->batch * in->h * in->w * sizeof *b->cam);
    int status = A && dA && small && seed && b->cam ? XAI_OK : XAI_ERR;
    /* The plain gradient from the logit to L: only the nodes after L run. */
    if (status == XAI_OK) status = e->read_value(e, layer, A, NULL);
    if (status == XAI_OK) status = e->backward(e, &xai_rule_saliency, seed, NULL, layer);
    if (status == XAI_OK) status = e->read_value(e, layer, NULL, dA);
    if (status == XAI_OK) {
        weigh_channels(A, dA, e->batch, L->c, plane, small);
        for (int n = 0; n < e->batch; n++)
            upsample_bilinear(small + (size_t)n * plane, L->h, L->w, b->cam + (size_t)n * in->h * in->w, in->h, in->w);
    }
    free(A), free(dA), free(small), free(seed);
    if (status) free(b->cam), b->cam = NULL;
    *cam = b->cam;
    return status;
}

void xai_batch_release(xai_batch *b)
{
    for (int r = 0; r < 3; r++) free(b->own_maps[r]), b->own_maps[r] = NULL, b->rule_maps[r] = NULL;
    free(b->cam);
    b->cam = NULL;
}

int xai_method_explain_rule(const xai_method *self, xai_batch *b, float *maps, double *completeness)
{
    (void)completeness;
    const float *map;
    return xai_batch_rule_map(b, self->rule, maps, &map);
}

int xai_sample_batch(int n)
{
    if (n <= 16) return n;
    for (int d = 16; d >= 8; d--)
        if (n % d == 0) return d;
    return 16;
}

int xai_method_channels(const xai_method *m, const xai_method_params *p, int channels)
{
    if (m == &xai_method_smoothgrad && p && p->base) m = p->base;
    return m->one_channel ? 1 : channels;
}

/* Rows [0, rows) of the sample batch: samples first .. first + rows - 1 of the batch's images. */
static void fill_rows(const xai_batch *b, int n, long long first, int rows, const xai_sampling *s, float *input,
                      int *targets)
{
    size_t image = image_floats(b->samples);
    for (int r = 0; r < b->samples->batch; r++) {
        long long at = first + (r < rows ? r : 0); /* padding repeats the first sample */
        int i = (int)(at / n), k = (int)(at % n);
        s->fill(s->context, i, k, input + (size_t)r * image);
        targets[r] = b->targets[i];
    }
}

int xai_batch_sampled(xai_batch *b, int n, const xai_method *method, const xai_sampling *s)
{
    xai_backend *e = b->samples;
    if (!e) return xai_fail("%s: no engine for the samples of %s", b->backend->graph->path, method->name);
    int S = e->batch, channels = xai_method_channels(method, b->params, b->backend->graph->values[b->backend->graph->input].c);
    const xai_value *in = &e->graph->values[e->graph->input];
    size_t image = image_floats(e), map_floats = (size_t)channels * in->h * in->w;
    float *input = xai_malloc((size_t)S * image * sizeof *input), *logits = xai_malloc((size_t)S * e->classes * sizeof *logits);
    float *maps = xai_malloc((size_t)S * map_floats * sizeof *maps);
    int *targets = xai_malloc((size_t)S * sizeof *targets);
    int status = input && logits && maps && targets ? XAI_OK : XAI_ERR;
    long long total = (long long)b->count * n;
    for (long long first = 0; status == XAI_OK && first < total; first += S) {
        int rows = total - first < S ? (int)(total - first) : S;
        fill_rows(b, n, first, rows, s, input, targets);
        xai_batch sub = {.backend = e, .input = input, .count = rows, .targets = targets, .logits = logits,
                         .params = b->params};
        double started = xai_now_seconds();
        status = e->forward(e, input, logits);
        if (status == XAI_OK) status = method->explain(method, &sub, maps, NULL);
        b->pass_seconds += xai_now_seconds() - started;
        for (int r = 0; status == XAI_OK && r < rows; r++)
            s->take(s->context, (int)((first + r) / n), (int)((first + r) % n), maps + (size_t)r * map_floats);
        xai_batch_release(&sub);
    }
    free(input), free(logits), free(maps), free(targets);
    return status;
}
