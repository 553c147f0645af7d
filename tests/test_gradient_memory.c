/* test_gradient_memory.c - the engine's gradients share memory where their backward steps do
 * not overlap (core/dnnl_gradient_plan.c): a deep network holds a fraction of a gradient per
 * value; a layer's gradient read where the pass stops equals that of an engine that keeps it
 * apart; and reading a shared gradient after a whole pass fails in one line instead of
 * returning what a later layer wrote there. (That the maps are unchanged is test_engine_vs_reference's
 * and test_ops's: they fail if two overlapping gradients share bytes.) */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "test_support.h"
#include "xai_engine.h"
#include "xai_status.h"

enum { BATCH = 2 };

/* The output of the middle residual Add: not a Conv's, so asking for it changes no kernel. */
static int middle_add(const xai_graph *g)
{
    int adds = 0, seen = 0;
    for (int i = 0; i < g->n_nodes; i++) adds += g->nodes[i].op == XAI_OP_ADD;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op == XAI_OP_ADD && ++seen == (adds + 1) / 2) return g->nodes[i].output;
    return -1;
}

Test(gradient_memory, a_deep_network_holds_a_fraction_of_its_gradients, .timeout = 120)
{
    xai_graph *g = test_model("resnet18", 3, 0, 0);
    xai_engine *e;
    cr_assert_eq(xai_engine_create(&e, g, 1, 2), XAI_OK, "%s", xai_last_error());
    size_t held, one_per_value;
    xai_engine_gradient_bytes(e, &held, &one_per_value);
    /* Of some fifty values' gradients (23.6 MB): the input's (the map, 0.6 MB) and, at the most,
     * those the stem's ReLU reads and writes (3.2 MB each at 112 x 112); 7.0 MB in all. One
     * gradient per value would hold all of it. */
    cr_assert_lt(held, one_per_value / 3, "gradients hold %zu bytes of %zu", held, one_per_value);
    xai_engine_destroy(e);
    xai_graph_free(g);
}

Test(gradient_memory, a_layer_gradient_is_read_where_the_pass_stops, .timeout = 120)
{
    xai_graph *g = test_model("resnet-tiny", 11, 1, 0);
    int layer = middle_add(g), classes = xai_graph_outputs(g);
    cr_assert_geq(layer, 0);
    size_t image = xai_value_size(&g->values[g->input]), size = BATCH * xai_value_size(&g->values[layer]);
    float *x = malloc(BATCH * image * sizeof(float)), *seed = calloc(BATCH * (size_t)classes, sizeof(float));
    float *stopped = malloc(size * sizeof(float)), *kept = malloc(size * sizeof(float));
    float *map = malloc(BATCH * image * sizeof(float));
    test_normal_floats(x, BATCH * image, 8);
    for (int n = 0; n < BATCH; n++) seed[n * classes + 2 * n + 1] = 1.f;
    xai_engine *shared, *apart;
    xai_engine_config c = {.batch = BATCH, .threads = 2, .readable = &layer, .n_readable = 1};
    cr_assert_eq(xai_engine_create(&shared, g, BATCH, 2), XAI_OK, "%s", xai_last_error());
    cr_assert_eq(xai_engine_create_with(&apart, g, &c), XAI_OK, "%s", xai_last_error());
    cr_assert_eq(xai_engine_forward(shared, x, NULL), XAI_OK, "%s", xai_last_error());
    cr_assert_eq(xai_engine_forward(apart, x, NULL), XAI_OK, "%s", xai_last_error());

    /* A whole pass first, so that the shared bytes hold what the layers below wrote. */
    cr_assert_eq(xai_engine_backward_seeded(shared, &xai_rule_guided_backprop, seed, map, -1), XAI_OK);
    cr_assert_eq(xai_engine_read_value(shared, layer, NULL, stopped), XAI_ERR);
    cr_assert(strstr(xai_last_error(), g->values[layer].name) && strstr(xai_last_error(), "stop the pass at it"),
              "%s", xai_last_error());
    cr_assert_eq(xai_engine_read_value(shared, layer, stopped, NULL), XAI_OK, "activations stay readable");

    cr_assert_eq(xai_engine_backward_seeded(shared, &xai_rule_guided_backprop, seed, NULL, layer), XAI_OK);
    cr_assert_eq(xai_engine_read_value(shared, layer, NULL, stopped), XAI_OK, "%s", xai_last_error());
    cr_assert_eq(xai_engine_backward_seeded(apart, &xai_rule_guided_backprop, seed, map, -1), XAI_OK);
    cr_assert_eq(xai_engine_read_value(apart, layer, NULL, kept), XAI_OK, "%s", xai_last_error());
    int nonzero = 0;
    for (size_t k = 0; k < size; k++) nonzero += kept[k] != 0.f;
    cr_assert_gt(nonzero, 0);
    cr_assert_eq(memcmp(stopped, kept, size * sizeof(float)), 0, "the same kernels give the same bits");

    xai_engine_destroy(shared);
    xai_engine_destroy(apart);
    free(x), free(seed), free(stopped), free(kept), free(map);
    xai_graph_free(g);
}
