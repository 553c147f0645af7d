/* test_onnx.c - the ONNX reader and writer: `model init` is deterministic and valid (checked by
 * onnx.checker where Debian's python3-onnx is installed), the ONNX project's own node test
 * cases for the supported ops run through the reader and both engines, and every kind of bad
 * model gives one clear error naming the file. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "onnx_subset.pb-c.h"
#include "test_support.h"
#include "xai_engine.h"
#include "xai_model.h"
#include "xai_onnx_builder.h"
#include "xai_reference.h"
#include "xai_rng.h"
#include "xai_status.h"

static unsigned char *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    unsigned char *bytes = malloc(n > 0 ? (size_t)n : 1);
    cr_assert_eq(fread(bytes, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return bytes;
}

Test(onnx, model_init_is_deterministic_and_loads)
{
    xai_model_spec spec = {.arch = "resnet-tiny", .seed = 12};
    const char *a = test_path("tiny-a.onnx"), *b = test_path("tiny-b.onnx"), *c = test_path("tiny-c.onnx");
    cr_assert_eq(xai_model_write_resnet(&spec, a), XAI_OK, "%s", xai_last_error());
    cr_assert_eq(xai_model_write_resnet(&spec, b), XAI_OK);
    spec.seed = 13;
    cr_assert_eq(xai_model_write_resnet(&spec, c), XAI_OK);
    size_t na, nb, nc;
    unsigned char *ba = read_file(a, &na), *bb = read_file(b, &nb), *bc = read_file(c, &nc);
    cr_expect(na == nb && memcmp(ba, bb, na) == 0, "same seed, different bytes");
    cr_expect(na != nc || memcmp(ba, bc, na) != 0, "different seeds, same bytes");
    free(ba), free(bb), free(bc);
    xai_graph *g;
    cr_assert_eq(xai_graph_load(&g, a, NULL), XAI_OK, "%s", xai_last_error());
    cr_expect_eq(xai_graph_outputs(g), 10);
    xai_graph_free(g);
}

/* The first normal deviates of seed 0, fixed here so that a change of the random stream (and
 * so of every seeded model) cannot pass unnoticed. */
Test(onnx, seeded_stream_is_stable)
{
    xai_rng rng;
    xai_rng_seed(&rng, 0);
    double first = xai_rng_normal(&rng), second = xai_rng_normal(&rng);
    xai_rng_seed(&rng, 0);
    cr_expect_eq(xai_rng_normal(&rng), first);
    cr_expect(fabs(first) < 6 && fabs(second) < 6 && first != second);
    /* mean and variance of many deviates */
    double sum = 0, sum2 = 0;
    for (int i = 0; i < 200000; i++) {
        double v = xai_rng_normal(&rng);
        sum += v, sum2 += v * v;
    }
    cr_expect_leq(fabs(sum / 200000), 0.01);
    cr_expect_leq(fabs(sum2 / 200000 - 1.0), 0.01);
}

Test(onnx, resnet18_passes_onnx_checker, .timeout = 300)
{
    if (access("/usr/bin/python3", X_OK) != 0 ||
        system("/usr/bin/python3 -c 'import onnx' 2>/dev/null") != 0) {
        cr_skip_test("Debian's python3-onnx is not installed");
    }
    const char *path = test_path("resnet18-check.onnx");
    xai_model_spec spec = {.arch = "resnet18", .seed = 0};
    cr_assert_eq(xai_model_write_resnet(&spec, path), XAI_OK, "%s", xai_last_error());
    char command[1024];
    snprintf(command, sizeof command,
             "/usr/bin/python3 -c \"import onnx; m = onnx.load('%s'); "
             "onnx.checker.check_model(m, full_check=True); "
             "names = [i.name for i in m.graph.initializer]; "
             "assert 'conv1.weight' in names and 'layer4.1.bn2.running_var' in names and "
             "'layer2.0.downsample.0.weight' in names and 'fc.bias' in names, names[:5]\"",
             path);
    cr_expect_eq(system(command), 0, "onnx.checker rejected %s", path);
}

/* ---- the ONNX project's node test cases ------------------------------------------------------ */

static float *read_tensor(const char *path, int64_t *dims, int *rank, size_t *count)
{
    size_t size;
    unsigned char *bytes = read_file(path, &size);
    Onnx__TensorProto *t = onnx__tensor_proto__unpack(NULL, size, bytes);
    free(bytes);
    cr_assert_not_null(t, "%s: not a TensorProto", path);
    if (t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
        onnx__tensor_proto__free_unpacked(t, NULL);
        return NULL;
    }
    *rank = (int)t->n_dims;
    *count = 1;
    for (size_t d = 0; d < t->n_dims; d++) dims[d] = t->dims[d], *count *= (size_t)t->dims[d];
    float *data = malloc(*count * sizeof(float) + 1);
    if (t->raw_data.len == *count * sizeof(float) && *count)
        memcpy(data, t->raw_data.data, *count * sizeof(float));
    else if (t->n_float_data == *count && *count)
        memcpy(data, t->float_data, *count * sizeof(float));
    else if (*count) {
        free(data); /* not a plain tensor (a sequence, say) */
        data = NULL;
    }
    onnx__tensor_proto__free_unpacked(t, NULL);
    return data;
}

/* The tensor at path when it holds int64 values, else NULL. */
static Onnx__TensorProto *read_int64_tensor(const char *path)
{
    size_t size;
    unsigned char *bytes = read_file(path, &size);
    Onnx__TensorProto *t = onnx__tensor_proto__unpack(NULL, size, bytes);
    free(bytes);
    if (t && t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64) return t;
    if (t) onnx__tensor_proto__free_unpacked(t, NULL);
    return NULL;
}

/* Run one node test case. Returns 1 if it ran and matched, 0 if the reader refused the model
 * (reason in `why`); a mismatch or a crash fails the test. */
static int run_node_case(const char *dir, char *why, size_t why_size)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    size_t size;
    unsigned char *bytes = read_file(path, &size);
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, size, bytes);
    free(bytes);
    cr_assert_not_null(m, "%s does not parse", path);
    /* Inputs 1.. are weights kept as graph inputs: bind them as constants. */
    int n_inputs = (int)m->graph->n_input;
    const char *names[8];
    const float *data[8];
    const int64_t *dims[8];
    int ranks[8];
    int64_t dim_store[8][8];
    float *owned[8] = {0};
    int64_t in_dims[8];
    int in_rank = 0;
    size_t in_count = 0;
    snprintf(path, sizeof path, "%s/test_data_set_0/input_0.pb", dir);
    float *input = read_tensor(path, in_dims, &in_rank, &in_count);
    int status = 0;
    if (!input || in_rank < 2 || in_rank > 4 || n_inputs > 8) {
        snprintf(why, why_size, "first input is not a float [N,C,H,W], [N,C,L] or [N,C] tensor");
        goto done;
    }
    /* Float inputs are bound as constants through the options; int64 ones (Pad's pads, Slice's
     * starts) become initializers of a rewritten copy of the model, as an exporter writes them. */
    int n_bound = 0;
    Onnx__TensorProto *as_initializer[8];
    int n_initializers = 0;
    for (int k = 1; k < n_inputs; k++) {
        size_t count;
        snprintf(path, sizeof path, "%s/test_data_set_0/input_%d.pb", dir, k);
        if (access(path, R_OK) != 0) break;
        Onnx__TensorProto *t = read_int64_tensor(path);
        if (t) {
            free(t->name);
            t->name = strdup(m->graph->input[k]->name);
            as_initializer[n_initializers++] = t;
            continue;
        }
        owned[k] = read_tensor(path, dim_store[k], &ranks[n_bound], &count);
        if (!owned[k]) {
            snprintf(why, why_size, "input %d is neither float nor int64", k);
            goto done;
        }
        names[n_bound] = m->graph->input[k]->name;
        data[n_bound] = owned[k];
        dims[n_bound++] = dim_store[k];
    }
    xai_graph_options options = {.n_bound = n_bound, .bound_names = names,
                                 .bound_data = data, .bound_dims = dims, .bound_ranks = ranks};
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    if (n_initializers) {
        size_t old = m->graph->n_initializer;
        Onnx__TensorProto **list = malloc((old + (size_t)n_initializers) * sizeof *list);
        if (old) memcpy(list, m->graph->initializer, old * sizeof *list);
        memcpy(list + old, as_initializer, (size_t)n_initializers * sizeof *list);
        Onnx__TensorProto **original = m->graph->initializer;
        m->graph->initializer = list, m->graph->n_initializer = old + (size_t)n_initializers;
        size_t packed_size = onnx__model_proto__get_packed_size(m);
        unsigned char *packed = malloc(packed_size);
        onnx__model_proto__pack(m, packed);
        m->graph->initializer = original, m->graph->n_initializer = old;
        free(list);
        for (int k = 0; k < n_initializers; k++) onnx__tensor_proto__free_unpacked(as_initializer[k], NULL);
        snprintf(path, sizeof path, "%s", test_path(strrchr(dir, '/') + 1));
        test_write_file(path, packed, packed_size);
        free(packed);
    }
    xai_graph *g;
    if (xai_graph_load(&g, path, &options) != XAI_OK) {
        cr_assert(strstr(xai_last_error(), path) != NULL, "error without the file: %s", xai_last_error());
        snprintf(why, why_size, "%s", xai_last_error());
        goto done;
    }
    int batch = (int)in_dims[0];
    size_t outputs = (size_t)batch * xai_graph_outputs(g);
    int64_t out_dims[8];
    int out_rank;
    size_t out_count;
    snprintf(path, sizeof path, "%s/test_data_set_0/output_0.pb", dir);
    float *expected = read_tensor(path, out_dims, &out_rank, &out_count);
    cr_assert_not_null(expected);
    cr_assert_eq(out_count, outputs, "%s: %zu outputs, graph gives %zu", dir, out_count, outputs);
    float *fast = malloc(outputs * sizeof(float));
    double *slow = malloc(outputs * sizeof(double)), *in = malloc(in_count * sizeof(double));
    for (size_t i = 0; i < in_count; i++) in[i] = input[i];
    xai_engine *e;
    xai_reference *r;
    cr_assert_eq(xai_engine_create(&e, g, batch, 0), XAI_OK, "%s: %s", dir, xai_last_error());
    cr_assert_eq(xai_engine_forward(e, input, fast), XAI_OK, "%s: %s", dir, xai_last_error());
    cr_assert_eq(xai_reference_create(&r, g, batch), XAI_OK);
    cr_assert_eq(xai_reference_forward(r, in, slow), XAI_OK);
    double top = 1.0;
    for (size_t i = 0; i < outputs; i++) top = fmax(top, fabs(expected[i]));
    for (size_t i = 0; i < outputs; i++) {
        cr_assert_leq(fabs(fast[i] - expected[i]), 1e-5 * top, "%s: oneDNN output %zu = %g, expected %g", dir, i, fast[i], expected[i]);
        cr_assert_leq(fabs(slow[i] - expected[i]), 1e-5 * top, "%s: reference output %zu = %g, expected %g", dir, i, slow[i], expected[i]);
    }
    /* The backward-data pass too: a seeded output gradient down to the input, on both engines
     * (the plain gradient, so every element takes part), within 1e-4 of the largest element of
     * the double reference's (these cases sum at most a few hundred terms per element; a tap at
     * the wrong place is off by the size of a term). */
    float *seed = malloc(outputs * sizeof(float)), *dx = malloc(in_count * sizeof(float));
    double *seed_d = malloc(outputs * sizeof(double)), *dx_d = malloc(in_count * sizeof(double));
    test_normal_floats(seed, outputs, 5);
    for (size_t i = 0; i < outputs; i++) seed_d[i] = seed[i];
    cr_assert_eq(xai_engine_backward_seeded(e, &xai_rule_saliency, seed, dx, -1), XAI_OK, "%s: %s", dir, xai_last_error());
    cr_assert_eq(xai_reference_backward_seeded(r, &xai_rule_saliency, seed_d, dx_d, -1), XAI_OK);
    double largest = 1e-30;
    for (size_t i = 0; i < in_count; i++) largest = fmax(largest, fabs(dx_d[i]));
    for (size_t i = 0; i < in_count; i++)
        cr_assert_leq(fabs(dx[i] - dx_d[i]), 1e-4 * largest,
                      "%s: oneDNN input gradient %zu = %g, reference %g", dir, i, dx[i], dx_d[i]);
    free(seed), free(dx), free(seed_d), free(dx_d);
    xai_engine_destroy(e);
    xai_reference_destroy(r);
    free(fast), free(slow), free(in), free(expected);
    xai_graph_free(g);
    status = 1;
done:
    for (int k = 0; k < 8; k++) free(owned[k]);
    free(input);
    onnx__model_proto__free_unpacked(m, NULL);
    return status;
}

Test(onnx, node_test_cases, .timeout = 300)
{
    static const char *const roots[] = {"/usr/share/libonnx-testdata/data/node",
                                        "/usr/share/libonnx-testdata/data/pytorch-converted"};
    static const char *const prefixes[] = {
        "test_conv_", "test_maxpool_", "test_averagepool_", "test_globalaveragepool", "test_relu",
        "test_batchnorm_", "test_flatten_", "test_add", "test_gemm_", "test_clip", "test_identity",
        "test_concat", "test_split", "test_slice", "test_sigmoid", "test_hardsigmoid", "test_hardswish", "test_mul",
        "test_reduce_mean", "test_erf", "test_transpose", "test_layer_normalization", "test_pad", "test_sub",
        "test_div", "test_constant_pad", "test_edge_pad", "test_reflect_pad", "test_reshape", "test_squeeze", "test_unsqueeze", "test_sqrt", "test_tanh", "test_pow", "test_softmax", "test_matmul", "test_Softmax", "test_Tanh", "test_Conv2d", "test_MaxPool2d",
        "test_AvgPool2d", "test_BatchNorm2d", "test_ReLU", "test_ZeroPad2d", "test_ConstantPad2d", "test_ReflectionPad2d",
        "test_ReplicationPad2d", NULL};
    int passed = 0, refused = 0;
    for (int r = 0; r < 2; r++) {
        DIR *d = opendir(roots[r]);
        if (!d) cr_skip_test("Debian's libonnx-testdata is not installed");
        struct dirent *entry;
        while ((entry = readdir(d))) {
            int wanted = 0;
            for (int p = 0; prefixes[p]; p++) wanted |= strncmp(entry->d_name, prefixes[p], strlen(prefixes[p])) == 0;
            if (!wanted) continue;
            char dir[512], why[1024] = "";
            snprintf(dir, sizeof dir, "%s/%s", roots[r], entry->d_name);
            if (run_node_case(dir, why, sizeof why)) passed++;
            else refused++, cr_log_info("not run: %s: %s", entry->d_name, why);
        }
        closedir(d);
    }
    cr_log_info("ONNX node test cases: %d matched on both engines, %d refused with a clear error", passed, refused);
    cr_expect_geq(passed, 125, "only %d node test cases ran", passed);
}

/* ---- bad models ---------------------------------------------------------------------------- */

static void expect_load_error(const char *path, const char *words)
{
    xai_graph *g = NULL;
    xai_clear_error();
    cr_expect_eq(xai_graph_load(&g, path, NULL), XAI_ERR, "%s loaded", path);
    cr_expect_null(g);
    cr_expect(strstr(xai_last_error(), path) != NULL, "message does not name the file: %s", xai_last_error());
    cr_expect(strstr(xai_last_error(), words) != NULL, "expected '%s' in: %s", words, xai_last_error());
    cr_expect_null(strchr(xai_last_error(), '\n'), "not one line: %s", xai_last_error());
}

/* A small valid graph with one change, written to `name`. */
static const char *small_graph(const char *name, const char *op, int input_rank, int with_weight)
{
    xai_onnx_builder *b = xai_onnx_builder_new(name);
    float w[4] = {1, 2, 3, 4};
    int64_t wd[4] = {1, 1, 2, 2};
    const char *inputs[] = {"x", with_weight ? xai_onnx_initializer(b, "w", wd, 4, w) : "w", NULL};
    const char *y = xai_onnx_node(b, op, "/n", inputs, NULL);
    int64_t in_dims[4] = {-1, 1, 4, 4}, out_dims[4] = {-1, 1, 3, 3};
    xai_onnx_io(b, "x", input_rank, in_dims, y, 4, out_dims);
    const char *path = test_write_built(b, name);
    return path;
}

Test(onnx, bad_models)
{
    xai_model_spec spec = {.arch = "resnet-tiny", .seed = 1};
    const char *good = test_path("good.onnx");
    cr_assert_eq(xai_model_write_resnet(&spec, good), XAI_OK);
    size_t size;
    unsigned char *bytes = read_file(good, &size);

    const char *truncated = test_path("truncated.onnx");
    test_write_file(truncated, bytes, size / 2);
    expect_load_error(truncated, "not a valid ONNX model");

    const char *empty = test_path("empty.onnx");
    test_write_file(empty, bytes, 0);
    expect_load_error(empty, "empty file");

    xai_rng rng;
    xai_rng_seed(&rng, 3);
    for (size_t i = 0; i < 4096; i++) bytes[i] = (unsigned char)xai_rng_next(&rng);
    const char *random_bytes = test_path("random.onnx");
    test_write_file(random_bytes, bytes, 4096);
    expect_load_error(random_bytes, ""); /* any clear reason, naming the file */
    free(bytes);

    expect_load_error(test_path("missing.onnx"), "cannot open");
    expect_load_error(small_graph("softsign.onnx", "Softsign", 4, 0), "operator 'Softsign' is not supported");
    expect_load_error(small_graph("rank2.onnx", "Conv", 2, 1), "rank 2");
    expect_load_error(small_graph("no-weight.onnx", "Conv", 4, 0), "not an initializer");
    /* found by fuzz_onnx: a weight named "\n"; the message must stay one line */
    expect_load_error("fuzz/corpus/onnx/regress-newline-in-a-name.onnx", "weight '?' is not an initializer");
}

Test(onnx, cycle_is_refused)
{
    xai_onnx_builder *b = xai_onnx_builder_new("cycle");
    /* /a/Relu reads /b/Relu's output and /b/Relu reads /a/Relu's: neither can run first. */
    const char *a_in[] = {"x", "/b/Add_output_0", NULL};
    const char *a = xai_onnx_node(b, "Add", "/a", a_in, NULL);
    const char *b_in[] = {a, "x", NULL};
    xai_onnx_node(b, "Add", "/b", b_in, NULL);
    int64_t in_dims[4] = {-1, 1, 2, 2};
    xai_onnx_io(b, "x", 4, in_dims, a, 4, in_dims);
    const char *path = test_write_built(b, "cycle.onnx");
    expect_load_error(path, "cycle");
}

/* small_graph's Conv with its weight's dims or its attributes changed in the unpacked model. */
static const char *edited_conv(const char *name, const int64_t *weight_dims, const char *attribute, int64_t value)
{
    size_t size;
    unsigned char *bytes = read_file(small_graph(name, "Conv", 4, 1), &size);
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, size, bytes);
    cr_assert_not_null(m);
    free(bytes);
    if (weight_dims) memcpy(m->graph->initializer[0]->dims, weight_dims, 4 * sizeof(int64_t));
    Onnx__AttributeProto a = ONNX__ATTRIBUTE_PROTO__INIT, *list[1] = {&a};
    if (attribute) {
        a.name = (char *)attribute;
        a.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        a.has_type = 1;
        a.i = value;
        a.has_i = 1;
        m->graph->node[0]->n_attribute = 1;
        m->graph->node[0]->attribute = list;
    }
    size = onnx__model_proto__get_packed_size(m);
    bytes = malloc(size);
    onnx__model_proto__pack(m, bytes);
    if (attribute) m->graph->node[0]->n_attribute = 0, m->graph->node[0]->attribute = NULL;
    onnx__model_proto__free_unpacked(m, NULL);
    const char *path = test_path(name);
    test_write_file(path, bytes, size);
    free(bytes);
    return path;
}

Test(onnx, sizes_are_checked_before_anything_is_allocated)
{
    /* 2^31-1 cubed times 4 wraps a 64-bit count around to a small number */
    int64_t wrapping[4] = {2147483647, 2147483647, 2147483647, 4};
    expect_load_error(edited_conv("wrapping.onnx", wrapping, NULL, 0), "too many elements");
    expect_load_error(edited_conv("group.onnx", NULL, "group", 1LL << 40), "group 1099511627776 does not divide");
    expect_load_error(edited_conv("group-negative.onnx", NULL, "group", -3), "group -3 does not divide");
    int64_t empty[4] = {0, 1, 2, 2};
    expect_load_error(edited_conv("empty-weight.onnx", empty, NULL, 0), "holds 16 bytes for 0 floats");
    /* A shape of 64 GiB over 16 bytes of data (fuzz_onnx's find): refused before any allocation. */
    int64_t vast[4] = {131072, 131072, 1, 1};
    expect_load_error(edited_conv("vast-weight.onnx", vast, NULL, 0), "holds 16 bytes for 17179869184 floats");

    xai_onnx_builder *b = xai_onnx_builder_new("huge-input");
    float w[4] = {1, 2, 3, 4};
    int64_t wd[4] = {1, 1, 2, 2}, in_dims[4] = {-1, 1, 65536, 65536}, out_dims[4] = {-1, 1, 65535, 65535};
    const char *inputs[] = {"x", xai_onnx_initializer(b, "w", wd, 4, w), NULL};
    const char *y = xai_onnx_node(b, "Conv", "/n", inputs, NULL);
    xai_onnx_io(b, "x", 4, in_dims, y, 4, out_dims);
    const char *huge = test_write_built(b, "huge-input.onnx");
    expect_load_error(huge, "the activations of one image pass 4 GiB");
    xai_graph *g;
    xai_graph_options raised = {.max_activation_gb = 64};
    cr_expect_eq(xai_graph_load(&g, huge, &raised), XAI_OK, "a raised limit admits it: %s", xai_last_error());
    xai_graph_free(g);
}
