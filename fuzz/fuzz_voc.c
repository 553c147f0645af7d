/* fuzz_voc.c - a Stanford Dogs annotation (PASCAL VOC XML) through the box reader. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_input.h"
#include "xai_dogs.h"
#include "xai_status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_input_file("annotation", data, size);
    xai_box *boxes = NULL;
    int n = 0, width = 0, height = 0;
    if (xai_voc_read(path, &boxes, &n, &width, &height) == XAI_OK) free(boxes);
    return 0;
}
