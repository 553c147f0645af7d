/* bench_run.c - does the sweep keep the engine busy? Images/s of `xaibench run` (decode, engine,
 * heat maps, HDF5 parts and the final merge) against the engine alone on the same batches
 * (inputs decoded beforehand), same batch size, methods and threads, measured in one process.
 * Goal (experiments issue): run >= 90 % of the engine-only rate on 2 threads.
 * The data: the sample photos copied COPIES times into a Stanford-Dogs-shaped tree. The two are
 * timed in turn ROUNDS times (engine, run, engine, run...) and the medians compared, so that a
 * change of the host's load hits both alike: the figure is the median of the rounds' ratios.
 * Each round's engine-only loop has a fresh engine, as each run does: both exclude creating it
 * (the run's start-up) and both pay its first batch's cold memory.
 * usage: bench_run [--model F.onnx] [--copies N] [--batch B] [--threads T] [--rounds R] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xai_clock.h"
#include "xai_classes.h"
#include "xai_dogs.h"
#include "xai_engine.h"
#include "xai_evaluate.h"
#include "xai_model.h"
#include "xai_run.h"
#include "xai_status.h"

int main(int argc, char **argv)
{
    const char *model = NULL;
    int copies = 8, batch = 8, threads = 2, rounds = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--model")) model = argv[i + 1];
        else if (!strcmp(argv[i], "--copies")) copies = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rounds")) rounds = atoi(argv[i + 1]);
    }
    if (batch < 1 || batch > 256) return fprintf(stderr, "bench_run: --batch must be 1..256\n"), 1;
    char root[] = "/tmp/xaibench-bench-run-XXXXXX", command[4096], sample[sizeof root + 16], out[sizeof root + 16];
    if (!mkdtemp(root)) return perror("mkdtemp"), 1;
    snprintf(sample, sizeof sample, "%s/tree", root);
    snprintf(out, sizeof out, "%s/run.h5", root);
    /* truncated.jpg stays one bad image in the lot */
    if (xai_sample_set_write("data/samples", sample, copies)) goto fail;
    char default_model[sizeof root + 32];
    if (!model) {
        snprintf(default_model, sizeof default_model, "%s/resnet18.onnx", root);
        xai_model_spec spec = {.arch = "resnet18", .seed = 0};
        if (xai_model_write_resnet(&spec, default_model)) goto fail;
        model = default_model;
    }
    const xai_rule *rules[3] = {&xai_rule_saliency, &xai_rule_deconvnet, &xai_rule_guided_backprop};
    const xai_method *methods[3] = {&xai_method_saliency, &xai_method_deconvnet, &xai_method_guided_backprop};

    /* Engine alone: the same images, decoded beforehand, in the run's batches (items
     * [k B, (k + 1) B) of the selection: the one with the undecodable image holds B - 1, the
     * last one what is left; the engine computes B slots for each, as in the run). */
    xai_dataset *d;
    xai_dataset_selection sel = {0};
    if (xai_dataset_open(&d, sample, &sel)) goto fail;
    xai_graph *g;
    xai_engine *e;
    if (xai_graph_load(&g, model, NULL)) goto fail;
    size_t image = xai_value_size(&g->values[g->input]);
    int classes = xai_graph_outputs(g), n = d->count, n_batches = (n + batch - 1) / batch, loaded = 0;
    float *inputs = calloc((size_t)n_batches * batch * image, sizeof(float)), *logits = malloc((size_t)batch * classes * sizeof(float));
    float *maps[3];
    int indices[256], chosen[256];
    for (int m = 0; m < 3; m++) maps[m] = malloc((size_t)batch * image * sizeof(float));
    for (int b = 0; b < n_batches; b++) {
        int count = n - b * batch < batch ? n - b * batch : batch, got;
        if (xai_dataset_load_batch(d, b * batch, count, inputs + (size_t)b * batch * image, indices, &got)) goto fail;
        loaded += got;
    }
    if (rounds < 1 || rounds > 15) rounds = 3;
    double engine_rates[15], run_rates[15], walls[15], ratios[15], wall_ratios[15];
    xai_run_summary summary;
    for (int r = 0; r < rounds; r++) {
        if (xai_engine_create(&e, g, batch, threads)) goto fail;
        double t0 = xai_now_seconds();
        for (int b = 0; b < n_batches; b++) {
            xai_explain_request rq = {inputs + (size_t)b * batch * image, 3, rules, NULL, chosen, logits, maps, NULL, NULL};
            if (xai_engine_explain(e, &rq)) goto fail;
        }
        engine_rates[r] = loaded / (xai_now_seconds() - t0);
        xai_engine_destroy(e);
        xai_run_options o = {.model = model, .dataset = sample, .output = out, .methods = methods, .n_methods = 3,
                             .batch = batch, .threads = threads, .target_predicted = 1, .quiet = 1};
        t0 = xai_now_seconds();
        if (xai_run(&o, &summary)) goto fail;
        double wall = xai_now_seconds() - t0;
        run_rates[r] = summary.images / (wall - summary.seconds_startup);
        walls[r] = summary.images / wall;
        ratios[r] = run_rates[r] / engine_rates[r];
        wall_ratios[r] = walls[r] / engine_rates[r];
        printf("round %d: engine %6.2f images/s, run %6.2f images/s (%.1f %%); phases: start-up %.2f s, decode "
               "%.2f s, engine %.2f s, part files %.2f s, output %.2f s (waited for %.2f s)\n",
               r + 1, engine_rates[r], run_rates[r], 100 * run_rates[r] / engine_rates[r], summary.seconds_startup,
               summary.seconds_decode, summary.seconds_engine, summary.seconds_parts, summary.seconds_merge,
               summary.seconds_waiting);
        remove(out);
    }
    double engine_rate = xai_median(engine_rates, rounds), run_rate = xai_median(run_rates, rounds);
    double ratio = xai_median(ratios, rounds), wall_ratio = xai_median(wall_ratios, rounds);
    printf("%d images (%d skipped), batch %d, %d threads, three methods; medians of %d rounds:\n", summary.images,
           summary.skipped, batch, threads, rounds);
    printf("engine alone:   %6.2f images/s\n", engine_rate);
    printf("xaibench run:   %6.2f images/s (decode, engine, heat maps, HDF5 part files and output) after the\n"
           "                one-time start-up (model load and checksum, data set, oneDNN primitives: %.2f s)\n",
           run_rate, summary.seconds_startup);
    printf("run / engine:   %6.1f %% (goal >= 90 %%; median of the rounds' ratios); with the start-up counted: %.1f %%\n",
           100 * ratio, 100 * wall_ratio);
    xai_graph_free(g);
    snprintf(command, sizeof command, "rm -rf %s", root);
    if (system(command) != 0) fprintf(stderr, "bench_run: could not remove %s\n", root);
    return 0;
fail:
    fprintf(stderr, "bench_run: %s\n", xai_last_error());
    return 1;
}
