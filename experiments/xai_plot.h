/* xai_plot.h - `xaibench plot RUN.h5 -o DIR`: figure1 (one image: original crop | deconvnet |
 * guided backprop | saliency), grid (several images x methods), boxplots (per-metric
 * distributions per method, when `xaibench metrics` has run), as PNG and PDF, drawn by gnuplot
 * from the scripts in experiments/. */
#ifndef XAI_PLOT_H
#define XAI_PLOT_H

#include "xai_visualize.h"

typedef struct {
    const char *run, *outdir;
    int image;          /* figure1's image index */
    int grid_images;    /* rows of the grid (0: up to 6) */
    xai_reduce reduce;
    xai_sign sign;
} xai_plot_options;

int xai_plot(const xai_plot_options *options);

/* The figures of a `xaibench sanity` file into outdir: sanity_maps and sanity_curves, PNG and
 * PDF (see plot_sanity.c). */
int xai_plot_sanity(const char *path, const char *outdir);

#endif
