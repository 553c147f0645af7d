/* test_sanity.c - the model-parameter randomization test (xai_sanity.h): the similarity
 * measures against SciPy and scikit-image, the original step bit for bit, what randomizing the
 * last layer changes and leaves alone, the same numbers for any --threads and --batch and after
 * a kill and a resume, and the refusals of bad input. */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_support.h"
#include "xai_dogs.h"
#include "xai_driver.h"
#include "xai_engine.h"
#include "xai_model.h"
#include "xai_onnx_builder.h"
#include "xai_sanity.h"
#include "xai_sanity_store.h"
#include "xai_similarity.h"
#include "xai_status.h"

static const char *binary(void) { return getenv("XAIBENCH") ? getenv("XAIBENCH") : "build/xaibench"; }

static double spearman(const float *a, const float *b, size_t n)
{
    float *work = malloc(xai_spearman_work_floats(n) * sizeof(float));
    double rho = xai_spearman(a, b, n, work);
    free(work);
    return rho;
}

Test(sanity, similarity_of_known_cases)
{
    float up[4] = {1, 2, 3, 4}, down[4] = {4, 3, 2, 1}, tied[4] = {1, 2, 2, 3}, doubled[4] = {3, 5, 7, 9};
    cr_expect_float_eq(spearman(up, doubled, 4), 1.0, 1e-15);
    cr_expect_float_eq(spearman(up, down, 4), -1.0, 1e-15);
    /* ranks 1, 2.5, 2.5, 4 against 1..4: 4.5 / sqrt(4.5 * 5) */
    cr_expect_float_eq(spearman(tied, up, 4), 4.5 / sqrt(22.5), 1e-15);
    float zeros[4] = {0.f, -0.f, 0.f, -0.f}, constant[4] = {2, 2, 2, 2};
    cr_expect(isnan(spearman(zeros, up, 4)), "-0 and +0 are one value: a constant map");
    cr_expect(isnan(spearman(constant, up, 4)));
    enum { H = 12, W = 9 };
    float image[H * W], other[H * W];
    test_normal_floats(image, H * W, 5);
    test_normal_floats(other, H * W, 6);
    xai_scale_unit(image, H * W, image);
    xai_scale_unit(other, H * W, other);
    double work[5 * W];
    cr_expect_float_eq(xai_ssim(image, image, H, W, 1.0, work), 1.0, 1e-12);
    cr_expect_lt(xai_ssim(image, other, H, W, 1.0, work), 0.5);
    cr_expect(isnan(xai_ssim(image, other, 6, W, 1.0, work)), "smaller than the 7 x 7 window");
}

/* Cases with ties, negative values, correlated pairs and odd sizes, written for the Python side. */
Test(sanity, similarity_matches_scipy_and_skimage, .timeout = 120)
{
    if (system("/usr/bin/python3 -c 'import scipy.stats, skimage.metrics' 2>/dev/null") != 0)
        cr_skip_test("Debian's python3-scipy and python3-skimage are not installed (scripts/setup.sh --test)");
    enum { CASES = 4 };
    const int shapes[CASES][2] = {{32, 40}, {7, 7}, {57, 23}, {224, 224}};
    const char *path = test_path("similarity-cases.bin");
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    int count = CASES;
    fwrite(&count, sizeof count, 1, f);
    float *a[CASES], *b[CASES];
    for (int c = 0; c < CASES; c++) {
        int h = shapes[c][0], w = shapes[c][1], n = h * w;
        a[c] = malloc(n * sizeof(float)), b[c] = malloc(n * sizeof(float));
        test_normal_floats(a[c], n, 10 + c);
        test_normal_floats(b[c], n, 20 + c);
        for (int k = 0; k < n; k++) {
            b[c][k] = 0.6f * a[c][k] + 0.4f * b[c][k];
            if (c == 0) a[c][k] = roundf(a[c][k] * 2) / 2; /* many ties */
        }
        xai_scale_unit(a[c], n, a[c]); /* SSIM's inputs in [0, 1], Spearman's unchanged by it */
        xai_scale_unit(b[c], n, b[c]);
        fwrite(shapes[c], sizeof(int), 2, f);
        fwrite(a[c], sizeof(float), n, f);
        fwrite(b[c], sizeof(float), n, f);
    }
    fclose(f);
    char command[2048];
    snprintf(command, sizeof command, "/usr/bin/python3 tests/similarity_reference.py %s", path);
    FILE *p = popen(command, "r");
    cr_assert_not_null(p);
    for (int c = 0; c < CASES; c++) {
        double rho, ssim;
        cr_assert_eq(fscanf(p, "%lf %lf", &rho, &ssim), 2, "similarity_reference.py gave too few lines");
        int h = shapes[c][0], w = shapes[c][1];
        double *work = malloc(xai_ssim_work_doubles(w) * sizeof(double));
        double ours_rho = spearman(a[c], b[c], (size_t)h * w), ours_ssim = xai_ssim(a[c], b[c], h, w, 1.0, work);
        cr_expect_float_eq(ours_rho, rho, 1e-6, "case %d: Spearman %.9f, SciPy %.9f", c, ours_rho, rho);
        cr_expect_float_eq(ours_ssim, ssim, 1e-6, "case %d: SSIM %.9f, scikit-image %.9f", c, ours_ssim, ssim);
        free(work), free(a[c]), free(b[c]);
    }
    cr_expect_eq(pclose(p), 0, "similarity_reference.py failed");
}

static const char *tiny_model(void)
{
    const char *path = test_path("sanity-tiny.onnx");
    xai_model_spec spec = {.arch = "resnet-tiny", .seed = 7, .random_batchnorm = 1};
    if (access(path, R_OK) != 0) cr_assert_eq(xai_model_write_resnet(&spec, path), XAI_OK, "%s", xai_last_error());
    return path;
}

static const xai_method *const rules[3] = {&xai_method_saliency, &xai_method_deconvnet, &xai_method_guided_backprop};
static const char *const names[3] = {"saliency", "deconvnet", "guided_backprop"};

/* xai_sanity_run on the tiny model with n random inputs. */
static void run_sanity(const char *output, int n, int threads, int batch, int mode)
{
    const char *model = tiny_model();
    xai_graph *g;
    cr_assert_eq(xai_graph_load(&g, model, NULL), XAI_OK, "%s", xai_last_error());
    size_t image = xai_value_size(&g->values[g->input]);
    float *inputs = malloc(n * image * sizeof(float));
    test_normal_floats(inputs, n * image, 11);
    const char *images[8] = {"a", "b", "c", "d", "e", "f", "g", "h"};
    xai_method_params p;
    xai_method_params_default(&p);
    cr_assert_eq(xai_method_params_resolve(&p, g, NULL), XAI_OK);
    remove(output);
    xai_sanity_config c = {.model = model, .output = output, .images = images, .inputs = inputs, .n_images = n,
                           .methods = rules, .n_methods = 3, .params = &p, .mode = mode, .seed = 42,
                           .batch = batch, .threads = threads};
    FILE *quiet = freopen("/dev/null", "w", stdout);
    int status = xai_sanity_run(&c, g);
    fflush(stdout);
    (void)quiet;
    cr_assert_eq(status, XAI_OK, "%s", xai_last_error());
    free(inputs);
    xai_graph_free(g);
}

static double *read_doubles(const char *path, const char *name, long long count)
{
    double *v = malloc(count * sizeof(double));
    cr_assert_eq(xai_sanity_store_read(path, name, 1, v, count), XAI_OK, "%s", xai_last_error());
    return v;
}

Test(sanity, original_step_is_the_explain_maps_and_the_last_layer_changes_saliency, .timeout = 120)
{
    const char *out = test_path("sanity-original.h5");
    run_sanity(out, 2, 2, 2, XAI_SANITY_CASCADING);
    xai_graph *g;
    cr_assert_eq(xai_graph_load(&g, tiny_model(), NULL), XAI_OK);
    xai_sanity_plan plan;
    cr_assert_eq(xai_sanity_plan_make(&plan, g, XAI_SANITY_LAYER), XAI_OK);
    int steps = 1 + plan.n_steps;
    cr_expect_eq(g->nodes[plan.nodes[0]].op, XAI_OP_GEMM, "the first step is the classifier");
    for (int m = 0; m < 3; m++) {
        char name[128];
        snprintf(name, sizeof name, "/similarity/%s/spearman_abs", names[m]);
        double *rho = read_doubles(out, name, steps * 2);
        cr_expect(rho[0] == 1.0 && rho[1] == 1.0, "%s: the original against itself: %g %g", names[m], rho[0], rho[1]);
        if (m == 0) cr_expect_lt(rho[2], 1.0, "saliency after randomizing the last layer: %g", rho[2]);
        free(rho);
    }
    /* Step 0's map of the first image is what explain makes, bit for bit. */
    size_t image = xai_value_size(&g->values[g->input]), plane = (size_t)g->values[g->input].h * g->values[g->input].w;
    float *inputs = malloc(2 * image * sizeof(float));
    test_normal_floats(inputs, 2 * image, 11);
    xai_driver *d;
    xai_driver_config c = {.methods = rules, .n_methods = 3, .batch = 2, .threads = 2};
    cr_assert_eq(xai_driver_create(&d, g, &c), XAI_OK, "%s", xai_last_error());
    float *maps[3], *heat[3], logits[2 * 10];
    int chosen[2];
    for (int m = 0; m < 3; m++) maps[m] = malloc(2 * image * sizeof(float)), heat[m] = malloc(2 * plane * sizeof(float));
    xai_driver_batch rows = {.input = inputs, .count = 2, .chosen = chosen, .logits = logits, .maps = maps, .heatmaps = heat};
    cr_assert_eq(xai_driver_explain(d, &rows), XAI_OK, "%s", xai_last_error());
    for (int m = 0; m < 3; m++) {
        float *figure = malloc(steps * plane * sizeof(float)), *mine = calloc(plane, sizeof(float));
        char name[128];
        snprintf(name, sizeof name, "/figure/%s", names[m]);
        cr_assert_eq(xai_sanity_store_read(out, name, 0, figure, steps * (long long)plane), XAI_OK);
        for (int ch = 0; ch < 3; ch++)
            for (size_t p = 0; p < plane; p++) mine[p] += fabsf(maps[m][ch * plane + p]);
        cr_expect_eq(memcmp(figure, mine, plane * sizeof(float)), 0, "%s: step 0 differs from explain", names[m]);
        free(figure), free(mine), free(maps[m]), free(heat[m]);
    }
    xai_driver_destroy(d);
    xai_sanity_plan_free(&plan);
    xai_graph_free(g);
    free(inputs);
}

Test(sanity, randomizing_the_last_layer_leaves_the_forward_below_it)
{
    xai_graph *g;
    cr_assert_eq(xai_graph_load(&g, tiny_model(), NULL), XAI_OK);
    int fc = g->n_nodes - 1;
    cr_assert_eq(g->nodes[fc].op, XAI_OP_GEMM);
    int below = g->nodes[fc].input[0], classes = xai_graph_outputs(g);
    size_t image = xai_value_size(&g->values[g->input]), features = xai_value_size(&g->values[below]);
    float *input = malloc(2 * image * sizeof(float)), before[2 * 512], after[2 * 512], logits[2][2 * 10];
    cr_assert_leq(features, 512);
    cr_assert_leq(classes, 10);
    test_normal_floats(input, 2 * image, 3);
    xai_engine *e;
    cr_assert_eq(xai_engine_create(&e, g, 2, 2), XAI_OK, "%s", xai_last_error());
    cr_assert_eq(xai_engine_forward(e, input, logits[0]), XAI_OK);
    cr_assert_eq(xai_engine_read_value(e, below, before, NULL), XAI_OK, "%s", xai_last_error());
    xai_sanity_reinit(g, fc, 1);
    cr_assert_eq(xai_engine_reload_weights(e, fc), XAI_OK, "%s", xai_last_error());
    cr_assert_eq(xai_engine_forward(e, input, logits[1]), XAI_OK);
    cr_assert_eq(xai_engine_read_value(e, below, after, NULL), XAI_OK);
    cr_expect_eq(memcmp(before, after, 2 * features * sizeof(float)), 0, "the features under the classifier changed");
    cr_expect_neq(memcmp(logits[0], logits[1], 2 * classes * sizeof(float)), 0, "the logits did not change");
    xai_engine_destroy(e);
    xai_graph_free(g);
    free(input);
}

static void expect_same_results(const char *a, const char *b, int steps, int n, size_t plane)
{
    for (int m = 0; m < 3; m++)
        for (int k = 0; k < XAI_SANITY_MEASURES + 1; k++) {
            char name[128];
            long long count = (long long)steps * (k < XAI_SANITY_MEASURES ? (long long)n : (long long)plane);
            if (k < XAI_SANITY_MEASURES) snprintf(name, sizeof name, "/similarity/%s/%s", names[m], xai_sanity_measures[k]);
            else snprintf(name, sizeof name, "/figure/%s", names[m]);
            size_t bytes = count * (k < XAI_SANITY_MEASURES ? sizeof(double) : sizeof(float));
            void *x = malloc(bytes), *y = malloc(bytes);
            cr_assert_eq(xai_sanity_store_read(a, name, k < XAI_SANITY_MEASURES, x, count), XAI_OK, "%s", xai_last_error());
            cr_assert_eq(xai_sanity_store_read(b, name, k < XAI_SANITY_MEASURES, y, count), XAI_OK, "%s", xai_last_error());
            cr_expect_eq(memcmp(x, y, bytes), 0, "%s differs between %s and %s", name, a, b);
            free(x), free(y);
        }
}

static void steps_and_plane(int granularity, int *steps, size_t *plane)
{
    xai_graph *g;
    cr_assert_eq(xai_graph_load(&g, tiny_model(), NULL), XAI_OK);
    xai_sanity_plan plan;
    cr_assert_eq(xai_sanity_plan_make(&plan, g, granularity), XAI_OK);
    *steps = 1 + plan.n_steps, *plane = (size_t)g->values[g->input].h * g->values[g->input].w;
    xai_sanity_plan_free(&plan);
    xai_graph_free(g);
}

Test(sanity, same_numbers_for_any_threads_and_batch, .timeout = 300)
{
    const char *one = test_path("sanity-t1-b1.h5"), *two = test_path("sanity-t2-b3.h5");
    run_sanity(one, 3, 1, 1, XAI_SANITY_INDEPENDENT);
    run_sanity(two, 3, 2, 3, XAI_SANITY_INDEPENDENT);
    int steps;
    size_t plane;
    steps_and_plane(XAI_SANITY_LAYER, &steps, &plane);
    expect_same_results(one, two, steps, 3, plane);
}

Test(sanity, blocks_group_the_residual_blocks)
{
    xai_graph *g;
    cr_assert_eq(xai_graph_load(&g, tiny_model(), NULL), XAI_OK);
    xai_sanity_plan layers, blocks;
    cr_assert_eq(xai_sanity_plan_make(&layers, g, XAI_SANITY_LAYER), XAI_OK);
    cr_assert_eq(xai_sanity_plan_make(&blocks, g, XAI_SANITY_BLOCK), XAI_OK);
    cr_expect_eq(layers.n_steps, layers.n_nodes);
    cr_expect_eq(blocks.n_nodes, layers.n_nodes);
    /* the classifier, each BasicBlock (two convs, three with the downsampling one), the stem */
    cr_expect_eq(blocks.count[0], 1);
    cr_expect_eq(blocks.count[blocks.n_steps - 1], 1);
    int total = 0;
    for (int s = 1; s < blocks.n_steps - 1; s++) {
        cr_expect(blocks.count[s] == 2 || blocks.count[s] == 3, "block %s has %d layers", blocks.label[s], blocks.count[s]);
        total += blocks.count[s];
    }
    cr_expect_eq(total + 2, layers.n_nodes);
    xai_sanity_plan_free(&layers);
    xai_sanity_plan_free(&blocks);
    xai_graph_free(g);
}

/* The real MobileNetV2: the classifier conv, the 1280-channel conv, then 16 inverted-residual
 * blocks of three convs each, and the first block (depthwise and projection, no expansion) with
 * the stem conv. */
Test(sanity, blocks_of_mobilenet_v2)
{
    const char *path = "../shared/models/mobilenet_v2_coral_float.onnx";
    if (access(path, R_OK)) cr_skip_test("%s missing", path);
    xai_graph *g;
    cr_assert_eq(xai_graph_load(&g, path, NULL), XAI_OK, "%s", xai_last_error());
    xai_sanity_plan blocks;
    cr_assert_eq(xai_sanity_plan_make(&blocks, g, XAI_SANITY_BLOCK), XAI_OK);
    cr_expect_eq(blocks.n_steps, 19);
    cr_expect_eq(blocks.count[0], 1);
    cr_expect_eq(blocks.count[1], 1);
    for (int s = 2; s < blocks.n_steps; s++) cr_expect_eq(blocks.count[s], 3, "block %s", blocks.label[s]);
    xai_sanity_plan_free(&blocks);
    xai_graph_free(g);
}

/* `xaibench sanity` with stdout and stderr to `log`, writing files of at most `file_limit` bytes
 * (0: no limit; past it writes fail with EFBIG, as on a full disk); returns the pid. */
static pid_t start_sanity_limited(const char *out, const char *log, const char *mode, rlim_t file_limit)
{
    const char *args[] = {binary(), "sanity", "--model", tiny_model(), "--image", "data/samples/astronaut.png", "--image",
                          "data/samples/chelsea.png", "--mode", mode, "--threads", "1", "-o", out, NULL};
    remove(log); /* before the fork: what the parent then reads is this run's */
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        FILE *o = freopen(log, "w", stdout);
        (void)o;
        dup2(fileno(stdout), fileno(stderr));
        if (file_limit) {
            struct rlimit limit = {file_limit, file_limit};
            signal(SIGXFSZ, SIG_IGN);
            setrlimit(RLIMIT_FSIZE, &limit);
        }
        execv(binary(), (char *const *)args);
        _exit(127);
    }
    return pid;
}

static pid_t start_sanity(const char *out, const char *log, const char *mode)
{
    return start_sanity_limited(out, log, mode, 0);
}

static int finish(pid_t pid)
{
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int log_has(const char *log, const char *text)
{
    FILE *f = fopen(log, "r");
    char line[4096];
    int found = 0;
    while (f && !found && fgets(line, sizeof line, f)) found = strstr(line, text) != NULL;
    if (f) fclose(f);
    return found;
}

Test(sanity, killed_run_resumes_to_the_same_file, .timeout = 300)
{
    if (access("data/samples/astronaut.png", R_OK) || access("data/samples/chelsea.png", R_OK))
        cr_skip_test("data/samples missing: run scripts/fetch-samples.sh");
    char whole[1024], killed[1024], parts[1100], log[1024];
    snprintf(whole, sizeof whole, "%s", test_path("sanity-whole.h5"));
    snprintf(killed, sizeof killed, "%s", test_path("sanity-killed.h5"));
    snprintf(parts, sizeof parts, "%s.parts", killed);
    snprintf(log, sizeof log, "%s", test_path("sanity.log"));
    remove(whole), remove(killed);
    cr_assert_eq(finish(start_sanity(whole, log, "cascading")), 0, "see %s", log);
    pid_t pid = start_sanity(killed, log, "cascading");
    for (int k = 0; k < 6000 && !log_has(log, "step 3/"); k++) usleep(5000);
    kill(pid, SIGKILL);
    cr_assert_eq(finish(pid), 128 + SIGKILL, "the run ended before it could be killed");
    cr_assert_eq(access(killed, F_OK), -1, "a killed run left a finished file");
    cr_assert_eq(access(parts, F_OK), 0, "a killed run left nothing to resume");
    /* Another mode is refused with a line naming the setting; the same command resumes. */
    cr_expect_neq(finish(start_sanity(killed, log, "independent")), 0);
    cr_expect(log_has(log, "unfinished run of another command (its mode=cascading differs"), "no refusal naming the mode");
    cr_assert_eq(finish(start_sanity(killed, log, "cascading")), 0, "resume failed; see %s", log);
    cr_expect(log_has(log, "resuming"), "the second run did not resume");
    cr_expect_eq(access(parts, F_OK), -1, "the parts outlived the finished file");
    int steps;
    size_t plane;
    steps_and_plane(XAI_SANITY_LAYER, &steps, &plane);
    expect_same_results(whole, killed, steps, 2, plane);
}

/* One line on stderr, a non-zero exit, and no file. */
static void expect_refused(const char *const *args, const char *message)
{
    const char *out = test_path("sanity-refused.h5");
    char partial[1100], command[4096] = "";
    snprintf(partial, sizeof partial, "%s.parts", out);
    remove(out), rmdir(partial);
    for (int k = 0; args[k]; k++) strcat(strcat(command, args[k]), " ");
    char line[2048];
    snprintf(line, sizeof line, "%s %s -o %s 2>&1 >/dev/null", binary(), command, out);
    FILE *p = popen(line, "r");
    char text[4096] = "";
    size_t got = fread(text, 1, sizeof text - 1, p);
    text[got] = '\0';
    int status = pclose(p);
    cr_expect_neq(status, 0, "%s: exit 0", command);
    cr_expect(strstr(text, message) != NULL, "%s: '%s' not in: %s", command, message, text);
    cr_expect_eq(strchr(text, '\n') - text + 1, (long)strlen(text), "%s: not one line: %s", command, text);
    cr_expect_eq(access(out, F_OK), -1, "%s: wrote %s", command, out);
    cr_expect_eq(access(partial, F_OK), -1, "%s: wrote %s", command, partial);
}

Test(sanity, bad_input_is_refused_with_one_line)
{
    /* a model without weight layers: Relu, GlobalAveragePool, Flatten */
    xai_onnx_builder *b = xai_onnx_builder_new("no-weights");
    const char *x[] = {"input", NULL};
    const char *relu = xai_onnx_node(b, "Relu", "relu", x, NULL);
    const char *r[] = {relu, NULL};
    const char *pool = xai_onnx_node(b, "GlobalAveragePool", "pool", r, NULL);
    const char *pp[] = {pool, NULL};
    xai_onnx_attribute *axis[] = {xai_onnx_int(b, "axis", 1), NULL};
    const char *flat = xai_onnx_node(b, "Flatten", "flatten", pp, axis);
    int64_t in_dims[4] = {-1, 3, 224, 224}, out_dims[2] = {-1, 3};
    xai_onnx_io(b, "input", 4, in_dims, flat, 2, out_dims);
    const char *none = test_write_built(b, "no-weights.onnx");
    const char *image = "data/samples/astronaut.png"; /* not read: each refusal comes first */
    const char *no_layers[] = {"sanity", "--model", none, "--image", image, NULL};
    expect_refused(no_layers, "no weight layers");
    const char *mode[] = {"sanity", "--model", tiny_model(), "--image", image, "--mode", "sideways", NULL};
    expect_refused(mode, "--mode");
    const char *granularity[] = {"sanity", "--model", tiny_model(), "--image", image, "--granularity", "atoms", NULL};
    expect_refused(granularity, "--granularity");
    const char *limit[] = {"sanity", "--model", tiny_model(), "--dataset", "data", "--limit", "0", NULL};
    expect_refused(limit, "--limit");
    const char *missing[] = {"sanity", "--model", tiny_model(), "--image", "no/such.png", NULL};
    expect_refused(missing, "no/such.png: cannot open");
    const char *nothing[] = {"sanity", "--model", tiny_model(), NULL};
    expect_refused(nothing, "--image IMG or --dataset DIR");
}

Test(sanity, plot_draws_the_maps_and_the_curves, .timeout = 120)
{
    const char *out = test_path("sanity-plot.h5");
    run_sanity(out, 2, 2, 2, XAI_SANITY_CASCADING);
    char dir[1024], command[3072];
    snprintf(dir, sizeof dir, "%s", test_path("sanity-figures"));
    snprintf(command, sizeof command, "%s plot %s -o %s >/dev/null", binary(), out, dir);
    cr_assert_eq(system(command), 0, "%s failed", command);
    const char *made[] = {"sanity_maps.png", "sanity_maps.pdf", "sanity_curves.png", "sanity_curves.pdf"};
    for (int k = 0; k < 4; k++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", dir, made[k]);
        FILE *f = fopen(path, "rb");
        cr_expect_not_null(f, "%s not written", path);
        if (!f) continue;
        fseek(f, 0, SEEK_END);
        cr_expect_gt(ftell(f), 1000, "%s is empty", path);
        fclose(f);
    }
}

/* mpirun -np 2 and -np 4 (one rank without an image) give the single process's file. */
Test(sanity, mpi_ranks_share_the_images_to_the_same_file, .timeout = 300)
{
#ifndef XAI_WITH_MPI
    cr_skip_test("built without MPI (-DXAI_MPI=OFF)");
#endif
    if (system("command -v mpirun >/dev/null") != 0) cr_skip_test("no mpirun (apt-get install openmpi-bin)");
    if (access("data/samples/astronaut.png", R_OK) || access("data/samples/chelsea.png", R_OK) ||
        access("data/samples/coffee.png", R_OK))
        cr_skip_test("data/samples missing: run scripts/fetch-samples.sh");
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 0);
    const char *images = "--image data/samples/astronaut.png --image data/samples/chelsea.png "
                         "--image data/samples/coffee.png";
    char alone[1024], command[4096];
    snprintf(alone, sizeof alone, "%s", test_path("sanity-alone.h5"));
    snprintf(command, sizeof command, "%s sanity --model %s %s --threads 1 -o %s >/dev/null", binary(), tiny_model(),
             images, alone);
    cr_assert_eq(system(command), 0, "%s failed", command);
    int steps;
    size_t plane;
    steps_and_plane(XAI_SANITY_LAYER, &steps, &plane);
    const int ranks[2] = {2, 4};
    for (int r = 0; r < 2; r++) {
        char shared[1024];
        snprintf(shared, sizeof shared, "%s", test_path(r ? "sanity-np4.h5" : "sanity-np2.h5"));
        snprintf(command, sizeof command,
                 "mpirun --oversubscribe --bind-to none -np %d %s sanity --model %s %s --threads 1 -o %s >/dev/null",
                 ranks[r], binary(), tiny_model(), images, shared);
        cr_assert_eq(system(command), 0, "%s failed", command);
        expect_same_results(alone, shared, steps, 3, plane);
        double a[3], b[3];
        cr_assert_eq(xai_sanity_store_read(alone, "/target", 1, a, 3), XAI_OK);
        cr_assert_eq(xai_sanity_store_read(shared, "/target", 1, b, 3), XAI_OK);
        cr_expect_eq(memcmp(a, b, sizeof a), 0, "/target differs with %d ranks", ranks[r]);
    }
}

/* --dataset DIR --limit N: the tree's first N images, one that cannot be read left out with a
 * line (the sample tree's second image is the truncated JPEG). */
Test(sanity, a_dataset_gives_its_first_images, .timeout = 120)
{
    if (access("data/samples/astronaut.png", R_OK)) cr_skip_test("data/samples missing: run scripts/fetch-samples.sh");
    char root[1024], out[1024], command[4096];
    snprintf(root, sizeof root, "%s", test_path("sanity-dogs"));
    snprintf(out, sizeof out, "%s", test_path("sanity-dogs.h5"));
    cr_assert_eq(xai_sample_set_write("data/samples", root, 1), XAI_OK, "%s", xai_last_error());
    char log[1024];
    snprintf(log, sizeof log, "%s", test_path("sanity-dogs.log"));
    snprintf(command, sizeof command, "%s sanity --model %s --dataset %s --limit 2 --threads 1 -o %s >/dev/null 2>%s",
             binary(), tiny_model(), root, out, log);
    cr_assert_eq(system(command), 0, "%s failed", command);
    cr_expect(log_has(log, "skipped") && log_has(log, "corrupt JPEG"), "no line for the truncated JPEG");
    xai_sanity_info info;
    cr_assert_eq(xai_sanity_store_info(out, &info), XAI_OK, "%s", xai_last_error());
    cr_expect_eq(info.n_images, 1);
    cr_expect_eq(info.n_methods, 3);
    cr_expect_str_eq(info.labels[0], "original");
    xai_sanity_info_free(&info);
}

/* Writes that fail part-way (a file size limit, as a full disk): one line naming the file, exit
 * status 1, and the same command then completes to the file an uninterrupted run makes. */
Test(sanity, a_full_disk_is_reported_and_the_run_resumes, .timeout = 300)
{
    if (access("data/samples/astronaut.png", R_OK) || access("data/samples/chelsea.png", R_OK))
        cr_skip_test("data/samples missing: run scripts/fetch-samples.sh");
    char whole[1024], full[1024], log[1024];
    snprintf(whole, sizeof whole, "%s", test_path("sanity-disk-whole.h5"));
    snprintf(full, sizeof full, "%s", test_path("sanity-disk-full.h5"));
    snprintf(log, sizeof log, "%s", test_path("sanity-disk.log"));
    remove(whole), remove(full);
    cr_assert_eq(finish(start_sanity(whole, log, "cascading")), 0, "see %s", log);
    pid_t pid = start_sanity_limited(full, log, "cascading", 300000);
    cr_assert_eq(finish(pid), 1, "the run did not fail with status 1 at the size limit; see %s", log);
    cr_expect(log_has(log, "xaibench: ") && log_has(log, full), "no error line naming the file in %s", log);
    cr_assert_eq(access(full, F_OK), -1, "a failed run left a finished file");
    cr_assert_eq(finish(start_sanity(full, log, "cascading")), 0, "the resume failed; see %s", log);
    int steps;
    size_t plane;
    steps_and_plane(XAI_SANITY_LAYER, &steps, &plane);
    expect_same_results(whole, full, steps, 2, plane);
}
