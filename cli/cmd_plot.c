/* cmd_plot.c - `xaibench plot RUN.h5 -o DIR [--image K] [--rows N] [--reduce sum|max]
 * [--sign absolute_value|positive]`. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "xai_plot.h"
#include "xai_sanity_store.h"
#include "xai_status.h"

int cmd_plot(int argc, char **argv)
{
    static const char *const reductions[] = {"sum", "max", NULL}, *const signs[] = {"absolute_value", "positive", NULL};
    xai_plot_options o = {.reduce = XAI_REDUCE_SUM, .sign = XAI_SIGN_ABSOLUTE};
    int reduce = 0, sign = 0;
    const cli_option options[] = {
        CLI_OPT_TEXT("-o", "DIR", "where the figures go", &o.outdir, 1),
        CLI_OPT_INT("--image", "K", "the image of figure1, default 0", &o.image, 0, 100000000),
        CLI_OPT_INT("--rows", "N", "images in the grid, default up to 6", &o.grid_images, 1, 64),
        CLI_OPT_CHOICE("--reduce", "HOW", "channels reduced by, default sum", &reduce, reductions),
        CLI_OPT_CHOICE("--sign", "WHICH", "values shown, default absolute_value", &sign, signs),
        CLI_OPT_END};
    const cli_command command = {"plot", "the figures of a run: figure1, the grid, box plots of the metrics (of a sanity file: "
                                         "its maps and similarity curves)",
                                 "RUN.h5", 1, 1, options};
    char **operands;
    int n, parsed = cli_parse(&command, argc - 1, argv + 1, &operands, &n);
    if (parsed) return cli_parse_exit(parsed);
    o.run = operands[0];
    free(operands);
    if (xai_sanity_store_is(o.run)) { /* a file of xaibench sanity: its two figures */
        if (xai_plot_sanity(o.run, o.outdir)) return cli_report();
        printf("wrote %s/sanity_maps.{png,pdf} and %s/sanity_curves.{png,pdf}\n", o.outdir, o.outdir);
        return 0;
    }
    o.reduce = reduce == 0 ? XAI_REDUCE_SUM : XAI_REDUCE_MAX_ABS;
    o.sign = sign == 1 ? XAI_SIGN_POSITIVE : XAI_SIGN_ABSOLUTE;
    if (xai_plot(&o)) return cli_report();
    printf("wrote %s/figure1.{png,pdf} and %s/grid.{png,pdf}\n", o.outdir, o.outdir);
    return 0;
}
