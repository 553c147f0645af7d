/* preprocess.c - torchvision's eval transform on 8-bit RGB, matching PIL + torchvision:
 *
 *   Resize: PIL's antialiased bilinear resample. Per output column x of a pass with
 *     scale = in / out and support = max(scale, 1), the taps are the input columns i in
 *     [int(center - support + 0.5), int(center + support + 0.5)) with center = (x + 0.5) scale,
 *     weighted by the triangle tri((i - center + 0.5) / max(scale, 1)), normalized to sum 1,
 *     then rounded to 22-bit fixed point. Each pass rounds to 8 bits; horizontal runs first.
 *   Crop: offsets round((in - crop) / 2), rounding half to even as Python does.
 *   Normalize: (v / 255 - mean) / std in float32. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xai_image.h"
#include "xai_status.h"

#define PRECISION_BITS 22

void xai_transform_imagenet(xai_transform *t)
{
    *t = (xai_transform){.resize_shorter = 256, .crop_w = 224, .crop_h = 224,
                         .mean = {0.485f, 0.456f, 0.406f}, .std = {0.229f, 0.224f, 0.225f}};
}

void xai_transform_imagenet_for_input(xai_transform *t, int width, int height)
{
    xai_transform_imagenet(t);
    int shorter = width < height ? width : height;
    t->resize_shorter = (int)lround(shorter * 256.0 / 224.0);
    t->crop_w = width;
    t->crop_h = height;
}

static int parse_floats(const char *value, float *out, const char *key, const char *source)
{
    char *end;
    for (int c = 0; c < 3; c++) {
        out[c] = strtof(value, &end);
        if (end == value || (c < 2 && *end != ',') || (c == 2 && *end) || !(out[c] == out[c]))
            return xai_fail("%s: %s = '%s' is not three numbers r,g,b", source, key, value);
        value = end + 1;
    }
    return XAI_OK;
}

/* "N" -> (N, N, 0) or "WxH" -> (W, H, 1); 0 on failure. */
static int parse_size(const char *value, int *w, int *h, int *pair)
{
    char *end;
    long a = strtol(value, &end, 10), b = a;
    *pair = *end == 'x';
    if (*pair) b = strtol(end + 1, &end, 10);
    if (*end || a < 1 || b < 1 || a > 16384 || b > 16384) return 0;
    *w = (int)a, *h = (int)b;
    return 1;
}

int xai_transform_set(xai_transform *t, const char *key, const char *value, const char *source)
{
    int w, h, pair;
    if (!strcmp(key, "xaibench.mean")) return parse_floats(value, t->mean, key, source);
    if (!strcmp(key, "xaibench.std")) {
        if (parse_floats(value, t->std, key, source)) return XAI_ERR;
        for (int c = 0; c < 3; c++)
            if (!(t->std[c] > 0)) return xai_fail("%s: %s = '%s' must be positive", source, key, value);
        return XAI_OK;
    }
    if (!strcmp(key, "xaibench.resize")) {
        if (!parse_size(value, &w, &h, &pair))
            return xai_fail("%s: %s = '%s' is not N (shorter side) or WxH", source, key, value);
        t->resize_shorter = pair ? 0 : w;
        t->resize_w = pair ? w : 0;
        t->resize_h = pair ? h : 0;
        return XAI_OK;
    }
    if (!strcmp(key, "xaibench.crop")) {
        if (!strcmp(value, "none")) {
            t->crop_w = t->crop_h = 0;
            return XAI_OK;
        }
        if (!parse_size(value, &w, &h, &pair))
            return xai_fail("%s: %s = '%s' is not N, WxH or none", source, key, value);
        t->crop_w = w, t->crop_h = h;
        return XAI_OK;
    }
    if (!strcmp(key, "xaibench.label_offset")) {
        char *end;
        long v = strtol(value, &end, 10);
        if (*end || !*value || v < 0 || v > 1000)
            return xai_fail("%s: %s = '%s' is not an integer in 0..1000", source, key, value);
        t->label_offset = (int)v;
        return XAI_OK;
    }
    return xai_fail("%s: unknown setting %s", source, key);
}

int xai_transform_for_model(xai_transform *t, const xai_graph *g)
{
    const xai_value *in = &g->values[g->input];
    if (in->rank != 4)
        return xai_fail("%s: input '%s' has rank %d; images need a model input [N,3,H,W]", g->path, in->name, in->rank);
    xai_transform_imagenet_for_input(t, in->w, in->h);
    static const char *const keys[] = {"xaibench.mean", "xaibench.std", "xaibench.resize", "xaibench.crop",
                                       "xaibench.label_offset"};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        const char *v = xai_graph_metadata(g, keys[k]);
        if (v && xai_transform_set(t, keys[k], v, g->path)) return XAI_ERR;
    }
    int w, h;
    xai_transform_output_size(t, &w, &h);
    if (w != in->w || h != in->h)
        return xai_fail("%s: the preprocessing gives %dx%d images, the model takes %dx%d", g->path, w, h, in->w, in->h);
    return XAI_OK;
}

typedef struct {
    int taps;           /* coefficients per output pixel */
    int *first, *count; /* input range per output pixel */
    int32_t *weight;    /* [out][taps], fixed point */
} resample_plan;

static void free_plan(resample_plan *p)
{
    free(p->first);
    free(p->count);
    free(p->weight);
}

static double triangle(double x)
{
    x = fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

static int plan_pass(resample_plan *p, int in, int out)
{
    double scale = (double)in / out, filter_scale = scale < 1.0 ? 1.0 : scale;
    double support = filter_scale;
    p->taps = (int)ceil(support) * 2 + 1;
    p->first = xai_malloc((size_t)out * sizeof(int));
    p->count = xai_malloc((size_t)out * sizeof(int));
    p->weight = xai_calloc((size_t)out * p->taps, sizeof(int32_t));
    double *w = xai_malloc((size_t)p->taps * sizeof(double));
    if (!p->first || !p->count || !p->weight || !w) {
        free(w);
        return XAI_ERR;
    }
    for (int x = 0; x < out; x++) {
        double center = (x + 0.5) * scale, sum = 0.0;
        int lo = (int)(center - support + 0.5), hi = (int)(center + support + 0.5);
        if (lo < 0) lo = 0;
        if (hi > in) hi = in;
        int n = hi - lo;
        for (int k = 0; k < n; k++) sum += (w[k] = triangle((k + lo - center + 0.5) / filter_scale));
        for (int k = 0; k < n; k++) {
            double v = sum != 0.0 ? w[k] / sum : w[k];
            p->weight[(size_t)x * p->taps + k] =
                (int32_t)(v < 0 ? -0.5 + v * (1 << PRECISION_BITS) : 0.5 + v * (1 << PRECISION_BITS));
        }
        p->first[x] = lo;
        p->count[x] = n;
    }
    free(w);
    return XAI_OK;
}

static inline unsigned char clip8(int32_t v)
{
    v >>= PRECISION_BITS;
    return (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Horizontal pass over `rows` rows: output columns [x0, x0 + out_w) of the plan, each with its
 * own taps along its row. */
static void horizontal_pass(const resample_plan *p, int x0, const unsigned char *in, int in_w,
                            unsigned char *out, int out_w, int rows)
{
#pragma omp parallel for schedule(static) if ((size_t)out_w * rows > 16384)
    for (int y = 0; y < rows; y++)
        for (int x = 0; x < out_w; x++) {
            const int32_t *w = p->weight + (size_t)(x0 + x) * p->taps;
            const unsigned char *px = in + ((size_t)y * in_w + p->first[x0 + x]) * 3;
            int32_t sum[3] = {1 << (PRECISION_BITS - 1), 1 << (PRECISION_BITS - 1),
                              1 << (PRECISION_BITS - 1)};
            for (int k = 0; k < p->count[x0 + x]; k++, px += 3) {
                sum[0] += px[0] * w[k];
                sum[1] += px[1] * w[k];
                sum[2] += px[2] * w[k];
            }
            unsigned char *o = out + ((size_t)y * out_w + x) * 3;
            o[0] = clip8(sum[0]);
            o[1] = clip8(sum[1]);
            o[2] = clip8(sum[2]);
        }
}

/* Vertical pass: output rows [y0, y0 + out_h) of the plan, from `in` holding the input rows
 * from `in_first_row` on. One set of taps per output row, applied to whole input rows at once,
 * so the inner loop is a widening multiply-add over contiguous bytes that the compiler
 * vectorizes. */
static int vertical_pass(const resample_plan *p, int y0, const unsigned char *in, int in_first_row, int width,
                         unsigned char *out, int out_h)
{
    size_t row = (size_t)width * 3;
    int status = XAI_OK;
#pragma omp parallel if (row * out_h > 16384)
    {
        int32_t *sum = xai_malloc(row * sizeof *sum);
        if (!sum) {
#pragma omp atomic write
            status = XAI_ERR;
        }
#pragma omp for schedule(static)
        for (int y = 0; y < out_h; y++) {
            if (!sum) continue;
            const int32_t *w = p->weight + (size_t)(y0 + y) * p->taps;
            for (size_t j = 0; j < row; j++) sum[j] = 1 << (PRECISION_BITS - 1);
            for (int k = 0; k < p->count[y0 + y]; k++) {
                const unsigned char *src = in + (size_t)(p->first[y0 + y] + k - in_first_row) * row;
                int32_t weight = w[k];
                for (size_t j = 0; j < row; j++) sum[j] += src[j] * weight;
            }
            unsigned char *dst = out + (size_t)y * row;
            for (size_t j = 0; j < row; j++) dst[j] = clip8(sum[j]);
        }
        free(sum);
    }
    return status ? xai_fail("out of memory in the resize") : XAI_OK;
}

int xai_resize_bilinear(const xai_image *image, int out_w, int out_h, int x0, int y0, int w, int h,
                        unsigned char *out)
{
    int in_w = image->width, in_h = image->height;
    if (x0 < 0 || y0 < 0 || w < 1 || h < 1 || x0 + w > out_w || y0 + h > out_h)
        return xai_fail("resize: window %dx%d at (%d, %d) outside %dx%d", w, h, x0, y0, out_w, out_h);
    resample_plan across = {0}, down = {0};
    unsigned char *temp = NULL;
    int status = XAI_OK;
    /* The input rows the window's output rows read: all of them when there is no vertical pass. */
    int first_row = y0, rows = h;
    if (out_h != in_h && (status = plan_pass(&down, in_h, out_h)) == XAI_OK) {
        first_row = down.first[y0];
        int end = first_row;
        for (int y = y0; y < y0 + h; y++)
            if (down.first[y] + down.count[y] > end) end = down.first[y] + down.count[y];
        rows = end - first_row;
    }
    /* Horizontal pass (or the window's columns as they are) over those rows, then vertical. */
    const unsigned char *src = image->rgb;
    if (status == XAI_OK && out_h != in_h) src = temp = xai_malloc((size_t)w * rows * 3);
    unsigned char *across_out = out_h != in_h ? temp : out;
    if (status == XAI_OK && !src) status = XAI_ERR;
    if (status == XAI_OK && out_w != in_w) {
        if ((status = plan_pass(&across, in_w, out_w)) == XAI_OK)
            horizontal_pass(&across, x0, image->rgb + (size_t)first_row * in_w * 3, in_w, across_out, w, rows);
    } else if (status == XAI_OK) {
        for (int y = 0; y < rows; y++)
            memcpy(across_out + (size_t)y * w * 3, image->rgb + ((size_t)(first_row + y) * in_w + x0) * 3, (size_t)w * 3);
    }
    if (status == XAI_OK && out_h != in_h) status = vertical_pass(&down, y0, temp, first_row, w, out, h);
    free_plan(&across);
    free_plan(&down);
    free(temp);
    return status;
}

static void resized_size(const xai_transform *t, int w, int h, int *rw, int *rh)
{
    if (t->resize_w > 0 && t->resize_h > 0) {
        *rw = t->resize_w, *rh = t->resize_h;
    } else if (t->resize_shorter > 0) {
        /* torchvision: the longer side becomes int(size * long / short), truncated. */
        if (w <= h) *rw = t->resize_shorter, *rh = (int)((double)t->resize_shorter * h / w);
        else *rh = t->resize_shorter, *rw = (int)((double)t->resize_shorter * w / h);
    } else {
        *rw = w, *rh = h;
    }
}

void xai_transform_output_size(const xai_transform *t, int *width, int *height)
{
    *width = t->crop_w > 0 ? t->crop_w : t->resize_w;
    *height = t->crop_h > 0 ? t->crop_h : t->resize_h;
}

void xai_transform_geometry(const xai_transform *t, int width, int height, xai_crop_geometry *g)
{
    int rw, rh;
    resized_size(t, width, height, &rw, &rh);
    int cw = t->crop_w > 0 ? t->crop_w : rw, ch = t->crop_h > 0 ? t->crop_h : rh;
    *g = (xai_crop_geometry){rw, rh, (int)nearbyint((rw - cw) / 2.0), (int)nearbyint((rh - ch) / 2.0),
                             (double)rw / width, (double)rh / height};
}

int xai_preprocess(const xai_image *image, const xai_transform *t, float *out,
                   xai_crop_geometry *geometry)
{
    xai_crop_geometry g;
    xai_transform_geometry(t, image->width, image->height, &g);
    int rw = g.resized_w, rh = g.resized_h, cx = g.crop_x, cy = g.crop_y;
    int cw = t->crop_w > 0 ? t->crop_w : rw, ch = t->crop_h > 0 ? t->crop_h : rh;
    if (cw > rw || ch > rh)
        return xai_fail("image of %dx%d resized to %dx%d is smaller than the %dx%d crop",
                        image->width, image->height, rw, rh, cw, ch);
    /* only the crop is resized: the same pixels, ~half the work */
    unsigned char *resized = xai_malloc((size_t)cw * ch * 3);
    if (!resized || xai_resize_bilinear(image, rw, rh, cx, cy, cw, ch, resized)) {
        free(resized);
        return XAI_ERR;
    }
    for (int c = 0; c < 3; c++) {
        float mean = t->mean[c], std = t->std[c];
        float *plane = out + (size_t)c * cw * ch;
        for (int y = 0; y < ch; y++) {
            const unsigned char *row = resized + (size_t)y * cw * 3 + c;
            for (int x = 0; x < cw; x++) plane[(size_t)y * cw + x] = ((float)row[3 * x] / 255.f - mean) / std;
        }
    }
    free(resized);
    if (geometry) *geometry = g;
    return XAI_OK;
}
