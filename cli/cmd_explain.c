/* cmd_explain.c - `xaibench explain`: maps of the chosen methods for a few images, from one
 * forward pass per batch, written to HDF5 with provenance. The images of a batch are decoded in
 * parallel; with more than one batch a thread writes each batch (and its lines) while the
 * engine computes the next (xai_write_behind.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "xai_classes.h"
#include "xai_driver.h"
#include "xai_graph.h"
#include "xai_heatmap.h"
#include "xai_image.h"
#include "xai_method.h"
#include "xai_output_lock.h"
#include "xai_provenance.h"
#include "xai_status.h"
#include "xai_store.h"
#include "xai_write_behind.h"

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
    cli_method_settings settings;
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
    cli_method_settings_init(&o->settings);
    o->images = xai_calloc((size_t)argc + 1, sizeof *o->images);
    if (!o->images) return XAI_ERR;
    setting mean = {o, "xaibench.mean"}, std = {o, "xaibench.std"}, resize = {o, "xaibench.resize"},
            crop = {o, "xaibench.crop"}, label_offset = {o, "xaibench.label_offset"};
    const cli_option options[] = {
        CLI_OPT_TEXT("--model", "FILE.onnx", "the ONNX model", &o->model, 1),
        CLI_OPT_CUSTOM("--image", "IMG", "a JPEG or PNG image (repeat for more)", o, take_image),
        CLI_OPT_TEXT("-o", "OUT.h5", "the results file", &o->output, 1),
        CLI_OPT_CUSTOM("--methods", "a,b,c|all", "methods, default saliency,deconvnet,guided_backprop", &methods,
                       cli_take_methods),
        CLI_METHOD_OPTIONS(&o->settings),
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

/* Buffers for one batch, and once computed, which images they hold and their times. */
typedef struct {
    float *input, *logits, *maps[XAI_METHODS_MAX], *heat[XAI_METHODS_MAX];
    double *completeness[XAI_METHODS_MAX];
    int *targets, *chosen;
    long long *ids;
    int first, count;
    double ms_forward, ms_methods[XAI_METHODS_MAX];
} batch_buffers;

static void free_buffers(batch_buffers *b)
{
    free(b->input), free(b->logits), free(b->targets), free(b->chosen), free(b->ids);
    for (int m = 0; m < XAI_METHODS_MAX; m++) free(b->maps[m]), free(b->heat[m]), free(b->completeness[m]);
}

/* One explain command's state, from the lock on OUT to the results file. */
typedef struct {
    explain_options *o;
    xai_output_lock *lock;
    xai_graph *g;
    xai_driver *driver;
    xai_store *store;
    xai_transform t;
    batch_buffers slots[XAI_WRITE_BEHIND_SLOTS];
    int n_slots;
    const char *names[XAI_METHODS_MAX];
    int map_channels[XAI_METHODS_MAX], completeness[XAI_METHODS_MAX];
    int classes, channels;
    size_t image_floats, plane;
    double worst_completeness; /* of the methods that report it (integrated_gradients) */
} explaining;

/* The model and its preprocessing, with the command line's overrides, checked against it. */
static int open_model(explaining *x)
{
    const explain_options *o = x->o;
    xai_graph_options load = {.relu_only_rules = o->relu_only_rules, .max_activation_gb = o->max_activation_gb};
    if (xai_graph_load(&x->g, o->model, &load)) return XAI_ERR;
    const xai_value *in = &x->g->values[x->g->input];
    x->classes = xai_graph_outputs(x->g);
    x->channels = in->c;
    x->image_floats = xai_value_size(in), x->plane = (size_t)in->h * in->w;
    if (in->c != 3) return xai_fail("%s: input has %d channels; images give 3", o->model, in->c);
    if (xai_transform_for_model(&x->t, x->g)) return XAI_ERR;
    for (int k = 0; k < o->n_settings; k++)
        if (xai_transform_set(&x->t, o->setting_key[k], o->setting_value[k], "command line")) return XAI_ERR;
    int out_w, out_h;
    xai_transform_output_size(&x->t, &out_w, &out_h);
    if (out_w != in->w || out_h != in->h)
        return xai_fail("command line: the preprocessing gives %dx%d images, %s takes %dx%d", out_w, out_h, o->model,
                        in->w, in->h);
    if (o->target >= 0 && o->target + x->t.label_offset >= x->classes)
        return xai_fail("--target %d: the model has %d classes", o->target, x->classes - x->t.label_offset);
    return xai_method_params_resolve(&x->o->settings.params, x->g, o->settings.layer);
}

/* The engines, the batches' buffers, and the results file with its provenance. */
static int open_output(explaining *x, int argc, char **argv)
{
    const explain_options *o = x->o;
    const xai_value *in = &x->g->values[x->g->input];
    xai_driver_config c = {.methods = o->methods, .n_methods = o->n_methods, .params = &o->settings.params,
                           .batch = o->batch, .threads = o->threads};
    if (xai_driver_create(&x->driver, x->g, &c)) return XAI_ERR;
    for (int m = 0; m < o->n_methods; m++) {
        x->names[m] = o->methods[m]->name;
        x->map_channels[m] = xai_driver_map_channels(x->driver, m);
        x->completeness[m] = o->methods[m]->completeness;
    }
    x->n_slots = o->n_images > o->batch ? XAI_WRITE_BEHIND_SLOTS : 1;
    int ok = 1;
    for (int k = 0; ok && k < x->n_slots; k++) {
        batch_buffers *b = &x->slots[k];
        b->input = xai_calloc((size_t)o->batch * x->image_floats, sizeof(float));
        b->logits = xai_calloc((size_t)o->batch * x->classes, sizeof(float));
        b->targets = xai_calloc((size_t)o->batch, sizeof(int));
        b->chosen = xai_calloc((size_t)o->batch, sizeof(int));
        b->ids = xai_calloc((size_t)o->batch, sizeof(long long));
        ok = b->input && b->logits && b->targets && b->chosen && b->ids;
        for (int m = 0; ok && m < o->n_methods; m++)
            ok = (b->maps[m] = xai_calloc((size_t)o->batch * x->map_channels[m] * x->plane, sizeof(float))) &&
                 (b->heat[m] = xai_calloc((size_t)o->batch * x->plane, sizeof(float))) &&
                 (!x->completeness[m] || (b->completeness[m] = xai_calloc((size_t)o->batch, sizeof(double))));
    }
    if (!ok) return XAI_ERR;
    xai_store_shape shape = {.channels = in->c, .height = in->h, .width = in->w, .classes = x->classes,
                             .n_methods = o->n_methods, .methods = x->names, .map_channels = x->map_channels,
                             .completeness = x->completeness};
    char sha[65];
    if (xai_sha256_file(o->model, sha) || xai_store_create(&x->store, o->output, &shape) ||
        xai_store_method_parameters(x->store, o->methods, o->n_methods, &o->settings.params) ||
        xai_store_provenance(x->store, o->model, sha, o->threads, argc, argv) ||
        xai_store_transform_attributes(x->store, x->t.mean, x->t.std, x->t.label_offset))
        return XAI_ERR;
    return XAI_OK;
}

/* Images first .. first + count - 1, decoded and preprocessed into the batch, in parallel; the
 * first that fails (in command-line order) is the error. */
static int load_images(explaining *x, batch_buffers *b, int first, int count)
{
    char (*why)[512] = xai_calloc((size_t)count, sizeof *why);
    if (!why) return XAI_ERR;
#pragma omp parallel for schedule(dynamic)
    for (int k = 0; k < count; k++) {
        xai_image image;
        const char *path = x->o->images[first + k];
        if (xai_image_load(&image, path, 0)) {
            snprintf(why[k], sizeof why[k], "%s", xai_last_error());
            continue;
        }
        if (xai_preprocess(&image, &x->t, b->input + (size_t)k * x->image_floats, NULL))
            snprintf(why[k], sizeof why[k], "%s: %s", path, xai_last_error()); /* name the file */
        xai_image_free(&image);
    }
    int status = XAI_OK;
    for (int k = 0; k < count && status == XAI_OK; k++)
        if (why[k][0]) status = xai_fail("%s", why[k]);
    free(why);
    return status;
}

/* One line per image: the class explained, its logit, and the time of each pass. */
static void report(const explaining *x, const batch_buffers *b)
{
    int offset = x->t.label_offset;
    for (int k = 0; k < b->count; k++) {
        printf("%s: class %d", x->o->images[b->first + k], b->chosen[k]);
        if (x->classes - offset == XAI_IMAGENET_CLASSES) printf(" %s", xai_imagenet_name(b->chosen[k]));
        printf(" (logit %.4f)", b->logits[(size_t)k * x->classes + b->chosen[k] + offset]);
        printf("  forward %.1f ms", b->ms_forward);
        for (int m = 0; m < x->o->n_methods; m++) printf(", %s %.1f ms", x->names[m], b->ms_methods[m]);
        printf("\n");
    }
}

/* Images first .. first + count - 1 through the methods (xai_driver.h) into slot b. */
static int compute_batch(explaining *x, batch_buffers *b, int first, int count)
{
    const explain_options *o = x->o;
    b->first = first, b->count = count;
    for (int k = 0; k < count; k++) {
        b->targets[k] = o->target >= 0 ? o->target + x->t.label_offset : -1;
        b->ids[k] = first + k; /* smoothgrad's noise key: the image's place on the command line */
    }
    if (load_images(x, b, first, count)) return XAI_ERR;
    xai_driver_batch rows = {.input = b->input, .count = count, .targets = b->targets, .image_ids = b->ids,
                             .chosen = b->chosen, .logits = b->logits, .maps = b->maps, .heatmaps = b->heat,
                             .completeness = b->completeness};
    if (xai_driver_explain(x->driver, &rows)) return XAI_ERR;
    for (int k = 0; k < count; k++) b->chosen[k] -= x->t.label_offset; /* logit index -> ImageNet index */
    b->ms_forward = rows.ms_forward;
    memcpy(b->ms_methods, rows.ms_methods, sizeof b->ms_methods);
    return XAI_OK;
}

/* A computed slot into the file, and its lines (on the writing thread when there is one). */
static int write_batch(void *context, int slot)
{
    explaining *x = context;
    const batch_buffers *b = &x->slots[slot];
    xai_store_batch stored = {.count = b->count, .input = b->input, .logits = b->logits, .targets = b->chosen,
                              .maps = (const float *const *)b->maps, .heatmaps = (const float *const *)b->heat,
                              .ms_forward = b->ms_forward, .ms_methods = b->ms_methods,
                              .completeness = (const double *const *)b->completeness};
    if (xai_store_append(x->store, &stored)) return XAI_ERR;
    report(x, b);
    for (int m = 0; m < x->o->n_methods; m++)
        for (int k = 0; b->completeness[m] && k < b->count; k++)
            if (b->completeness[m][k] > x->worst_completeness) x->worst_completeness = b->completeness[m][k];
    return XAI_OK;
}

/* Every batch computed here and written by the thread (or here, for a single batch). */
static int explain_all(explaining *x)
{
    const explain_options *o = x->o;
    xai_write_behind *writer = NULL;
    double waited = 0;
    int status = x->n_slots > 1 ? xai_write_behind_start(&writer, write_batch, x) : XAI_OK;
    for (int first = 0, k = 0; status == XAI_OK && first < o->n_images; first += o->batch, k++) {
        int slot = k % x->n_slots, count = o->n_images - first < o->batch ? o->n_images - first : o->batch;
        if (writer) status = xai_write_behind_claim(writer, slot, &waited);
        if (status == XAI_OK) status = compute_batch(x, &x->slots[slot], first, count);
        if (status == XAI_OK && writer) xai_write_behind_post(writer, slot);
        else if (status == XAI_OK) status = write_batch(x, slot);
    }
    return xai_write_behind_finish(writer, status);
}

static int run(explain_options *o, int argc, char **argv)
{
    explaining x = {.o = o};
    if (xai_output_lock_take(&x.lock, o->output)) return XAI_ERR;
    int status = open_model(&x);
    if (status == XAI_OK) status = open_output(&x, argc, argv);
    if (status == XAI_OK) status = explain_all(&x);
    if (status == XAI_OK) {
        status = xai_store_close(x.store);
        x.store = NULL;
        if (status == XAI_OK) printf("wrote %s\n", o->output);
        for (int m = 0; status == XAI_OK && m < o->n_methods; m++)
            if (o->methods[m]->completeness)
                printf("integrated gradients: worst completeness error %.3g %% (|sum(map) - (F(x) - F(0))| / "
                       "|F(x) - F(0)|)\n", 100 * x.worst_completeness);
    }
    xai_store_abort(x.store);
    for (int k = 0; k < x.n_slots; k++) free_buffers(&x.slots[k]);
    xai_driver_destroy(x.driver);
    xai_graph_free(x.g);
    xai_output_lock_release(x.lock);
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
