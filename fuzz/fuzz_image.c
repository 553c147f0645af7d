/* fuzz_image.c - a JPEG or PNG file through decoding and the ImageNet preprocessing. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_input.h"
#include "xai_image.h"
#include "xai_status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_input_file("image", data, size);
    xai_image image;
    if (xai_image_load(&image, path, 1 << 20) != XAI_OK) return 0; /* a megapixel at most */
    xai_transform t;
    xai_transform_imagenet(&t);
    float *out = malloc(3 * 224 * 224 * sizeof(float));
    if (out) xai_preprocess(&image, &t, out, NULL);
    free(out);
    xai_image_free(&image);
    return 0;
}
