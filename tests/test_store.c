/* test_store.c - the store's reading side (experiments/xai_store.h): what it reads is what was
 * written, a method's parameters survive a merge, metrics go in only when updating, and a file
 * that is not a results file, or a name or row range that is not in it, is refused with one line
 * naming the file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include "test_support.h"
#include "xai_status.h"
#include "xai_store.h"

enum { C = 3, H = 8, W = 6, CLASSES = 4, ROWS = 5 };
static const char *const methods[2] = {"saliency", "smoothgrad"};

/* A run file of ROWS images with values from `seed`, one skipped image, and a parameter of
 * smoothgrad's. */
static const char *write_file(const char *name, uint64_t seed)
{
    xai_store_shape shape = {.channels = C, .height = H, .width = W, .classes = CLASSES, .n_methods = 2,
                             .methods = methods, .with_images = 1};
    static float input[ROWS * C * H * W], logits[ROWS * CLASSES], maps[2][ROWS * C * H * W], heat[2][ROWS * H * W];
    static float bbox[ROWS * 4];
    static int targets[ROWS], labels[ROWS], top5[ROWS * 5];
    test_normal_floats(input, sizeof input / sizeof *input, seed);
    test_normal_floats(logits, sizeof logits / sizeof *logits, seed + 1);
    for (int m = 0; m < 2; m++) {
        test_normal_floats(maps[m], sizeof maps[m] / sizeof *maps[m], seed + 2 + (uint64_t)m);
        test_normal_floats(heat[m], sizeof heat[m] / sizeof *heat[m], seed + 4 + (uint64_t)m);
    }
    for (int i = 0; i < ROWS; i++) {
        targets[i] = i, labels[i] = 10 * i;
        for (int r = 0; r < 5; r++) top5[i * 5 + r] = i + r;
        for (int k = 0; k < 4; k++) bbox[i * 4 + k] = (float)(i + k);
    }
    const char *paths[ROWS] = {"a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg"}, *skipped[1] = {"f.jpg: not a JPEG"};
    double ms[2] = {1.5, 2.5};
    const float *m_rows[2] = {maps[0], maps[1]}, *h_rows[2] = {heat[0], heat[1]};
    xai_store_batch rows = {.count = ROWS, .input = input, .logits = logits, .targets = targets, .maps = m_rows,
                            .heatmaps = h_rows, .ms_forward = 3.0, .ms_methods = ms, .paths = paths,
                            .labels = labels, .bbox = bbox, .bbox_frame = bbox, .top5 = top5, .n_skipped = 1,
                            .skipped = skipped};
    const char *path = test_path(name);
    xai_store *s;
    cr_assert_eq(xai_store_create(&s, path, &shape), XAI_OK, "%s", xai_last_error());
    cr_assert_eq(xai_store_set_attribute(s, "model_path", "m.onnx"), XAI_OK);
    cr_assert_eq(xai_store_set_method_parameter(s, "smoothgrad", "samples", "50"), XAI_OK, "%s", xai_last_error());
    cr_assert_eq(xai_store_append(s, &rows), XAI_OK, "%s", xai_last_error());
    cr_assert_eq(xai_store_close(s), XAI_OK, "%s", xai_last_error());
    return path;
}

Test(store, reads_back_what_was_written)
{
    const char *path = write_file("store.h5", 7);
    xai_store *s;
    cr_assert_eq(xai_store_open(&s, path, XAI_STORE_READ), XAI_OK, "%s", xai_last_error());
    const xai_store_shape *shape = xai_store_shape_of(s);
    cr_expect(shape->rows == ROWS && shape->channels == C && shape->height == H && shape->width == W &&
              shape->classes == CLASSES && shape->with_images && shape->n_methods == 2);
    cr_expect_str_eq(shape->methods[0], "saliency");
    cr_expect_str_eq(shape->methods[1], "smoothgrad");
    float expected[ROWS * C * H * W], got[ROWS * C * H * W];
    test_normal_floats(expected, ROWS * C * H * W, 7 + 3);
    cr_expect_eq(xai_store_read(s, "/maps/smoothgrad", 1, 3, got), XAI_OK, "%s", xai_last_error());
    cr_expect_eq(memcmp(got, expected + C * H * W, 3 * C * H * W * sizeof(float)), 0, "rows 1..3 differ");
    int top5[ROWS * 5];
    cr_expect_eq(xai_store_read(s, "/predictions/top5", 0, ROWS, top5), XAI_OK);
    cr_expect(top5[4 * 5 + 4] == 8);
    double ms[ROWS];
    cr_expect_eq(xai_store_read(s, "/timings/smoothgrad", 0, ROWS, ms), XAI_OK);
    cr_expect(ms[0] == 2.5 && ms[4] == 2.5);
    long long rows;
    size_t row_bytes;
    char reason[XAI_STORE_PATH_BYTES];
    cr_expect_eq(xai_store_rows(s, "/skipped/reason", &rows, &row_bytes), XAI_OK);
    cr_expect(rows == 1 && row_bytes == XAI_STORE_PATH_BYTES);
    cr_expect_eq(xai_store_read(s, "/skipped/reason", 0, 1, reason), XAI_OK);
    cr_expect_str_eq(reason, "f.jpg: not a JPEG");
    cr_expect_eq(xai_store_rows(s, "/heatmaps/saliency", &rows, &row_bytes), XAI_OK);
    cr_expect(rows == ROWS && row_bytes == H * W * sizeof(float));
    char *value = NULL;
    cr_expect_eq(xai_store_get_method_parameter(s, "smoothgrad", "samples", &value), XAI_OK);
    cr_expect(value && !strcmp(value, "50"));
    free(value);
    cr_expect_eq(xai_store_get_attribute(s, "no_such_attribute", &value), XAI_OK);
    cr_expect_null(value);
    xai_store_abort(s);
}

Test(store, refuses_names_and_rows_not_in_the_file)
{
    const char *path = write_file("refusals.h5", 8);
    xai_store *s;
    cr_assert_eq(xai_store_open(&s, path, XAI_STORE_READ), XAI_OK, "%s", xai_last_error());
    float row[C * H * W];
    cr_expect_eq(xai_store_read(s, "/maps/deconvnet", 0, 1, row), XAI_ERR);
    cr_expect(strstr(xai_last_error(), path) && strstr(xai_last_error(), "/maps/deconvnet"), "%s", xai_last_error());
    cr_expect_eq(xai_store_read(s, "/input", 4, 2, row), XAI_ERR);
    cr_expect(strstr(xai_last_error(), "rows 4..5"), "%s", xai_last_error());
    cr_expect_eq(xai_store_read(s, "/input", -1, 1, row), XAI_ERR);
    cr_expect_eq(xai_store_has(s, "/metrics/saliency/sparseness"), 0);
    double scores[ROWS] = {0};
    cr_expect_eq(xai_store_write_metric(s, "saliency", "sparseness", scores), XAI_ERR, "a read-only file took a metric");
    cr_expect_eq(xai_store_set_method_parameter(s, "saliency", "k", "v"), XAI_ERR);
    xai_store_abort(s);
}

Test(store, metrics_are_added_in_place_and_replaced)
{
    const char *path = write_file("metrics.h5", 9);
    xai_store *s;
    cr_assert_eq(xai_store_open(&s, path, XAI_STORE_UPDATE), XAI_OK, "%s", xai_last_error());
    double first[ROWS] = {1, 2, 3, 4, 5}, second[ROWS] = {5, 4, 3, 2, 1}, got[ROWS];
    cr_expect_eq(xai_store_write_metric(s, "smoothgrad", "sparseness", first), XAI_OK, "%s", xai_last_error());
    cr_expect_eq(xai_store_write_metric(s, "smoothgrad", "sparseness", second), XAI_OK, "%s", xai_last_error());
    cr_expect_eq(xai_store_write_metric(s, "gradcam", "sparseness", second), XAI_ERR, "a metric of no method");
    cr_expect_eq(xai_store_write_metric(s, "saliency", "a/b", second), XAI_ERR, "a metric name with a slash");
    cr_expect_eq(xai_store_close(s), XAI_OK, "%s", xai_last_error());
    cr_assert_eq(xai_store_open(&s, path, XAI_STORE_READ), XAI_OK, "%s", xai_last_error());
    cr_expect_eq(xai_store_has(s, "/metrics/smoothgrad/sparseness"), 1);
    cr_expect_eq(xai_store_read(s, "/metrics/smoothgrad/sparseness", 0, ROWS, got), XAI_OK, "%s", xai_last_error());
    cr_expect_eq(memcmp(got, second, sizeof got), 0);
    xai_store_abort(s);
    cr_assert_eq(xai_store_open(&s, path, XAI_STORE_UPDATE), XAI_OK);
    cr_expect_eq(xai_store_clear_metrics(s), XAI_OK);
    cr_expect_eq(xai_store_has(s, "/metrics/smoothgrad/sparseness"), 0);
    cr_expect_eq(xai_store_close(s), XAI_OK);
}

Test(store, merge_keeps_each_methods_parameters)
{
    const char *a = write_file("part-a.h5", 10), *b = write_file("part-b.h5", 20), *merged = test_path("merged.h5");
    const char *parts[2] = {a, b};
    cr_assert_eq(xai_store_merge(merged, parts, 2, NULL, NULL), XAI_OK, "%s", xai_last_error());
    xai_store *s;
    cr_assert_eq(xai_store_open(&s, merged, XAI_STORE_READ), XAI_OK, "%s", xai_last_error());
    cr_expect_eq(xai_store_shape_of(s)->rows, 2 * ROWS);
    char *value = NULL;
    cr_expect_eq(xai_store_get_method_parameter(s, "smoothgrad", "samples", &value), XAI_OK);
    cr_expect(value && !strcmp(value, "50"), "the merged file lost smoothgrad's parameters");
    free(value);
    float got[C * H * W], expected[ROWS * C * H * W];
    test_normal_floats(expected, ROWS * C * H * W, 20);
    cr_expect_eq(xai_store_read(s, "/input", ROWS + 2, 1, got), XAI_OK);
    cr_expect_eq(memcmp(got, expected + 2 * C * H * W, sizeof got), 0, "the second part's rows are not after the first's");
    xai_store_abort(s);
}

Test(store, a_file_that_is_not_a_results_file_is_refused_in_one_line)
{
    xai_store *s;
    const char *missing = test_path("missing.h5");
    cr_expect_eq(xai_store_open(&s, missing, XAI_STORE_READ), XAI_ERR);
    cr_expect(strstr(xai_last_error(), missing) && strstr(xai_last_error(), "No such file"), "%s", xai_last_error());

    const char *text = test_path("text.h5");
    test_write_file(text, "not HDF5\n", 9);
    cr_expect_eq(xai_store_open(&s, text, XAI_STORE_READ), XAI_ERR);
    cr_expect(strstr(xai_last_error(), text) && strstr(xai_last_error(), "HDF5"), "%s", xai_last_error());

    /* A results file cut short. */
    const char *whole = write_file("whole.h5", 11), *cut = test_path("cut.h5");
    size_t bytes;
    FILE *f = fopen(whole, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    bytes = (size_t)ftell(f);
    rewind(f);
    char *data = malloc(bytes);
    cr_assert_eq(fread(data, 1, bytes, f), bytes);
    fclose(f);
    test_write_file(cut, data, bytes / 2);
    free(data);
    int opened = xai_store_open(&s, cut, XAI_STORE_READ);
    if (opened == XAI_OK) { /* the metadata may all sit in the first half: then the rows fail */
        float row[C * H * W];
        cr_expect_eq(xai_store_read(s, "/maps/smoothgrad", ROWS - 1, 1, row), XAI_ERR, "a cut file read whole");
        xai_store_abort(s);
    }
    cr_expect(strstr(xai_last_error(), cut) && !strchr(xai_last_error(), '\n'), "%s", xai_last_error());

    /* An HDF5 file of another layout: a results file holds /maps. */
    const char *explain_only = test_path("no-maps.h5");
    xai_store_shape shape = {.channels = C, .height = H, .width = W, .classes = CLASSES};
    cr_assert_eq(xai_store_create(&s, explain_only, &shape), XAI_OK, "%s", xai_last_error());
    cr_assert_eq(xai_store_close(s), XAI_OK);
    cr_expect_eq(xai_store_open(&s, explain_only, XAI_STORE_READ), XAI_ERR);
    cr_expect(strstr(xai_last_error(), explain_only) && strstr(xai_last_error(), "/maps"), "%s", xai_last_error());
}
