/* run_parts.h - private to the runner and the sanity store: OUT.parts, the checkpoint of a
 * sweep (see xai_run.h) or of a sanity check (xai_sanity_store.h).
 * Each finished batch is a complete results file OUT.parts/batch-NNNNNN.h5; OUT.parts/manifest
 * pins what the run is, so that only the same command resumes it. */
#ifndef XAI_RUN_PARTS_H
#define XAI_RUN_PARTS_H

#include "xai_run.h"

/* What makes two runs the same run (the methods' parameters too), as the manifest's text,
 * allocated; NULL when out of memory. */
char *run_parts_manifest(const xai_run_options *options, const xai_method_params *params, const char *model_sha256);

/* Create OUT.parts with its manifest, or check that an existing one is this run's (the error
 * names the first setting that differs). */
int run_parts_open(const char *parts, const char *manifest);

/* The part file of batch b, allocated; NULL when out of memory. */
char *run_parts_batch(const char *parts, int batch);

/* Whether batch b's part is on disk, finished (a part is renamed into place complete). */
int run_parts_has(const char *parts, int batch);

/* Merge the parts of batches 0..n_batches-1 in order into OUT (collective under MPI); a kill
 * here leaves the parts, and the same command merges again. */
int run_parts_merge(const char *output, const char *parts, int n_batches, const xai_team *team);

/* Remove the parts and OUT.parts once OUT holds them. */
void run_parts_remove(const char *parts, int n_batches);

#endif
