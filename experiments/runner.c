/* runner.c - `xaibench run` (see xai_run.h): batches of a data set selection through the
 * engine into per-batch part files and OUT, written by a thread while the engine computes the
 * next batch; resumable, with a progress line. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "xai_clock.h"
#include "xai_engine.h"
#include "xai_heatmap.h"
#include "xai_output_lock.h"
#include "xai_provenance.h"
#include "xai_run.h"
#include "xai_status.h"
#include "xai_store.h"
#include "xai_version.h"
#include "xai_write_behind.h"

/* What makes two runs the same run: resuming with anything else would mix results. */
static void describe_run(const xai_run_options *o, const char *sha, char *out, size_t size)
{
    const xai_dataset_selection *s = &o->selection;
    int used = snprintf(out, size,
                        "xaibench %s run\nmodel_sha256 %s\ndataset %s\nsplit %s\nbreed %s\nlimit %d\n"
                        "shard %d/%d\nbatch %d\nthreads %d\ntarget %s\nrules %s\nmethods",
                        XAI_VERSION, sha, o->dataset, s->split ? s->split : "all",
                        s->breed ? s->breed : "-", s->limit, s->shard_index, s->shard_count, o->batch,
                        o->threads, o->target_predicted ? "predicted" : "label", o->relu_only_rules ? "relu-only" : "all");
    for (int m = 0; m < o->n_methods && used < (int)size; m++)
        used += snprintf(out + used, size - (size_t)used, " %s", o->methods[m]->name);
    if (used < (int)size) snprintf(out + used, size - (size_t)used, "\n");
}

/* Create OUT.parts with its manifest, or check that an existing one is this run's. */
static int open_parts(const char *parts, const char *manifest_text)
{
    char manifest[4200], partial[4300];
    snprintf(manifest, sizeof manifest, "%s/manifest", parts);
    if (mkdir(parts, 0755) != 0) {
        if (errno != EEXIST) return xai_fail("%s: cannot create: %s", parts, strerror(errno));
        FILE *f = fopen(manifest, "r");
        char existing[8192] = "";
        size_t n = f ? fread(existing, 1, sizeof existing - 1, f) : 0;
        if (f) fclose(f);
        existing[n] = '\0';
        if (f && strcmp(existing, manifest_text) == 0) return XAI_OK;
        if (f)
            return xai_fail("%s: holds an unfinished run of another command (model, data set, selection, "
                            "methods, batch, threads or target differ); remove it to start over", parts);
    }
    snprintf(partial, sizeof partial, "%s.partial", manifest);
    FILE *f = fopen(partial, "w");
    if (!f) return xai_fail("%s: cannot create: %s", partial, strerror(errno));
    int bad = fputs(manifest_text, f) < 0;
    bad |= fclose(f) != 0;
    if (bad || rename(partial, manifest) != 0) return xai_fail("%s: cannot write (disk full?)", manifest);
    return XAI_OK;
}

static void remove_parts(const char *parts, int n_batches)
{
    char path[4200];
    for (int b = 0; b < n_batches; b++) {
        snprintf(path, sizeof path, "%s/batch-%06d.h5", parts, b);
        remove(path);
    }
    snprintf(path, sizeof path, "%s/manifest", parts);
    remove(path);
    rmdir(parts);
}

static void progress(const xai_run_options *o, int done, int total, int skipped, double started, int resumed)
{
    if (o->quiet) return;
    double elapsed = xai_now_seconds() - started, rate = done > resumed && elapsed > 0 ? (done - resumed) / elapsed : 0;
    double eta = rate > 0 ? (total - done) / rate : 0;
    int tty = isatty(2), width = 30, filled = total ? width * done / total : width;
    if (tty) {
        fprintf(stderr, "\r[%.*s%*s] %d/%d images, %.1f images/s, ETA %d:%02d, %d skipped ", filled,
                "##############################", width - filled, "", done, total, rate, (int)eta / 60,
                (int)eta % 60, skipped);
        if (done == total) fputc('\n', stderr);
    } else {
        fprintf(stderr, "xaibench: %d/%d images, %.1f images/s, ETA %d:%02d, %d skipped\n", done, total,
                rate, (int)eta / 60, (int)eta % 60, skipped);
    }
}

/* Top-1 / top-5 accuracy and counts from a finished run file, into a zeroed summary. */
static int summarize(const char *path, xai_run_summary *s)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return xai_fail("%s: cannot open the finished run", path);
    hid_t labels = H5Dopen2(f, "/images/label", H5P_DEFAULT), top5 = H5Dopen2(f, "/predictions/top5", H5P_DEFAULT);
    hid_t skipped = H5Dopen2(f, "/skipped/reason", H5P_DEFAULT);
    int status = labels < 0 || top5 < 0 || skipped < 0 ? xai_fail("%s: not a run file", path) : XAI_OK;
    if (status == XAI_OK) {
        hid_t space = H5Dget_space(labels);
        hsize_t n;
        H5Sget_simple_extent_dims(space, &n, NULL);
        H5Sclose(space);
        space = H5Dget_space(skipped);
        hsize_t k;
        H5Sget_simple_extent_dims(space, &k, NULL);
        H5Sclose(space);
        s->images = (int)n;
        s->skipped = (int)k;
        int *label = xai_malloc((n + 1) * sizeof *label), *top = xai_malloc((n + 1) * 5 * sizeof *top);
        if (!label || !top) status = xai_fail("out of memory");
        else if (n && (H5Dread(labels, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, label) < 0 ||
                       H5Dread(top5, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, top) < 0))
            status = xai_fail("%s: cannot read the predictions", path);
        for (hsize_t i = 0; status == XAI_OK && i < n; i++) {
            s->top1 += top[i * 5] == label[i];
            for (int r = 0; r < 5; r++) s->top5 += top[i * 5 + r] == label[i];
        }
        if (n) s->top1 /= (double)n, s->top5 /= (double)n;
        free(label);
        free(top);
    }
    if (labels >= 0) H5Dclose(labels);
    if (top5 >= 0) H5Dclose(top5);
    if (skipped >= 0) H5Dclose(skipped);
    H5Fclose(f);
    return status;
}

/* The five largest logits, best first. */
static void top_five(const float *logits, int classes, int *out)
{
    for (int r = 0; r < 5; r++) out[r] = -1;
    for (int k = 0; k < classes; k++) {
        int r = 5;
        while (r > 0 && (out[r - 1] < 0 || logits[k] > logits[out[r - 1]])) r--;
        if (r == 5) continue;
        memmove(out + r + 1, out + r, (size_t)(4 - r) * sizeof *out);
        out[r] = k;
    }
}

/* One batch's buffers and, once computed, its rows ready to write. Two of them alternate when
 * a writing thread writes one batch while the engine computes the next. */
typedef struct {
    float *input, *logits, *maps[XAI_METHODS_MAX], *heat[XAI_METHODS_MAX], *bbox, *bbox_frame;
    int *targets, *chosen, *indices, *labels, *top5;
    const char **paths, **skipped;
    double ms_methods[XAI_METHODS_MAX];
    xai_store_batch rows; /* the computed batch */
    int batch, first;     /* its number and first item */
} run_slot;

/* The buffers for batches of B images of `shape`; page-aligned where written O_DIRECT. */
static int allocate_slot(run_slot *b, int B, const xai_store_shape *shape)
{
    size_t image = (size_t)shape->channels * shape->height * shape->width, plane = (size_t)shape->height * shape->width;
    b->input = xai_malloc_pages((size_t)B * image * sizeof(float));
    b->logits = xai_malloc((size_t)B * shape->classes * sizeof(float));
    b->bbox = xai_malloc((size_t)B * 4 * sizeof(float));
    b->bbox_frame = xai_malloc((size_t)B * 4 * sizeof(float));
    b->targets = xai_malloc((size_t)B * sizeof(int));
    b->chosen = xai_malloc((size_t)B * sizeof(int));
    b->indices = xai_malloc((size_t)B * sizeof(int));
    b->labels = xai_malloc((size_t)B * sizeof(int));
    b->top5 = xai_malloc((size_t)B * 5 * sizeof(int));
    b->paths = xai_malloc((size_t)B * sizeof(char *));
    b->skipped = xai_malloc((size_t)B * sizeof(char *));
    int ok = b->input && b->logits && b->bbox && b->bbox_frame && b->targets && b->chosen && b->indices &&
             b->labels && b->top5 && b->paths && b->skipped;
    for (int m = 0; ok && m < shape->n_methods; m++)
        ok = (b->maps[m] = xai_malloc_pages((size_t)B * image * sizeof(float))) &&
             (b->heat[m] = xai_malloc_pages((size_t)B * plane * sizeof(float)));
    return ok ? XAI_OK : XAI_ERR;
}

static void free_slot(run_slot *b)
{
    free(b->input), free(b->logits), free(b->bbox), free(b->bbox_frame);
    free(b->targets), free(b->chosen), free(b->indices), free(b->labels), free(b->top5), free(b->paths);
    free(b->skipped);
    for (int m = 0; m < XAI_METHODS_MAX; m++) free(b->maps[m]), free(b->heat[m]);
}

/* Seconds spent per phase of the sweep: decode and engine on the computing thread, part files
 * and output on the writing one, and the computing thread's waits for the writes. */
typedef struct {
    double decode, engine, parts, output, waiting;
} run_phases;

/* A result file of this run with its root attributes (provenance, data set, shard, transform). */
static int create_store(const xai_run_options *o, const char *path, const xai_store_shape *shape, const char *sha,
                        const xai_dataset *d, xai_store **out)
{
    char shard[32];
    snprintf(shard, sizeof shard, "%d/%d", o->selection.shard_index, o->selection.shard_count ? o->selection.shard_count : 1);
    if (xai_store_create(out, path, shape)) return XAI_ERR;
    if (xai_store_provenance(*out, o->model, sha, o->threads, o->argc, o->argv) ||
        xai_store_attribute(*out, "dataset", o->dataset) || xai_store_attribute(*out, "shard", shard) ||
        xai_store_transform_attributes(*out, d->transform.mean, d->transform.std, d->transform.label_offset)) {
        xai_store_abort(*out);
        *out = NULL;
        return XAI_ERR;
    }
    return XAI_OK;
}

/* OUT written while the sweep goes: appended to by one process, or presized and shared by the
 * ranks of an MPI run, each writing its batches at their rows. A presized file has no room for
 * skipped images: after one, it is given up and the parts are merged at the end instead. */
typedef struct {
    xai_store *store;
    int presized, given_up;
} run_output;

/* The part file of batch b. */
static void part_name(const char *parts, int batch, char *out, size_t size)
{
    snprintf(out, size, "%s/batch-%06d.h5", parts, batch);
}

/* Decode and explain batch `batch` (items first..first+count-1) into slot b, ready to write. */
static int compute_batch(const xai_run_options *o, xai_engine *e, xai_dataset *d, const xai_store_shape *shape,
                         run_slot *b, int batch, int first, int count, run_phases *phases)
{
    size_t image = (size_t)shape->channels * shape->height * shape->width, plane = (size_t)shape->height * shape->width;
    int classes = shape->classes, loaded, problems_before = d->skipped;
    double t0 = xai_now_seconds();
    if (xai_dataset_load_batch(d, first, count, b->input, b->indices, &loaded)) return XAI_ERR;
    double t1 = xai_now_seconds();
    phases->decode += t1 - t0;
    int skipped = d->skipped - problems_before;
    double ms_forward = 0;
    for (int m = 0; m < o->n_methods; m++) b->ms_methods[m] = 0;
    if (loaded) {
        for (int k = 0; k < o->batch; k++) b->targets[k] = -1;
        int offset = d->transform.label_offset; /* ImageNet index + offset = the model's logit */
        for (int k = 0; k < loaded && !o->target_predicted; k++) {
            b->targets[k] = d->items[b->indices[k]].label + offset;
            if (b->targets[k] >= classes)
                return xai_fail("%s: label %d, but the model has %d classes (use --target predicted)",
                                d->items[b->indices[k]].path, b->targets[k] - offset, classes - offset);
        }
        xai_explain_request rq = {b->input, o->n_methods, o->methods, b->targets, b->chosen, b->logits,
                                  b->maps, &ms_forward, b->ms_methods};
        if (xai_engine_explain(e, &rq)) return XAI_ERR;
        ms_forward /= loaded;
        for (int m = 0; m < o->n_methods; m++) {
            b->ms_methods[m] /= loaded;
            for (int k = 0; k < loaded; k++)
                xai_heatmap_max_abs(b->maps[m] + k * image, shape->channels, plane, b->heat[m] + k * plane);
        }
    }
    for (int k = 0; k < loaded; k++) {
        const xai_dataset_item *it = &d->items[b->indices[k]];
        b->paths[k] = it->path;
        b->labels[k] = it->label;
        for (int c = 0; c < 4; c++) b->bbox[k * 4 + c] = b->bbox_frame[k * 4 + c] = NAN;
        if (it->n_boxes) memcpy(b->bbox + k * 4, &it->boxes[0], 4 * sizeof(float));
        if (it->frame_boxes) memcpy(b->bbox_frame + k * 4, &it->frame_boxes[0], 4 * sizeof(float));
        top_five(b->logits + (size_t)k * classes, classes, b->top5 + k * 5);
        for (int r = 0; r < 5; r++) b->top5[k * 5 + r] -= d->transform.label_offset;
        b->chosen[k] -= d->transform.label_offset; /* stored as ImageNet indices */
    }
    /* the lines themselves stay put; the array of them may move as it grows */
    for (int k = 0; k < skipped; k++) b->skipped[k] = d->problems[problems_before + k];
    phases->engine += xai_now_seconds() - t1;
    b->batch = batch;
    b->first = first;
    b->rows = (xai_store_batch){.count = loaded, .input = b->input, .logits = b->logits, .targets = b->chosen,
                                .maps = (const float *const *)b->maps, .heatmaps = (const float *const *)b->heat,
                                .ms_forward = ms_forward, .ms_methods = b->ms_methods, .paths = b->paths,
                                .labels = b->labels, .bbox = b->bbox, .bbox_frame = b->bbox_frame, .top5 = b->top5,
                                .n_skipped = skipped, .skipped = b->skipped};
    return XAI_OK;
}

/* What writing a computed batch needs. */
typedef struct {
    const xai_run_options *o;
    const xai_store_shape *shape;
    const char *sha, *parts;
    const xai_dataset *d;
    run_slot *slots;
    run_output *whole;
    run_phases phases; /* parts and output */
} run_writing;

/* Write the batch in slot `slot` as its part file (the resume checkpoint: complete once renamed
 * into place) and into OUT. */
static int write_batch(void *context, int slot)
{
    run_writing *w = context;
    const run_slot *b = &w->slots[slot];
    char part[4200];
    part_name(w->parts, b->batch, part, sizeof part);
    double t0 = xai_now_seconds();
    xai_store *store;
    if (create_store(w->o, part, w->shape, w->sha, w->d, &store)) return XAI_ERR;
    if (xai_store_append(store, &b->rows)) {
        xai_store_abort(store);
        return XAI_ERR;
    }
    int status = xai_store_close(store);
    double t1 = xai_now_seconds();
    w->phases.parts += t1 - t0;
    run_output *whole = w->whole;
    if (b->rows.n_skipped && whole->presized) whole->given_up = 1;
    if (status == XAI_OK && whole->store && !whole->given_up)
        status = whole->presized ? xai_store_write_at(whole->store, b->first, &b->rows)
                                 : xai_store_append(whole->store, &b->rows);
    w->phases.output += xai_now_seconds() - t1;
    return status;
}

/* Merge the parts in order into OUT; a kill here leaves the parts, and the same command merges
 * again. */
static int merge_parts(const xai_run_options *o, const xai_team *team, const char *parts, int n_batches)
{
    const char **names = xai_calloc((size_t)n_batches, sizeof *names);
    char *storage = xai_calloc((size_t)n_batches, 4200);
    int status = names && storage ? XAI_OK : XAI_ERR;
    for (int b = 0; status == XAI_OK && b < n_batches; b++) {
        part_name(parts, b, storage + (size_t)b * 4200, 4200);
        names[b] = storage + (size_t)b * 4200;
    }
    status = xai_team_agree(team, status);
    if (status == XAI_OK) status = xai_store_merge(o->output, names, n_batches, NULL, team);
    free(names);
    free(storage);
    return status;
}

int xai_run(const xai_run_options *o, xai_run_summary *summary)
{
    xai_team alone = {.rank = 0, .size = 1};
    const xai_team *team = o->team ? o->team : &alone;
    memset(summary, 0, sizeof *summary);
    if (o->n_methods < 1 || o->n_methods > XAI_METHODS_MAX) return xai_fail("run: 1 to %d methods", XAI_METHODS_MAX);
    if (o->batch < 1) return xai_fail("run: batch must be >= 1");
    double started = xai_now_seconds();
    char manifest[8192], sha[65] = "", parts[4096];
    snprintf(parts, sizeof parts, "%s.parts", o->output);

    xai_output_lock *lock = NULL;
    xai_graph *g = NULL;
    xai_engine *e = NULL;
    xai_dataset *d = NULL;
    run_slot slots[XAI_WRITE_BEHIND_SLOTS] = {0};
    run_output whole = {0};
    xai_write_behind *writer = NULL;
    int *mine = NULL, n_mine = 0, n_batches = 0;
    xai_graph_options load = {.relu_only_rules = o->relu_only_rules, .max_activation_gb = o->max_activation_gb};
    xai_transform t;
    xai_dataset_selection selection = o->selection;
    selection.transform = &t;
    selection.shard_block = o->batch; /* shards hold whole batches of the unsharded run */
    /* One job per OUT: rank 0 holds OUT.lock until the end, and a second job is refused here,
     * before it reads or writes anything of the first's. */
    int status = team->rank == 0 ? xai_output_lock_take(&lock, o->output) : XAI_OK;
    if ((status = xai_team_agree(team, status)) != XAI_OK) return status;
    status = xai_sha256_file(o->model, sha);
    if (status == XAI_OK) status = xai_graph_load(&g, o->model, &load);
    if (status == XAI_OK) status = xai_transform_for_model(&t, g);
    if (status == XAI_OK && g->values[g->input].c != 3)
        status = xai_fail("%s: input has %d channels; images give 3", o->model, g->values[g->input].c);
    if (status == XAI_OK) status = xai_dataset_open(&d, o->dataset, &selection);
    if (status == XAI_OK && d->count == 0) status = xai_fail("%s: the selection holds no image", o->dataset);
    /* Rank 0 makes OUT.parts and its manifest; then every rank checks that it is this run's. */
    describe_run(o, sha, manifest, sizeof manifest);
    if (status == XAI_OK && team->rank == 0) status = open_parts(parts, manifest);
    if ((status = xai_team_agree(team, status)) != XAI_OK) goto done;
    if (team->rank != 0) status = open_parts(parts, manifest);
    int quiet = o->quiet || team->rank != 0;
    if (d->warning && !quiet) fprintf(stderr, "xaibench: warning: %s\n", d->warning);
    for (int k = 0; k < d->skipped && !quiet; k++) fprintf(stderr, "xaibench: skipped: %s\n", d->problems[k]);

    /* The batches no earlier run finished, dealt out round-robin; all ranks look before any
     * writes. */
    int B = o->batch, done_images = 0, resumed = 0, missing = 0;
    n_batches = (d->count + B - 1) / B;
    if (status == XAI_OK && !(mine = xai_calloc((size_t)n_batches, sizeof *mine))) status = XAI_ERR;
    for (int batch = 0; status == XAI_OK && batch < n_batches; batch++) {
        char part[4200];
        part_name(parts, batch, part, sizeof part);
        int count = d->count - batch * B < B ? d->count - batch * B : B;
        if (access(part, R_OK) == 0) done_images += count, resumed += count;
        else if (missing++ % team->size == team->rank) mine[n_mine++] = batch;
    }
    if ((status = xai_team_agree(team, status)) != XAI_OK) goto done;

    const char *names[XAI_METHODS_MAX];
    for (int m = 0; m < o->n_methods; m++) names[m] = o->methods[m]->name;
    const xai_value *in = &g->values[g->input];
    xai_store_shape shape = {.channels = in->c, .height = in->h, .width = in->w, .classes = xai_graph_outputs(g),
                             .n_methods = o->n_methods, .methods = names, .with_images = 1};
    /* One process writes each batch in a thread of its own while the engine computes the next
     * (two slots of buffers alternate); under MPI the writes stay on this thread, which alone
     * may call MPI. */
    int n_slots = team->size == 1 && n_mine > 1 ? XAI_WRITE_BEHIND_SLOTS : 1;
    for (int k = 0; status == XAI_OK && n_mine && k < n_slots; k++) status = allocate_slot(&slots[k], B, &shape);
    if (status == XAI_OK && n_mine) status = xai_engine_create_consuming(&e, g, B, o->threads);
    /* A fresh run also writes each batch into OUT as it finishes, so that no merge is left for
     * the end; a resumed run merges the parts at the end. Under MPI, rank 0 creates OUT
     * presized to the whole selection, then all ranks open it through MPI-IO. */
    if (team->size == 1 && resumed == 0 && n_mine) {
        if (status == XAI_OK) status = create_store(o, o->output, &shape, sha, d, &whole.store);
    } else if (team->size > 1 && resumed == 0) {
        xai_store_shape presized = shape;
        presized.rows = d->count;
        whole.presized = 1;
        if (status == XAI_OK && team->rank == 0 && (status = create_store(o, o->output, &presized, sha, d, &whole.store)) == XAI_OK)
            status = xai_store_suspend(whole.store);
        whole.store = NULL;
        if ((status = xai_team_agree(team, status)) != XAI_OK) goto done;
        status = xai_store_open_shared(&whole.store, o->output, &presized, team);
        if ((status = xai_team_agree(team, status)) != XAI_OK) goto done;
    }
    run_phases phases = {0};
    run_writing writing = {.o = o, .shape = &shape, .sha = sha, .parts = parts, .d = d, .slots = slots, .whole = &whole};
    int skipped_total = 0;
    double sweep_started = xai_now_seconds();
    if (status == XAI_OK && n_slots > 1) status = xai_write_behind_start(&writer, write_batch, &writing);
    for (int k = 0; k < n_mine && status == XAI_OK; k++) {
        int slot = k % n_slots, first = mine[k] * B, count = d->count - first < B ? d->count - first : B;
        if (writer) status = xai_write_behind_claim(writer, slot, &phases.waiting);
        if (status == XAI_OK) status = compute_batch(o, e, d, &shape, &slots[slot], mine[k], first, count, &phases);
        if (status == XAI_OK && writer) xai_write_behind_post(writer, slot);
        else if (status == XAI_OK) status = write_batch(&writing, slot);
        /* Under MPI rank 0 speaks for all, counting the others as fast as itself. */
        int new_images = (done_images += count) - resumed, shown = resumed + new_images * team->size;
        skipped_total += slots[slot].rows.n_skipped;
        if (status == XAI_OK && !quiet)
            progress(o, shown < d->count && k + 1 < n_mine ? shown : d->count, d->count, skipped_total,
                     sweep_started, resumed);
    }
    double waiting_started = xai_now_seconds();
    status = xai_write_behind_finish(writer, status);
    writer = NULL;
    phases.waiting += xai_now_seconds() - waiting_started;
    if ((status = xai_team_agree(team, status)) != XAI_OK) goto done;
    double merge_started = xai_now_seconds();
    long long given_up = whole.given_up;
    if (whole.presized && (status = xai_team_sum(team, &given_up, 1)) != XAI_OK) goto done;
    if (whole.store && !given_up) status = xai_store_close(whole.store);
    else {
        xai_store_abort(whole.store); /* collective when shared */
        status = merge_parts(o, team, parts, n_batches);
    }
    whole.store = NULL;
    summary->seconds_merge = xai_team_max(team, xai_now_seconds() - merge_started + writing.phases.output);
    if (status == XAI_OK) status = summarize(o->output, summary);
    if (status == XAI_OK && team->rank == 0) remove_parts(parts, n_batches);
    summary->seconds_decode = xai_team_max(team, phases.decode);
    summary->seconds_engine = xai_team_max(team, phases.engine);
    summary->seconds_parts = xai_team_max(team, writing.phases.parts);
    summary->seconds_waiting = xai_team_max(team, phases.waiting);
    summary->seconds_total = xai_team_max(team, xai_now_seconds() - started);
    summary->seconds_startup = xai_team_max(team, sweep_started - started);
done:
    xai_write_behind_finish(writer, XAI_ERR);
    xai_store_abort(whole.store);
    free(mine);
    for (int k = 0; k < XAI_WRITE_BEHIND_SLOTS; k++) free_slot(&slots[k]);
    xai_engine_destroy(e);
    xai_dataset_free(d);
    xai_graph_free(g);
    xai_output_lock_release(lock);
    return status;
}
