/* test_support.c - scratch files, seeded models and inputs for the tests. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "test_support.h"
#include "xai_store.h"
#include "xai_engine.h"
#include "xai_model.h"
#include "xai_reference.h"
#include "xai_rng.h"
#include "xai_status.h"

static char dir[512];

static void remove_dir(void)
{
    char command[600];
    if (!dir[0]) return;
    snprintf(command, sizeof command, "rm -rf '%s'", dir);
    if (system(command) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

const char *test_dir(void)
{
    if (dir[0]) return dir;
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(dir, sizeof dir, "%s/xaibench-test-XXXXXX", base);
    if (!mkdtemp(dir)) cr_assert_fail("cannot create a scratch directory under %s", base);
    atexit(remove_dir);
    return dir;
}

const char *test_path(const char *name)
{
    static char paths[64][768];
    static int next;
    char *p = paths[next++ % 64];
    snprintf(p, sizeof paths[0], "%s/%s", test_dir(), name);
    return p;
}

xai_graph *test_model(const char *arch, uint64_t seed, int random_batchnorm, int keep_batchnorm)
{
    char name[128];
    snprintf(name, sizeof name, "%s-seed%llu%s.onnx", arch, (unsigned long long)seed,
             random_batchnorm ? "-bn" : "");
    const char *path = test_path(name);
    if (access(path, R_OK) != 0) {
        xai_model_spec spec = {.arch = arch, .seed = seed, .random_batchnorm = random_batchnorm};
        cr_assert_eq(xai_model_write_resnet(&spec, path), XAI_OK, "%s", xai_last_error());
    }
    xai_graph_options options = {.keep_batchnorm = keep_batchnorm};
    xai_graph *g = NULL;
    cr_assert_eq(xai_graph_load(&g, path, &options), XAI_OK, "%s", xai_last_error());
    return g;
}

void test_normal_floats(float *out, size_t n, uint64_t seed)
{
    xai_rng rng;
    xai_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++) out[i] = (float)xai_rng_normal(&rng);
}

double test_max_abs_diff_fd(const float *a, const double *b, size_t n, double *max_abs_b)
{
    double diff = 0.0, top = 0.0;
    for (size_t i = 0; i < n; i++) {
        diff = fmax(diff, fabs((double)a[i] - b[i]));
        top = fmax(top, fabs(b[i]));
    }
    if (max_abs_b) *max_abs_b = top;
    return diff;
}

void test_write_file(const char *path, const void *bytes, size_t size)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot create %s", path);
    cr_assert_eq(fwrite(bytes, 1, size, f), size);
    fclose(f);
}

/* ---- the fast engine against the reference ---------------------------------------------------- */

static const xai_rule *const methods[TEST_METHODS] = {&xai_rule_saliency, &xai_rule_deconvnet,
                                                        &xai_rule_guided_backprop};

test_closeness test_closeness_of(const float *map, const double *truth, size_t n)
{
    double top = 0.0, dot = 0.0, norm_map = 0.0, norm_truth = 0.0;
    for (size_t i = 0; i < n; i++) top = fmax(top, fabs(truth[i]));
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        off += fabs((double)map[i] - truth[i]) > 1e-4 * top;
        dot += map[i] * truth[i];
        norm_map += (double)map[i] * map[i];
        norm_truth += truth[i] * truth[i];
    }
    double norms = sqrt(norm_map) * sqrt(norm_truth);
    test_closeness c = {(double)off / (double)n, norms > 0 ? dot / norms : (norm_map == norm_truth), top};
    return c;
}

/* The top class for even images, the second for odd ones (so that maps of other classes than
 * the top one are checked too). */
static void choose_targets(const double *logits, int batch, int classes, int *targets)
{
    for (int n = 0; n < batch; n++) {
        const double *row = logits + (size_t)n * classes;
        int best = 0, second = 1;
        for (int k = 0; k < classes; k++)
            if (row[k] > row[best]) best = k;
        if (second == best) second = 0;
        for (int k = 0; k < classes; k++)
            if (k != best && row[k] > row[second]) second = k;
        targets[n] = n % 2 ? second : best;
    }
}

/* Everything the engine is held to: the double reference's logits and maps, and per image and
 * method the worst closeness of the float32 runs. */
typedef struct {
    int n_images, n_methods, *targets;
    double *logits, **maps;
    test_closeness *float32_worst; /* [method * n_images + image] */
} yardstick;

/* The float32 runs: the input as is, three copies nudged by one float rounding, x (1 + 6e-8 u),
 * and three by about what one float32 convolution adds to its inputs' error, x (1 + 1e-6 u), with
 * u uniform on [-1, 1). On ResNet18 the first nudges alone never reach some decisions that other
 * float32 kernels (oneDNN's AVX2 ones) flip; the larger ones do. */
enum { FLOAT32_RUNS = 7 };
static const double nudge_of_run[FLOAT32_RUNS] = {0, 6e-8, 6e-8, 6e-8, 1e-6, 1e-6, 1e-6};

/* Float32 run `run` of the reference; each map's closeness folds into the worst so far. */
static void float32_run(const xai_graph *g, const float *input, const xai_rule *const *reference_methods,
                        yardstick *y, int run)
{
    size_t image = xai_value_size(&g->values[g->input]), total = (size_t)y->n_images * image;
    float *x = malloc(total * sizeof(float)), *map = malloc(total * sizeof(float));
    xai_rng rng;
    xai_rng_seed(&rng, 1000 + run);
    for (size_t i = 0; i < total; i++)
        x[i] = (float)(input[i] * (1.0 + nudge_of_run[run] * (2.0 * xai_rng_uniform(&rng) - 1.0)));
    xai_reference_f32 *ref;
    cr_assert_eq(xai_reference_f32_create(&ref, g, y->n_images), XAI_OK, "%s", xai_last_error());
    cr_assert_eq(xai_reference_f32_forward(ref, x, NULL), XAI_OK);
    for (int m = 0; m < y->n_methods; m++) {
        cr_assert_eq(xai_reference_f32_backward(ref, reference_methods[m], y->targets, map), XAI_OK);
        for (int n = 0; n < y->n_images; n++) {
            test_closeness c = test_closeness_of(map + n * image, y->maps[m] + n * image, image);
            test_closeness *worst = &y->float32_worst[m * y->n_images + n];
            if (run == 0 || c.off_fraction > worst->off_fraction) worst->off_fraction = c.off_fraction;
            if (run == 0 || c.cosine < worst->cosine) worst->cosine = c.cosine;
        }
    }
    xai_reference_f32_destroy(ref);
    free(x), free(map);
}

/* The yardstick's arrays, in the order the cache file holds them. */
static void yardstick_parts(yardstick *y, size_t image, int classes, void **part, size_t *bytes)
{
    part[0] = y->targets, bytes[0] = (size_t)y->n_images * sizeof(int);
    part[1] = y->logits, bytes[1] = (size_t)y->n_images * classes * sizeof(double);
    part[2] = y->float32_worst, bytes[2] = (size_t)y->n_methods * y->n_images * sizeof(test_closeness);
    for (int m = 0; m < y->n_methods; m++) part[3 + m] = y->maps[m], bytes[3 + m] = (size_t)y->n_images * image * sizeof(double);
}

/* The ISA variants of a test (CTest's *_AVX2, *_SSE41) hold the engine to the same reference
 * results, which do not depend on oneDNN's kernels: with $XAI_TEST_CACHE set (CTest sets it and
 * clears the folder at the start of every run) the first variant keeps them in a file named
 * by what was computed (the model file's bytes, the inputs, the methods), and the others read it. */
static void cache_path(const xai_graph *g, const float *input, size_t floats, const xai_rule *const *methods,
                       int n_methods, char *path, size_t size)
{
    const char *dir = getenv("XAI_TEST_CACHE");
    path[0] = '\0';
    if (!dir) return;
    uint64_t h = 1469598103934665603ull; /* FNV-1a over the model file, the inputs and the methods */
    const unsigned char *bytes = (const unsigned char *)input;
    for (size_t i = 0; i < floats * sizeof(float); i++) h = (h ^ bytes[i]) * 1099511628211ull;
    FILE *model = fopen(g->path, "rb");
    cr_assert_not_null(model, "cannot read %s", g->path);
    for (int c; (c = getc(model)) != EOF;) h = (h ^ (unsigned char)c) * 1099511628211ull;
    fclose(model);
    for (int m = 0; m < n_methods; m++)
        for (const char *c = methods[m]->name; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ull;
    snprintf(path, size, "%s/yardstick-%016llx", dir, (unsigned long long)h);
}

static int cache_read(yardstick *y, size_t image, int classes, const char *path)
{
    FILE *f = path[0] ? fopen(path, "rb") : NULL;
    if (!f) return 0;
    void *part[3 + TEST_METHODS];
    size_t bytes[3 + TEST_METHODS];
    yardstick_parts(y, image, classes, part, bytes);
    int ok = 1;
    for (int k = 0; k < 3 + y->n_methods; k++) ok = ok && fread(part[k], 1, bytes[k], f) == bytes[k];
    fclose(f);
    return ok;
}

static void cache_write(yardstick *y, size_t image, int classes, const char *path)
{
    if (!path[0]) return;
    char partial[1100];
    snprintf(partial, sizeof partial, "%s.%d", path, (int)getpid());
    mkdir(getenv("XAI_TEST_CACHE"), 0755);
    FILE *f = fopen(partial, "wb");
    if (!f) return;
    void *part[3 + TEST_METHODS];
    size_t bytes[3 + TEST_METHODS];
    yardstick_parts(y, image, classes, part, bytes);
    int ok = 1;
    for (int k = 0; k < 3 + y->n_methods; k++) ok = ok && fwrite(part[k], 1, bytes[k], f) == bytes[k];
    if (fclose(f) == 0 && ok) rename(partial, path);
    else remove(partial);
}

static void yardstick_make(const xai_graph *g, const float *input, int batch,
                           const xai_rule *const *reference_methods, int n_methods, yardstick *y)
{
    size_t image = xai_value_size(&g->values[g->input]), total = (size_t)batch * image;
    int classes = xai_graph_outputs(g);
    cr_assert_leq(n_methods, TEST_METHODS);
    y->n_images = batch, y->n_methods = n_methods;
    y->targets = malloc((size_t)batch * sizeof(int));
    y->logits = malloc((size_t)batch * classes * sizeof(double));
    y->maps = malloc((size_t)n_methods * sizeof(double *));
    y->float32_worst = malloc((size_t)n_methods * batch * sizeof(test_closeness));
    for (int m = 0; m < n_methods; m++) y->maps[m] = malloc(total * sizeof(double));
    char cached[1024];
    cache_path(g, input, total, reference_methods, n_methods, cached, sizeof cached);
    if (cache_read(y, image, classes, cached)) return;
    double *x = malloc(total * sizeof(double));
    for (size_t i = 0; i < total; i++) x[i] = input[i];
    xai_reference *ref;
    cr_assert_eq(xai_reference_create(&ref, g, batch), XAI_OK, "%s", xai_last_error());
    cr_assert_eq(xai_reference_forward(ref, x, y->logits), XAI_OK);
    choose_targets(y->logits, batch, classes, y->targets);
    for (int m = 0; m < n_methods; m++)
        cr_assert_eq(xai_reference_backward(ref, reference_methods[m], y->targets, y->maps[m]), XAI_OK);
    xai_reference_destroy(ref);
    free(x);
    for (int run = 0; run < FLOAT32_RUNS; run++) float32_run(g, input, reference_methods, y, run);
    cache_write(y, image, classes, cached);
}

static void yardstick_free(yardstick *y)
{
    for (int m = 0; m < y->n_methods; m++) free(y->maps[m]);
    free(y->maps), free(y->logits), free(y->targets), free(y->float32_worst);
}

/* Keep the first failure's line: write `why` only while it is empty. */
static void note_failure(char *why, size_t size, const char *fmt, ...) XAI_PRINTF(3, 4);
static void note_failure(char *why, size_t size, const char *fmt, ...)
{
    if (why[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
}

/* The engine at batch `batch` on the first images of `input`, judged image by image; returns the
 * number of failing maps and logit sets, and notes the first in `why`. */
static int judge_engine(const xai_graph *g, const float *input, int batch, const yardstick *y,
                        const xai_rule *const *engine_methods, const char *what, char *why, size_t why_size)
{
    size_t image = xai_value_size(&g->values[g->input]);
    int classes = xai_graph_outputs(g), failures = 0;
    xai_engine *e;
    cr_assert_eq(xai_engine_create(&e, g, batch, 0), XAI_OK, "%s", xai_last_error());
    cr_assert_null(strstr(xai_engine_kernels(e), " ref:"), "slow reference kernels chosen:\n%s",
                   xai_engine_kernels(e));
    float *logits = malloc((size_t)batch * classes * sizeof(float));
    float **maps = malloc((size_t)y->n_methods * sizeof(float *));
    int *chosen = malloc((size_t)batch * sizeof(int));
    for (int m = 0; m < y->n_methods; m++) maps[m] = malloc((size_t)batch * image * sizeof(float));
    xai_explain_request rq = {input, y->n_methods, engine_methods, y->targets, chosen, logits, maps, NULL, NULL};
    cr_assert_eq(xai_engine_explain(e, &rq), XAI_OK, "%s", xai_last_error());

    double top = 0.0;
    for (size_t k = 0; k < (size_t)batch * classes; k++) top = fmax(top, fabs(y->logits[k]));
    double logit_diff = test_max_abs_diff_fd(logits, y->logits, (size_t)batch * classes, NULL);
    if (logit_diff > 1e-4 * top && ++failures)
        note_failure(why, why_size, "%s, batch %d: logits differ by %g (max |logit| %g)", what, batch, logit_diff, top);
    /* What one flipped decision can cost in this network: the largest off fraction of a float32
     * run on any image of the yardstick, per method. On an image where float32 runs flip some
     * decision, which of its near-ties an implementation flips is a draw that the runs on that
     * image sample thinly (on ResNet18 the AVX2 kernels flip one that 7 runs reach about once in
     * 8 nudges), so such an image is allowed what a flip costs on any of them. */
    double *flip_cost = calloc((size_t)y->n_methods, sizeof(double));
    for (int m = 0; m < y->n_methods; m++)
        for (int n = 0; n < y->n_images; n++)
            flip_cost[m] = fmax(flip_cost[m], y->float32_worst[m * y->n_images + n].off_fraction);
    for (int m = 0; m < y->n_methods; m++)
        for (int n = 0; n < batch; n++) {
            test_closeness c = test_closeness_of(maps[m] + n * image, y->maps[m] + n * image, image);
            cr_expect_gt(c.max_truth, 0.0, "%s: %s: image %d: the reference map is all zero", what,
                         engine_methods[m]->name, n);
            test_closeness f = y->float32_worst[m * y->n_images + n];
            double allowed = fmax(2.0 * (f.off_fraction > 0 ? flip_cost[m] : 0.0), 0.01);
            cr_log_info("%s, %s, batch %d, image %d: off %.4f%% cosine 1-%.2e; float32 worst off %.4f%% "
                        "cosine 1-%.2e", what, engine_methods[m]->name, batch, n, 100 * c.off_fraction,
                        1 - c.cosine, 100 * f.off_fraction, 1 - f.cosine);
            int bad_off = c.off_fraction > allowed, bad_cosine = c.cosine < f.cosine - 1e-5;
            if ((bad_off || bad_cosine) && ++failures)
                note_failure(why, why_size, "%s, %s, batch %d, image %d: %.3f%% of elements off by > 1e-4 x max "
                         "(allowed %.3f%%), cosine %.8f (float32 reference: %.8f)", what,
                         engine_methods[m]->name, batch, n, 100 * c.off_fraction, 100 * allowed,
                         c.cosine, f.cosine);
        }
    for (int m = 0; m < y->n_methods; m++) free(maps[m]);
    free(maps), free(logits), free(chosen), free(flip_cost);
    xai_engine_destroy(e);
    return failures;
}

int test_engine_judged(const xai_graph *g, const float *inputs, int n_inputs,
                       const xai_rule *const *engine_methods, const xai_rule *const *reference_methods,
                       int n_methods, const char *what, char *why, size_t why_size)
{
    yardstick y;
    why[0] = '\0';
    yardstick_make(g, inputs, n_inputs, reference_methods, n_methods, &y);
    int failures = judge_engine(g, inputs, n_inputs, &y, engine_methods, what, why, why_size);
    /* The first image alone: reference results are per image. */
    failures += judge_engine(g, inputs, 1, &y, engine_methods, what, why, why_size);
    yardstick_free(&y);
    return failures;
}

void test_engine_matches_reference(const xai_graph *g, const float *inputs, int n_inputs, const char *what)
{
    char why[1024];
    int failures = test_engine_judged(g, inputs, n_inputs, methods, methods, TEST_METHODS, what, why, sizeof why);
    cr_expect_eq(failures, 0, "%d maps or logits fail the float32 criterion; first: %s", failures, why);
}

void *test_read_all(const char *path, const char *name, size_t *bytes)
{
    xai_store *store;
    cr_assert_eq(xai_store_open(&store, path, XAI_STORE_READ), XAI_OK, "%s", xai_last_error());
    long long rows;
    size_t row_bytes;
    cr_assert_eq(xai_store_rows(store, name, &rows, &row_bytes), XAI_OK, "%s", xai_last_error());
    *bytes = (size_t)rows * row_bytes;
    void *data = malloc(*bytes + 1);
    cr_assert_eq(xai_store_read(store, name, 0, rows, data), XAI_OK, "%s", xai_last_error());
    xai_store_abort(store);
    return data;
}

void test_expect_same_datasets(const char *a_path, const char *b_path, const char *const *names, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        size_t na, nb;
        void *x = test_read_all(a_path, names[k], &na), *y = test_read_all(b_path, names[k], &nb);
        cr_expect(na == nb && memcmp(x, y, na) == 0, "%s differs between %s and %s", names[k], a_path, b_path);
        free(x), free(y);
    }
}

const char *test_write_built(xai_onnx_builder *b, const char *name)
{
    const char *path = test_path(name);
    cr_assert_eq(xai_onnx_write(b, 13, path), XAI_OK, "%s: %s", name, xai_last_error());
    xai_onnx_builder_free(b);
    return path;
}

static double logit_of(xai_reference *ref, const double *x, int target, double *logits)
{
    cr_assert_eq(xai_reference_forward(ref, x, logits), XAI_OK, "%s", xai_last_error());
    return logits[target];
}

double test_saliency_matches_finite_differences(const xai_graph *g, const float *input, int target, double h,
                                                int trials, uint64_t seed)
{
    size_t image = xai_value_size(&g->values[g->input]);
    double *x = malloc(image * sizeof(double)), *map = malloc(image * sizeof(double));
    double *logits = malloc((size_t)xai_graph_outputs(g) * sizeof(double));
    cr_assert(x && map && logits);
    for (size_t i = 0; i < image; i++) x[i] = input[i];
    xai_reference *ref;
    cr_assert_eq(xai_reference_create(&ref, g, 1), XAI_OK);
    logit_of(ref, x, target, logits);
    cr_assert_eq(xai_reference_backward(ref, &xai_rule_saliency, &target, map), XAI_OK);
    double top = 0.0, worst = 0.0;
    for (size_t i = 0; i < image; i++) top = fmax(top, fabs(map[i]));
    cr_assert_gt(top, 0.0);
    xai_rng rng;
    xai_rng_seed(&rng, seed);
    for (int trial = 0; trial < trials; trial++) {
        size_t i = (size_t)(xai_rng_uniform(&rng) * image);
        double keep = x[i];
        x[i] = keep + h;
        double up = logit_of(ref, x, target, logits);
        x[i] = keep - h;
        double down = logit_of(ref, x, target, logits);
        x[i] = keep;
        double fd = (up - down) / (2 * h), scale = fmax(fabs(map[i]), 1e-2 * top);
        cr_expect_leq(fabs(fd - map[i]), 1e-6 * scale, "pixel %zu: finite difference %.10g, saliency %.10g", i, fd,
                      map[i]);
        worst = fmax(worst, fabs(fd - map[i]) / scale);
    }
    xai_reference_destroy(ref);
    free(x), free(map), free(logits);
    return worst;
}
