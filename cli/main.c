/* main.c - `xaibench <command>`: dispatch to the subcommands, one error line on failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "xai_status.h"
#include "xai_version.h"

static void usage(FILE *to)
{
    fprintf(to,
            "xaibench %s - gradient attribution on CNNs: saliency, deconvnet, guided_backprop,\n"
            "  gradient_x_input, grad_cam, guided_grad_cam, smoothgrad, integrated_gradients\n"
            "\n"
            "usage:\n"
            "  xaibench model init --arch resnet18|resnet34|resnet-tiny --seed S [--classes K]\n"
            "                      [--size PIXELS] [--bn-stats identity|random] -o FILE.onnx\n"
            "  xaibench model info FILE.onnx\n"
            "  xaibench explain --model FILE.onnx --image IMG [--image IMG ...]\n"
            "                   [--methods saliency,deconvnet,guided_backprop|all] [method settings]\n"
            "                   [--target auto|INDEX] [--threads T] [--batch B] [--rules all|relu-only]\n"
            "                   [--mean r,g,b] [--std r,g,b] [--resize N|WxH] [--crop N|WxH|none]\n"
            "                   [--label-offset K] -o OUT.h5\n"
            "  xaibench run --model FILE.onnx --dataset DIR [--split train|test|all] [--breed B]\n"
            "               [--limit N] [--shard i/n] [--methods ...] [--target label|predicted]\n"
            "               [--batch B] [--threads T] [--rules all|relu-only] [method settings] -o RUN.h5\n"
            "               (resumable: the same command continues an interrupted run;\n"
            "                mpirun -np K xaibench run ... shares it out to K ranks, one file)\n"
            "  xaibench merge OUT.h5 RUN-SHARD.h5...   (the files of run --shard i/n, i = 0..n-1)\n"
            "  xaibench metrics RUN.h5 [--model F.onnx] [--steps N] [--threads T] [--csv F]\n"
            "  xaibench plot RUN.h5 -o DIR [--image K] [--rows N] [--reduce sum|max]\n"
            "                [--sign absolute_value|positive]\n"
            "  xaibench sanity --model FILE.onnx (--image IMG ... | --dataset DIR [--limit N])\n"
            "                  [--methods ...] [--mode cascading|independent] [--granularity layer|block]\n"
            "                  [--seed S] [--batch B] [--threads T] [method settings] -o SANITY.h5\n"
            "               (the model-parameter randomization test; resumable, and shared out\n"
            "                by mpirun -np K like run)\n"
            "  xaibench dataset list DIR [--split train|test|all] [--breed NAME|WNID] [--limit N]\n"
            "                   [--shard i/n]\n"
            "  xaibench dataset sample [--from data/samples] [--copies N] -o DIR\n"
            "method settings (docs/methods.md): --smoothgrad-samples N --smoothgrad-noise S\n"
            "  --smoothgrad-base METHOD --seed S --ig-steps M --ig-rule gausslegendre|riemann_trapezoid\n"
            "  --grad-cam-layer NAME\n",
            XAI_VERSION);
}

int cli_report(void)
{
    fprintf(stderr, "xaibench: %s\n", xai_last_error());
    return 1;
}

int cli_int(const char *text, long lo, long hi, const char *what, long *out)
{
    char *end = NULL;
    long v = text ? strtol(text, &end, 10) : 0;
    if (!text || !*text || *end || v < lo || v > hi)
        return xai_fail("%s: bad value '%s' (expected an integer in %ld..%ld)", what,
                        text ? text : "", lo, hi);
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    /* Fault injection for the tests: XAIBENCH_FAIL_ALLOCATION=K makes the K-th allocation of
     * xaibench's own code fail (see xai_fail_allocation). */
    const char *failing = getenv("XAIBENCH_FAIL_ALLOCATION");
    if (failing) xai_fail_allocation(atol(failing));
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("xaibench %s (%s)\n", XAI_VERSION, XAI_GIT_COMMIT);
        return 0;
    }
    if (strcmp(argv[1], "model") == 0) return cmd_model(argc - 1, argv + 1);
    if (strcmp(argv[1], "explain") == 0) return cmd_explain(argc - 1, argv + 1);
    if (strcmp(argv[1], "dataset") == 0) return cmd_dataset(argc - 1, argv + 1);
    if (strcmp(argv[1], "run") == 0) return cmd_run(argc - 1, argv + 1);
    if (strcmp(argv[1], "metrics") == 0) return cmd_metrics(argc - 1, argv + 1);
    if (strcmp(argv[1], "plot") == 0) return cmd_plot(argc - 1, argv + 1);
    if (strcmp(argv[1], "merge") == 0) return cmd_merge(argc - 1, argv + 1);
    if (strcmp(argv[1], "sanity") == 0) return cmd_sanity(argc - 1, argv + 1);
    fprintf(stderr, "xaibench: unknown command '%s' (try xaibench --help)\n", argv[1]);
    return 2;
}
