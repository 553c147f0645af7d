/* cmd_model.c - `xaibench model init` (write a seeded ResNet) and `model info` (describe one). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "xai_graph.h"
#include "xai_model.h"
#include "xai_status.h"

static int model_init(int argc, char **argv)
{
    xai_model_spec spec = {.arch = NULL};
    const char *output = NULL;
    int have_seed = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        if (!v) return xai_fail("model init: option %s needs a value", a), cli_report();
        if (strcmp(a, "--arch") == 0) spec.arch = v;
        else if (strcmp(a, "--seed") == 0) {
            char *end;
            unsigned long long s = strtoull(v, &end, 10);
            if (!*v || *end || *v == '-') return xai_fail("--seed: bad value '%s'", v), cli_report();
            spec.seed = s;
            have_seed = 1;
        } else if (strcmp(a, "--classes") == 0) {
            if (cli_int(v, 1, 100000, "--classes", &n)) return cli_report();
            spec.classes = (int)n;
        } else if (strcmp(a, "--size") == 0) {
            if (cli_int(v, 32, 4096, "--size", &n)) return cli_report();
            spec.image_size = (int)n;
        } else if (strcmp(a, "--bn-stats") == 0) {
            if (strcmp(v, "random") && strcmp(v, "identity"))
                return xai_fail("--bn-stats: '%s' is not identity or random", v), cli_report();
            spec.random_batchnorm = strcmp(v, "random") == 0;
        } else if (strcmp(a, "-o") == 0) output = v;
        else return xai_fail("model init: unknown option %s", a), cli_report();
        i++;
    }
    if (!spec.arch || !have_seed || !output)
        return xai_fail("model init: --arch, --seed and -o are required"), cli_report();
    if (xai_model_write_resnet(&spec, output)) return cli_report();
    printf("wrote %s (%s, seed %llu)\n", output, spec.arch, (unsigned long long)spec.seed);
    return 0;
}

static int model_info(int argc, char **argv)
{
    if (argc != 1) return xai_fail("model info: expected one FILE.onnx"), cli_report();
    xai_graph *g;
    if (xai_graph_load(&g, argv[0], NULL)) return cli_report();
    const xai_value *in = &g->values[g->input];
    printf("%s: opset %lld, input '%s' [N,%d,%d,%d], output '%s' [N,%d]\n", argv[0],
           (long long)g->opset, in->name, in->c, in->h, in->w, g->values[g->output].name,
           g->values[g->output].c);
    printf("%-4s %-18s %-44s %-18s %14s %14s\n", "#", "op", "node", "output", "params", "MACs");
    for (int i = 0; i < g->n_nodes; i++) {
        const xai_node *n = &g->nodes[i];
        const xai_value *o = &g->values[n->output];
        char shape[64];
        if (o->rank == 4) snprintf(shape, sizeof shape, "%dx%dx%d", o->c, o->h, o->w);
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
