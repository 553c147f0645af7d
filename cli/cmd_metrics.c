/* cmd_metrics.c - `xaibench metrics RUN.h5 [--model F.onnx] [--steps N] [--threads T] [--csv F]`. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "xai_evaluate.h"
#include "xai_status.h"

int cmd_metrics(int argc, char **argv)
{
    xai_evaluate_options o = {.faithfulness_steps = 16};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        if (a[0] != '-') {
            if (o.run) return xai_fail("metrics: one result file at a time"), cli_report();
            o.run = a;
            continue;
        }
        if (!v) return xai_fail("metrics: option %s needs a value", a), cli_report();
        if (!strcmp(a, "--model")) o.model = v;
        else if (!strcmp(a, "--csv")) o.csv = v;
        else if (!strcmp(a, "--steps")) {
            if (cli_int(v, 0, 4096, "--steps", &n)) return cli_report();
            o.faithfulness_steps = (int)n;
        } else if (!strcmp(a, "--threads")) {
            if (cli_int(v, 1, 1024, "--threads", &n)) return cli_report();
            o.threads = (int)n;
        } else {
            return xai_fail("metrics: unknown option %s", a), cli_report();
        }
        i++;
    }
    if (!o.run) return xai_fail("metrics: expected RUN.h5"), cli_report();
    return xai_evaluate(&o) ? cli_report() : 0;
}
