/* cli.h - the subcommands of the xaibench binary and the helpers they share. */
#ifndef XAI_CLI_H
#define XAI_CLI_H

int cmd_model(int argc, char **argv);
int cmd_explain(int argc, char **argv);

/* Print "xaibench: <last error>" to stderr and return the exit status 1. */
int cli_report(void);

/* Parse a whole decimal integer in [lo, hi]; on failure record "what: bad value". */
int cli_int(const char *text, long lo, long hi, const char *what, long *out);

#endif
