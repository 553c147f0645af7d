/* bench_sanity.c - what the cascading sanity check costs against one explain of the same
 * methods, both measured in this run: three rule maps (saliency, deconvnet, guided_backprop) of
 * one image on a seeded ResNet18 (21 weight layers, so 22 explains at the least), 2 threads.
 * Goals: the whole check <= 25 x one explain, a step <= 1.2 x one explain.
 * Usage: bench_sanity [--model F.onnx] [--threads T] [--rounds R] */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xai_clock.h"
#include "xai_driver.h"
#include "xai_evaluate.h"
#include "xai_model.h"
#include "xai_rng.h"
#include "xai_sanity.h"
#include "xai_status.h"

static void die(void)
{
    fprintf(stderr, "bench_sanity: %s\n", xai_last_error());
    exit(1);
}

static const xai_method *const rules[3] = {&xai_method_saliency, &xai_method_deconvnet, &xai_method_guided_backprop};

/* Median milliseconds of one explain (a forward and three maps) of one image, after a warm-up. */
static double explain_ms(const char *model, const float *input, int threads)
{
    xai_graph *g;
    xai_driver *d;
    if (xai_graph_load(&g, model, NULL)) die();
    xai_driver_config c = {.methods = rules, .n_methods = 3, .batch = 1, .threads = threads};
    if (xai_driver_create(&d, g, &c)) die();
    size_t image = xai_value_size(&g->values[g->input]), plane = (size_t)g->values[g->input].h * g->values[g->input].w;
    float *maps[3], *heat[3], *logits = malloc((size_t)xai_graph_outputs(g) * sizeof(float));
    for (int m = 0; m < 3; m++) maps[m] = malloc(image * sizeof(float)), heat[m] = malloc(plane * sizeof(float));
    int chosen;
    double ms[9];
    for (int k = -1; k < 9; k++) {
        xai_driver_batch rows = {.input = input, .count = 1, .chosen = &chosen, .logits = logits, .maps = maps,
                                 .heatmaps = heat};
        double t = xai_now_seconds();
        if (xai_driver_explain(d, &rows)) die();
        if (k >= 0) ms[k] = 1e3 * (xai_now_seconds() - t);
    }
    for (int m = 0; m < 3; m++) free(maps[m]), free(heat[m]);
    free(logits);
    xai_driver_destroy(d);
    xai_graph_free(g);
    return xai_median(ms, 9);
}

/* Milliseconds of the whole check, and its steps (the original included). */
static double sanity_ms(const char *model, const float *input, int threads, int *steps)
{
    xai_graph *g;
    if (xai_graph_load(&g, model, NULL)) die();
    xai_method_params p;
    xai_method_params_default(&p);
    if (xai_method_params_resolve(&p, g, NULL)) die();
    xai_sanity_plan plan;
    if (xai_sanity_plan_make(&plan, g, XAI_SANITY_LAYER)) die();
    *steps = 1 + plan.n_steps;
    xai_sanity_plan_free(&plan);
    const char *out = "/tmp/bench_sanity.h5", *names[1] = {"image"};
    remove(out);
    xai_sanity_config c = {.model = model, .output = out, .images = names, .inputs = input, .n_images = 1,
                           .methods = rules, .n_methods = 3, .params = &p, .mode = XAI_SANITY_CASCADING,
                           .granularity = XAI_SANITY_LAYER, .seed = 1, .batch = 1, .threads = threads};
    fflush(stdout);
    int kept = dup(1), null = open("/dev/null", O_WRONLY); /* its step lines go nowhere */
    dup2(null, 1);
    double t = xai_now_seconds();
    int status = xai_sanity_run(&c, g);
    double ms = 1e3 * (xai_now_seconds() - t);
    fflush(stdout);
    dup2(kept, 1), close(kept), close(null);
    if (status) die();
    remove(out);
    xai_graph_free(g);
    return ms;
}

int main(int argc, char **argv)
{
    const char *model = NULL;
    int threads = 2, rounds = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--model")) model = argv[i + 1];
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rounds")) rounds = atoi(argv[i + 1]);
        else return fprintf(stderr, "usage: bench_sanity [--model F.onnx] [--threads T] [--rounds R]\n"), 2;
    }
    char seeded[] = "/tmp/bench_sanity_resnet18.onnx";
    if (!model) {
        xai_model_spec spec = {.arch = "resnet18", .seed = 1};
        if (xai_model_write_resnet(&spec, seeded)) die();
        model = seeded;
    }
    xai_graph *g;
    if (xai_graph_load(&g, model, NULL)) die();
    size_t image = xai_value_size(&g->values[g->input]);
    xai_graph_free(g);
    float *input = malloc(image * sizeof(float));
    xai_rng rng;
    xai_rng_seed(&rng, 3);
    for (size_t k = 0; k < image; k++) input[k] = (float)xai_rng_normal(&rng);
    double one[16], whole[16], ratio[16], step_ratio[16];
    int steps = 0, n = rounds < 16 ? rounds : 16;
    for (int r = 0; r < n; r++) {
        one[r] = explain_ms(model, input, threads);
        whole[r] = sanity_ms(model, input, threads, &steps);
        ratio[r] = whole[r] / one[r], step_ratio[r] = whole[r] / steps / one[r];
        fprintf(stderr, "round %d: explain %.1f ms, sanity %.0f ms (%d steps): %.2fx\n", r + 1, one[r], whole[r], steps,
                ratio[r]);
    }
    fprintf(stdout, "%s, one image, three rule maps, %d threads; medians of %d rounds:\n", model, threads, n);
    fprintf(stdout, "  one explain %.1f ms; the cascading check (%d steps, the original included) %.0f ms: %.2fx "
                    "(goal <= 25)\n", xai_median(one, n), steps, xai_median(whole, n), xai_median(ratio, n));
    fprintf(stdout, "  a step %.1f ms: %.2fx one explain (goal <= 1.2)\n", xai_median(whole, n) / steps,
            xai_median(step_ratio, n));
    free(input);
    return 0;
}
