/* cli_options.h - the one option parser of the subcommands: each describes its options in a
 * table, and cli_parse takes them from the command line, checks them (unknown option, missing
 * value, value out of range, required option absent: one line naming the option) and prints
 * the subcommand's usage for -h or --help. */
#ifndef XAI_CLI_OPTIONS_H
#define XAI_CLI_OPTIONS_H

typedef enum {
    CLI_TEXT,   /* out: const char ** */
    CLI_INT,    /* out: int *, the value in lo..hi */
    CLI_CHOICE, /* out: int *, the index of the value in choices */
    CLI_CUSTOM  /* take(value, out) parses it: XAI_OK, or XAI_ERR with the message set */
} cli_kind;

typedef struct {
    const char *name;  /* "--model", "-o" */
    const char *value; /* what the value is, in the usage: "FILE.onnx" */
    const char *help;  /* one line */
    cli_kind kind;
    void *out;
    long lo, hi;
    const char *const *choices;
    int (*take)(const char *value, void *out);
    int required;
} cli_option;

typedef struct {
    const char *command;     /* "explain", "model init" */
    const char *summary;     /* one line: what it does */
    const char *operands;    /* usage of the operands ("RUN.h5"), NULL when there are none */
    int min_operands, max_operands; /* max_operands < 0: any number */
    const cli_option *options;      /* ended by an entry without a name */
} cli_command;

/* Table entries: option name, value name, help line, where the value goes (and its range, its
 * choices or its parser); required: 1 when the command cannot go without it. */
#define CLI_OPT_TEXT(opt, val, text, where, req) \
    {.name = opt, .value = val, .help = text, .kind = CLI_TEXT, .out = where, .required = req}
#define CLI_OPT_INT(opt, val, text, where, min, max) \
    {.name = opt, .value = val, .help = text, .kind = CLI_INT, .out = where, .lo = min, .hi = max}
#define CLI_OPT_CHOICE(opt, val, text, where, list) \
    {.name = opt, .value = val, .help = text, .kind = CLI_CHOICE, .out = where, .choices = list}
#define CLI_OPT_CUSTOM(opt, val, text, where, parser) \
    {.name = opt, .value = val, .help = text, .kind = CLI_CUSTOM, .out = where, .take = parser}
#define CLI_OPT_END {.name = NULL}

enum { CLI_HELP = 1 };

/* Take argv[0..argc-1] (the words after the subcommand's name) by the table. Operands (words
 * that are not options or their values) go to a new array *operands (free() it) of *n_operands.
 * Returns XAI_OK; CLI_HELP after printing the usage to stdout; or XAI_ERR with one line set. */
int cli_parse(const cli_command *command, int argc, char **argv, char ***operands, int *n_operands);

/* The exit status for a parse result: 0 for CLI_HELP, else the error reported (1). */
int cli_parse_exit(int parsed);

#endif
