/* xai_sanity_store.h - the HDF5 file of `xaibench sanity` (docs/sanity.md gives the layout):
 * /steps/label, /images/path, /target, /similarity/<method>/<measure> [steps][images] (float64;
 * measures spearman_abs, spearman_signed, ssim), /figure/<method> [steps][H][W] (the first
 * image's |map|, float32), provenance and the run's settings on "/". Each step is written as a
 * part file of its own under FILE.parts (renamed into place complete, under a manifest of the
 * settings), and the parts become FILE when every step is in: a killed run, or one whose disk
 * filled, resumes from its last finished step when its settings are the same. */
#ifndef XAI_SANITY_STORE_H
#define XAI_SANITY_STORE_H

enum { XAI_SANITY_MEASURES = 3 }; /* spearman_abs, spearman_signed, ssim */
extern const char *const xai_sanity_measures[XAI_SANITY_MEASURES];

typedef struct xai_sanity_store xai_sanity_store;

typedef struct {
    int n_steps;                    /* with the original (step 0) */
    int n_images, height, width;
    int n_methods;
    const char *const *methods, *const *labels, *const *images;
    const char *settings;           /* what a resumed run must share, one "key=value" per line */
} xai_sanity_shape;                 /* (the store keeps copies of its strings) */

/* Resume FILE.parts when it was made with the same settings (*steps_done: how many steps it
 * holds), or start it anew (*steps_done = 0) when there is none; refuse one made otherwise. */
int xai_sanity_store_open(xai_sanity_store **out, const char *path, const xai_sanity_shape *shape,
                          int *steps_done);

/* The provenance attributes that FILE gets when it is assembled (argv must outlive the store). */
int xai_sanity_store_provenance(xai_sanity_store *store, const char *model_path, const char *model_sha256,
                                int threads, int argc, char **argv);

/* Step `step`: similarity[m] [XAI_SANITY_MEASURES][images], figure[m] [H][W]; the targets (the
 * classes explained, [images]) with step 0. Its part file is complete once this returns. */
int xai_sanity_store_write_step(xai_sanity_store *store, int step, const double *const *similarity,
                                const float *const *figure, const int *targets);

/* Close: when every step is in, the parts become FILE (through FILE.partial and a rename) and
 * go; else they stay, to resume. */
int xai_sanity_store_close(xai_sanity_store *store);
void xai_sanity_store_abort(xai_sanity_store *store);

/* 1 when `path` is an HDF5 file of xaibench sanity (finished or not), else 0. */
int xai_sanity_store_is(const char *path);

/* What a finished sanity file holds (plots): fails with a line when `path` is not one. */
typedef struct {
    int n_steps, n_images, height, width, n_methods;
    char **methods, **labels;
} xai_sanity_info;
int xai_sanity_store_info(const char *path, xai_sanity_info *info);
void xai_sanity_info_free(xai_sanity_info *info);

/* Read back (tests, plots): a dataset's doubles or floats by name, count values from the start. */
int xai_sanity_store_read(const char *path, const char *dataset, int as_double, void *out, long long count);

#endif
