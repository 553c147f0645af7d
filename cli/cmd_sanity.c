/* cmd_sanity.c - `xaibench sanity`: the model-parameter randomization test (xai_sanity.h) for
 * images named on the command line or the first of a Stanford Dogs tree; under mpirun the ranks
 * share the images out and rank 0 writes the file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "xai_dogs.h"
#include "xai_image.h"
#include "xai_output_lock.h"
#include "xai_sanity.h"
#include "xai_status.h"

typedef struct {
    const char **images;
    int n_images;
} image_list;

static int take_image(const char *value, void *out)
{
    image_list *l = out;
    l->images[l->n_images++] = value;
    return XAI_OK;
}

/* The images' paths: as given, or the dataset's first `limit`. */
static int list_images(const char *dataset, int limit, image_list *l, xai_dataset **opened)
{
    if (dataset && l->n_images) return xai_fail("sanity: give --image or --dataset, not both");
    if (!dataset && !l->n_images) return xai_fail("sanity: --image IMG or --dataset DIR is required");
    if (!dataset) return XAI_OK;
    xai_dataset_selection selection = {.limit = limit};
    if (xai_dataset_open(opened, dataset, &selection)) return XAI_ERR;
    if (!(*opened)->count) return xai_fail("%s: no images selected", dataset);
    const char **paths = realloc(l->images, (size_t)(*opened)->count * sizeof *paths);
    if (!paths) return xai_fail("out of memory");
    l->images = paths;
    for (int k = 0; k < (*opened)->count; k++) l->images[k] = (*opened)->items[k].path;
    l->n_images = (*opened)->count;
    return XAI_OK;
}

/* Every image decoded and preprocessed as the model says. A data set's image that cannot be
 * read is left out with a line on stderr (as `run` skips it); a named one is an error. */
static int load_inputs(const xai_graph *g, image_list *l, int skip_bad, float **inputs)
{
    const xai_value *in = &g->values[g->input];
    xai_transform t;
    if (in->c != 3) return xai_fail("%s: input has %d channels; images give 3", g->path, in->c);
    if (xai_transform_for_model(&t, g)) return XAI_ERR;
    int w, h;
    xai_transform_output_size(&t, &w, &h);
    if (w != in->w || h != in->h)
        return xai_fail("%s: its preprocessing gives %dx%d images, it takes %dx%d", g->path, w, h, in->w, in->h);
    size_t image = xai_value_size(in);
    if (!(*inputs = xai_malloc((size_t)l->n_images * image * sizeof(float)))) return XAI_ERR;
    int kept = 0;
    for (int k = 0; k < l->n_images; k++) {
        xai_image decoded;
        int bad = xai_image_load(&decoded, l->images[k], 0);
        if (!bad) {
            char why[512];
            bad = xai_preprocess(&decoded, &t, *inputs + (size_t)kept * image, NULL);
            xai_image_free(&decoded);
            if (bad) snprintf(why, sizeof why, "%s", xai_last_error()), xai_fail("%s: %s", l->images[k], why);
        }
        if (bad && !skip_bad) return XAI_ERR;
        if (bad) fprintf(stderr, "xaibench: skipped %s\n", xai_last_error());
        else l->images[kept++] = l->images[k];
    }
    l->n_images = kept;
    return kept ? XAI_OK : xai_fail("sanity: none of the images could be read");
}

int cmd_sanity(int argc, char **argv)
{
    static const char *const modes[] = {"cascading", "independent", NULL}, *const granularities[] = {"layer", "block", NULL};
    cli_methods methods = {.count = 0};
    cli_method_settings settings;
    cli_method_settings_init(&settings);
    image_list list = {.images = xai_calloc((size_t)argc + 1, sizeof(char *))};
    const char *dataset = NULL;
    int limit = 0;
    xai_sanity_config c = {.batch = 8, .argc = argc + 1, .argv = argv - 1};
    if (!list.images) return cli_report();
    const cli_option options[] = {
        CLI_OPT_TEXT("--model", "FILE.onnx", "the ONNX model", &c.model, 1),
        CLI_OPT_CUSTOM("--image", "IMG", "a JPEG or PNG image (repeat for more)", &list, take_image),
        CLI_OPT_TEXT("--dataset", "DIR", "a Stanford Dogs tree (instead of --image)", &dataset, 0),
        CLI_OPT_INT("--limit", "N", "with --dataset: its first N images", &limit, 1, 100000000),
        CLI_OPT_TEXT("-o", "SANITY.h5", "the results file (the same command resumes it)", &c.output, 1),
        CLI_OPT_CUSTOM("--methods", "a,b,c|all", "methods, default saliency,deconvnet,guided_backprop", &methods,
                       cli_take_methods),
        CLI_OPT_CHOICE("--mode", "MODE", "cascading (default: the top layers, then more) or independent (one at "
                       "a time)", &c.mode, modes),
        CLI_OPT_CHOICE("--granularity", "G", "layer (default) or block: what one step randomizes", &c.granularity,
                       granularities),
        CLI_METHOD_OPTIONS(&settings),
        CLI_OPT_INT("--batch", "B", "images per forward pass, default 8", &c.batch, 1, 256),
        CLI_THREADS_OPTION(&c.threads),
        CLI_OPT_END};
    const cli_command command = {"sanity", "the model-parameter randomization test of Adebayo et al. 2018: maps "
                                           "after each layer's re-initialization, and their similarity to the "
                                           "original ones (--seed also seeds the re-initialization)",
                                 NULL, 0, 0, options};
    char **operands;
    int n, parsed = cli_parse(&command, argc - 1, argv + 1, &operands, &n);
    if (parsed) return free(list.images), cli_parse_exit(parsed);
    free(operands);
    xai_team team;
    if (xai_team_join(&team, &argc, &argv)) return free(list.images), cli_report();
    c.team = &team;
    xai_dataset *opened = NULL;
    xai_graph *g = NULL;
    xai_output_lock *lock = NULL;
    float *inputs = NULL;
    int status = list_images(dataset, limit, &list, &opened);
    if (!status && limit && !dataset) status = xai_fail("sanity: --limit goes with --dataset");
    if (!status && !methods.count) status = cli_take_methods("saliency,deconvnet,guided_backprop", &methods);
    if (!status && team.rank == 0) status = xai_output_lock_take(&lock, c.output); /* one job per file */
    status = xai_team_agree(&team, status);
    if (!status) status = xai_graph_load(&g, c.model, NULL);
    if (!status) status = xai_method_params_resolve(&settings.params, g, settings.layer);
    xai_sanity_plan plan; /* a model with nothing to randomize is refused before any image is read */
    if (!status && !(status = xai_sanity_plan_make(&plan, g, c.granularity))) xai_sanity_plan_free(&plan);
    if (!status) status = load_inputs(g, &list, dataset != NULL, &inputs);
    if (!status) {
        c.images = list.images, c.n_images = list.n_images, c.inputs = inputs;
        c.methods = methods.list, c.n_methods = methods.count, c.params = &settings.params;
        c.seed = settings.params.seed;
        status = xai_sanity_run(&c, g);
    }
    free(inputs);
    xai_graph_free(g);
    xai_output_lock_release(lock);
    xai_dataset_free(opened);
    free(list.images);
    if (status) cli_report();
    xai_team_leave(&team);
    return status ? 1 : 0;
}
