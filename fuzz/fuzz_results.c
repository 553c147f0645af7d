/* fuzz_results.c - an existing results file as a resumed run meets it: a finished batch's part
 * merged into the run's output, which reads every dataset and attribute of the part. */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "fuzz_input.h"
#include "xai_status.h"
#include "xai_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *part = fuzz_input_file("batch-000000.h5", data, size);
    char out[512];
    snprintf(out, sizeof out, "%s/merged.h5", fuzz_scratch_dir());
    const char *parts[1] = {part};
    if (xai_store_merge(out, parts, 1, NULL, NULL) == XAI_OK) unlink(out);
    return 0;
}
