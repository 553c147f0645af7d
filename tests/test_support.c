/* test_support.c - scratch files, seeded models and inputs for the tests. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "test_support.h"
#include "xai_model.h"
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
