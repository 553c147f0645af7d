/* shard_merge.c - `xaibench merge` (xai_merge_shards in xai_run.h): the files of a job array of
 * `run --shard i/n`, checked to be one run's complete set of shards and put in shard order,
 * then joined by xai_store_merge. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xai_run.h"
#include "xai_status.h"
#include "xai_store.h"

/* Attributes that must agree between the shards of one run. */
static const char *const same_in_all[] = {"model_sha256", "mean", "std", "label_offset", "xaibench_version"};
#define N_SAME (sizeof same_in_all / sizeof *same_in_all)

typedef struct {
    int index, count; /* count 0: no shard attribute */
    char *same[N_SAME]; /* "" when absent */
} shard_info;

static int read_info(const char *path, shard_info *info)
{
    xai_store *store;
    if (xai_store_open(&store, path, XAI_STORE_READ)) return XAI_ERR;
    char *shard = NULL;
    int status = xai_store_get_attribute(store, "shard", &shard);
    if (status == XAI_OK && shard &&
        (sscanf(shard, "%d/%d", &info->index, &info->count) != 2 || info->count < 1 || info->index < 0 ||
         info->index >= info->count))
        status = xai_fail("%s: bad shard attribute '%s'", path, shard);
    for (size_t k = 0; k < N_SAME && status == XAI_OK; k++) {
        status = xai_store_get_attribute(store, same_in_all[k], &info->same[k]);
        if (status == XAI_OK && !info->same[k] && !(info->same[k] = xai_strdup(""))) status = XAI_ERR;
    }
    free(shard);
    xai_store_abort(store);
    return status;
}

static void free_info(shard_info *info, int n)
{
    for (int k = 0; info && k < n; k++)
        for (size_t a = 0; a < N_SAME; a++) free(info[k].same[a]);
    free(info);
}

int xai_merge_shards(const char *output, const char *const *files, int n, const xai_team *team)
{
    if (n < 1) return xai_fail("merge: no file to merge");
    shard_info *info = xai_calloc((size_t)n, sizeof *info);
    const char **ordered = xai_calloc((size_t)n, sizeof *ordered);
    int status = info && ordered ? XAI_OK : XAI_ERR;
    for (int k = 0; k < n && status == XAI_OK; k++) status = read_info(files[k], &info[k]);
    int sharded = status == XAI_OK && info[0].count > 0;
    for (int k = 0; k < n && status == XAI_OK; k++) {
        if ((info[k].count > 0) != sharded)
            status = xai_fail("%s: %s a shard attribute, %s %s", files[k], sharded ? "has no" : "has",
                              files[0], sharded ? "has one" : "has none");
        else if (sharded && info[k].count != n)
            status = xai_fail("%s: shard %d/%d, but %d files were given", files[k], info[k].index, info[k].count, n);
        else if (sharded && ordered[info[k].index])
            status = xai_fail("%s: shard %d/%d again (also %s)", files[k], info[k].index, n, ordered[info[k].index]);
        for (size_t a = 0; a < N_SAME && status == XAI_OK; a++)
            if (strcmp(info[k].same[a], info[0].same[a]))
                status = xai_fail("%s: %s '%s' differs from %s's '%s' (not shards of one run)", files[k], same_in_all[a],
                                  info[k].same[a], files[0], info[0].same[a]);
        if (status == XAI_OK) ordered[sharded ? info[k].index : k] = files[k];
    }
    const char *const whole[] = {"shard", "0/1", NULL};
    if (status == XAI_OK) status = xai_store_merge(output, ordered, n, sharded ? whole : NULL, team);
    free_info(info, n);
    free(ordered);
    return status;
}
