/* image_decode.c - JPEG (libjpeg-turbo) and PNG (libpng) files to 8-bit RGB, with a pixel
 * limit checked from the header before any pixel memory is allocated, and every decoder
 * complaint turned into one "FILE: what" line. A truncated JPEG is an error, not grey rows. */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#include "xai_image.h"
#include "xai_status.h"

void xai_image_free(xai_image *image)
{
    free(image->rgb);
    image->rgb = NULL;
    image->width = image->height = 0;
}

static int check_size(const char *path, size_t width, size_t height, size_t max_pixels)
{
    if (width == 0 || height == 0) return xai_fail("%s: image has no pixels", path);
    if (width * height > max_pixels)
        return xai_fail("%s: image of %zux%zu pixels is over the limit of %zu pixels", path,
                        width, height, max_pixels);
    return XAI_OK;
}

/* ---- JPEG ---------------------------------------------------------------------------------- */

typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf escape;
    char message[JMSG_LENGTH_MAX];
    int warned;
} jpeg_errors;

static void jpeg_fatal(j_common_ptr cinfo)
{
    jpeg_errors *e = (jpeg_errors *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->message);
    longjmp(e->escape, 1);
}

/* Warnings (level -1) such as "Premature end of JPEG file" mean damaged data: keep the first. */
static void jpeg_message(j_common_ptr cinfo, int level)
{
    jpeg_errors *e = (jpeg_errors *)cinfo->err;
    if (level < 0 && !e->warned) {
        (*cinfo->err->format_message)(cinfo, e->message);
        e->warned = 1;
    }
}

static int load_jpeg(xai_image *image, FILE *f, const char *path, size_t max_pixels)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_errors errors = {0};
    cinfo.err = jpeg_std_error(&errors.base);
    errors.base.error_exit = jpeg_fatal;
    errors.base.emit_message = jpeg_message;
    unsigned char *volatile pixels = NULL;
    unsigned char *volatile row = NULL;
    if (setjmp(errors.escape)) {
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        free(row);
        return xai_fail("%s: corrupt JPEG: %s", path, errors.message);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, f);
    jpeg_read_header(&cinfo, TRUE);
    if (check_size(path, cinfo.image_width, cinfo.image_height, max_pixels)) {
        jpeg_destroy_decompress(&cinfo);
        return XAI_ERR;
    }
    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    size_t width = cinfo.output_width, height = cinfo.output_height;
    pixels = xai_malloc(width * height * 3);
    row = xai_malloc(width * (size_t)cinfo.output_components);
    if (!pixels || !row) {
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        free(row);
        return xai_fail("%s: out of memory for %zux%zu pixels", path, width, height);
    }
    /* Adobe CMYK JPEGs store inverted ink values. Ink to RGB as PIL converts it:
     * r = (255 - k) - round(c (255 - k) / 255), likewise g from m and b from y. */
    int inverted = cmyk && cinfo.saw_Adobe_marker;
    while (cinfo.output_scanline < height) {
        unsigned char *dst = pixels + (size_t)cinfo.output_scanline * width * 3;
        JSAMPROW rows[1] = {cmyk ? row : dst};
        jpeg_read_scanlines(&cinfo, rows, 1);
        if (!cmyk) continue;
        for (size_t x = 0; x < width; x++) {
            unsigned k = inverted ? 255u - row[4 * x + 3] : row[4 * x + 3], white = 255u - k;
            for (int c = 0; c < 3; c++) {
                unsigned ink = inverted ? 255u - row[4 * x + c] : row[4 * x + c];
                unsigned t = ink * white + 128u;
                dst[3 * x + c] = (unsigned char)(white - (((t >> 8) + t) >> 8));
            }
        }
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    if (errors.warned) {
        free(pixels);
        return xai_fail("%s: damaged JPEG: %s", path, errors.message);
    }
    image->width = (int)width;
    image->height = (int)height;
    image->rgb = pixels;
    return XAI_OK;
}

/* ---- PNG ----------------------------------------------------------------------------------- */

typedef struct {
    jmp_buf escape;
    char message[256];
} png_errors;

static void png_fatal(png_structp png, png_const_charp message)
{
    png_errors *e = png_get_error_ptr(png);
    snprintf(e->message, sizeof e->message, "%s", message);
    longjmp(e->escape, 1);
}

static void png_warning_ignored(png_structp png, png_const_charp message)
{
    (void)png, (void)message;
}

static int load_png(xai_image *image, FILE *f, const char *path, size_t max_pixels)
{
    png_errors errors = {0};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &errors, png_fatal,
                                             png_warning_ignored);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return xai_fail("%s: out of memory", path);
    }
    unsigned char *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(errors.escape)) {
        png_destroy_read_struct(&png, &info, NULL);
        free(pixels);
        free(rows);
        return xai_fail("%s: corrupt PNG: %s", path, errors.message);
    }
    png_init_io(png, f);
    png_read_info(png, info);
    png_uint_32 width = png_get_image_width(png, info), height = png_get_image_height(png, info);
    if (check_size(path, width, height, max_pixels)) {
        png_destroy_read_struct(&png, &info, NULL);
        return XAI_ERR;
    }
    int type = png_get_color_type(png, info);
    png_set_strip_16(png);
    if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (type == PNG_COLOR_TYPE_GRAY || type == PNG_COLOR_TYPE_GRAY_ALPHA) {
        png_set_expand_gray_1_2_4_to_8(png);
        png_set_gray_to_rgb(png);
    }
    png_set_packing(png);
    png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)width * 3) {
        png_destroy_read_struct(&png, &info, NULL);
        return xai_fail("%s: PNG format not reducible to 8-bit RGB", path);
    }
    pixels = xai_malloc((size_t)width * height * 3);
    rows = xai_malloc((size_t)height * sizeof(png_bytep));
    if (!pixels || !rows) {
        png_destroy_read_struct(&png, &info, NULL);
        free(pixels);
        free(rows);
        return xai_fail("%s: out of memory for %ux%u pixels", path, (unsigned)width, (unsigned)height);
    }
    for (png_uint_32 y = 0; y < height; y++) rows[y] = pixels + (size_t)y * width * 3;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    image->width = (int)width;
    image->height = (int)height;
    image->rgb = pixels;
    return XAI_OK;
}

int xai_image_load(xai_image *image, const char *path, size_t max_pixels)
{
    memset(image, 0, sizeof *image);
    if (max_pixels == 0) max_pixels = XAI_IMAGE_DEFAULT_MAX_PIXELS;
    FILE *f = fopen(path, "rb");
    if (!f) return xai_fail("%s: cannot open: %s", path, strerror(errno));
    unsigned char magic[8] = {0};
    size_t got = fread(magic, 1, sizeof magic, f);
    rewind(f);
    int status;
    if (got == 0) status = xai_fail("%s: empty file, not an image", path);
    else if (got >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF)
        status = load_jpeg(image, f, path, max_pixels);
    else if (got == 8 && png_sig_cmp(magic, 0, 8) == 0)
        status = load_png(image, f, path, max_pixels);
    else status = xai_fail("%s: not a JPEG or PNG image", path);
    fclose(f);
    return status;
}
