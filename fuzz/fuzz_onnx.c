/* fuzz_onnx.c - an ONNX file through the reader, the graph builder and, when it loads, the
 * creation of both engines on it: any input ends in a graph and engines or in one error line. */
#include <stdint.h>
#include <string.h>

#include "fuzz_input.h"
#include "xai_engine.h"
#include "xai_graph.h"
#include "xai_reference.h"
#include "xai_status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_input_file("model.onnx", data, size);
    /* A small activation budget keeps engine creation within the fuzzer's memory limit. */
    xai_graph_options options = {.max_activation_gb = 0.0625};
    xai_graph *g;
    if (xai_graph_load(&g, path, &options) != XAI_OK) {
        if (!xai_last_error()[0] || strchr(xai_last_error(), '\n')) __builtin_trap(); /* one line, always */
        return 0;
    }
    xai_engine *e;
    if (xai_engine_create(&e, g, 1, 1) == XAI_OK) xai_engine_destroy(e);
    xai_reference *r;
    if (xai_reference_create(&r, g, 1) == XAI_OK) xai_reference_destroy(r);
    xai_graph_free(g);
    return 0;
}
