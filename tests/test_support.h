/* test_support.h - helpers shared by the Criterion tests: a per-run scratch directory, seeded
 * models and inputs, and map comparisons. */
#ifndef XAI_TEST_SUPPORT_H
#define XAI_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include <hdf5.h>

#include "xai_graph.h"
#include "xai_onnx_builder.h"

/* A fresh directory under $TMPDIR for this test process; files in it are removed at exit. */
const char *test_dir(void);

/* test_dir()/name, in one of 64 rotating buffers */
const char *test_path(const char *name);

/* Write (once per process) and load a seeded model; the graph is owned by the caller. */
xai_graph *test_model(const char *arch, uint64_t seed, int random_batchnorm, int keep_batchnorm);

/* n normal deviates with the given seed, as float or double. */
void test_normal_floats(float *out, size_t n, uint64_t seed);

/* The fast engine against the double-precision reference on `g`: from n_candidates inputs, the
 * first three usable ones must give logits to 1e-4 and, for the three methods, maps within
 * 1e-4 x max |map|, at batch 3 and 1. Usable: well conditioned (the reference's maps move by
 * < 1e-5 x max under a 1e-6 relative input perturbation: no ReLU or max-pool decision within
 * float rounding), or matched by the engine anyway. */
void test_engine_matches_reference(const xai_graph *g, const float *candidates, int n_candidates,
                                   const char *what);

/* max |a - b| over n, and max |b| */
double test_max_abs_diff_fd(const float *a, const double *b, size_t n, double *max_abs_b);

/* All bytes of dataset `name` (asserting it exists); *bytes gets their count; free() them. */
void *test_read_all(hid_t file, const char *name, size_t *bytes);

/* Each dataset of `names` holds the same bytes in result files a and b. */
void test_expect_same_datasets(const char *a, const char *b, const char *const *names, size_t n);

/* Write the graph built in b as test_path(name) (opset 13, asserting success), free b, and
 * return the path. */
const char *test_write_built(xai_onnx_builder *b, const char *name);

/* Write `size` bytes to `path` (asserting success). */
void test_write_file(const char *path, const void *bytes, size_t size);

#endif
