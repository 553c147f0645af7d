/* cmd_run.c - `xaibench run`: a resumable sweep of a data set selection (see xai_run.h). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "xai_run.h"
#include "xai_status.h"

#define MAX_METHODS 8

int cmd_run(int argc, char **argv)
{
    const xai_method *methods[MAX_METHODS];
    xai_run_options o = {.methods = methods, .batch = 8, .argc = argc + 1, .argv = argv - 1};
    o.n_methods = xai_methods_parse("saliency,deconvnet,guided_backprop", methods, MAX_METHODS);
    for (int i = 1; i < argc; i++) {
        int used = cli_dataset_selection(argc, argv, &i, &o.selection);
        if (used < 0) return cli_report();
        if (used) continue;
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        if (!v) return xai_fail("run: option %s needs a value", a), cli_report();
        if (!strcmp(a, "--model")) o.model = v;
        else if (!strcmp(a, "--dataset")) o.dataset = v;
        else if (!strcmp(a, "-o")) o.output = v;
        else if (!strcmp(a, "--methods")) {
            if ((o.n_methods = xai_methods_parse(v, methods, MAX_METHODS)) < 0) return cli_report();
        } else if (!strcmp(a, "--target")) {
            if (strcmp(v, "label") && strcmp(v, "predicted"))
                return xai_fail("--target: '%s' is not label or predicted", v), cli_report();
            o.target_predicted = !strcmp(v, "predicted");
        } else if (!strcmp(a, "--rules")) {
            if (strcmp(v, "all") && strcmp(v, "relu-only"))
                return xai_fail("--rules: all or relu-only, not '%s'", v), cli_report();
            o.relu_only_rules = !strcmp(v, "relu-only");
        } else if (!strcmp(a, "--batch")) {
            if (cli_int(v, 1, 256, "--batch", &n)) return cli_report();
            o.batch = (int)n;
        } else if (!strcmp(a, "--threads")) {
            if (cli_int(v, 1, 1024, "--threads", &n)) return cli_report();
            o.threads = (int)n;
        } else {
            return xai_fail("run: unknown option %s", a), cli_report();
        }
        i++;
    }
    if (!o.model || !o.dataset || !o.output) return xai_fail("run: --model, --dataset and -o are required"), cli_report();
    xai_team team;
    if (xai_team_join(&team, &argc, &argv)) return cli_report();
    o.team = &team;
    xai_run_summary s;
    int status = xai_run(&o, &s);
    if (status) cli_report();
    else if (team.rank == 0) {
        printf("%s: %d images, %d skipped; top-1 %.1f %%, top-5 %.1f %% against the labels\n", o.output, s.images,
               s.skipped, 100 * s.top1, 100 * s.top5);
        fprintf(stderr,
                "xaibench: %.1f s in all%s: start-up %.1f s, decode %.1f s, engine %.1f s, part files %.1f s, "
                "output %.1f s (the sweep waited %.1f s for these writes)\n",
                s.seconds_total, team.size > 1 ? " (slowest rank per phase)" : "", s.seconds_startup, s.seconds_decode,
                s.seconds_engine, s.seconds_parts, s.seconds_merge, s.seconds_waiting);
    }
    xai_team_leave(&team);
    return status ? 1 : 0;
}
