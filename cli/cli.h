/* cli.h - the subcommands of the xaibench binary and the helpers they share. */
#ifndef XAI_CLI_H
#define XAI_CLI_H

#include "cli_options.h"
#include "xai_dogs.h"
#include "xai_method.h"

int cmd_model(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_dataset(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_metrics(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_sanity(int argc, char **argv);

/* --shard i/n into an xai_dataset_selection (cli_option's CLI_CUSTOM). */
int cli_take_shard(const char *value, void *selection);

/* The data set selection options of `run` and `dataset list`, as cli_option table entries. */
#define CLI_SELECTION_OPTIONS(sel)                                                            \
    CLI_OPT_TEXT("--split", "train|test|all", "the Stanford Dogs split, default all",        \
                 &(sel)->split, 0),                                                             \
    CLI_OPT_TEXT("--breed", "NAME|WNID", "only this breed", &(sel)->breed, 0),                  \
    CLI_OPT_INT("--limit", "N", "at most N images", &(sel)->limit, 1, 100000000),               \
    CLI_OPT_CUSTOM("--shard", "i/n", "part i of n (job arrays)", (sel), cli_take_shard)

/* "a,b,c" into methods (cli_option's CLI_CUSTOM). */
typedef struct {
    const xai_method *list[XAI_METHODS_MAX];
    int count;
} cli_methods;
int cli_take_methods(const char *value, void *methods);

/* The activation budget of a model (xai_graph_options.max_activation_gb), as a table entry. */
int cli_take_gigabytes(const char *value, void *gb);
#define CLI_MAX_ACTIVATIONS_OPTION(where)                                                     \
    CLI_OPT_CUSTOM("--max-activations-gb", "G", "refuse models whose activations for one image " \
                   "pass G GiB, default 4", where, cli_take_gigabytes)

/* The methods' settings (xai_method_params) as options of explain and run; the layer is found
 * by name once the model is loaded (xai_method_params_resolve). */
typedef struct {
    xai_method_params params;
    const char *layer;
} cli_method_settings;
void cli_method_settings_init(cli_method_settings *settings);
int cli_take_noise(const char *value, void *params);
int cli_take_base(const char *value, void *params);
int cli_take_seed(const char *value, void *params);
extern const char *const cli_ig_rules[];
#define CLI_METHOD_OPTIONS(s)                                                                                     \
    CLI_OPT_INT("--smoothgrad-samples", "N", "smoothgrad: noisy copies per image, default 50", &(s)->params.samples, \
                1, 100000),                                                                                         \
    CLI_OPT_CUSTOM("--smoothgrad-noise", "S", "smoothgrad: noise sigma / the input's range, default 0.15",         \
                   &(s)->params, cli_take_noise),                                                                   \
    CLI_OPT_CUSTOM("--smoothgrad-base", "METHOD", "smoothgrad: the single-pass method averaged, default saliency",  \
                   &(s)->params, cli_take_base),                                                                    \
    CLI_OPT_INT("--ig-steps", "M", "integrated_gradients: steps, default 50", &(s)->params.steps, 1, 100000),       \
    CLI_OPT_CHOICE("--ig-rule", "RULE", "integrated_gradients: gausslegendre (default) or riemann_trapezoid",       \
                   &(s)->params.riemann_trapezoid, cli_ig_rules),                                                   \
    CLI_OPT_TEXT("--grad-cam-layer", "NAME", "grad_cam: a 4-D tensor, default the one before the last pooling",    \
                 &(s)->layer, 0),                                                                                   \
    CLI_OPT_CUSTOM("--seed", "S", "smoothgrad's noise seed, default 0", &(s)->params, cli_take_seed)

/* --threads T: the command's threads. An engine keeps its own count (xai_engine_create); this
 * also sizes the OpenMP regions outside it (decoding, metrics), as a table entry. */
int cli_take_threads(const char *value, void *threads);
#define CLI_THREADS_OPTION(where) \
    CLI_OPT_CUSTOM("--threads", "T", "threads, default OpenMP's", where, cli_take_threads)

/* Print "xaibench: <last error>" to stderr and return the exit status 1. */
int cli_report(void);

/* Parse a whole decimal integer in [lo, hi]; on failure record "what: bad value". */
int cli_int(const char *text, long lo, long hi, const char *what, long *out);

#endif
