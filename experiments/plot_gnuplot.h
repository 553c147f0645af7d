/* plot_gnuplot.h - private to the figure files (plot.c, plot_sanity.c): the raw data files the
 * gnuplot scripts of experiments/ read, and running a script for both terminals. */
#ifndef XAI_PLOT_GNUPLOT_H
#define XAI_PLOT_GNUPLOT_H

#include <stddef.h>

/* `bytes` of data as the file `path`. */
int plot_write_raw(const char *path, const void *data, size_t bytes);

/* `text` as a gnuplot string in single quotes (a quote doubled, a newline as a space), allocated. */
char *plot_string(const char *text);

/* gnuplot -e "term=...; out=OUT_STEM.{png,pdf}" VARS SCRIPT (from XAI_GNUPLOT_DIR or
 * experiments/), once per terminal, where VARS is OUTDIR/data/NAME.vars.gp, the gnuplot lines
 * `vars` (so that no title passes through the shell); fails with gnuplot's first line when it
 * does. */
int plot_gnuplot(const char *script, const char *vars, const char *out_stem);

#endif
