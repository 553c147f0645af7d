/* run_parts.c - OUT.parts, the sweep's checkpoint (see run_parts.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run_parts.h"
#include "xai_driver.h"
#include "xai_status.h"
#include "xai_store.h"
#include "xai_version.h"

char *run_parts_manifest(const xai_run_options *o, const xai_method_params *params, const char *sha)
{
    const xai_dataset_selection *s = &o->selection;
    size_t names = 1;
    for (int m = 0; m < o->n_methods; m++) names += strlen(o->methods[m]->name) + 1;
    char *methods = xai_calloc(names, 1);
    if (!methods) return NULL;
    for (int m = 0; m < o->n_methods; m++) strcat(strcat(methods, " "), o->methods[m]->name);
    char *settings = xai_driver_describe(o->methods, o->n_methods, params);
    char *text = !settings ? NULL :
                 xai_format("xaibench %s run\nmodel_sha256 %s\ndataset %s\nsplit %s\nbreed %s\nlimit %d\n"
                            "shard %d/%d\nbatch %d\nthreads %d\ntarget %s\nrules %s\nmethods%s\n%s",
                            XAI_VERSION, sha, o->dataset, s->split ? s->split : "all", s->breed ? s->breed : "-",
                            s->limit, s->shard_index, s->shard_count, o->batch, o->threads,
                            o->target_predicted ? "predicted" : "label", o->relu_only_rules ? "relu-only" : "all",
                            methods, settings);
    free(methods);
    free(settings);
    return text;
}

/* The whole of a small text file, allocated; NULL when it cannot be read. */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char *text = NULL;
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (size >= 0 && fseek(f, 0, SEEK_SET) == 0 && (text = xai_malloc((size_t)size + 1))) {
        size_t n = fread(text, 1, (size_t)size, f);
        text[n] = '\0';
    }
    fclose(f);
    return text;
}

/* The first line of `a` that `b` does not have at the same place ("" when they agree). */
static void first_difference(const char *a, const char *b, char *out, size_t size)
{
    out[0] = '\0';
    while (*a || *b) {
        size_t na = strcspn(a, "\n"), nb = strcspn(b, "\n");
        if (na != nb || strncmp(a, b, na)) {
            snprintf(out, size, "%.*s", (int)(na ? na : nb), na ? a : b);
            return;
        }
        a += na + (a[na] == '\n'), b += nb + (b[nb] == '\n');
    }
}

static int check_manifest(const char *parts, const char *path, const char *manifest)
{
    char *existing = read_text(path);
    if (!existing) return 1; /* none (a kill before it was written): write it */
    char setting[256];
    first_difference(existing, manifest, setting, sizeof setting);
    free(existing);
    if (!*setting) return XAI_OK;
    return xai_fail("%s: holds an unfinished run of another command (its %s differs from this one's); remove it "
                    "to start over", parts, setting);
}

static int write_manifest(const char *path, const char *manifest)
{
    char *partial = xai_format("%s.partial", path);
    if (!partial) return XAI_ERR;
    FILE *f = fopen(partial, "w");
    int status = f ? XAI_OK : xai_fail("%s: cannot create: %s", partial, strerror(errno));
    if (f) {
        int bad = fputs(manifest, f) < 0;
        bad |= fclose(f) != 0;
        if (bad || rename(partial, path) != 0) status = xai_fail("%s: cannot write (disk full?)", path);
    }
    free(partial);
    return status;
}

int run_parts_open(const char *parts, const char *manifest)
{
    char *path = xai_format("%s/manifest", parts);
    if (!path) return XAI_ERR;
    int status = 1;
    if (mkdir(parts, 0755) != 0) {
        if (errno != EEXIST) status = xai_fail("%s: cannot create: %s", parts, strerror(errno));
        else status = check_manifest(parts, path, manifest);
    }
    if (status == 1) status = write_manifest(path, manifest);
    free(path);
    return status;
}

char *run_parts_batch(const char *parts, int batch)
{
    return xai_format("%s/batch-%06d.h5", parts, batch);
}

int run_parts_has(const char *parts, int batch)
{
    char *part = run_parts_batch(parts, batch);
    int has = part && access(part, R_OK) == 0;
    free(part);
    return has;
}

int run_parts_merge(const char *output, const char *parts, int n_batches, const xai_team *team)
{
    char **names = xai_calloc((size_t)n_batches + 1, sizeof *names);
    int status = names ? XAI_OK : XAI_ERR;
    for (int b = 0; status == XAI_OK && b < n_batches; b++)
        if (!(names[b] = run_parts_batch(parts, b))) status = XAI_ERR;
    status = xai_team_agree(team, status);
    if (status == XAI_OK) status = xai_store_merge(output, (const char *const *)names, n_batches, NULL, team);
    for (int b = 0; names && b < n_batches; b++) free(names[b]);
    free(names);
    return status;
}

void run_parts_remove(const char *parts, int n_batches)
{
    for (int b = 0; b < n_batches; b++) {
        char *part = run_parts_batch(parts, b);
        if (part) remove(part);
        free(part);
    }
    char *manifest = xai_format("%s/manifest", parts);
    if (manifest) remove(manifest);
    free(manifest);
    rmdir(parts);
}
