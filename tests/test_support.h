/* test_support.h - helpers shared by the Criterion tests: a per-run scratch directory, seeded
 * models and inputs, and map comparisons. */
#ifndef XAI_TEST_SUPPORT_H
#define XAI_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include "xai_graph.h"
#include "xai_rule.h"
#include "xai_onnx_builder.h"

/* A fresh directory under $TMPDIR for this test process; files in it are removed at exit. */
const char *test_dir(void);

/* test_dir()/name, in one of 64 rotating buffers */
const char *test_path(const char *name);

/* Write (once per process) and load a seeded model; the graph is owned by the caller. */
xai_graph *test_model(const char *arch, uint64_t seed, int random_batchnorm, int keep_batchnorm);

/* n normal deviates with the given seed, as float or double. */
void test_normal_floats(float *out, size_t n, uint64_t seed);

/* How close a float32 map comes to the double one: the fraction of elements off by more than
 * 1e-4 x max |truth|, the cosine between the two, and max |truth| itself. */
typedef struct {
    double off_fraction, cosine, max_truth;
} test_closeness;
test_closeness test_closeness_of(const float *map, const double *truth, size_t n);

/* The fast engine against the reference, judged by what float32 can promise. Which ReLU, Clip
 * and max-pool decisions flip near a tie is a lucky draw for any float32 implementation, so a
 * fixed tolerance either fails correct kernels on some CPUs or passes wrong ones. Instead, for
 * every input image and method, the double reference gives the truth and the float32 reference
 * is run on the input as is and on six nudged copies (three by one float rounding, three by
 * about one convolution's float32 error). The engine's map passes when
 *   - its fraction of elements off the truth by > 1e-4 x max |truth| is at most 1 %, or, on an
 *     image where some float32 run is off at all (a decision within rounding), at most twice
 *     the largest off fraction of any float32 run on any image (what one flip costs here:
 *     test_support.c says why not this image's alone), and
 *   - its cosine to the truth is no lower than the float32 runs' worst on that image minus 1e-5.
 * Logits: within 1e-4 x max |logit|. Judged at batch n_inputs and at batch 1 (the first image);
 * targets are the top class of even images and the second of odd ones. test_engine_judged
 * returns the number of failing maps and logit sets, with the first failure in `why`; the engine
 * runs engine_methods, the references reference_methods (the same, unless a test checks that a
 * wrong rule fails). */
enum { TEST_METHODS = 3 };
int test_engine_judged(const xai_graph *g, const float *inputs, int n_inputs,
                       const xai_rule *const *engine_methods, const xai_rule *const *reference_methods,
                       int n_methods, const char *what, char *why, size_t why_size);

/* The same for saliency, deconvnet and guided backprop, as Criterion expectations. */
void test_engine_matches_reference(const xai_graph *g, const float *inputs, int n_inputs,
                                   const char *what);

/* Saliency on the double reference against central differences of its logit `target` (step h)
 * at `trials` pixels drawn with `seed`, for image `input` (one image of g's input): each pixel's
 * error must be within 1e-6 of its own gradient, or of 1 % of the largest one where its own is
 * near zero (a relative error means nothing there), as Criterion expectations; returns the
 * largest of those relative errors. */
double test_saliency_matches_finite_differences(const xai_graph *g, const float *input, int target, double h,
                                                int trials, uint64_t seed);

/* max |a - b| over n, and max |b| */
double test_max_abs_diff_fd(const float *a, const double *b, size_t n, double *max_abs_b);

/* All rows of dataset `name` of results file `path`, read through the store (asserting they are
 * there); *bytes gets their count; free() them. */
void *test_read_all(const char *path, const char *name, size_t *bytes);

/* Each dataset of `names` holds the same bytes in result files a and b. */
void test_expect_same_datasets(const char *a, const char *b, const char *const *names, size_t n);

/* Write the graph built in b as test_path(name) (opset 13, asserting success), free b, and
 * return the path. */
const char *test_write_built(xai_onnx_builder *b, const char *name);

/* Write `size` bytes to `path` (asserting success). */
void test_write_file(const char *path, const void *bytes, size_t size);

#endif
