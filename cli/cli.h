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
