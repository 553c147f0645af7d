/* test_cli.c - the xaibench binary end to end: model init/info, explain into an HDF5 file of
 * the documented layout, one-line errors with a non-zero exit for bad input and bad options,
 * and every subcommand's --help. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "test_support.h"
#include "xai_onnx_builder.h"
#include "xai_dogs.h"
#include "xai_status.h"
#include "xai_store.h"

/* Run `xaibench ARGS`; returns the exit status, stdout and stderr in the buffers. */
static int xaibench(const char *args, char *out, size_t out_size, char *err, size_t err_size)
{
    const char *binary = getenv("XAIBENCH") ? getenv("XAIBENCH") : "build/xaibench";
    char command[8192];
    snprintf(command, sizeof command, "%s %s >%s 2>%s", binary, args, test_path("stdout"),
             test_path("stderr"));
    int status = system(command);
    const char *names[2] = {test_path("stdout"), test_path("stderr")};
    char *buffers[2] = {out, err};
    size_t sizes[2] = {out_size, err_size};
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(names[i], "r");
        size_t n = f ? fread(buffers[i], 1, sizes[i] - 1, f) : 0;
        buffers[i][n] = '\0';
        if (f) fclose(f);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void expect_one_line_error(const char *args, const char *words)
{
    char out[4096], err[4096];
    int status = xaibench(args, out, sizeof out, err, sizeof err);
    cr_expect_neq(status, 0, "xaibench %s: exit 0", args);
    cr_expect_eq(strncmp(err, "xaibench: ", 10), 0, "xaibench %s: stderr: %s", args, err);
    char *newline = strchr(err, '\n');
    cr_expect(newline && newline[1] == '\0', "xaibench %s: not one line: %s", args, err);
    cr_expect(strstr(err, words) != NULL, "xaibench %s: expected '%s' in: %s", args, words, err);
}

static const char *tiny_model(void)
{
    const char *path = test_path("tiny.onnx");
    char args[1024], out[4096], err[4096];
    snprintf(args, sizeof args, "model init --arch resnet-tiny --seed 4 -o %s", path);
    cr_assert_eq(xaibench(args, out, sizeof out, err, sizeof err), 0, "%s", err);
    return path;
}

Test(cli, model_init_and_info)
{
    const char *model = tiny_model();
    char args[1024], out[65536], err[4096];
    snprintf(args, sizeof args, "model info %s", model);
    cr_assert_eq(xaibench(args, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_expect(strstr(out, "parameters:") && strstr(out, "multiply-accumulates") && strstr(out, "/fc/Gemm"), "%s", out);
}

Test(cli, explain_writes_the_documented_layout)
{
    const char *model = tiny_model(), *output = test_path("explain.h5");
    if (access("data/samples/chelsea.png", R_OK) != 0) cr_skip_test("run scripts/fetch-samples.sh");
    char args[2048], out[65536], err[4096];
    snprintf(args, sizeof args,
             "explain --model %s --image data/samples/chelsea.png --image data/samples/dog.jpg "
             "--image data/samples/coffee.png --batch 2 --threads 2 -o %s", model, output);
    cr_assert_eq(xaibench(args, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_expect_eq(access(output, R_OK), 0);
    char partial[1024];
    snprintf(partial, sizeof partial, "%s.partial", output);
    cr_expect_neq(access(partial, F_OK), 0, "a .partial file was left behind");

    /* The layout itself is checked against docs/results-format.md by test_results_format; here
     * what explain put in it. */
    xai_store *file;
    cr_assert_eq(xai_store_open(&file, output, XAI_STORE_READ), XAI_OK, "%s", xai_last_error());
    const xai_store_shape *shape = xai_store_shape_of(file);
    cr_expect(shape->rows == 3 && shape->channels == 3 && shape->height == 64 && shape->width == 64 &&
              shape->classes == 10 && shape->n_methods == 3 && !shape->with_images);
    static const char *const methods[] = {"deconvnet", "guided_backprop", "saliency"}; /* name order */
    for (int m = 0; m < 3 && m < shape->n_methods; m++) cr_expect_str_eq(shape->methods[m], methods[m]);
    static const char *const attributes[] = {"xaibench_version", "git_commit", "model_path", "model_sha256",
                                             "threads", "cpu", "date", "command_line"};
    for (int a = 0; a < 8; a++) {
        char *value = NULL;
        cr_expect(xai_store_get_attribute(file, attributes[a], &value) == XAI_OK && value && *value,
                  "attribute %s missing", attributes[a]);
        free(value);
    }
    /* The maps are not all zero, and a target is the top logit of its image. */
    float *maps = malloc(3 * 3 * 64 * 64 * sizeof(float)), logits[30];
    int targets[3];
    cr_expect_eq(xai_store_read(file, "/maps/guided_backprop", 0, 3, maps), XAI_OK);
    cr_expect_eq(xai_store_read(file, "/logits", 0, 3, logits), XAI_OK);
    cr_expect_eq(xai_store_read(file, "/target", 0, 3, targets), XAI_OK);
    xai_store_abort(file);
    for (int n = 0; n < 3; n++) {
        double energy = 0.0;
        for (int k = 0; k < 3 * 64 * 64; k++) energy += maps[n * 3 * 64 * 64 + k] * maps[n * 3 * 64 * 64 + k];
        cr_expect_gt(energy, 0.0, "image %d: all-zero map", n);
        for (int k = 0; k < 10; k++) cr_expect_leq(logits[n * 10 + k], logits[n * 10 + targets[n]]);
    }
    free(maps);
    /* Readable by the HDF5 tools with no custom code. */
    if (access("/usr/bin/h5dump", X_OK) == 0) {
        snprintf(args, sizeof args, "/usr/bin/h5dump -H %s >/dev/null", output);
        cr_expect_eq(system(args), 0, "h5dump cannot read %s", output);
    }
}

Test(cli, bad_input_gives_one_line_and_non_zero_exit)
{
    const char *model = tiny_model();
    char args[2048];
    if (access("data/samples/truncated.jpg", R_OK) != 0) cr_skip_test("run scripts/fetch-samples.sh");
    snprintf(args, sizeof args, "explain --model %s --image data/samples/truncated.jpg -o %s", model,
             test_path("bad.h5"));
    expect_one_line_error(args, "data/samples/truncated.jpg");
    cr_expect_neq(access(test_path("bad.h5"), F_OK), 0, "an output file was left for a failed run");
    snprintf(args, sizeof args, "explain --model %s --image data/samples/chelsea.png -o /nonexistent/dir/out.h5", model);
    expect_one_line_error(args, "/nonexistent/dir/out.h5");
    snprintf(args, sizeof args, "explain --model %s --image data/samples/chelsea.png --methods saliency,lrp -o %s",
             model, test_path("x.h5"));
    expect_one_line_error(args, "unknown method 'lrp'");
    snprintf(args, sizeof args, "explain --model %s --image data/samples/chelsea.png --target 10 -o %s", model,
             test_path("x.h5"));
    expect_one_line_error(args, "--target 10");
    snprintf(args, sizeof args, "model info %s", test_path("absent.onnx"));
    expect_one_line_error(args, "absent.onnx: cannot open");
    expect_one_line_error("model init --arch vgg16 --seed 1 -o /tmp/x.onnx", "unknown architecture 'vgg16'");
    expect_one_line_error("explain --model", "needs a value");
}

/* A model with no global pooling: Conv -> Relu -> Flatten -> Gemm. */
static const char *model_without_pooling(void)
{
    xai_onnx_builder *b = xai_onnx_builder_new("no-pooling");
    float w[3 * 3 * 3 * 3], fc[2 * 3 * 4 * 4], zero[3] = {0};
    test_normal_floats(w, sizeof w / sizeof *w, 1);
    test_normal_floats(fc, sizeof fc / sizeof *fc, 2);
    int64_t wd[4] = {3, 3, 3, 3}, bd[1] = {3}, fd[2] = {2, 48}, fb[1] = {2}, in[4] = {-1, 3, 4, 4}, out[2] = {-1, 2};
    xai_onnx_attribute *pads[] = {xai_onnx_ints(b, "pads", 4, (int64_t[]){1, 1, 1, 1}), NULL};
    const char *conv_in[] = {"x", xai_onnx_initializer(b, "w", wd, 4, w), xai_onnx_initializer(b, "b", bd, 1, zero), NULL};
    const char *conv = xai_onnx_node(b, "Conv", "conv", conv_in, pads);
    const char *relu = xai_onnx_node(b, "Relu", "relu", (const char *[]){conv, NULL}, NULL);
    const char *flat = xai_onnx_node(b, "Flatten", "flatten", (const char *[]){relu, NULL}, NULL);
    xai_onnx_attribute *transposed[] = {xai_onnx_int(b, "transB", 1), NULL};
    const char *gemm_in[] = {flat, xai_onnx_initializer(b, "fc", fd, 2, fc), xai_onnx_initializer(b, "fb", fb, 1, zero), NULL};
    const char *y = xai_onnx_node(b, "Gemm", "fc", gemm_in, transposed);
    xai_onnx_io(b, "x", 4, in, y, 2, out);
    xai_onnx_metadata(b, "xaibench.resize", "4");
    xai_onnx_metadata(b, "xaibench.crop", "4");
    return test_write_built(b, "no-pooling.onnx");
}

Test(cli, bad_method_settings_give_one_line_and_write_nothing)
{
    if (access("data/samples/chelsea.png", R_OK) != 0) cr_skip_test("run scripts/fetch-samples.sh");
    char model[1024], out[1024], args[4096];
    snprintf(model, sizeof model, "%s", tiny_model());
    snprintf(out, sizeof out, "%s", test_path("settings.h5"));
    const char *image = "--image data/samples/chelsea.png";
    static const struct {
        const char *options, *words;
    } cases[] = {
        {"--methods grad_cam --grad-cam-layer nope", "--grad-cam-layer 'nope' is no tensor of the model; 4-D tensors near the output: '"},
        {"--methods grad_cam --grad-cam-layer /Flatten_output_0", "is not a 4-D tensor"},
        {"--methods smoothgrad --smoothgrad-samples 0", "--smoothgrad-samples: bad value '0'"},
        {"--methods integrated_gradients --ig-steps 0", "--ig-steps: bad value '0'"},
        {"--methods smoothgrad --smoothgrad-noise -0.5", "--smoothgrad-noise: bad value '-0.5'"},
        {"--methods smoothgrad --smoothgrad-base lrp", "unknown method 'lrp'"},
        {"--methods smoothgrad --smoothgrad-base integrated_gradients", "not a single-pass method"},
        {"--methods integrated_gradients --ig-rule simpson", "'simpson' is not one of gausslegendre, riemann_trapezoid"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        snprintf(args, sizeof args, "explain --model %s %s %s -o %s", model, image, cases[k].options, out);
        expect_one_line_error(args, cases[k].words);
        cr_expect_neq(access(out, F_OK), 0, "xaibench %s: wrote %s", args, out);
    }
    snprintf(args, sizeof args, "explain --model %s %s --methods saliency,grad_cam -o %s", model_without_pooling(), image,
             out);
    expect_one_line_error(args, "no global pooling to take Grad-CAM's layer from; give --grad-cam-layer NAME");
    cr_expect_neq(access(out, F_OK), 0, "a model without pooling: wrote %s", out);
}

Test(cli, every_subcommand_has_help)
{
    static const char *const commands[] = {"model init", "model info", "explain", "run", "merge", "metrics",
                                           "plot", "dataset list", "dataset sample"};
    for (size_t k = 0; k < sizeof commands / sizeof *commands; k++) {
        char args[256], out[8192], err[4096], expect[128];
        snprintf(args, sizeof args, "%s --help", commands[k]);
        cr_expect_eq(xaibench(args, out, sizeof out, err, sizeof err), 0, "xaibench %s: not exit 0", args);
        snprintf(expect, sizeof expect, "usage: xaibench %s", commands[k]);
        cr_expect(strncmp(out, expect, strlen(expect)) == 0 && strstr(out, "-h, --help"), "xaibench %s:\n%s", args, out);
        cr_expect_eq(err[0], '\0', "xaibench %s wrote to stderr: %s", args, err);
    }
}

Test(cli, bad_options_give_one_line)
{
    expect_one_line_error("run --model m.onnx --dataset d -o r.h5 --frobnicate 1", "unknown option --frobnicate");
    expect_one_line_error("explain --model m.onnx --image i.png -o", "option -o needs a value");
    expect_one_line_error("run --model m.onnx --dataset d -o r.h5 --threads 0", "--threads: bad value '0'");
    expect_one_line_error("run --model m.onnx --dataset d -o r.h5 --batch -2", "--batch: bad value '-2'");
    expect_one_line_error("run --model m.onnx --dataset d -o r.h5 --limit 0", "--limit: bad value '0'");
    expect_one_line_error("explain --model m.onnx --image i.png -o o.h5 --threads x", "--threads: bad value 'x'");
    expect_one_line_error("run --model m.onnx -o r.h5", "--dataset DIR is required");
    expect_one_line_error("run --model m.onnx --dataset d -o r.h5 --target best", "'best' is not one of label, predicted");
    expect_one_line_error("dataset list d --shard 2/2", "--shard 2/2");
    expect_one_line_error("metrics", "expected RUN.h5");
    expect_one_line_error("plot run.h5", "-o DIR is required");
}

/* `explain` of three photos on resnet-tiny at batch 2 (a full batch, then one of a single image
 * on an engine of its own, written by the writing thread while the first is computed) with
 * XAIBENCH_FAIL_ALLOCATION=k (or with files limited to `file_limit` bytes, as on a full disk):
 * its exit status and first stderr line. */
static int faulty_explain(const char *model, long k, long file_limit, const char *out, char *line, size_t size)
{
    char limit[128] = "";
    /* SIGXFSZ ignored: a write past the limit then fails with EFBIG, as one on a full disk does */
    if (file_limit) snprintf(limit, sizeof limit, "trap '' XFSZ; ulimit -f %ld;", file_limit / 512);
    char command[4096];
    snprintf(command, sizeof command,
             "%s XAIBENCH_FAIL_ALLOCATION=%ld %s explain --model %s --image data/samples/chelsea.png "
             "--image data/samples/dog.jpg --image data/samples/coffee.png --batch 2 --threads 1 -o %s >/dev/null 2>%s",
             limit, k, getenv("XAIBENCH") ? getenv("XAIBENCH") : "build/xaibench", model, out,
             test_path("faulty.log"));
    int status = system(command);
    FILE *f = fopen(test_path("faulty.log"), "r");
    line[0] = '\0';
    if (f) {
        if (!fgets(line, (int)size, f)) line[0] = '\0';
        char rest[64];
        if (fgets(rest, sizeof rest, f)) snprintf(line, size, "more than one line");
        fclose(f);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Test(cli, every_failing_allocation_of_an_explain_is_one_line_and_no_file, .timeout = 1200)
{
    if (access("data/samples/dog.jpg", R_OK) != 0) cr_skip_test("run scripts/fetch-samples.sh");
    char model[1024], out[1024]; /* copied out of test_path's ring, which the loop turns */
    snprintf(model, sizeof model, "%s", tiny_model());
    snprintf(out, sizeof out, "%s", test_path("faulty.h5"));
    char line[1024], partial[1100];
    snprintf(partial, sizeof partial, "%s.partial", out);
    long k = 1;
    for (; k < 100000; k++) {
        int status = faulty_explain(model, k, 0, out, line, sizeof line);
        if (status == 0) break; /* k is past the explain's last allocation */
        cr_assert_eq(status, 1, "allocation %ld failing: exit %d (a crash or a leak): %s", k, status, line);
        cr_assert(strncmp(line, "xaibench: ", 10) == 0 && strstr(line, "out of memory"),
                  "allocation %ld failing: %s", k, line);
        cr_assert(access(out, F_OK) != 0 && access(partial, F_OK) != 0,
                  "allocation %ld failing left a results file", k);
    }
    cr_log_info("an explain of three images on resnet-tiny makes %ld allocations; each failing one was reported", k - 1);
    cr_expect_gt(k, 100, "only %ld allocations counted: the injection does not reach the engine", k - 1);
    cr_expect_eq(access(out, R_OK), 0, "the run without a failure wrote no file");
}

Test(cli, a_full_disk_at_any_point_of_an_explain_is_one_line_and_no_file, .timeout = 600)
{
    if (access("data/samples/dog.jpg", R_OK) != 0) cr_skip_test("run scripts/fetch-samples.sh");
    char model[1024], out[1024]; /* copied out of test_path's ring, which the loop turns */
    snprintf(model, sizeof model, "%s", tiny_model());
    snprintf(out, sizeof out, "%s", test_path("full-disk.h5"));
    char line[1024];
    cr_assert_eq(faulty_explain(model, 0, 0, out, line, sizeof line), 0, "%s", line);
    FILE *f = fopen(out, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    remove(out);
    /* ulimit -f counts 512-byte blocks: limits from 512 bytes to just under the file's size */
    for (long limit = 512; limit < size; limit = limit * 3 / 2 / 512 * 512 + 512) {
        int status = faulty_explain(model, 0, limit, out, line, sizeof line);
        cr_expect_eq(status, 1, "files limited to %ld bytes: exit %d: %s", limit, status, line);
        cr_expect(strncmp(line, "xaibench: ", 10) == 0 && strstr(line, out), "limit %ld: %s", limit, line);
        cr_expect_neq(access(out, F_OK), 0, "limit %ld left %s", limit, out);
    }
    cr_expect_eq(faulty_explain(model, 0, 0, out, line, sizeof line), 0, "the same command then: %s", line);
}

Test(cli, a_badly_encoded_annotation_gets_our_line_only)
{
    if (access("data/samples/chelsea.png", R_OK) != 0) cr_skip_test("run scripts/fetch-samples.sh");
    char root[1024], annotation[1200], args[1200], out[65536], err[4096];
    snprintf(root, sizeof root, "%s", test_path("badly-encoded"));
    cr_assert_eq(xai_sample_set_write("data/samples", root, 1), XAI_OK, "%s", xai_last_error());
    /* found by fuzz_voc: libxml2 printed its own lines for this one (EUC-JP with a bad byte) */
    snprintf(annotation, sizeof annotation, "%s/Annotation/n02106166-Border_collie/n02106166_1", root);
    static const char text[] = "<?xml version=\"1.0\" encoding=\"EUC-JP\"?><annotation><size><width>\xdf <obj";
    test_write_file(annotation, text, sizeof text - 1);
    snprintf(args, sizeof args, "dataset list %s", root);
    cr_assert_eq(xaibench(args, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_expect(strstr(err, "n02106166_1: not a readable XML annotation") != NULL, "%s", err);
    cr_expect_null(strstr(err, "encoding error"), "libxml2's own lines on stderr:\n%s", err);
}
