/* fuzz_mat.c - a split list (MATLAB .mat file_list) through the list reader. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_input.h"
#include "xai_dogs.h"
#include "xai_status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_input_file("list.mat", data, size);
    char **names = NULL;
    int count = 0;
    if (xai_mat_file_list(path, &names, &count) == XAI_OK) {
        for (int k = 0; k < count; k++) free(names[k]);
        free(names);
    }
    return 0;
}
