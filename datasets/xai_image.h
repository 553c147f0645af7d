/* xai_image.h - decoding images from disk and torchvision's eval transform.
 *
 * Decoding uses libjpeg-turbo and libpng; every image becomes 8-bit RGB (grey expanded, CMYK
 * converted, alpha dropped, 16-bit reduced to its high byte), as PIL's convert("RGB") gives. */
#ifndef XAI_IMAGE_H
#define XAI_IMAGE_H

#include <stddef.h>

#include "xai_graph.h"

typedef struct {
    int width, height;
    unsigned char *rgb;     /* height rows of width RGB triplets */
} xai_image;

#define XAI_IMAGE_DEFAULT_MAX_PIXELS ((size_t)50 * 1000 * 1000)

/* Decode a JPEG or PNG (told apart by their signatures). Images over max_pixels (0: the
 * default 50 megapixels) are refused before their pixels are allocated. */
int xai_image_load(xai_image *image, const char *path, size_t max_pixels);
void xai_image_free(xai_image *image);

/* The eval transform: resize (shorter side to `resize_shorter`, or exactly to resize_w x
 * resize_h), center crop to crop_h x crop_w (0: no crop), scale to [0,1], normalize. */
typedef struct {
    int resize_shorter;
    int resize_w, resize_h;
    int crop_w, crop_h;
    float mean[3], std[3];
    int label_offset;      /* the model's logit k is ImageNet class k - label_offset */
} xai_transform;

/* torchvision's ImageNet eval transform: Resize(256), CenterCrop(224), ImageNet mean/std. */
void xai_transform_imagenet(xai_transform *t);

/* The ImageNet transform scaled to a network input of width x height: the shorter side goes to
 * round(256/224 of the crop), then a center crop of width x height (224 gives the standard one). */
void xai_transform_imagenet_for_input(xai_transform *t, int width, int height);

/* One setting, from a model's metadata_props or the command line (`source` names it in errors):
 *   xaibench.mean / xaibench.std   "r,g,b" on [0,1] pixels
 *   xaibench.resize                "256" (shorter side) or "224x224" (exactly W x H)
 *   xaibench.crop                  "224", "224x224" or "none"
 *   xaibench.label_offset          integer */
int xai_transform_set(xai_transform *t, const char *key, const char *value, const char *source);

/* The transform a model asks for: torchvision's ImageNet one sized to its input, changed by its
 * metadata (above); the result must produce the model's input size. */
int xai_transform_for_model(xai_transform *t, const xai_graph *graph);

/* Output size of the transform. */
void xai_transform_output_size(const xai_transform *t, int *width, int *height);

/* Where the output frame lies in the original image: output pixel (x, y) covers original
 * ((x + crop_x + 0.5) / scale_x - 0.5, ...). */
typedef struct {
    int resized_w, resized_h;
    int crop_x, crop_y;
    double scale_x, scale_y;   /* resized / original */
} xai_crop_geometry;

/* The geometry the transform gives an image of width x height (no pixels needed). */
void xai_transform_geometry(const xai_transform *t, int width, int height, xai_crop_geometry *g);

/* Apply the transform; out is [3][out_h][out_w] float32 (CHW). geometry may be NULL. */
int xai_preprocess(const xai_image *image, const xai_transform *t, float *out,
                   xai_crop_geometry *geometry);

/* The resize alone, as PIL's Image.resize(BILINEAR) does for RGB images (antialiased,
 * fixed-point, horizontal pass first), computed for the window [x0, x0 + w) x [y0, y0 + h) of
 * the out_w x out_h result only (a crop's pixels are the same either way): out is h rows of w
 * RGB triplets. */
int xai_resize_bilinear(const xai_image *image, int out_w, int out_h, int x0, int y0, int w, int h,
                        unsigned char *out);

#endif
