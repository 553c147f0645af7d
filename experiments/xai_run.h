/* xai_run.h - the sweep: every selected image of a data set through every selected method, one
 * forward per batch shared by all methods, into one HDF5 file; resumable after any kill.
 *
 * Each batch is written as its own file, OUT.parts/batch-NNNNNN.h5, complete once renamed into
 * place; OUT.parts/manifest pins what the run is (model checksum, data set, selection, methods,
 * batch, threads, target). The same command finds the finished batches and goes on with the
 * first missing one; at the end the parts are merged into OUT (through OUT.partial and a rename)
 * and removed. A kill loses at most the batches in flight. A process alone writes each batch in a
 * thread of its own while the engine computes the next one (xai_write_behind.h).
 *
 * Under MPI (a team of several processes, xai_team.h) the batches still missing are dealt out
 * round-robin to the ranks, each rank writes its own batches' parts, and at the end all ranks
 * write the parts into the one OUT together through MPI-IO. Batches are the same whatever the
 * number of ranks, so a run killed on any rank continues with any number of ranks, and with
 * the same --batch and --threads the maps are bit-identical to a run of one process. */
#ifndef XAI_RUN_H
#define XAI_RUN_H

#include "xai_dogs.h"
#include "xai_method.h"
#include "xai_team.h"

typedef struct {
    const char *model, *dataset, *output;
    xai_dataset_selection selection;
    const xai_method *const *methods;
    int n_methods;
    const xai_method_params *params; /* the methods' settings; NULL: the defaults */
    const char *grad_cam_layer;      /* Grad-CAM's layer by name; NULL: the one before the last pooling */
    int batch, threads;
    int target_predicted;   /* explain the top logit instead of the image's label */
    int relu_only_rules;    /* Clip passes the true gradient (xai_graph_options.relu_only_rules) */
    int quiet;              /* no progress lines */
    double max_activation_gb; /* xai_graph_options.max_activation_gb */
    int argc;               /* the command line, for provenance */
    char **argv;
    const xai_team *team;   /* NULL: this process alone */
} xai_run_options;

/* Top-1 and top-5 accuracy of a finished run file against /images/label, and where the time
 * went (seconds; under MPI the slowest rank's): start-up (model, data set, engine), then per
 * phase of the sweep: decode and engine, the part files and the writing of OUT (appends as
 * batches finish, or the merge), and how long the sweep waited for those writes (they overlap
 * the engine when a thread writes them). */
typedef struct {
    int images, skipped;
    double top1, top5;
    double worst_completeness; /* of the methods that report it (integrated_gradients); NaN: none */
    double seconds_startup, seconds_decode, seconds_engine, seconds_parts, seconds_merge, seconds_waiting,
        seconds_total;
} xai_run_summary;

int xai_run(const xai_run_options *options, xai_run_summary *summary);

/* `xaibench merge`: join the files of a job array, `run --shard i/n` for i = 0..n-1 (any
 * order), into `output` laid out as one unsharded run. Every shard must be there once, all of
 * one model and preprocessing. Files without a shard attribute (explain's) are joined in the
 * order given. */
int xai_merge_shards(const char *output, const char *const *files, int n_files, const xai_team *team);

#endif
