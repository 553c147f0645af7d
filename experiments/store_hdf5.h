/* store_hdf5.h - private to the store's files (store_*.c), the only ones that speak HDF5: the
 * table of the results format (docs/results-format.md describes the same layout for the h5py
 * user), the store handle's insides, and the HDF5 set-up they share. */
#ifndef XAI_STORE_HDF5_H
#define XAI_STORE_HDF5_H

#include <hdf5.h>

#include "xai_store.h"

/* A dataset's element in memory and in the file. */
typedef enum { ELEMENT_F32, ELEMENT_I32, ELEMENT_F64, ELEMENT_TEXT /* XAI_STORE_PATH_BYTES, NUL-padded */ } store_element;

/* The shape of one row (one image) after the image axis. */
typedef enum { ROW_SCALAR, ROW_IMAGE /* C H W */, ROW_PLANE /* H W */, ROW_CLASSES, ROW_BOX /* 4 */, ROW_TOP5 } store_row;

/* How a dataset's rows are stored. */
typedef enum {
    STORED_PLAIN,
    STORED_DEFLATED,
    STORED_DIRECT, /* plain, chunks allocated with the rows, written past the page cache */
} store_storage;

/* Which files hold a dataset. */
typedef enum {
    IN_EVERY_FILE,
    IN_RUN_FILES,     /* `run` (shape.with_images) */
    PER_METHOD,       /* one per method, the name's %s */
    PER_REPORTING_METHOD, /* one per method that reports it (shape.completeness) */
    WRITTEN_BY_METRICS, /* /metrics/<method>/<metric>: `xaibench metrics` adds them */
} store_presence;

typedef struct {
    const char *name; /* "/maps/%s": %s the method; "/metrics/%s/%s": method, metric */
    store_element element;
    store_row row;
    store_storage storage;
    store_presence presence;
    int own_rows; /* rows of its own, not one per image (/skipped/reason) */
} store_dataset;

/* The table, in the order of the enum. */
enum {
    SET_INPUT,
    SET_LOGITS,
    SET_TARGET,
    SET_TIMING_FORWARD,
    SET_IMAGE_PATH,
    SET_IMAGE_LABEL,
    SET_IMAGE_BBOX,
    SET_IMAGE_BBOX_FRAME,
    SET_TOP5,
    SET_SKIPPED,
    SET_MAP,     /* the per-method datasets from here on */
    SET_HEATMAP,
    SET_TIMING,
    SET_COMPLETENESS,
    SET_METRIC,
    STORE_DATASETS
};
#define PER_METHOD_SETS (SET_COMPLETENESS + 1 - SET_MAP)

extern const store_dataset store_datasets[STORE_DATASETS];

/* A row's dimensions of dataset `set` (of method m, or -1) for `shape`, into dims; returns how
 * many (0 for a scalar). A map has its method's channels. */
int store_row_dims(const xai_store_shape *shape, int set, int m, hsize_t *dims);

/* The memory type of an element (string types sized XAI_STORE_PATH_BYTES); the caller closes it. */
hid_t store_memory_type(store_element element);

/* The dataset's name with its method (and metric) put in, allocated; NULL on failure (recorded). */
char *store_dataset_name(int set, const char *method, const char *metric);

/* Which table entry `name` is, with its method's index in `shape` (-1 for a dataset of no
 * method) and, for a metric, where the metric's name starts in `name`; -1 when no entry. */
int store_find_dataset(const xai_store_shape *shape, const char *name, int *method, const char **metric);

/* Once per process before any HDF5 call: HDF5's own error printing off (each failure is
 * reported once, by the store, naming the file) and no HDF5 clean-up at exit (after a failed
 * write, a full disk, the file's close fails, and HDF5 1.10 then crashes closing it a second
 * time from its exit handler). */
void store_library_init(void);

/* File access for one file that all members of `team` open together (MPI-IO with collective
 * metadata when it has several), and transfer properties for raw writes into it (collective or
 * independent). The caller closes both. */
hid_t store_team_file_access(const xai_team *team);
hid_t store_team_transfer(const xai_team *team, int collective);

/* A string attribute of an HDF5 object: XAI_OK with *value allocated, or NULL when absent. */
int store_read_string_attribute(hid_t object, const char *where, const char *key, char **value);
int store_write_string_attribute(hid_t object, const char *where, const char *key, const char *value);

/* The provenance attributes of DESIGN.md on `file` (xai_store_provenance's list). */
int store_write_provenance(hid_t file, const char *where, const char *model_path, const char *model_sha256,
                           int threads, int argc, char **argv);

enum { STORE_WRITING, STORE_READING, STORE_UPDATING };

struct xai_store {
    char *path, *partial; /* partial: the file being written (FILE.partial); path when reading */
    hid_t file;
    int mode;
    xai_store_shape shape; /* for a file opened to read, methods point into method_names */
    char **method_names;
    int *map_channels, *completeness; /* a file opened to read: what shape.* point to */
    hid_t sets[SET_MAP];  /* the datasets of no method, by table index; 0: absent */
    hid_t *method_sets;   /* [method][PER_METHOD_SETS] */
    long long skipped;    /* rows of /skipped/reason */
    hsize_t count;        /* images */
    const xai_team *team; /* a file that several processes write (xai_store_open_shared) */
    int direct;           /* the file opened O_DIRECT for image rows, or -1 */
};

/* A new handle for `path` (partial = PATH.partial when writing); NULL on failure (recorded). */
xai_store *store_new(const char *path, int mode, const xai_store_shape *shape);

/* Close every dataset and free the handle's memory (not the file). */
void store_close_datasets(xai_store *s);
void store_free(xai_store *s);

#endif
