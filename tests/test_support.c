/* test_support.c - scratch files, seeded models and inputs for the tests. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "test_support.h"
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

#define N_METHODS 3
static const xai_method *const methods[N_METHODS] = {&xai_method_saliency, &xai_method_deconvnet,
                                                     &xai_method_guided_backprop};

/* Reference results for `batch` images: logits and one map per method. */
typedef struct {
    double *logits, *maps[N_METHODS];
    int *targets;
} reference_result;

/* Reference forward and the three maps; targets: the top class, or the second one for odd
 * images (so that maps for other classes than the top one are checked too); NULL targets are
 * chosen that way and stored, given ones are used as they are. */
static void reference_run(const xai_graph *g, const double *in, int batch, reference_result *r,
                          const int *targets)
{
    size_t image = xai_value_size(&g->values[g->input]);
    int classes = g->values[g->output].c;
    r->logits = malloc((size_t)batch * classes * sizeof(double));
    r->targets = malloc((size_t)batch * sizeof(int));
    xai_reference *ref;
    cr_assert_eq(xai_reference_create(&ref, g, batch), XAI_OK, "%s", xai_last_error());
    cr_assert_eq(xai_reference_forward(ref, in, r->logits), XAI_OK, "%s", xai_last_error());
    for (int n = 0; n < batch; n++) {
        const double *row = r->logits + (size_t)n * classes;
        int best = 0, second = 1;
        for (int k = 0; k < classes; k++)
            if (row[k] > row[best]) best = k;
        if (second == best) second = 0;
        for (int k = 0; k < classes; k++)
            if (k != best && row[k] > row[second]) second = k;
        r->targets[n] = targets ? targets[n] : n % 2 ? second : best;
    }
    for (int m = 0; m < N_METHODS; m++) {
        r->maps[m] = malloc((size_t)batch * image * sizeof(double));
        cr_assert_eq(xai_reference_backward(ref, methods[m], r->targets, r->maps[m]), XAI_OK);
    }
    xai_reference_destroy(ref);
}

static void reference_free(reference_result *r)
{
    free(r->logits);
    free(r->targets);
    for (int m = 0; m < N_METHODS; m++) free(r->maps[m]);
}

/* A float engine and the double reference take the same ReLU and max-pool decisions except
 * where a pre-activation (or two pooled values) lie within float rounding of each other; there
 * the two functions legitimately differ. An input is well conditioned when the reference's
 * own maps move by less than 1e-5 x max |map| under a relative input perturbation of 1e-6
 * (the size of float rounding): on such inputs the engine must agree to 1e-4 x max |map|. */
static int well_conditioned(const reference_result *r, const reference_result *perturbed,
                            int n, size_t image)
{
    for (int m = 0; m < N_METHODS; m++) {
        double diff = 0.0, top = 0.0;
        for (size_t k = n * image; k < (n + 1) * image; k++) {
            diff = fmax(diff, fabs(r->maps[m][k] - perturbed->maps[m][k]));
            top = fmax(top, fabs(r->maps[m][k]));
        }
        if (diff > 1e-5 * top) return 0;
    }
    return 1;
}

/* Run the fast engine on the first `batch` images and compare with the reference. */
static void compare(const xai_graph *g, const float *input, int batch, const reference_result *r)
{
    size_t image = xai_value_size(&g->values[g->input]);
    int classes = g->values[g->output].c;
    xai_engine *e;
    cr_assert_eq(xai_engine_create(&e, g, batch, 0), XAI_OK, "%s", xai_last_error());
    cr_assert_null(strstr(xai_engine_kernels(e), " ref:"), "slow reference kernels chosen:\n%s",
                   xai_engine_kernels(e));
    float *logits = malloc((size_t)batch * classes * sizeof(float));
    float *maps[N_METHODS];
    int chosen[8];
    for (int m = 0; m < N_METHODS; m++) maps[m] = malloc((size_t)batch * image * sizeof(float));
    xai_explain_request rq = {input, N_METHODS, methods, r->targets, chosen, logits, maps, NULL, NULL};
    cr_assert_eq(xai_engine_explain(e, &rq), XAI_OK, "%s", xai_last_error());

    double top = 0.0;
    for (size_t k = 0; k < (size_t)batch * classes; k++) top = fmax(top, fabs(r->logits[k]));
    double logit_diff = test_max_abs_diff_fd(logits, r->logits, (size_t)batch * classes, NULL);
    cr_expect_leq(logit_diff, 1e-4 * top, "batch %d: logits differ by %g (max |logit| %g)", batch,
                  logit_diff, top);
    for (int m = 0; m < N_METHODS; m++)
        for (int n = 0; n < batch; n++) {
            double max_map;
            double diff = test_max_abs_diff_fd(maps[m] + n * image, r->maps[m] + n * image, image, &max_map);
            cr_expect_gt(max_map, 0.0, "%s: image %d: the reference map is all zero", methods[m]->name, n);
            cr_expect_leq(diff, 1e-4 * max_map, "%s, batch %d, image %d: max |diff| %g > 1e-4 x %g",
                          methods[m]->name, batch, n, diff, max_map);
        }
    for (int m = 0; m < N_METHODS; m++) free(maps[m]);
    free(logits);
    xai_engine_destroy(e);
}

/* Does the engine, alone on candidate n, give maps within 1e-4 x max of the reference's? */
static int engine_agrees(const xai_graph *g, const float *input, const reference_result *r, int n)
{
    size_t image = xai_value_size(&g->values[g->input]);
    float *map = malloc(image * sizeof(float));
    xai_engine *e;
    cr_assert_eq(xai_engine_create(&e, g, 1, 0), XAI_OK, "%s", xai_last_error());
    cr_assert_eq(xai_engine_forward(e, input, NULL), XAI_OK);
    int agrees = 1;
    for (int m = 0; m < N_METHODS && agrees; m++) {
        cr_assert_eq(xai_engine_backward(e, methods[m], &r->targets[n], map), XAI_OK);
        double top;
        double diff = test_max_abs_diff_fd(map, r->maps[m] + n * image, image, &top);
        agrees = diff <= 1e-4 * top;
    }
    xai_engine_destroy(e);
    free(map);
    return agrees;
}

void test_engine_matches_reference(const xai_graph *g, const float *candidates, int n_candidates, const char *arch)
{
    enum { CHOSEN = 3 };
    const int CANDIDATES = n_candidates;
    size_t image = xai_value_size(&g->values[g->input]);
    float *noise = malloc(CANDIDATES * image * sizeof(float));
    double *in = malloc(CANDIDATES * image * sizeof(double));
    test_normal_floats(noise, CANDIDATES * image, 200);
    reference_result r, perturbed;
    for (size_t k = 0; k < CANDIDATES * image; k++) in[k] = candidates[k];
    reference_run(g, in, CANDIDATES, &r, NULL);
    for (size_t k = 0; k < CANDIDATES * image; k++) in[k] = candidates[k] * (1.0 + 1e-6 * noise[k]);
    reference_run(g, in, CANDIDATES, &perturbed, r.targets);

    /* The test batch: the first three candidates that are well conditioned or that the engine
     * matches anyway (an exact tie that both engines resolve alike); a candidate is left out
     * only when it is ill conditioned and the engine disagrees there. */
    int chosen[CHOSEN], n_chosen = 0;
    for (int n = 0; n < CANDIDATES && n_chosen < CHOSEN; n++)
        if (well_conditioned(&r, &perturbed, n, image) || engine_agrees(g, candidates + n * image, &r, n))
            chosen[n_chosen++] = n;
        else
            cr_log_info("%s: candidate %d has a decision within float rounding; not compared", arch, n);
    cr_assert_eq(n_chosen, CHOSEN, "%s: only %d of %d inputs usable", arch, n_chosen, CANDIDATES);
    int classes = g->values[g->output].c;
    float *input = malloc(CHOSEN * image * sizeof(float));
    reference_result subset = {malloc(CHOSEN * classes * sizeof(double)), {NULL}, malloc(CHOSEN * sizeof(int))};
    for (int m = 0; m < N_METHODS; m++) subset.maps[m] = malloc(CHOSEN * image * sizeof(double));
    for (int k = 0; k < CHOSEN; k++) {
        int n = chosen[k];
        memcpy(input + k * image, candidates + n * image, image * sizeof(float));
        memcpy(subset.logits + k * classes, r.logits + n * classes, classes * sizeof(double));
        subset.targets[k] = r.targets[n];
        for (int m = 0; m < N_METHODS; m++)
            memcpy(subset.maps[m] + k * image, r.maps[m] + n * image, image * sizeof(double));
    }
    compare(g, input, CHOSEN, &subset);
    compare(g, input, 1, &subset); /* the first image alone: reference results are per image */
    reference_free(&subset);
    reference_free(&r);
    reference_free(&perturbed);
    free(input);
    free(in);
    free(noise);
}

void *test_read_all(hid_t file, const char *name, size_t *bytes)
{
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    cr_assert_geq(d, 0, "dataset %s missing", name);
    hid_t type = H5Dget_type(d), space = H5Dget_space(d);
    *bytes = H5Tget_size(type) * (size_t)H5Sget_simple_extent_npoints(space);
    void *data = malloc(*bytes + 1);
    cr_assert_geq(H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0);
    H5Sclose(space), H5Tclose(type), H5Dclose(d);
    return data;
}

void test_expect_same_datasets(const char *a_path, const char *b_path, const char *const *names, size_t n)
{
    hid_t a = H5Fopen(a_path, H5F_ACC_RDONLY, H5P_DEFAULT), b = H5Fopen(b_path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(a >= 0 && b >= 0, "cannot open %s or %s", a_path, b_path);
    for (size_t k = 0; k < n; k++) {
        size_t na, nb;
        void *x = test_read_all(a, names[k], &na), *y = test_read_all(b, names[k], &nb);
        cr_expect(na == nb && memcmp(x, y, na) == 0, "%s differs between %s and %s", names[k], a_path, b_path);
        free(x), free(y);
    }
    H5Fclose(a), H5Fclose(b);
}

const char *test_write_built(xai_onnx_builder *b, const char *name)
{
    const char *path = test_path(name);
    cr_assert_eq(xai_onnx_write(b, 13, path), XAI_OK, "%s: %s", name, xai_last_error());
    xai_onnx_builder_free(b);
    return path;
}
