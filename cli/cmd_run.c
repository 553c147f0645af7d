/* cmd_run.c - `xaibench run`: a resumable sweep of a data set selection (see xai_run.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "xai_run.h"
#include "xai_status.h"

int cmd_run(int argc, char **argv)
{
    cli_methods methods = {.count = 0};
    int target = 0, rules = 0;
    static const char *const targets[] = {"label", "predicted", NULL}, *const rule_names[] = {"all", "relu-only", NULL};
    xai_run_options o = {.batch = 8, .argc = argc + 1, .argv = argv - 1};
    cli_method_settings settings;
    cli_method_settings_init(&settings);
    const cli_option options[] = {
        CLI_OPT_TEXT("--model", "FILE.onnx", "the ONNX model", &o.model, 1),
        CLI_OPT_TEXT("--dataset", "DIR", "a Stanford Dogs tree", &o.dataset, 1),
        CLI_OPT_TEXT("-o", "RUN.h5", "the results file (the same command resumes it)", &o.output, 1),
        CLI_SELECTION_OPTIONS(&o.selection),
        CLI_OPT_CUSTOM("--methods", "a,b,c|all", "methods, default saliency,deconvnet,guided_backprop", &methods,
                       cli_take_methods),
        CLI_METHOD_OPTIONS(&settings),
        CLI_OPT_CHOICE("--target", "WHICH", "the class explained, default label", &target, targets),
        CLI_OPT_CHOICE("--rules", "WHICH", "where the rules apply, default all", &rules, rule_names),
        CLI_OPT_INT("--batch", "B", "images per forward pass, default 8", &o.batch, 1, 256),
        CLI_THREADS_OPTION(&o.threads),
        CLI_MAX_ACTIVATIONS_OPTION(&o.max_activation_gb),
        CLI_OPT_END};
    const cli_command command = {"run", "a resumable sweep of a data set selection through the methods; "
                                        "mpirun -np K shares it out to K ranks", NULL, 0, 0, options};
    char **operands;
    int n, parsed = cli_parse(&command, argc - 1, argv + 1, &operands, &n);
    if (parsed) return cli_parse_exit(parsed);
    free(operands);
    if (!methods.count && cli_take_methods("saliency,deconvnet,guided_backprop", &methods)) return cli_report();
    o.methods = methods.list, o.n_methods = methods.count;
    o.params = &settings.params, o.grad_cam_layer = settings.layer;
    o.target_predicted = target == 1, o.relu_only_rules = rules == 1;
    xai_team team;
    if (xai_team_join(&team, &argc, &argv)) return cli_report();
    o.team = &team;
    xai_run_summary s;
    int status = xai_run(&o, &s);
    if (status) cli_report();
    else if (team.rank == 0) {
        printf("%s: %d images, %d skipped; top-1 %.1f %%, top-5 %.1f %% against the labels\n", o.output, s.images,
               s.skipped, 100 * s.top1, 100 * s.top5);
        if (!isnan(s.worst_completeness))
            printf("integrated gradients: worst completeness error %.3g %% (|sum(map) - (F(x) - F(0))| / "
                   "|F(x) - F(0)|)\n", 100 * s.worst_completeness);
        fprintf(stderr,
                "xaibench: %.1f s in all%s: start-up %.1f s, decode %.1f s, engine %.1f s, part files %.1f s, "
                "output %.1f s (the sweep waited %.1f s for these writes)\n",
                s.seconds_total, team.size > 1 ? " (slowest rank per phase)" : "", s.seconds_startup, s.seconds_decode,
                s.seconds_engine, s.seconds_parts, s.seconds_merge, s.seconds_waiting);
    }
    xai_team_leave(&team);
    return status ? 1 : 0;
}
