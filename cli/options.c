/* options.c - cli_parse: subcommand options from a table, with their usage text. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_options.h"
#include "xai_status.h"

static void print_usage(const cli_command *c)
{
    printf("usage: xaibench %s%s%s [options]\n%s\n\noptions:\n", c->command, c->operands ? " " : "",
           c->operands ? c->operands : "", c->summary);
    for (const cli_option *o = c->options; o->name; o++) {
        char left[64];
        snprintf(left, sizeof left, "%s %s", o->name, o->value);
        printf("  %-24s %s%s", left, o->help, o->required ? " (required)" : "");
        if (o->kind == CLI_CHOICE) {
            printf(": ");
            for (int k = 0; o->choices[k]; k++) printf("%s%s", k ? "|" : "", o->choices[k]);
        }
        if (o->kind == CLI_INT) printf(" (%ld..%ld)", o->lo, o->hi);
        printf("\n");
    }
    printf("  %-24s %s\n", "-h, --help", "this text");
}

static int take_value(const cli_command *c, const cli_option *o, const char *v)
{
    long n;
    switch (o->kind) {
    case CLI_TEXT:
        *(const char **)o->out = v;
        return XAI_OK;
    case CLI_INT:
        if (cli_int(v, o->lo, o->hi, o->name, &n)) return XAI_ERR;
        *(int *)o->out = (int)n;
        return XAI_OK;
    case CLI_CHOICE: {
        char known[256] = "";
        for (int k = 0; o->choices[k]; k++) {
            if (strcmp(v, o->choices[k]) == 0) return *(int *)o->out = k, XAI_OK;
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", k ? ", " : "", o->choices[k]);
        }
        return xai_fail("%s %s: '%s' is not one of %s", c->command, o->name, v, known);
    }
    case CLI_CUSTOM:
        return o->take(v, o->out);
    }
    return XAI_ERR;
}

int cli_parse(const cli_command *c, int argc, char **argv, char ***operands, int *n_operands)
{
    *operands = NULL, *n_operands = 0;
    int n_options = 0;
    while (c->options[n_options].name) n_options++;
    int *seen = xai_calloc((size_t)n_options + 1, sizeof *seen);
    char **words = xai_calloc((size_t)argc + 1, sizeof *words);
    int status = seen && words ? XAI_OK : XAI_ERR, count = 0;
    for (int i = 0; status == XAI_OK && i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            print_usage(c);
            status = CLI_HELP;
            break;
        }
        if (a[0] != '-' || a[1] == '\0') {
            words[count++] = argv[i];
            continue;
        }
        int k = 0;
        while (k < n_options && strcmp(c->options[k].name, a) != 0) k++;
        if (k == n_options)
            status = xai_fail("%s: unknown option %s (see xaibench %s --help)", c->command, a, c->command);
        else if (i + 1 == argc)
            status = xai_fail("%s: option %s needs a value (%s)", c->command, a, c->options[k].value);
        else if ((status = take_value(c, &c->options[k], argv[++i])) == XAI_OK)
            seen[k] = 1;
    }
    for (int k = 0; status == XAI_OK && k < n_options; k++)
        if (c->options[k].required && !seen[k])
            status = xai_fail("%s: %s %s is required (see xaibench %s --help)", c->command, c->options[k].name,
                              c->options[k].value, c->command);
    if (status == XAI_OK && (count < c->min_operands || (c->max_operands >= 0 && count > c->max_operands))) {
        if (count > 0 && !c->operands) status = xai_fail("%s: unexpected %s", c->command, words[0]);
        else status = xai_fail("%s: expected %s (see xaibench %s --help)", c->command, c->operands, c->command);
    }
    free(seen);
    if (status != XAI_OK) {
        free(words);
        return status;
    }
    *operands = words, *n_operands = count;
    return XAI_OK;
}

int cli_parse_exit(int parsed) { return parsed == CLI_HELP ? 0 : cli_report(); }

int cli_take_methods(const char *value, void *out)
{
    cli_methods *methods = out;
    int n = xai_methods_parse(value, methods->list, XAI_METHODS_MAX);
    if (n < 0) return XAI_ERR;
    methods->count = n;
    return XAI_OK;
}

const char *const cli_ig_rules[] = {"gausslegendre", "riemann_trapezoid", NULL};

void cli_method_settings_init(cli_method_settings *s)
{
    xai_method_params_default(&s->params);
    s->layer = NULL;
}

int cli_take_noise(const char *value, void *out)
{
    char *end;
    double noise = strtod(value, &end);
    if (!*value || *end || !(noise >= 0) || noise > 1e6)
        return xai_fail("--smoothgrad-noise: bad value '%s' (expected a number >= 0)", value);
    ((xai_method_params *)out)->noise = noise;
    return XAI_OK;
}

int cli_take_base(const char *value, void *out)
{
    const xai_method *m = xai_method_find(value);
    if (!m) {
        char why[512]; /* xai_fail writes the buffer xai_last_error reads */
        snprintf(why, sizeof why, "%s", xai_last_error());
        return xai_fail("--smoothgrad-base: %s", why);
    }
    if (m->multi_pass) return xai_fail("--smoothgrad-base: %s is not a single-pass method", value);
    ((xai_method_params *)out)->base = m;
    return XAI_OK;
}

int cli_take_seed(const char *value, void *out)
{
    char *end;
    unsigned long long seed = strtoull(value, &end, 10);
    if (!*value || *end || *value == '-') return xai_fail("--seed: bad value '%s' (expected an integer >= 0)", value);
    ((xai_method_params *)out)->seed = seed;
    return XAI_OK;
}

int cli_take_threads(const char *value, void *out)
{
    long threads;
    if (cli_int(value, 1, 1024, "--threads", &threads)) return XAI_ERR;
    *(int *)out = (int)threads;
    omp_set_num_threads((int)threads); /* the process's own regions: a program's choice, not the library's */
    return XAI_OK;
}

int cli_take_gigabytes(const char *value, void *out)
{
    char *end;
    double gb = strtod(value, &end);
    if (!*value || *end || !(gb > 0) || gb > 1e6)
        return xai_fail("--max-activations-gb: bad value '%s' (expected a positive number of GiB)", value);
    *(double *)out = gb;
    return XAI_OK;
}
