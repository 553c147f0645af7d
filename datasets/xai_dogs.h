/* xai_dogs.h - the Stanford Dogs layout, and any tree shaped like it:
 *   ROOT/Images/<wnid>-<breed>/<file>       the photos
 *   ROOT/Annotation/<wnid>-<breed>/<stem>   PASCAL VOC XML, one or more boxes (optional)
 *   ROOT/lists/{train,test,file}_list.mat   the official splits (cell array file_list)
 * Labels are ImageNet indices, taken from the folder's wnid. */
#ifndef XAI_DOGS_H
#define XAI_DOGS_H

#include "xai_image.h"

/* A box in pixel units, [x0, x1) x [y0, y1), 0-based: VOC's inclusive 1-based xmin..xmax
 * becomes x0 = xmin - 1, x1 = xmax. */
typedef struct {
    float x0, y0, x1, y1;
} xai_box;

typedef struct {
    char *path;           /* ROOT/Images/<relative> */
    char *relative;       /* as in the lists: "n02085620-Chihuahua/n02085620_5927.jpg" */
    char *breed;          /* "Chihuahua" */
    int label;            /* ImageNet index */
    int n_boxes;
    xai_box *boxes;       /* in the original image */
    xai_box *frame_boxes; /* the same in the transform's output frame, clipped (an empty box,
                             x1 <= x0, where nothing is left); NULL without a declared size */
    int width, height;    /* from the annotation, 0 without one */
} xai_dataset_item;

typedef struct {
    const char *split;    /* "train", "test" or "all" (NULL: "all") */
    const char *breed;    /* breed name or wnid, NULL for all */
    int limit;            /* 0: no limit */
    /* Shard i of n (n = 0: all): the selected items, cut into blocks of shard_block (0: 1)
     * consecutive items, then into n contiguous runs of whole blocks; shard i keeps run i. With
     * the sweep's batch as the block, shard i/n holds whole batches of the unsharded run, so
     * concatenating the shards in order gives back the unsharded run. */
    int shard_index, shard_count, shard_block;
    const xai_transform *transform; /* for frame_boxes; NULL: torchvision's ImageNet one */
} xai_dataset_selection;

typedef struct {
    char *root;
    xai_dataset_item *items;
    int count;
    int skipped;          /* listed images dropped: bad annotation, unknown wnid */
    char **problems;      /* one line per dropped image, "FILE: what" */
    char *warning;        /* e.g. no lists/ folder; NULL when none */
    xai_transform transform;
} xai_dataset;

/* Read the selected part of a dataset. Images are not opened here (a sweep decodes them and
 * skips those that fail). */
int xai_dataset_open(xai_dataset **out, const char *root, const xai_dataset_selection *selection);
void xai_dataset_free(xai_dataset *dataset);

/* Decode and transform items first..first+count-1 (in parallel) into `out` (room for `count`
 * images), packed: slot k holds item indices[k], for k < *loaded. An image that cannot be decoded is skipped: its
 * one-line reason joins dataset->problems and dataset->skipped grows. Fails only for lack of
 * memory. */
int xai_dataset_load_batch(xai_dataset *dataset, int first, int count, float *out, int *indices,
                           int *loaded);

/* A box mapped into the transform's output frame (see xai_crop_geometry), clipped to it;
 * returns 0 when nothing of the box is left inside. */
int xai_box_to_frame(const xai_box *box, const xai_crop_geometry *geometry, int frame_w,
                     int frame_h, xai_box *out);

/* Parse one VOC annotation file: boxes (malloc'ed), and the image size it declares. */
int xai_voc_read(const char *path, xai_box **boxes, int *n_boxes, int *width, int *height);

/* Write a VOC annotation with one object per box (boxes in xai_box convention). */
int xai_voc_write(const char *path, const char *folder, const char *filename, int width,
                  int height, const char *object_name, const xai_box *boxes, int n_boxes);

/* Read the cell array `file_list` of a Stanford Dogs .mat list: malloc'ed strings. */
int xai_mat_file_list(const char *path, char ***names, int *count);

/* Write a Stanford Dogs .mat list: file_list (the names), annotation_list (the names without
 * extension) and labels (1-based class numbers, count x 1 doubles). */
int xai_mat_write_file_list(const char *path, const char *const *names, const double *labels,
                            int count);

/* Lay out the sample photos of scripts/fetch-samples.sh (folder `from`) as a Stanford Dogs
 * tree at `root`, with the boxes drawn by hand for them and one test list holding all; each
 * decodable photo `copies` times (copy k > 1 as STEM_cK.EXT, same box: a larger set for
 * benchmarks and long sweeps), the undecodable one once. */
int xai_sample_set_write(const char *from, const char *root, int copies);

#endif
