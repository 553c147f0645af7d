/* cmd_dataset.c - `xaibench dataset sample` (lay out the sample set as a Stanford Dogs tree) and
 * `xaibench dataset list` (what a selection holds: path, label, breed, boxes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "xai_classes.h"
#include "xai_dogs.h"
#include "xai_status.h"

int cli_take_shard(const char *text, void *out)
{
    xai_dataset_selection *sel = out;
    const char *slash = strchr(text, '/');
    long i, n;
    char index[32];
    if (!slash || (size_t)(slash - text) >= sizeof index) return xai_fail("--shard: '%s' is not i/n", text);
    memcpy(index, text, (size_t)(slash - text));
    index[slash - text] = '\0';
    if (cli_int(index, 0, 1000000, "--shard index", &i) || cli_int(slash + 1, 1, 1000000, "--shard count", &n))
        return XAI_ERR;
    if (i >= n) return xai_fail("--shard %s: the index must be below the count", text);
    sel->shard_index = (int)i, sel->shard_count = (int)n;
    return XAI_OK;
}

static int dataset_list(int argc, char **argv)
{
    xai_dataset_selection sel = {0};
    const cli_option options[] = {CLI_SELECTION_OPTIONS(&sel), CLI_OPT_END};
    const cli_command command = {"dataset list", "the images a selection of a Stanford Dogs tree holds, with labels and boxes",
                                 "DIR", 1, 1, options};
    char **operands;
    int n, parsed = cli_parse(&command, argc, argv, &operands, &n);
    if (parsed) return cli_parse_exit(parsed);
    xai_dataset *d;
    int status = xai_dataset_open(&d, operands[0], &sel);
    free(operands);
    if (status) return cli_report();
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
    int copies = 1;
    const cli_option options[] = {
        CLI_OPT_TEXT("--from", "DIR", "the sample photos (default: data/samples)", &from, 0),
        CLI_OPT_INT("--copies", "N", "write each photo N times", &copies, 1, 100000),
        CLI_OPT_TEXT("-o", "DIR", "the Stanford Dogs tree to write", &out, 1),
        CLI_OPT_END};
    const cli_command command = {"dataset sample", "lay the sample photos out as a small Stanford Dogs tree", NULL,
                                 0, 0, options};
    char **operands;
    int n, parsed = cli_parse(&command, argc, argv, &operands, &n);
    if (parsed) return cli_parse_exit(parsed);
    free(operands);
    if (xai_sample_set_write(from, out, copies)) return cli_report();
    printf("wrote the sample set to %s\n", out);
    return 0;
}

int cmd_dataset(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "list")) return dataset_list(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "sample")) return dataset_sample(argc - 2, argv + 2);
    return xai_fail("dataset: expected 'list' or 'sample'"), cli_report();
}
