/* cmd_plot.c - `xaibench plot RUN.h5 -o DIR [--image K] [--rows N] [--reduce sum|max]
 * [--sign absolute_value|positive]`. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "xai_plot.h"
#include "xai_status.h"

int cmd_plot(int argc, char **argv)
{
    xai_plot_options o = {.reduce = XAI_REDUCE_SUM, .sign = XAI_SIGN_ABSOLUTE};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        if (a[0] != '-') {
            if (o.run) return xai_fail("plot: one result file at a time"), cli_report();
            o.run = a;
            continue;
        }
        if (!v) return xai_fail("plot: option %s needs a value", a), cli_report();
        if (!strcmp(a, "-o")) o.outdir = v;
        else if (!strcmp(a, "--image")) {
            if (cli_int(v, 0, 100000000, "--image", &n)) return cli_report();
            o.image = (int)n;
        } else if (!strcmp(a, "--rows")) {
            if (cli_int(v, 1, 64, "--rows", &n)) return cli_report();
            o.grid_images = (int)n;
        } else if (!strcmp(a, "--reduce")) {
            if (strcmp(v, "sum") && strcmp(v, "max")) return xai_fail("--reduce: sum or max, not '%s'", v), cli_report();
            o.reduce = !strcmp(v, "sum") ? XAI_REDUCE_SUM : XAI_REDUCE_MAX_ABS;
        } else if (!strcmp(a, "--sign")) {
            if (strcmp(v, "absolute_value") && strcmp(v, "positive"))
                return xai_fail("--sign: absolute_value or positive, not '%s'", v), cli_report();
            o.sign = !strcmp(v, "positive") ? XAI_SIGN_POSITIVE : XAI_SIGN_ABSOLUTE;
        } else {
            return xai_fail("plot: unknown option %s", a), cli_report();
        }
        i++;
    }
    if (!o.run || !o.outdir) return xai_fail("plot: expected RUN.h5 and -o DIR"), cli_report();
    if (xai_plot(&o)) return cli_report();
    printf("wrote %s/figure1.{png,pdf} and %s/grid.{png,pdf}\n", o.outdir, o.outdir);
    return 0;
}
