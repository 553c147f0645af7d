/* cli.h - the subcommands of the xaibench binary and the helpers they share. */
#ifndef XAI_CLI_H
#define XAI_CLI_H

#include "xai_dogs.h"

int cmd_model(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_dataset(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_metrics(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_merge(int argc, char **argv);

/* If argv[*i] is a dataset selection option (--split, --breed, --limit, --shard i/n), take it
 * and its value into `selection` and return 1; 0 if it is another option; -1 on a bad value. */
int cli_dataset_selection(int argc, char **argv, int *i, xai_dataset_selection *selection);

/* Print "xaibench: <last error>" to stderr and return the exit status 1. */
int cli_report(void);

/* Parse a whole decimal integer in [lo, hi]; on failure record "what: bad value". */
int cli_int(const char *text, long lo, long hi, const char *what, long *out);

#endif
