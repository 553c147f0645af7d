/* xai_evaluate.h - `xaibench metrics RUN.h5`: every metric of docs/metrics.md for every image
 * and method of a run (or explain) file, written back as /metrics/<method>/<metric> [N], and a
 * summary (mean, median, 95 % bootstrap interval of the mean) printed and saved as CSV. */
#ifndef XAI_EVALUATE_H
#define XAI_EVALUATE_H

typedef struct {
    const char *run;        /* the HDF5 file, updated in place */
    const char *model;      /* NULL: the file's model_path attribute */
    const char *csv;        /* NULL: RUN with .h5 replaced by .metrics.csv */
    int faithfulness_steps; /* deletion/insertion curve points - 1; 0 skips them */
    int threads;
} xai_evaluate_options;

int xai_evaluate(const xai_evaluate_options *options);

/* Summary of one sample: mean, median and the 2.5 / 97.5 percentiles of 1000 bootstrap means
 * (seeded, so the same data give the same interval). NaN entries are left out. */
typedef struct {
    int n;
    double mean, median, low, high;
} xai_summary;

void xai_summarize(const double *values, int n, xai_summary *out);

/* Median of n > 0 values; sorts them in place. */
double xai_median(double *values, int n);

#endif
