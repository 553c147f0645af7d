/* cmd_metrics.c - `xaibench metrics RUN.h5 [--model F.onnx] [--steps N] [--threads T] [--csv F]`. */
#include <stdlib.h>

#include "cli.h"
#include "xai_evaluate.h"
#include "xai_status.h"

int cmd_metrics(int argc, char **argv)
{
    xai_evaluate_options o = {.faithfulness_steps = 16};
    const cli_option options[] = {
        CLI_OPT_TEXT("--model", "FILE.onnx", "the model, for deletion and insertion (default: the run's)", &o.model, 0),
        CLI_OPT_INT("--steps", "N", "deletion/insertion steps, default 16 (0: none)", &o.faithfulness_steps, 0, 4096),
        CLI_THREADS_OPTION(&o.threads),
        CLI_OPT_TEXT("--csv", "FILE", "the summary table, default RUN.metrics.csv", &o.csv, 0),
        CLI_OPT_END};
    const cli_command command = {"metrics", "score a run's maps and write the scores into it", "RUN.h5", 1, 1, options};
    char **operands;
    int n, parsed = cli_parse(&command, argc - 1, argv + 1, &operands, &n);
    if (parsed) return cli_parse_exit(parsed);
    o.run = operands[0];
    free(operands);
    return xai_evaluate(&o) ? cli_report() : 0;
}
