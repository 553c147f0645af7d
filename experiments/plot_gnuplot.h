/* plot_gnuplot.h - private to the figure files (plot.c, plot_sanity.c): the raw data files the
 * gnuplot scripts of experiments/ read, and running a script for both terminals. */
#ifndef XAI_PLOT_GNUPLOT_H
#define XAI_PLOT_GNUPLOT_H

#include <stddef.h>

/* `bytes` of data as the file `path`. */
int plot_write_raw(const char *path, const void *data, size_t bytes);

/* gnuplot -e "term=...; out=OUT_STEM.{png,pdf}; <vars>" SCRIPT (from XAI_GNUPLOT_DIR or
 * experiments/), once per terminal; fails with gnuplot's first line when it does. */
int plot_gnuplot(const char *script, const char *vars, const char *out_stem);

#endif
