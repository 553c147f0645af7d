/* bench_engine.c - speed and memory of the engine on one model (default: a seeded ResNet18 at
 * 224x224), the figures the core issue names:
 *   ms/image for forward, forward + one map (saliency), forward + three maps (one shared forward),
 *   at each batch size and thread count; GFLOP/s (2 x MACs per pass) and the ratio to this CPU's
 *   fp32 peak (threads x GHz x SIMD lanes x 2 flops per FMA x FMA units); the 2-thread speedup;
 *   the peak RSS of explaining one image, split into the libraries' file-backed pages and the
 *   rest, set against the weights and activations, and the engine's gradient memory against one
 *   gradient per value; and the reference engine's time for one map, as a ratio. The clock is read from /proc/cpuinfo (a virtual machine may report its base clock
 *   only: --ghz overrides it).
 * With --layers, the depthwise convolutions (memory-bound) are timed one by one for the last
 * batch size and thread count, and their bytes moved per second are set against a parallel copy
 * of a 256 MB buffer measured in the same run.
 * --speed-only leaves out the memory probe and the reference engine (bench/families.py times
 * rounds of it between PyTorch's).
 * usage: bench_engine [--model F.onnx] [--threads 1,2] [--batches 1,8] [--iterations N]
 *                     [--fma-units U] [--ghz G] [--csv OUT.csv] [--layers] [--speed-only] */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xai_clock.h"
#include "xai_engine.h"
#include "xai_evaluate.h"
#include "xai_model.h"
#include "xai_provenance.h"
#include "xai_reference.h"
#include "xai_rng.h"
#include "xai_status.h"

/* Clock (GHz) and fp32 SIMD lanes from /proc/cpuinfo (the name comes from xai_cpu_name). */
static void cpu_clock_and_lanes(double *ghz, int *lanes)
{
    *ghz = 0.0;
    *lanes = 4;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!colon) continue;
        if (!strncmp(line, "cpu MHz", 7) && *ghz == 0.0) {
            *ghz = atof(colon + 1) / 1000.0;
        } else if (!strncmp(line, "flags", 5)) {
            if (strstr(line, " avx512f")) *lanes = 16;
            else if (strstr(line, " avx2") && strstr(line, " fma")) *lanes = 8;
        }
    }
    fclose(f);
}

/* A field of /proc/self/status in kB (-1 when absent). */
static long status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long kb = -1;
    size_t length = strlen(field);
    while (kb < 0 && fgets(line, sizeof line, f))
        if (strncmp(line, field, length) == 0 && line[length] == ':') kb = atol(line + length + 1);
    fclose(f);
    return kb;
}

/* Memory of a child process that does what `xaibench explain` does for one image: load the
 * model, create a batch-1 engine, free the graph's weights, three maps from one forward. Forked
 * before this process loads the model or starts any OpenMP thread. out: its peak RSS (VmHWM),
 * at the end its file-backed resident pages (RssFile: the libraries' code and data it touched,
 * which only grow), the engine's gradient memory and what a gradient per value would take, in
 * MB; -1 when the probe failed. */
static void explain_memory_mb(const char *model, int threads, long out[4])
{
    static const xai_rule *const methods[3] = {&xai_rule_saliency, &xai_rule_deconvnet,
                                                 &xai_rule_guided_backprop};
    out[0] = out[1] = out[2] = out[3] = -1;
    int channel[2];
    if (pipe(channel)) return;
    pid_t child = fork();
    if (child < 0) return;
    if (child == 0) {
        close(channel[0]);
        xai_graph *g;
        xai_engine *e;
        if (xai_graph_load(&g, model, NULL) || xai_engine_create_consuming(&e, g, 1, threads)) _exit(1);
        size_t image = xai_value_size(&g->values[g->input]);
        float *input = calloc(image, sizeof(float)), *logits = calloc(xai_graph_outputs(g), sizeof(float));
        float *maps[3] = {malloc(image * sizeof(float)), malloc(image * sizeof(float)), malloc(image * sizeof(float))};
        int chosen;
        xai_explain_request rq = {input, 3, methods, NULL, &chosen, logits, maps, NULL, NULL};
        if (xai_engine_explain(e, &rq)) _exit(1);
        size_t held, one_per_value;
        xai_engine_gradient_bytes(e, &held, &one_per_value);
        long kb[4] = {status_kb("VmHWM"), status_kb("RssFile"), (long)(held >> 10), (long)(one_per_value >> 10)};
        _exit(write(channel[1], kb, sizeof kb) == (ssize_t)sizeof kb ? 0 : 1);
    }
    close(channel[1]);
    long kb[4];
    int status, got = read(channel[0], kb, sizeof kb) == (ssize_t)sizeof kb;
    close(channel[0]);
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) || !got) {
        fprintf(stderr, "bench_engine: the memory probe failed (status %d)\n", status);
        return;
    }
    for (int k = 0; k < 4; k++) out[k] = kb[k] / 1024;
}

/* What the memory bound counts, in MB: the weights, and every value with its gradient at
 * batch 1 (float32). */
static void weights_and_activations_mb(const xai_graph *g, double *weights, double *activations)
{
    size_t floats = 0;
    for (int v = 0; v < g->n_values; v++) floats += xai_value_size(&g->values[v]);
    *weights = 4.0 * (double)xai_graph_parameter_count(g) / (1 << 20);
    *activations = 2 * 4.0 * (double)floats / (1 << 20);
}

static int parse_list(const char *text, int *out, int max)
{
    int n = 0;
    for (const char *p = text; *p && n < max;) {
        out[n++] = atoi(p);
        p = strchr(p, ',');
        if (!p) break;
        p++;
    }
    return n;
}

typedef struct {
    double forward, one_map, three_maps; /* ms per image */
} timing;

/* GB/s of a parallel copy (bytes read + bytes written), the memory-bound baseline. */
static double copy_bandwidth(int threads)
{
    size_t n = (size_t)64 << 20; /* floats: 256 MB */
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    if (!a || !b) return 0.0;
    omp_set_num_threads(threads);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) a[i] = (float)i, b[i] = 0.f;
    double best = 0.0;
    for (int r = 0; r < 5; r++) {
        double t0 = 1e3 * xai_now_seconds();
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) b[i] = a[i];
        double s = (1e3 * xai_now_seconds() - t0) / 1e3;
        if (s > 0 && 2.0 * n * sizeof(float) / s / 1e9 > best) best = 2.0 * n * sizeof(float) / s / 1e9;
    }
    free(a), free(b);
    return best;
}

#define OPERATORS XAI_OP_COUNT /* xai_op's values */

/* Time every node over `iterations` explains of three maps; report the depthwise convolutions. */
static int depthwise_report(const xai_graph *g, int batch, int threads, int iterations)
{
    static const xai_rule *const methods[3] = {&xai_rule_saliency, &xai_rule_deconvnet,
                                                 &xai_rule_guided_backprop};
    xai_engine *e;
    if (xai_engine_create(&e, g, batch, threads)) return XAI_ERR;
    size_t image = xai_value_size(&g->values[g->input]);
    float *input = calloc((size_t)batch * image, sizeof(float)), *logits = malloc((size_t)batch * xai_graph_outputs(g) * sizeof(float));
    float *maps[3];
    int chosen[256];
    for (int m = 0; m < 3; m++) maps[m] = malloc((size_t)batch * image * sizeof(float));
    xai_rng rng;
    xai_rng_seed(&rng, 1);
    for (size_t i = 0; i < (size_t)batch * image; i++) input[i] = (float)xai_rng_normal(&rng);
    xai_explain_request rq = {input, 3, methods, NULL, chosen, logits, maps, NULL, NULL};
    int status = xai_engine_explain(e, &rq); /* warm-up */
    xai_engine_set_profiling(e, 1);
    for (int it = 0; it < iterations && status == XAI_OK; it++) status = xai_engine_explain(e, &rq);
    double all_fwd = 0, all_bwd = 0, dw_fwd = 0, dw_bwd = 0, dw_bytes = 0;
    double op_fwd[OPERATORS] = {0}, op_bwd[OPERATORS] = {0};
    int layers = 0, op_nodes[OPERATORS] = {0};
    for (int i = 0; status == XAI_OK && i < g->n_nodes; i++) {
        double f, b;
        xai_engine_node_time(e, i, &f, &b);
        all_fwd += f, all_bwd += b;
        const xai_node *n = &g->nodes[i];
        op_fwd[n->op] += f, op_bwd[n->op] += b, op_nodes[n->op]++;
        if (n->op != XAI_OP_CONV || n->group == 1 || n->group != n->in_channels) continue;
        /* forward reads the input and writes the output (backward-data the other way), plus
         * the weights; per pass */
        double bytes = 4.0 * ((double)batch * (xai_value_size(&g->values[n->input[0]]) + xai_value_size(&g->values[n->output])) +
                              (double)n->out_channels * n->kernel_h * n->kernel_w);
        dw_fwd += f, dw_bwd += b, dw_bytes += bytes, layers++;
    }
    if (status == XAI_OK) {
        printf("every node by operator, batch %d, %d threads, ms per image per pass:\n", batch, threads);
        printf("  %-20s %6s %10s %10s\n", "operator", "nodes", "forward", "backward");
        double per = (double)iterations * batch;
        for (int op = 0; op < OPERATORS; op++)
            if (op_nodes[op])
                printf("  %-20s %6d %10.3f %10.3f\n", xai_op_name((xai_op)op), op_nodes[op], op_fwd[op] / per,
                       op_bwd[op] / (3.0 * per));
        printf("  %-20s %6d %10.3f %10.3f\n", "all", g->n_nodes, all_fwd / per, all_bwd / (3.0 * per));
    }
    if (status == XAI_OK && layers) {
        double fwd_pass = dw_fwd / iterations, bwd_pass = dw_bwd / (3.0 * iterations), copy = copy_bandwidth(threads);
        printf("depthwise convolutions (%d layers), batch %d, %d threads, per pass:\n", layers, batch, threads);
        printf("  forward:       %6.2f ms = %4.1f %% of the forward,  %6.1f GB/s\n", fwd_pass,
               100 * dw_fwd / all_fwd, dw_bytes / (fwd_pass / 1e3) / 1e9);
        printf("  backward-data: %6.2f ms = %4.1f %% of a backward, %6.1f GB/s\n", bwd_pass,
               100 * dw_bwd / all_bwd, dw_bytes / (bwd_pass / 1e3) / 1e9);
        printf("  parallel copy of 256 MB on %d threads (same run): %.1f GB/s; forward at %.0f %%, backward at %.0f %% of it\n",
               threads, copy, 100 * dw_bytes / (fwd_pass / 1e3) / 1e9 / copy, 100 * dw_bytes / (bwd_pass / 1e3) / 1e9 / copy);
    } else if (status == XAI_OK) {
        printf("no depthwise convolutions in this model\n");
    }
    for (int m = 0; m < 3; m++) free(maps[m]);
    free(input), free(logits);
    xai_engine_destroy(e);
    return status;
}

/* One engine per thread count for `batch`, timed round-robin (one iteration of each in turn),
 * so that a change of clock or load during the run affects every thread count alike and the
 * speedups compare like with like. Medians over the iterations. */
static int measure(const xai_graph *g, int batch, const int *threads, int n_threads, int iterations,
                   timing *out)
{
    static const xai_rule *const methods[3] = {&xai_rule_saliency, &xai_rule_deconvnet,
                                                 &xai_rule_guided_backprop};
    size_t image = xai_value_size(&g->values[g->input]);
    int classes = xai_graph_outputs(g), status = XAI_OK;
    xai_engine *engines[8] = {NULL};
    float *input = malloc((size_t)batch * image * sizeof(float));
    float *logits = malloc((size_t)batch * classes * sizeof(float));
    float *maps[3];
    int targets[256], chosen[256];
    for (int m = 0; m < 3; m++) maps[m] = malloc((size_t)batch * image * sizeof(float));
    xai_rng rng;
    xai_rng_seed(&rng, 1);
    for (size_t i = 0; i < (size_t)batch * image; i++) input[i] = (float)xai_rng_normal(&rng);
    for (int n = 0; n < batch; n++) targets[n] = -1;
    double *samples = malloc((size_t)3 * n_threads * iterations * sizeof(double));
    for (int t = 0; t < n_threads && status == XAI_OK; t++)
        status = xai_engine_create(&engines[t], g, batch, threads[t]);
    for (int it = -2; it < iterations && status == XAI_OK; it++) /* two warm-up rounds */
        for (int t = 0; t < n_threads && status == XAI_OK; t++) {
            omp_set_num_threads(threads[t]);
            xai_engine *e = engines[t];
            double t0 = 1e3 * xai_now_seconds();
            status = xai_engine_forward(e, input, logits);
            double t1 = 1e3 * xai_now_seconds();
            xai_explain_request one_map = {input, 1, methods, targets, chosen, logits, maps, NULL, NULL};
            if (!status) status = xai_engine_explain(e, &one_map);
            double t2 = 1e3 * xai_now_seconds();
            xai_explain_request three_maps = {input, 3, methods, targets, chosen, logits, maps, NULL, NULL};
            if (!status) status = xai_engine_explain(e, &three_maps);
            double t3 = 1e3 * xai_now_seconds();
            if (it < 0) continue;
            double *s = samples + (size_t)3 * (t * iterations + it);
            s[0] = (t1 - t0) / batch, s[1] = (t2 - t1) / batch, s[2] = (t3 - t2) / batch;
        }
    for (int t = 0; t < n_threads && status == XAI_OK; t++) {
        double column[3][256];
        for (int it = 0; it < iterations; it++)
            for (int k = 0; k < 3; k++) column[k][it] = samples[(size_t)3 * (t * iterations + it) + k];
        out[t].forward = xai_median(column[0], iterations);
        out[t].one_map = xai_median(column[1], iterations);
        out[t].three_maps = xai_median(column[2], iterations);
    }
    for (int t = 0; t < n_threads; t++) xai_engine_destroy(engines[t]);
    free(samples);
    for (int m = 0; m < 3; m++) free(maps[m]);
    free(input), free(logits);
    return status;
}

int main(int argc, char **argv)
{
    const char *model = NULL, *csv = NULL;
    int threads[8] = {1, 2}, n_threads = 2, batches[8] = {1, 8}, n_batches = 2, iterations = 10;
    int fma_units = 2, layers = 0, speed_only = 0;
    double ghz_override = 0.0;
    for (int i = 1; i < argc; i += 2) {
        if (!strcmp(argv[i], "--layers") || !strcmp(argv[i], "--speed-only")) {
            *(!strcmp(argv[i], "--layers") ? &layers : &speed_only) = 1;
            i--; /* takes no value */
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "bench_engine: option %s needs a value\n", argv[i]);
            return 2;
        }
        if (!strcmp(argv[i], "--model")) model = argv[i + 1];
        else if (!strcmp(argv[i], "--threads")) n_threads = parse_list(argv[i + 1], threads, 8);
        else if (!strcmp(argv[i], "--batches")) n_batches = parse_list(argv[i + 1], batches, 8);
        else if (!strcmp(argv[i], "--iterations")) iterations = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--fma-units")) fma_units = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--ghz")) ghz_override = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--csv")) csv = argv[i + 1];
        else {
            fprintf(stderr, "bench_engine: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (iterations < 1) iterations = 1;
    if (iterations > 256) iterations = 256;
    if (n_threads < 1 || n_batches < 1) {
        fprintf(stderr, "bench_engine: empty --threads or --batches list\n");
        return 2;
    }
    char default_model[] = "/tmp/xaibench-bench-resnet18-seed0.onnx";
    if (!model) {
        xai_model_spec spec = {.arch = "resnet18", .seed = 0};
        if (xai_model_write_resnet(&spec, default_model)) goto fail;
        model = default_model;
    }
    long memory[4] = {-1, -1, -1, -1};
    if (!speed_only) explain_memory_mb(model, threads[n_threads - 1], memory);
    xai_graph *g;
    if (xai_graph_load(&g, model, NULL)) goto fail;
    double ghz;
    int lanes;
    char cpu[256];
    cpu_clock_and_lanes(&ghz, &lanes);
    xai_cpu_name(cpu, sizeof cpu);
    if (ghz_override > 0) ghz = ghz_override;
    double gmacs = xai_graph_macs(g) / 1e9;
    printf("model %s: %.3f GMAC per image per pass\n", model, gmacs);
    printf("CPU %s, %.2f GHz, %d fp32 lanes, %d FMA units assumed: peak %.1f GFLOP/s per thread\n",
           cpu, ghz, lanes, fma_units, ghz * lanes * 2 * fma_units);
    printf("%-6s %-8s %12s %12s %12s %10s %10s\n", "batch", "threads", "forward", "fwd+1 map",
           "fwd+3 maps", "GFLOP/s", "of peak");
    FILE *out = csv ? fopen(csv, "w") : NULL;
    if (out) fprintf(out, "batch,threads,forward_ms,one_map_ms,three_maps_ms,gflops,peak_fraction\n");
    timing table[8][8];
    for (int b = 0; b < n_batches; b++) {
        int rounds = batches[b] > 1 ? (iterations + 2) / 3 : iterations;
        if (measure(g, batches[b], threads, n_threads, rounds, table[b])) goto fail;
        for (int t = 0; t < n_threads; t++) {
            timing *r = &table[b][t];
            /* three maps = one forward and three backward passes, each ~ the forward's flops */
            double gflops = 4 * 2 * gmacs / (r->three_maps / 1e3);
            double peak = threads[t] * ghz * lanes * 2 * fma_units;
            printf("%-6d %-8d %9.1f ms %9.1f ms %9.1f ms %10.1f %9.0f%%\n", batches[b], threads[t],
                   r->forward, r->one_map, r->three_maps, gflops, peak > 0 ? 100 * gflops / peak : 0.0);
            if (out) fprintf(out, "%d,%d,%.3f,%.3f,%.3f,%.2f,%.4f\n", batches[b], threads[t], r->forward,
                             r->one_map, r->three_maps, gflops, peak > 0 ? gflops / peak : 0.0);
        }
    }
    for (int b = 0; b < n_batches; b++)
        for (int t = 1; t < n_threads; t++)
            printf("batch %d: %d threads vs %d: speedup %.2fx (three maps)\n", batches[b], threads[t],
                   threads[0], table[b][0].three_maps / table[b][t].three_maps);
    if (layers && depthwise_report(g, batches[n_batches - 1], threads[n_threads - 1], iterations)) goto fail;
    if (memory[0] >= 0) {
        double weights, activations;
        weights_and_activations_mb(g, &weights, &activations);
        printf("peak RSS of explain's work for one image (batch 1, %d threads, three maps): %ld MB\n",
               threads[n_threads - 1], memory[0]);
        printf("  of which the libraries' file-backed pages %ld MB; the rest, %ld MB, is %.2fx the weights (%.0f MB) "
               "and the values with their gradients (%.0f MB)\n", memory[1], memory[0] - memory[1],
               (double)(memory[0] - memory[1]) / (weights + activations), weights, activations);
        printf("  the engine's gradients: %ld MB, where one per value would take %ld MB (values whose backward "
               "steps do not overlap share memory)\n", memory[2], memory[3]);
    }

    if (speed_only) goto done;
    /* The reference engine, one map at batch 1, on the last thread count. */
    size_t image = xai_value_size(&g->values[g->input]);
    double *input = malloc(image * sizeof(double)), *map = malloc(image * sizeof(double));
    xai_rng rng;
    xai_rng_seed(&rng, 1);
    for (size_t i = 0; i < image; i++) input[i] = xai_rng_normal(&rng);
    omp_set_num_threads(threads[n_threads - 1]);
    xai_reference *ref;
    int target = 0;
    if (xai_reference_create(&ref, g, 1)) goto fail;
    double t0 = 1e3 * xai_now_seconds();
    if (xai_reference_forward(ref, input, NULL) ||
        xai_reference_backward(ref, &xai_rule_saliency, &target, map))
        goto fail;
    double reference_ms = 1e3 * xai_now_seconds() - t0;
    printf("reference engine, forward + one map, batch 1, %d threads: %.0f ms = %.0fx the oneDNN engine\n",
           threads[n_threads - 1], reference_ms, reference_ms / table[0][n_threads - 1].one_map);
    xai_reference_destroy(ref);
    free(input), free(map);
done:
    if (out) fclose(out);
    xai_graph_free(g);
    return 0;
fail:
    fprintf(stderr, "bench_engine: %s\n", xai_last_error());
    return 1;
}
