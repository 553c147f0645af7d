/* bench_methods.c - what the methods beyond the rules cost, each against its baseline measured
 * in the same run (medians of --rounds):
 *   - grad_cam + guided_grad_cam added to the three rule maps, per image, against the three rule
 *     maps alone (goal: <= 1.05x); two runs of the driver, so the host's load moves it by a few
 *     per cent, and beside it the driver's own split of the five-method run: the cams' time
 *     (their heat maps included) against the forward and rule maps of the same batches;
 *   - smoothgrad and integrated_gradients (n = m = 50), per image, against 50 x (one forward +
 *     one backward) on an engine of their sample batch (goal: <= 1.05x), and against the passes
 *     inside their own run (the driver's split: everything else they do, the image's forward,
 *     the noise, the sums, over the time of their samples' forward and backward passes).
 * Usage: bench_methods [--model F.onnx] [--threads T] [--batch B] [--rounds R] [--multi-pass-only]
 * (default: a seeded ResNet18, 2 threads, batch 8, 3 rounds; --multi-pass-only times smoothgrad
 * and integrated_gradients alone, for bench/methods_vs_pytorch.py's rounds). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xai_clock.h"
#include "xai_driver.h"
#include "xai_engine.h"
#include "xai_evaluate.h"
#include "xai_model.h"
#include "xai_rng.h"
#include "xai_status.h"

static const char *model_path = NULL;

static xai_graph *load(void)
{
    xai_graph *g;
    if (xai_graph_load(&g, model_path, NULL)) {
        fprintf(stderr, "bench_methods: %s\n", xai_last_error());
        exit(1);
    }
    return g;
}

/* Milliseconds per image of the driver running `methods` on `images` images in batches of B;
 * `spent`, when given, gets the driver's own per-image split of the same batches: [0] the
 * forward, [1 + m] method m, [1 + n_methods + m] the samples' passes inside method m. */
static double driver_ms(const xai_method *const *methods, int n_methods, int B, int threads, const float *input,
                        int images, double *spent)
{
    xai_graph *g = load();
    xai_method_params p;
    xai_method_params_default(&p);
    xai_method_params_resolve(&p, g, NULL);
    const xai_value *in = &g->values[g->input];
    size_t image = xai_value_size(in), plane = (size_t)in->h * in->w;
    int classes = xai_graph_outputs(g);
    xai_driver *d;
    xai_driver_config c = {.methods = methods, .n_methods = n_methods, .params = &p, .batch = B, .threads = threads};
    if (xai_driver_create(&d, g, &c)) fprintf(stderr, "bench_methods: %s\n", xai_last_error()), exit(1);
    float *maps[XAI_METHODS_MAX], *heat[XAI_METHODS_MAX], *logits = malloc((size_t)B * classes * sizeof(float));
    double *completeness[XAI_METHODS_MAX];
    int *chosen = malloc((size_t)B * sizeof(int));
    for (int m = 0; m < n_methods; m++) {
        maps[m] = malloc((size_t)B * image * sizeof(float)), heat[m] = malloc((size_t)B * plane * sizeof(float));
        completeness[m] = malloc((size_t)B * sizeof(double));
    }
    /* one batch to warm up, then the timed ones */
    double started = 0;
    for (int first = -B; first < images; first += B) {
        if (first == 0) started = xai_now_seconds();
        int at = first < 0 ? 0 : first;
        xai_driver_batch rows = {.input = input + (size_t)at * image, .count = B, .chosen = chosen, .logits = logits,
                                 .maps = maps, .heatmaps = heat, .completeness = completeness};
        if (xai_driver_explain(d, &rows)) fprintf(stderr, "bench_methods: %s\n", xai_last_error()), exit(1);
        for (int m = -1; spent && first >= 0 && m < n_methods; m++) {
            spent[1 + m] += (m < 0 ? rows.ms_forward : rows.ms_methods[m]) * B / images;
            if (m >= 0) spent[1 + n_methods + m] += rows.ms_sample_passes[m] * B / images;
        }
    }
    double ms = 1e3 * (xai_now_seconds() - started) / images;
    for (int m = 0; m < n_methods; m++) free(maps[m]), free(heat[m]), free(completeness[m]);
    free(logits), free(chosen);
    xai_driver_destroy(d);
    xai_graph_free(g);
    return ms;
}

/* Milliseconds of one forward + one saliency backward per sample on an engine of batch S. */
static double pass_ms(int S, int threads, const float *input)
{
    xai_graph *g = load();
    size_t image = xai_value_size(&g->values[g->input]);
    int classes = xai_graph_outputs(g);
    xai_engine *e;
    if (xai_engine_create_consuming(&e, g, S, threads)) fprintf(stderr, "bench_methods: %s\n", xai_last_error()), exit(1);
    float *logits = malloc((size_t)S * classes * sizeof(float)), *map = malloc((size_t)S * image * sizeof(float));
    int *targets = calloc((size_t)S, sizeof(int));
    enum { PASSES = 10 };
    double started = 0;
    for (int k = -1; k < PASSES; k++) {
        if (k == 0) started = xai_now_seconds();
        if (xai_engine_forward(e, input, logits) || xai_engine_backward(e, &xai_rule_saliency, targets, map))
            fprintf(stderr, "bench_methods: %s\n", xai_last_error()), exit(1);
    }
    double ms = 1e3 * (xai_now_seconds() - started) / (PASSES * S);
    free(logits), free(map), free(targets);
    xai_engine_destroy(e);
    xai_graph_free(g);
    return ms;
}

int main(int argc, char **argv)
{
    int threads = 2, B = 8, rounds = 3, multi_pass_only = 0;
    for (int i = 1; i < argc; i += 2) {
        if (!strcmp(argv[i], "--multi-pass-only")) {
            multi_pass_only = 1, i--; /* takes no value */
            continue;
        }
        if (i + 1 >= argc) return fprintf(stderr, "bench_methods: option %s needs a value\n", argv[i]), 2;
        if (!strcmp(argv[i], "--model")) model_path = argv[i + 1];
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) B = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rounds")) rounds = atoi(argv[i + 1]);
        else
            return fprintf(stderr, "usage: bench_methods [--model F.onnx] [--threads T] [--batch B] [--rounds R] "
                                   "[--multi-pass-only]\n"), 2;
    }
    char seeded[] = "/tmp/bench_methods_resnet18.onnx";
    if (!model_path) {
        xai_model_spec spec = {.arch = "resnet18", .seed = 1};
        if (xai_model_write_resnet(&spec, seeded)) return fprintf(stderr, "bench_methods: %s\n", xai_last_error()), 1;
        model_path = seeded;
    }
    xai_graph *g = load();
    size_t image = xai_value_size(&g->values[g->input]);
    xai_graph_free(g);
    int images = 4 * B; /* rule maps: four batches; multi-pass: the first batch's images */
    float *input = malloc((size_t)images * image * sizeof(float));
    xai_rng rng;
    xai_rng_seed(&rng, 3);
    for (size_t k = 0; k < (size_t)images * image; k++) input[k] = (float)xai_rng_normal(&rng);
    const xai_method *rules[3] = {&xai_method_saliency, &xai_method_deconvnet, &xai_method_guided_backprop};
    const xai_method *with_cam[5] = {&xai_method_saliency, &xai_method_deconvnet, &xai_method_guided_backprop,
                                     &xai_method_grad_cam, &xai_method_guided_grad_cam};
    const xai_method *smooth = &xai_method_smoothgrad, *integrated = &xai_method_integrated_gradients;
    int S = xai_sample_batch(50);
    double r3[16], r5[16], cams[16], cam_share[16], base[16], sg_inside[16], ig_inside[16], sg[16], ig[16], cam_ratio[16], sg_ratio[16], ig_ratio[16];
    for (int r = 0; r < rounds && r < 16; r++) {
        if (multi_pass_only) {
            sg[r] = driver_ms(&smooth, 1, B, threads, input, B, NULL);
            ig[r] = driver_ms(&integrated, 1, B, threads, input, B, NULL);
            continue;
        }
        double spent[11] = {0}, sg_spent[3] = {0}, ig_spent[3] = {0};
        r3[r] = driver_ms(rules, 3, B, threads, input, images, NULL);
        r5[r] = driver_ms(with_cam, 5, B, threads, input, images, spent);
        base[r] = 50 * pass_ms(S, threads, input);
        sg[r] = driver_ms(&smooth, 1, B, threads, input, B, sg_spent);
        ig[r] = driver_ms(&integrated, 1, B, threads, input, B, ig_spent);
        sg_inside[r] = (sg_spent[0] + sg_spent[1]) / sg_spent[2], ig_inside[r] = (ig_spent[0] + ig_spent[1]) / ig_spent[2];
        cams[r] = spent[4] + spent[5];
        cam_share[r] = (spent[0] + spent[1] + spent[2] + spent[3] + cams[r]) / (spent[0] + spent[1] + spent[2] + spent[3]);
        cam_ratio[r] = r5[r] / r3[r], sg_ratio[r] = sg[r] / base[r], ig_ratio[r] = ig[r] / base[r];
        fprintf(stderr, "round %d: rules %.1f, +cams %.1f (the cams' own %.2f), 50 passes %.1f, smoothgrad %.1f, IG %.1f "
                "ms/image\n", r + 1, r3[r], r5[r], cams[r], base[r], sg[r], ig[r]);
    }
    int n = rounds < 16 ? rounds : 16;
    if (multi_pass_only) {
        printf("%s, batch %d, %d threads; medians of %d rounds (ms per image):\n", model_path, B, threads, n);
        printf("  smoothgrad (n = 50) %.1f; integrated_gradients (m = 50) %.1f\n", xai_median(sg, n), xai_median(ig, n));
        free(input);
        return 0;
    }
    printf("%s, batch %d, %d threads; medians of %d rounds (ms per image):\n", model_path, B, threads, n);
    printf("  three rule maps %.1f; with grad_cam and guided_grad_cam %.1f: %.3fx (goal <= 1.05)\n", xai_median(r3, n),
           xai_median(r5, n), xai_median(cam_ratio, n));
    printf("  the cams' own time in those batches %.2f: %.3fx the forward and rule maps beside them\n",
           xai_median(cams, n), xai_median(cam_share, n));
    printf("  50 x (forward + backward) at batch %d: %.1f\n", S, xai_median(base, n));
    printf("  smoothgrad (n = 50) %.1f: %.3fx; integrated_gradients (m = 50) %.1f: %.3fx (goal <= 1.05)\n",
           xai_median(sg, n), xai_median(sg_ratio, n), xai_median(ig, n), xai_median(ig_ratio, n));
    printf("  the same runs against their own samples' passes (the driver's split): smoothgrad %.3fx, "
           "integrated_gradients %.3fx\n", xai_median(sg_inside, n), xai_median(ig_inside, n));
    free(input);
    return 0;
}
