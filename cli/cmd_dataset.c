/* cmd_dataset.c - `xaibench dataset sample` (lay out the sample set as a Stanford Dogs tree) and
 * `xaibench dataset list` (what a selection holds: path, label, breed, boxes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "xai_classes.h"
#include "xai_dogs.h"
#include "xai_status.h"

/* "i/n" into index and count. */
static int parse_shard(const char *text, int *index, int *count)
{
    char *slash = strchr(text, '/');
    long i, n;
    if (!slash) return xai_fail("--shard: '%s' is not i/n", text);
    *slash = '\0';
    int bad = cli_int(text, 0, 1000000, "--shard index", &i) || cli_int(slash + 1, 1, 1000000, "--shard count", &n);
    *slash = '/';
    if (bad) return XAI_ERR;
    *index = (int)i, *count = (int)n;
    return XAI_OK;
}

int cli_dataset_selection(int argc, char **argv, int *i, xai_dataset_selection *sel)
{
    const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    long n;
    if (strcmp(a, "--split") && strcmp(a, "--breed") && strcmp(a, "--limit") && strcmp(a, "--shard")) return 0;
    if (!v) return xai_fail("option %s needs a value", a), -1;
    (*i)++;
    if (!strcmp(a, "--split")) sel->split = v;
    else if (!strcmp(a, "--breed")) sel->breed = v;
    else if (!strcmp(a, "--limit")) {
        if (cli_int(v, 1, 100000000, "--limit", &n)) return -1;
        sel->limit = (int)n;
    } else if (parse_shard(argv[*i], &sel->shard_index, &sel->shard_count)) return -1;
    return 1;
}

static int dataset_list(int argc, char **argv)
{
    xai_dataset_selection sel = {0};
    const char *root = NULL;
    for (int i = 0; i < argc; i++) {
        int used = cli_dataset_selection(argc, argv, &i, &sel);
        if (used < 0) return cli_report();
        if (used) continue;
        if (argv[i][0] == '-' || root) return xai_fail("dataset list: unexpected %s", argv[i]), cli_report();
        root = argv[i];
    }
    if (!root) return xai_fail("dataset list: expected a dataset folder"), cli_report();
    xai_dataset *d;
    if (xai_dataset_open(&d, root, &sel)) return cli_report();
    if (d->warning) fprintf(stderr, "xaibench: warning: %s\n", d->warning);
    for (int k = 0; k < d->skipped; k++) fprintf(stderr, "xaibench: skipped: %s\n", d->problems[k]);
    for (int k = 0; k < d->count; k++) {
        const xai_dataset_item *it = &d->items[k];
        printf("%s\t%d\t%s", it->path, it->label, xai_imagenet_name(it->label));
        for (int b = 0; b < it->n_boxes; b++) {
            printf("\t%.0f,%.0f,%.0f,%.0f", it->boxes[b].x0, it->boxes[b].y0, it->boxes[b].x1, it->boxes[b].y1);
            if (it->frame_boxes)
                printf(" (frame %.1f,%.1f,%.1f,%.1f)", it->frame_boxes[b].x0, it->frame_boxes[b].y0,
                       it->frame_boxes[b].x1, it->frame_boxes[b].y1);
        }
        printf("\n");
    }
    fprintf(stderr, "%d images selected, %d skipped\n", d->count, d->skipped);
    xai_dataset_free(d);
    return 0;
}

static int dataset_sample(int argc, char **argv)
{
    const char *from = "data/samples", *out = NULL;
    long copies = 1;
    for (int i = 0; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--from")) from = argv[i + 1];
        else if (!strcmp(argv[i], "-o")) out = argv[i + 1];
        else if (!strcmp(argv[i], "--copies")) {
            if (cli_int(argv[i + 1], 1, 100000, "--copies", &copies)) return cli_report();
        } else return xai_fail("dataset sample: unknown option %s", argv[i]), cli_report();
    }
    if (!out || argc % 2) return xai_fail("dataset sample: usage: [--from DIR] [--copies N] -o DIR"), cli_report();
    if (xai_sample_set_write(from, out, (int)copies)) return cli_report();
    printf("wrote the sample set to %s\n", out);
    return 0;
}

int cmd_dataset(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "list")) return dataset_list(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "sample")) return dataset_sample(argc - 2, argv + 2);
    return xai_fail("dataset: expected 'list' or 'sample'"), cli_report();
}
