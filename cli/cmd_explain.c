/* cmd_explain.c - `xaibench explain`: maps of the chosen methods for a few images, from one
 * forward pass per batch, written to HDF5 with provenance. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "xai_classes.h"
#include "xai_engine.h"
#include "xai_graph.h"
#include "xai_heatmap.h"
#include "xai_image.h"
#include "xai_method.h"
#include "xai_output_lock.h"
#include "xai_provenance.h"
#include "xai_status.h"
#include "xai_store.h"

typedef struct {
    const char *model, *output;
    const char **images;
    int n_images;
    const xai_method *methods[XAI_METHODS_MAX];
    int n_methods;
    int target;            /* ImageNet index; -1: the top logit */
    int n_settings;        /* preprocessing overrides: --mean, --std, --resize, --crop, --label-offset */
    const char *setting_key[8], *setting_value[8];
    int threads, batch;
    int relu_only_rules;
    double max_activation_gb;
} explain_options;

static int take_image(const char *value, void *out)
{
    explain_options *o = out;
    o->images[o->n_images++] = value;
    return XAI_OK;
}

static int take_target(const char *value, void *out)
{
    long n;
    if (strcmp(value, "auto") == 0) return *(int *)out = -1, XAI_OK;
    if (cli_int(value, 0, 1000000, "--target", &n)) return XAI_ERR;
    *(int *)out = (int)n;
    return XAI_OK;
}

/* --mean, --std, --resize, --crop, --label-offset: model metadata overrides, kept as key and
 * value and checked by xai_transform_set once the model's own settings are known. */
typedef struct {
    explain_options *options;
    const char *key;
} setting;

static int take_setting(const char *value, void *out)
{
    const setting *s = out;
    explain_options *o = s->options;
    if (o->n_settings == 8) return xai_fail("explain: too many preprocessing options");
    o->setting_key[o->n_settings] = s->key;
    o->setting_value[o->n_settings++] = value;
    return XAI_OK;
}

static int parse(int argc, char **argv, explain_options *o)
{
    static const char *const rule_names[] = {"all", "relu-only", NULL};
    cli_methods methods = {.count = 0};
    o->target = -1;
    o->batch = 8;
    o->images = xai_calloc((size_t)argc + 1, sizeof *o->images);
    if (!o->images) return XAI_ERR;
    setting mean = {o, "xaibench.mean"}, std = {o, "xaibench.std"}, resize = {o, "xaibench.resize"},
            crop = {o, "xaibench.crop"}, label_offset = {o, "xaibench.label_offset"};
    const cli_option options[] = {
        CLI_OPT_TEXT("--model", "FILE.onnx", "the ONNX model", &o->model, 1),
        CLI_OPT_CUSTOM("--image", "IMG", "a JPEG or PNG image (repeat for more)", o, take_image),
        CLI_OPT_TEXT("-o", "OUT.h5", "the results file", &o->output, 1),
        CLI_OPT_CUSTOM("--methods", "a,b,c", "methods, default saliency,deconvnet,guided_backprop", &methods,
                       cli_take_methods),
        CLI_OPT_CUSTOM("--target", "auto|INDEX", "the ImageNet class explained, default auto (the top one)",
                       &o->target, take_target),
        CLI_THREADS_OPTION(&o->threads),
        CLI_OPT_INT("--batch", "B", "images per forward pass, default 8", &o->batch, 1, 256),
        CLI_OPT_CHOICE("--rules", "WHICH", "where the rules apply, default all", &o->relu_only_rules, rule_names),
        CLI_MAX_ACTIVATIONS_OPTION(&o->max_activation_gb),
        CLI_OPT_CUSTOM("--mean", "r,g,b", "normalization mean, default the model's or ImageNet's", &mean, take_setting),
        CLI_OPT_CUSTOM("--std", "r,g,b", "normalization std, default the model's or ImageNet's", &std, take_setting),
        CLI_OPT_CUSTOM("--resize", "N|WxH", "resize (N: the shorter side), default the model's or 256", &resize,
                       take_setting),
        CLI_OPT_CUSTOM("--crop", "N|WxH|none", "center crop, default the model's or 224", &crop, take_setting),
        CLI_OPT_CUSTOM("--label-offset", "K", "logit index of ImageNet class 0, default the model's or 0", &label_offset,
                       take_setting),
        CLI_OPT_END};
    const cli_command command = {"explain", "maps of the chosen methods for a few images, from one forward pass per batch",
                                 NULL, 0, 0, options};
    char **operands;
    int n, parsed = cli_parse(&command, argc - 1, argv + 1, &operands, &n);
    if (parsed) return parsed;
    free(operands);
    if (!o->n_images) return xai_fail("explain: --image IMG is required (see xaibench explain --help)");
    if (!methods.count && cli_take_methods("saliency,deconvnet,guided_backprop", &methods)) return XAI_ERR;
    memcpy(o->methods, methods.list, sizeof o->methods);
    o->n_methods = methods.count;
    if (o->batch > o->n_images) o->batch = o->n_images;
    return XAI_OK;
}

/* Buffers for one batch. */
typedef struct {
    float *input, *logits, *maps[XAI_METHODS_MAX], *heat[XAI_METHODS_MAX];
    int *targets, *chosen;
} batch_buffers;

static void free_buffers(batch_buffers *b)
{
    free(b->input);
    free(b->logits);
    free(b->targets);
    free(b->chosen);
    for (int m = 0; m < XAI_METHODS_MAX; m++) free(b->maps[m]), free(b->heat[m]);
}

static int run(explain_options *o, int argc, char **argv)
{
    xai_graph *g = NULL;
    xai_engine *e = NULL;
    xai_store *store = NULL;
    xai_output_lock *lock = NULL;
    batch_buffers b = {0};
    int status = XAI_ERR;
    xai_graph_options load = {.relu_only_rules = o->relu_only_rules, .max_activation_gb = o->max_activation_gb};
    if (xai_output_lock_take(&lock, o->output)) return XAI_ERR;
    if (xai_graph_load(&g, o->model, &load)) goto done;
    const xai_value *in = &g->values[g->input];
    int classes = xai_graph_outputs(g);
    size_t image_floats = xai_value_size(in), plane = (size_t)in->h * in->w;
    if (in->c != 3) {
        xai_fail("%s: input has %d channels; images give 3", o->model, in->c);
        goto done;
    }
    xai_transform t;
    if (xai_transform_for_model(&t, g)) goto done;
    for (int k = 0; k < o->n_settings; k++)
        if (xai_transform_set(&t, o->setting_key[k], o->setting_value[k], "command line")) goto done;
    int out_w, out_h;
    xai_transform_output_size(&t, &out_w, &out_h);
    if (out_w != in->w || out_h != in->h) {
        xai_fail("command line: the preprocessing gives %dx%d images, %s takes %dx%d", out_w, out_h, o->model, in->w, in->h);
        goto done;
    }
    if (o->target >= 0 && o->target + t.label_offset >= classes) {
        xai_fail("--target %d: the model has %d classes", o->target, classes - t.label_offset);
        goto done;
    }
    if (xai_engine_create_consuming(&e, g, o->batch, o->threads)) goto done;
    b.input = xai_calloc((size_t)o->batch * image_floats, sizeof(float));
    b.logits = xai_calloc((size_t)o->batch * classes, sizeof(float));
    b.targets = xai_calloc((size_t)o->batch, sizeof(int));
    b.chosen = xai_calloc((size_t)o->batch, sizeof(int));
    int ok = b.input && b.logits && b.targets && b.chosen;
    for (int m = 0; ok && m < o->n_methods; m++)
        ok = (b.maps[m] = xai_calloc((size_t)o->batch * image_floats, sizeof(float))) &&
             (b.heat[m] = xai_calloc((size_t)o->batch * plane, sizeof(float)));
    if (!ok) goto done;

    const char *names[XAI_METHODS_MAX];
    for (int m = 0; m < o->n_methods; m++) names[m] = o->methods[m]->name;
    xai_store_shape shape = {.channels = in->c, .height = in->h, .width = in->w, .classes = classes,
                             .n_methods = o->n_methods, .methods = names};
    char sha[65];
    if (xai_sha256_file(o->model, sha) || xai_store_create(&store, o->output, &shape) ||
        xai_store_provenance(store, o->model, sha, o->threads, argc, argv) ||
        xai_store_transform_attributes(store, t.mean, t.std, t.label_offset))
        goto done;

    for (int first = 0; first < o->n_images; first += o->batch) {
        int count = o->n_images - first < o->batch ? o->n_images - first : o->batch;
        for (int k = 0; k < o->batch; k++) b.targets[k] = o->target >= 0 ? o->target + t.label_offset : -1;
        for (int k = 0; k < count; k++) {
            xai_image image;
            const char *path = o->images[first + k];
            if (xai_image_load(&image, path, 0)) goto done;
            int bad = xai_preprocess(&image, &t, b.input + (size_t)k * image_floats, NULL);
            xai_image_free(&image);
            if (bad) {
                char why[512];
                snprintf(why, sizeof why, "%s", xai_last_error());
                xai_fail("%s: %s", path, why);
                goto done;
            }
        }
        double ms_forward, ms_methods[XAI_METHODS_MAX];
        xai_explain_request rq = {b.input, o->n_methods, o->methods, b.targets, b.chosen, b.logits,
                                  b.maps, &ms_forward, ms_methods};
        if (xai_engine_explain(e, &rq)) goto done;
        for (int m = 0; m < o->n_methods; m++) {
            for (int k = 0; k < count; k++)
                xai_heatmap_max_abs(b.maps[m] + (size_t)k * image_floats, in->c, plane,
                                    b.heat[m] + (size_t)k * plane);
            ms_methods[m] /= o->batch;
        }
        ms_forward /= o->batch;
        for (int k = 0; k < count; k++) b.chosen[k] -= t.label_offset; /* logit index -> ImageNet index */
        xai_store_batch rows = {.count = count, .input = b.input, .logits = b.logits, .targets = b.chosen,
                                .maps = (const float *const *)b.maps, .heatmaps = (const float *const *)b.heat,
                                .ms_forward = ms_forward, .ms_methods = ms_methods};
        if (xai_store_append(store, &rows)) goto done;
        for (int k = 0; k < count; k++) {
            printf("%s: class %d", o->images[first + k], b.chosen[k]);
            if (classes - t.label_offset == XAI_IMAGENET_CLASSES) printf(" %s", xai_imagenet_name(b.chosen[k]));
            printf(" (logit %.4f)", b.logits[(size_t)k * classes + b.chosen[k] + t.label_offset]);
            printf("  forward %.1f ms", ms_forward);
            for (int m = 0; m < o->n_methods; m++) printf(", %s %.1f ms", names[m], ms_methods[m]);
            printf("\n");
        }
    }
    status = xai_store_close(store);
    store = NULL;
    if (status == XAI_OK) printf("wrote %s\n", o->output);
done:
    xai_store_abort(store);
    free_buffers(&b);
    xai_engine_destroy(e);
    xai_graph_free(g);
    xai_output_lock_release(lock);
    return status;
}

int cmd_explain(int argc, char **argv)
{
    explain_options o = {0};
    int status = parse(argc, argv, &o);
    if (status == CLI_HELP) {
        free(o.images);
        return 0;
    }
    if (status == XAI_OK) status = run(&o, argc + 1, argv - 1);
    free(o.images);
    return status ? cli_report() : 0;
}
