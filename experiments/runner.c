/* runner.c - `xaibench run` (see xai_run.h): batches of a data set selection through the
 * engine into per-batch part files and OUT, written by a thread while the engine computes the
 * next batch; resumable, with a progress line. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run_parts.h"
#include "xai_clock.h"
#include "xai_driver.h"
#include "xai_heatmap.h"
#include "xai_output_lock.h"
#include "xai_provenance.h"
#include "xai_run.h"
#include "xai_status.h"
#include "xai_store.h"
#include "xai_write_behind.h"




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
    xai_store *store;
    if (xai_store_open(&store, path, XAI_STORE_READ)) return XAI_ERR;
    long long n = 0, skipped = 0;
    int status = xai_store_rows(store, "/images/label", &n, NULL);
    if (status == XAI_OK) status = xai_store_rows(store, "/skipped/reason", &skipped, NULL);
    int *label = xai_malloc(((size_t)n + 1) * sizeof *label), *top = xai_malloc(((size_t)n + 1) * 5 * sizeof *top);
    if (status == XAI_OK && (!label || !top)) status = XAI_ERR;
    if (status == XAI_OK) status = xai_store_read(store, "/images/label", 0, n, label);
    if (status == XAI_OK) status = xai_store_read(store, "/predictions/top5", 0, n, top);
    for (long long i = 0; status == XAI_OK && i < n; i++) {
        s->top1 += top[i * 5] == label[i];
        for (int r = 0; r < 5; r++) s->top5 += top[i * 5 + r] == label[i];
    }
    s->images = (int)n;
    s->skipped = (int)skipped;
    if (n) s->top1 /= (double)n, s->top5 /= (double)n;
    s->worst_completeness = NAN;
    const xai_store_shape *shape = xai_store_shape_of(store);
    double *error = xai_malloc(((size_t)n + 1) * sizeof *error);
    if (status == XAI_OK && !error) status = XAI_ERR;
    for (int m = 0; status == XAI_OK && m < shape->n_methods; m++) {
        if (!shape->completeness[m]) continue;
        char *name = xai_format("/completeness/%s", shape->methods[m]);
        status = name ? xai_store_read(store, name, 0, n, error) : XAI_ERR;
        for (long long i = 0; status == XAI_OK && i < n; i++)
            if (!(error[i] <= s->worst_completeness)) s->worst_completeness = error[i];
        free(name);
    }
    free(error);
    free(label);
    free(top);
    xai_store_abort(store);
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
    double *completeness[XAI_METHODS_MAX];
    long long *keys;      /* each image's noise key: a hash of its name in the data set */
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
    b->keys = xai_malloc((size_t)B * sizeof(long long));
    int ok = b->input && b->logits && b->bbox && b->bbox_frame && b->targets && b->chosen && b->indices &&
             b->labels && b->top5 && b->paths && b->skipped && b->keys;
    for (int m = 0; ok && m < shape->n_methods; m++) {
        ok = (b->maps[m] = xai_malloc_pages((size_t)B * shape->map_channels[m] * plane * sizeof(float))) &&
             (b->heat[m] = xai_malloc_pages((size_t)B * plane * sizeof(float)));
        if (ok && shape->completeness[m]) ok = (b->completeness[m] = xai_malloc((size_t)B * sizeof(double))) != NULL;
    }
    return ok ? XAI_OK : XAI_ERR;
}

static void free_slot(run_slot *b)
{
    free(b->input), free(b->logits), free(b->bbox), free(b->bbox_frame);
    free(b->targets), free(b->chosen), free(b->indices), free(b->labels), free(b->top5), free(b->paths);
    free(b->skipped), free(b->keys);
    for (int m = 0; m < XAI_METHODS_MAX; m++) free(b->maps[m]), free(b->heat[m]), free(b->completeness[m]);
}

/* Seconds spent per phase of the sweep: decode and engine on the computing thread, part files
 * and output on the writing one, and the computing thread's waits for the writes. */
typedef struct {
    double decode, engine, parts, output, waiting;
} run_phases;

/* A result file of this run with its root attributes (provenance, data set, shard, transform). */
static int create_store(const xai_run_options *o, const xai_method_params *params, const char *path,
                        const xai_store_shape *shape, const char *sha, const xai_dataset *d, xai_store **out)
{
    char shard[32];
    snprintf(shard, sizeof shard, "%d/%d", o->selection.shard_index, o->selection.shard_count ? o->selection.shard_count : 1);
    if (xai_store_create(out, path, shape)) return XAI_ERR;
    if (xai_store_method_parameters(*out, o->methods, o->n_methods, params) ||
        xai_store_provenance(*out, o->model, sha, o->threads, o->argc, o->argv) ||
        xai_store_set_attribute(*out, "dataset", o->dataset) || xai_store_set_attribute(*out, "shard", shard) ||
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


/* An image's noise key: FNV-1a of its name in the data set, the same in any selection or shard. */
static long long image_key(const char *relative)
{
    uint64_t h = 14695981039346656037ull;
    for (const unsigned char *c = (const unsigned char *)relative; *c; c++) h = (h ^ *c) * 1099511628211ull;
    return (long long)(h >> 1);
}

/* The targets of the loaded images: their labels as logits, or -1 (the top one). */
static int label_targets(const xai_run_options *o, const xai_dataset *d, run_slot *b, int loaded, int classes)
{
    int offset = d->transform.label_offset; /* ImageNet index + offset = the model's logit */
    for (int k = 0; k < loaded; k++) {
        const xai_dataset_item *it = &d->items[b->indices[k]];
        b->targets[k] = o->target_predicted ? -1 : it->label + offset;
        b->keys[k] = image_key(it->relative ? it->relative : it->path);
        if (b->targets[k] >= classes)
            return xai_fail("%s: label %d, but the model has %d classes (use --target predicted)", it->path,
                            b->targets[k] - offset, classes - offset);
    }
    return XAI_OK;
}

/* Decode and explain batch `batch` (items first..first+count-1) into slot b, ready to write. */
static int compute_batch(const xai_run_options *o, xai_driver *driver, xai_dataset *d, const xai_store_shape *shape,
                         run_slot *b, int batch, int first, int count, run_phases *phases)
{
    int classes = shape->classes, loaded, problems_before = d->skipped;
    double t0 = xai_now_seconds();
    if (xai_dataset_load_batch(d, first, count, b->input, b->indices, &loaded)) return XAI_ERR;
    double t1 = xai_now_seconds();
    phases->decode += t1 - t0;
    int skipped = d->skipped - problems_before;
    xai_driver_batch rows = {.input = b->input, .count = loaded, .targets = b->targets, .image_ids = b->keys,
                             .chosen = b->chosen, .logits = b->logits, .maps = b->maps, .heatmaps = b->heat,
                             .completeness = b->completeness};
    if (loaded && (label_targets(o, d, b, loaded, classes) || xai_driver_explain(driver, &rows))) return XAI_ERR;
    for (int m = 0; m < o->n_methods; m++) b->ms_methods[m] = loaded ? rows.ms_methods[m] : 0;
    double ms_forward = loaded ? rows.ms_forward : 0;
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
                                .ms_forward = ms_forward, .ms_methods = b->ms_methods,
                                .completeness = (const double *const *)b->completeness, .paths = b->paths,
                                .labels = b->labels, .bbox = b->bbox, .bbox_frame = b->bbox_frame, .top5 = b->top5,
                                .n_skipped = skipped, .skipped = b->skipped};
    return XAI_OK;
}

/* What writing a computed batch needs. */
typedef struct {
    const xai_run_options *o;
    const xai_method_params *params;
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
    char *part = run_parts_batch(w->parts, b->batch);
    double t0 = xai_now_seconds();
    xai_store *store = NULL;
    int status = part ? create_store(w->o, w->params, part, w->shape, w->sha, w->d, &store) : XAI_ERR;
    free(part);
    if (status == XAI_OK && xai_store_append(store, &b->rows)) {
        xai_store_abort(store);
        return XAI_ERR;
    }
    if (status == XAI_OK) status = xai_store_close(store);
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


/* Everything one sweep holds, from the lock on OUT to the writing thread. */
typedef struct {
    const xai_run_options *o;
    const xai_team *team;
    xai_output_lock *lock;
    xai_graph *g;
    xai_driver *driver;
    xai_dataset *d;
    xai_transform transform;
    char sha[65], *parts, *manifest;
    const char *names[XAI_METHODS_MAX];
    int map_channels[XAI_METHODS_MAX], completeness[XAI_METHODS_MAX];
    xai_method_params params;
    xai_store_shape shape;
    int *mine, n_mine, n_batches; /* the batches this process computes, of all the run's */
    int resumed, quiet;           /* images finished by an earlier run */
    run_slot slots[XAI_WRITE_BEHIND_SLOTS];
    int n_slots;
    run_output whole;
    run_phases phases;
    run_writing writing;
    double started, sweep_started;
} run_state;

/* The lock on OUT, the model, the data set and OUT.parts with this run's manifest. Each stage
 * below ends agreed: every rank of a team leaves it with the same status. */
static int prepare(run_state *r)
{
    const xai_run_options *o = r->o;
    const xai_team *team = r->team;
    /* One job per OUT: rank 0 holds OUT.lock until the end, and a second job is refused here,
     * before it reads or writes anything of the first's. */
    int status = team->rank == 0 ? xai_output_lock_take(&r->lock, o->output) : XAI_OK;
    if ((status = xai_team_agree(team, status)) != XAI_OK) return status;
    xai_graph_options load = {.relu_only_rules = o->relu_only_rules, .max_activation_gb = o->max_activation_gb};
    xai_dataset_selection selection = o->selection;
    selection.transform = &r->transform;
    selection.shard_block = o->batch; /* shards hold whole batches of the unsharded run */
    status = xai_sha256_file(o->model, r->sha);
    if (status == XAI_OK) status = xai_graph_load(&r->g, o->model, &load);
    if (status == XAI_OK) status = xai_transform_for_model(&r->transform, r->g);
    if (status == XAI_OK) {
        if (o->params) r->params = *o->params;
        else xai_method_params_default(&r->params);
        status = xai_method_params_resolve(&r->params, r->g, o->grad_cam_layer);
    }
    if (status == XAI_OK && r->g->values[r->g->input].c != 3)
        status = xai_fail("%s: input has %d channels; images give 3", o->model, r->g->values[r->g->input].c);
    if (status == XAI_OK) status = xai_dataset_open(&r->d, o->dataset, &selection);
    if (status == XAI_OK && r->d->count == 0) status = xai_fail("%s: the selection holds no image", o->dataset);
    if (status == XAI_OK && (!(r->parts = xai_format("%s.parts", o->output)) || !(r->manifest = run_parts_manifest(o, &r->params, r->sha))))
        status = XAI_ERR;
    /* Rank 0 makes OUT.parts and its manifest; then every rank checks that it is this run's. */
    if (status == XAI_OK && team->rank == 0) status = run_parts_open(r->parts, r->manifest);
    if ((status = xai_team_agree(team, status)) != XAI_OK) return status;
    if (team->rank != 0) status = run_parts_open(r->parts, r->manifest);
    r->quiet = o->quiet || team->rank != 0;
    if (r->d->warning && !r->quiet) fprintf(stderr, "xaibench: warning: %s\n", r->d->warning);
    for (int k = 0; k < r->d->skipped && !r->quiet; k++) fprintf(stderr, "xaibench: skipped: %s\n", r->d->problems[k]);
    return xai_team_agree(team, status);
}

/* The batches no earlier run finished, dealt out round-robin; all ranks look before any writes. */
static int find_missing(run_state *r)
{
    int B = r->o->batch, missing = 0, status = XAI_OK;
    r->n_batches = (r->d->count + B - 1) / B;
    if (!(r->mine = xai_calloc((size_t)r->n_batches, sizeof *r->mine))) status = XAI_ERR;
    for (int batch = 0; status == XAI_OK && batch < r->n_batches; batch++) {
        int count = r->d->count - batch * B < B ? r->d->count - batch * B : B;
        if (run_parts_has(r->parts, batch)) r->resumed += count;
        else if (missing++ % r->team->size == r->team->rank) r->mine[r->n_mine++] = batch;
    }
    return xai_team_agree(r->team, status);
}

/* The buffers, the engine, and OUT written while the sweep goes. A fresh run writes each batch
 * into OUT as it finishes, so that no merge is left for the end; a resumed run merges the parts
 * at the end. Under MPI, rank 0 creates OUT presized to the whole selection, then all ranks
 * open it through MPI-IO. */
static int set_up_output(run_state *r)
{
    const xai_run_options *o = r->o;
    int status = XAI_OK;
    if (r->n_mine) {
        xai_driver_config c = {.methods = o->methods, .n_methods = o->n_methods, .params = &r->params,
                               .batch = o->batch, .threads = o->threads};
        status = xai_driver_create(&r->driver, r->g, &c);
    }
    const xai_value *in = &r->g->values[r->g->input];
    for (int m = 0; m < o->n_methods; m++) {
        r->names[m] = o->methods[m]->name;
        r->map_channels[m] = xai_method_channels(o->methods[m], &r->params, in->c);
        r->completeness[m] = o->methods[m]->completeness;
    }
    r->shape = (xai_store_shape){.channels = in->c, .height = in->h, .width = in->w, .classes = xai_graph_outputs(r->g),
                                 .n_methods = o->n_methods, .methods = r->names, .map_channels = r->map_channels,
                                 .completeness = r->completeness, .with_images = 1};
    /* One process writes each batch in a thread of its own while the engine computes the next
     * (two slots of buffers alternate); under MPI the writes stay on this thread, which alone
     * may call MPI. */
    r->n_slots = r->team->size == 1 && r->n_mine > 1 ? XAI_WRITE_BEHIND_SLOTS : 1;
    for (int k = 0; status == XAI_OK && r->n_mine && k < r->n_slots; k++)
        status = allocate_slot(&r->slots[k], o->batch, &r->shape);
    if (r->team->size == 1) {
        if (status == XAI_OK && r->resumed == 0) status = create_store(o, &r->params, o->output, &r->shape, r->sha, r->d, &r->whole.store);
        return status;
    }
    if (r->resumed) return xai_team_agree(r->team, status);
    xai_store_shape presized = r->shape;
    presized.rows = r->d->count;
    r->whole.presized = 1;
    if (status == XAI_OK && r->team->rank == 0 &&
        (status = create_store(o, &r->params, o->output, &presized, r->sha, r->d, &r->whole.store)) == XAI_OK)
        status = xai_store_suspend(r->whole.store);
    r->whole.store = NULL;
    if ((status = xai_team_agree(r->team, status)) != XAI_OK) return status;
    status = xai_store_open_shared(&r->whole.store, o->output, &presized, r->team);
    return xai_team_agree(r->team, status);
}

/* This process's batches through the engine, each written (by the thread, or here) as soon as
 * it is computed. */
static int sweep(run_state *r)
{
    const xai_run_options *o = r->o;
    int status = XAI_OK, B = o->batch, done = r->resumed, skipped = 0;
    xai_write_behind *writer = NULL;
    r->writing = (run_writing){.o = o, .params = &r->params, .shape = &r->shape, .sha = r->sha, .parts = r->parts, .d = r->d,
                               .slots = r->slots, .whole = &r->whole};
    r->sweep_started = xai_now_seconds();
    if (r->n_slots > 1) status = xai_write_behind_start(&writer, write_batch, &r->writing);
    for (int k = 0; k < r->n_mine && status == XAI_OK; k++) {
        int slot = k % r->n_slots, first = r->mine[k] * B, count = r->d->count - first < B ? r->d->count - first : B;
        if (writer) status = xai_write_behind_claim(writer, slot, &r->phases.waiting);
        if (status == XAI_OK)
            status = compute_batch(o, r->driver, r->d, &r->shape, &r->slots[slot], r->mine[k], first, count, &r->phases);
        if (status == XAI_OK && writer) xai_write_behind_post(writer, slot);
        else if (status == XAI_OK) status = write_batch(&r->writing, slot);
        /* Under MPI rank 0 speaks for all, counting the others as fast as itself. */
        int shown = r->resumed + ((done += count) - r->resumed) * r->team->size;
        skipped += r->slots[slot].rows.n_skipped;
        if (status == XAI_OK && !r->quiet)
            progress(o, shown < r->d->count && k + 1 < r->n_mine ? shown : r->d->count, r->d->count, skipped,
                     r->sweep_started, r->resumed);
    }
    double waiting_started = xai_now_seconds();
    status = xai_write_behind_finish(writer, status);
    r->phases.waiting += xai_now_seconds() - waiting_started;
    return xai_team_agree(r->team, status);
}

/* OUT closed (or merged from the parts), its accuracy, the parts removed, the time per phase. */
static int finish(run_state *r, xai_run_summary *summary)
{
    const xai_team *team = r->team;
    double merge_started = xai_now_seconds();
    long long given_up = r->whole.given_up;
    int status = r->whole.presized ? xai_team_sum(team, &given_up, 1) : XAI_OK;
    if (status) return status;
    if (r->whole.store && !given_up) status = xai_store_close(r->whole.store);
    else {
        xai_store_abort(r->whole.store); /* collective when shared */
        status = run_parts_merge(r->o->output, r->parts, r->n_batches, team);
    }
    r->whole.store = NULL;
    summary->seconds_merge = xai_team_max(team, xai_now_seconds() - merge_started + r->writing.phases.output);
    if (status == XAI_OK) status = summarize(r->o->output, summary);
    if (status == XAI_OK && team->rank == 0) run_parts_remove(r->parts, r->n_batches);
    summary->seconds_decode = xai_team_max(team, r->phases.decode);
    summary->seconds_engine = xai_team_max(team, r->phases.engine);
    summary->seconds_parts = xai_team_max(team, r->writing.phases.parts);
    summary->seconds_waiting = xai_team_max(team, r->phases.waiting);
    summary->seconds_total = xai_team_max(team, xai_now_seconds() - r->started);
    summary->seconds_startup = xai_team_max(team, r->sweep_started - r->started);
    return status;
}

static void release(run_state *r)
{
    xai_store_abort(r->whole.store);
    for (int k = 0; k < XAI_WRITE_BEHIND_SLOTS; k++) free_slot(&r->slots[k]);
    xai_driver_destroy(r->driver);
    xai_dataset_free(r->d);
    xai_graph_free(r->g);
    free(r->mine), free(r->parts), free(r->manifest);
    xai_output_lock_release(r->lock);
}

int xai_run(const xai_run_options *o, xai_run_summary *summary)
{
    xai_team alone = {.rank = 0, .size = 1};
    memset(summary, 0, sizeof *summary);
    if (o->n_methods < 1 || o->n_methods > XAI_METHODS_MAX) return xai_fail("run: 1 to %d methods", XAI_METHODS_MAX);
    if (o->batch < 1) return xai_fail("run: batch must be >= 1");
    run_state r = {.o = o, .team = o->team ? o->team : &alone, .started = xai_now_seconds()};
    int status = prepare(&r);
    if (status == XAI_OK) status = find_missing(&r);
    if (status == XAI_OK) status = set_up_output(&r);
    if (status == XAI_OK) status = sweep(&r);
    if (status == XAI_OK) status = finish(&r, summary);
    release(&r);
    return status;
}
