/* xai_run.h - the sweep: every selected image of a data set through every selected method, one
 * forward per batch shared by all methods, into one HDF5 file; resumable after any kill.
 *
 * Each batch is written as its own file, OUT.parts/batch-NNNNNN.h5, complete once renamed into
 * place; OUT.parts/manifest pins what the run is (model checksum, data set, selection, methods,
 * batch, threads, target). The same command finds the finished batches and goes on with the
 * first missing one; at the end the parts are merged into OUT (through OUT.partial and a rename)
 * and removed. A kill loses at most the batch in flight. */
#ifndef XAI_RUN_H
#define XAI_RUN_H

#include "xai_dogs.h"
#include "xai_method.h"

typedef struct {
    const char *model, *dataset, *output;
    xai_dataset_selection selection;
    const xai_method *const *methods;
    int n_methods;
    int batch, threads;
    int target_predicted;   /* explain the top logit instead of the image's label */
    int relu_only_rules;    /* Clip passes the true gradient (xai_graph_options.relu_only_rules) */
    int quiet;              /* no progress lines */
    int argc;               /* the command line, for provenance */
    char **argv;
} xai_run_options;

/* Top-1 and top-5 accuracy of a finished run file against /images/label. */
typedef struct {
    int images, skipped;
    double top1, top5;
} xai_run_summary;

int xai_run(const xai_run_options *options, xai_run_summary *summary);

#endif
