/* cmd_model.c - `xaibench model init` (write a seeded ResNet) and `model info` (describe one). */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "cli.h"
#include "xai_graph.h"
#include "xai_model.h"
#include "xai_status.h"

static int take_seed(const char *value, void *out)
{
    char *end;
    unsigned long long seed = strtoull(value, &end, 10);
    if (!*value || *end || *value == '-') return xai_fail("--seed: bad value '%s' (expected an integer >= 0)", value);
    *(uint64_t *)out = seed;
    return XAI_OK;
}

static int model_init(int argc, char **argv)
{
    static const char *const bn_stats[] = {"identity", "random", NULL};
    xai_model_spec spec = {.arch = NULL};
    const char *output = NULL;
    const cli_option options[] = {
        CLI_OPT_TEXT("--arch", "resnet18|resnet34|resnet-tiny", "the architecture", &spec.arch, 1),
        {.name = "--seed", .value = "S", .help = "the weights' seed", .kind = CLI_CUSTOM, .out = &spec.seed,
         .take = take_seed, .required = 1},
        CLI_OPT_INT("--classes", "K", "output classes, default 1000", &spec.classes, 1, 100000),
        CLI_OPT_INT("--size", "PIXELS", "input size, default 224", &spec.image_size, 32, 4096),
        CLI_OPT_CHOICE("--bn-stats", "WHICH", "BatchNormalization statistics, default identity",
                       &spec.random_batchnorm, bn_stats),
        CLI_OPT_TEXT("-o", "FILE.onnx", "the model to write", &output, 1),
        CLI_OPT_END};
    const cli_command command = {"model init", "write a ResNet with seeded weights as ONNX", NULL, 0, 0, options};
    char **operands;
    int n, parsed = cli_parse(&command, argc, argv, &operands, &n);
    if (parsed) return cli_parse_exit(parsed);
    free(operands);
    if (xai_model_write_resnet(&spec, output)) return cli_report();
    printf("wrote %s (%s, seed %llu)\n", output, spec.arch, (unsigned long long)spec.seed);
    return 0;
}

static int model_info(int argc, char **argv)
{
    xai_graph_options load = {.max_activation_gb = 0};
    const cli_option options[] = {CLI_MAX_ACTIVATIONS_OPTION(&load.max_activation_gb), CLI_OPT_END};
    const cli_command command = {"model info", "an ONNX model's inputs, layers, parameters and metadata",
                                 "FILE.onnx", 1, 1, options};
    char **operands;
    int n, parsed = cli_parse(&command, argc, argv, &operands, &n);
    if (parsed) return cli_parse_exit(parsed);
    const char *path = operands[0];
    free(operands);
    xai_graph *g;
    if (xai_graph_load(&g, path, &load)) return cli_report();
    char shapes[2][64];
    for (int k = 0; k < 2; k++) {
        const xai_value *v = &g->values[k ? g->output : g->input];
        int dims[3] = {v->c, v->h, v->w}, used = snprintf(shapes[k], sizeof shapes[k], "[N");
        for (int d = 0; d < v->rank - 1; d++)
            used += snprintf(shapes[k] + used, sizeof shapes[k] - (size_t)used, ",%d", dims[d]);
        snprintf(shapes[k] + used, sizeof shapes[k] - (size_t)used, "]");
    }
    printf("%s: opset %lld, input '%s' %s, output '%s' %s\n", path, (long long)g->opset, g->values[g->input].name,
           shapes[0], g->values[g->output].name, shapes[1]);
    printf("%-4s %-18s %-44s %-18s %14s %14s\n", "#", "op", "node", "output", "params", "MACs");
    for (int i = 0; i < g->n_nodes; i++) {
        const xai_node *n = &g->nodes[i];
        const xai_value *o = &g->values[n->output];
        char shape[64];
        if (o->rank == 4) snprintf(shape, sizeof shape, "%dx%dx%d", o->c, o->h, o->w);
        else if (o->rank == 3) snprintf(shape, sizeof shape, "%dx%d", o->c, o->h);
        else snprintf(shape, sizeof shape, "%d", o->c);
        printf("%-4d %-18s %-44.44s %-18s %14lld %14lld\n", i, xai_op_name(n->op), n->name, shape,
               (long long)xai_node_parameters(g, i), (long long)xai_node_macs(g, i));
    }
    printf("parameters: %lld (BatchNormalization folded into the convolutions)\n",
           (long long)xai_graph_parameter_count(g));
    printf("multiply-accumulates per image: %lld (%.3f G)\n", (long long)xai_graph_macs(g),
           xai_graph_macs(g) / 1e9);
    for (int i = 0; i < g->n_metadata; i++)
        printf("metadata %s = %s\n", g->metadata[i].key, g->metadata[i].value);
    xai_graph_free(g);
    return 0;
}

int cmd_model(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "init") == 0) return model_init(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "info") == 0) return model_info(argc - 2, argv + 2);
    return xai_fail("model: expected 'init' or 'info'"), cli_report();
}
