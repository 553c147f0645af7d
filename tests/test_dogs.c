/* test_dogs.c - the Stanford Dogs reader on the sample tree: splits, breed, limit and shard
 * selection, boxes in the original and the 224x224 frame, the fallback without lists/, and
 * bad trees (no Images/, a box outside its image, a .mat of the wrong structure), and .mat lists
 * whose declared sizes their bytes cannot hold, refused before matio reads them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <matio.h>
#include <zlib.h>

#include "test_support.h"
#include "xai_classes.h"
#include "xai_dogs.h"
#include "xai_status.h"

static const char *sample_tree(const char *name)
{
    if (access("data/samples/chelsea.png", R_OK) != 0) cr_skip_test("run scripts/fetch-samples.sh");
    const char *root = test_path(name);
    cr_assert_eq(xai_sample_set_write("data/samples", root, 1), XAI_OK, "%s", xai_last_error());
    return root;
}

static xai_dataset *open_with(const char *root, xai_dataset_selection sel)
{
    xai_dataset *d = NULL;
    cr_assert_eq(xai_dataset_open(&d, root, &sel), XAI_OK, "%s", xai_last_error());
    return d;
}

Test(dogs, sample_tree_and_selection)
{
    const char *root = sample_tree("sample");
    xai_dataset *all = open_with(root, (xai_dataset_selection){0});
    cr_assert_eq(all->count, 7);
    cr_expect_null(all->warning);
    cr_expect_eq(all->skipped, 0);
    cr_expect_str_eq(all->items[0].relative, "n02123045-tabby/n02123045_1.png");
    cr_expect_eq(all->items[0].label, 281);
    cr_expect_str_eq(all->items[0].breed, "tabby");
    cr_expect_eq(all->items[0].n_boxes, 1);
    cr_expect_eq(all->items[0].width, 451);
    cr_expect_eq(all->items[1].n_boxes, 0, "truncated.jpg has no annotation and keeps no box");
    cr_expect_eq(all->items[6].label, 232);
    cr_expect_float_eq(all->items[6].boxes[0].x0, 130.f, 1e-6);
    cr_expect_float_eq(all->items[6].boxes[0].y1, 540.f, 1e-6);

    xai_dataset *d = open_with(root, (xai_dataset_selection){.split = "train"});
    cr_expect_eq(d->count, 0);
    xai_dataset_free(d);
    d = open_with(root, (xai_dataset_selection){.split = "test"});
    cr_expect_eq(d->count, 7);
    xai_dataset_free(d);
    d = open_with(root, (xai_dataset_selection){.breed = "TABBY"});
    cr_expect_eq(d->count, 2);
    xai_dataset_free(d);
    d = open_with(root, (xai_dataset_selection){.breed = "n07920052"});
    cr_expect_eq(d->count, 1);
    xai_dataset_free(d);
    d = open_with(root, (xai_dataset_selection){.limit = 3});
    cr_expect_eq(d->count, 3);
    xai_dataset_free(d);
    /* Shards: contiguous runs of whole blocks, in order, together the whole selection. */
    const int blocks[][4] = {{1, 2, 2, 3}, {2, 2, 2, 3}, {3, 3, 3, 1}, {8, 0, 0, 7}};
    for (size_t c = 0; c < sizeof blocks / sizeof *blocks; c++) {
        int block = blocks[c][0], seen = 0;
        for (int s = 0; s < 3; s++) {
            d = open_with(root, (xai_dataset_selection){.shard_index = s, .shard_count = 3, .shard_block = block});
            cr_expect_eq(d->count, blocks[c][1 + s], "block %d, shard %d: %d items", block, s, d->count);
            cr_expect(seen % block == 0 || d->count == 0, "shard %d starts inside a block", s);
            for (int k = 0; k < d->count; k++)
                cr_expect_str_eq(d->items[k].relative, all->items[seen + k].relative);
            seen += d->count;
            xai_dataset_free(d);
        }
        cr_expect_eq(seen, 7);
    }
    xai_dataset_selection bad = {.shard_index = 3, .shard_count = 3};
    cr_expect_eq(xai_dataset_open(&d, root, &bad), XAI_ERR);
    bad = (xai_dataset_selection){.split = "validation"};
    cr_expect_eq(xai_dataset_open(&d, root, &bad), XAI_ERR);
    xai_dataset_free(all);
}

Test(dogs, boxes_in_the_224_frame)
{
    const char *root = sample_tree("frame");
    xai_dataset *d = open_with(root, (xai_dataset_selection){.breed = "missile"});
    cr_assert_eq(d->count, 1);
    xai_image image;
    cr_assert_eq(xai_image_load(&image, d->items[0].path, 0), XAI_OK, "%s", xai_last_error());
    xai_transform t;
    xai_transform_imagenet(&t);
    float *out = malloc(3 * 224 * 224 * sizeof(float));
    xai_crop_geometry g;
    cr_assert_eq(xai_preprocess(&image, &t, out, &g), XAI_OK);
    /* 640x427 -> 383x256 (torchvision truncates the long side), crop at (80, 16). */
    cr_expect_eq(g.resized_w, 383);
    cr_expect_eq(g.resized_h, 256);
    cr_expect_eq(g.crop_x, 80);
    cr_expect_eq(g.crop_y, 16);
    xai_box f;
    cr_assert(xai_box_to_frame(&d->items[0].boxes[0], &g, 224, 224, &f));
    cr_expect_float_eq(f.x0, 296 * 383.0 / 640 - 80, 1e-3);
    cr_expect_float_eq(f.x1, 340 * 383.0 / 640 - 80, 1e-3);
    cr_expect_float_eq(f.y0, 124 * 256.0 / 427 - 16, 1e-3);
    cr_expect_float_eq(f.y1, 224.0, 1e-6, "clipped to the frame");
    xai_box outside = {0, 0, 50, 10};
    cr_expect_not(xai_box_to_frame(&outside, &g, 224, 224, &f), "a box left of the crop maps to nothing");
    free(out);
    xai_image_free(&image);
    xai_dataset_free(d);
}

Test(dogs, without_lists_all_images_sorted_with_a_warning)
{
    const char *root = sample_tree("nolists");
    char command[1024];
    snprintf(command, sizeof command, "rm -r '%s/lists'", root);
    cr_assert_eq(system(command), 0);
    xai_dataset *d = open_with(root, (xai_dataset_selection){.split = "test"});
    cr_expect_eq(d->count, 7);
    cr_expect_not_null(d->warning);
    cr_expect(d->warning && strstr(d->warning, "no lists/"), "%s", d->warning);
    for (int k = 1; k < d->count; k++) cr_expect_lt(strcmp(d->items[k - 1].relative, d->items[k].relative), 0);
    xai_dataset_free(d);
}

Test(dogs, bad_trees)
{
    xai_dataset *d;
    const char *empty = test_path("not-a-dataset");
    cr_assert_eq(system("true"), 0);
    char command[1024];
    snprintf(command, sizeof command, "mkdir -p '%s'", empty);
    cr_assert_eq(system(command), 0);
    cr_expect_eq(xai_dataset_open(&d, empty, NULL), XAI_ERR);
    cr_expect(strstr(xai_last_error(), "no Images/") && strstr(xai_last_error(), empty), "%s", xai_last_error());

    /* A box outside its image: the image is skipped and counted, the rest stays. */
    const char *root = sample_tree("badbox");
    char path[1024];
    snprintf(path, sizeof path, "%s/Annotation/n07920052-espresso/n07920052_1", root);
    xai_box wide = {76, 16, 700, 392}; /* the photo is 600 wide */
    cr_assert_eq(xai_voc_write(path, "n07920052-espresso", "n07920052_1.png", 600, 400, "espresso", &wide, 1), XAI_OK);
    d = open_with(root, (xai_dataset_selection){0});
    cr_expect_eq(d->count, 6);
    cr_expect_eq(d->skipped, 1);
    cr_expect(strstr(d->problems[0], path) && strstr(d->problems[0], "outside the 600x400 image"), "%s", d->problems[0]);
    xai_dataset_free(d);

    /* An annotation that is not XML. */
    test_write_file(path, "not xml at all", 14);
    d = open_with(root, (xai_dataset_selection){0});
    cr_expect_eq(d->skipped, 1);
    cr_expect(strstr(d->problems[0], "not a readable XML annotation"), "%s", d->problems[0]);
    xai_dataset_free(d);

    /* A .mat list whose file_list is a number, not a cell array of strings. */
    snprintf(path, sizeof path, "%s/lists/test_list.mat", root);
    mat_t *mat = Mat_CreateVer(path, NULL, MAT_FT_MAT5);
    cr_assert_not_null(mat);
    size_t dims[2] = {1, 1};
    double value = 3;
    matvar_t *v = Mat_VarCreate("file_list", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dims, &value, 0);
    Mat_VarWrite(mat, v, MAT_COMPRESSION_NONE);
    Mat_VarFree(v);
    Mat_Close(mat);
    xai_dataset_selection test = {.split = "test"};
    cr_expect_eq(xai_dataset_open(&d, root, &test), XAI_ERR);
    cr_expect(strstr(xai_last_error(), path) && strstr(xai_last_error(), "not a Stanford Dogs list"), "%s", xai_last_error());
    test_write_file(path, "garbage", 7);
    cr_expect_eq(xai_dataset_open(&d, root, &test), XAI_ERR);
    cr_expect(strstr(xai_last_error(), path) != NULL, "%s", xai_last_error());
}

/* A sweep's view: undecodable images are skipped and counted, the others packed in order,
 * each identical to decoding it alone; boxes are known in the 224 frame without decoding. */
Test(dogs, batches_skip_and_count_bad_images)
{
    const char *root = sample_tree("batch");
    xai_dataset *d = open_with(root, (xai_dataset_selection){0});
    enum { IMAGE = 3 * 224 * 224 };
    float *out = malloc(7 * IMAGE * sizeof(float)), *alone = malloc(IMAGE * sizeof(float));
    int indices[7], loaded;
    cr_assert_eq(xai_dataset_load_batch(d, 0, 7, out, indices, &loaded), XAI_OK, "%s", xai_last_error());
    cr_expect_eq(loaded, 6);
    cr_expect_eq(d->skipped, 1);
    cr_expect(strstr(d->problems[0], "n02123045_2.jpg") && strstr(d->problems[0], "JPEG"), "%s", d->problems[0]);
    cr_expect_null(strchr(d->problems[0], '\n'));
    int expected[6] = {0, 2, 3, 4, 5, 6};
    for (int k = 0; k < 6; k++) {
        cr_expect_eq(indices[k], expected[k]);
        xai_image image;
        cr_assert_eq(xai_image_load(&image, d->items[indices[k]].path, 0), XAI_OK);
        cr_assert_eq(xai_preprocess(&image, &d->transform, alone, NULL), XAI_OK);
        xai_image_free(&image);
        cr_expect_eq(memcmp(out + (size_t)k * IMAGE, alone, IMAGE * sizeof(float)), 0, "slot %d", k);
    }
    /* Frame boxes from the annotation's declared size match those from a decoded image. */
    const xai_dataset_item *rocket = &d->items[5];
    cr_assert_not_null(rocket->frame_boxes);
    cr_expect_float_eq(rocket->frame_boxes[0].x0, 296 * 383.0 / 640 - 80, 1e-3);
    cr_expect_null(d->items[1].frame_boxes, "no annotation, no frame boxes");
    free(out), free(alone);
    xai_dataset_free(d);
}

/* A file_list of `count` names written by matio; compressed, its one variable then packed by zlib
 * into a compressed element, as MATLAB writes it (matio's own compressed cells declare lengths
 * that its reader then misreads). */
static const char *write_list(const char *name, int count, int compressed)
{
    const char *path = test_path(name);
    mat_t *mat = Mat_CreateVer(path, NULL, MAT_FT_MAT5);
    cr_assert_not_null(mat);
    size_t dims[2] = {(size_t)count, 1};
    matvar_t *list = Mat_VarCreate("file_list", MAT_C_CELL, MAT_T_CELL, 2, dims, NULL, 0);
    for (int k = 0; k < count; k++) {
        char text[64];
        snprintf(text, sizeof text, "n02085620-Chihuahua/n02085620_%d.jpg", k);
        size_t text_dims[2] = {1, strlen(text)};
        Mat_VarSetCell(list, k, Mat_VarCreate(NULL, MAT_C_CHAR, MAT_T_UINT8, 2, text_dims, text, 0));
    }
    cr_assert_eq(Mat_VarWrite(mat, list, MAT_COMPRESSION_NONE), 0);
    Mat_VarFree(list);
    Mat_Close(mat);
    if (!compressed) return path;
    FILE *f = fopen(path, "rb");
    unsigned char *file = malloc(1 << 20);
    size_t size = fread(file, 1, 1 << 20, f);
    fclose(f);
    uLongf packed_size = compressBound(size - 128);
    unsigned char *packed = malloc(136 + packed_size);
    memcpy(packed, file, 128);
    cr_assert_eq(compress(packed + 136, &packed_size, file + 128, size - 128), Z_OK);
    uint32_t tag[2] = {15, (uint32_t)packed_size};
    memcpy(packed + 128, tag, sizeof tag);
    test_write_file(path, packed, 136 + packed_size);
    free(file), free(packed);
    return path;
}

/* A v5 file of one compressed variable: a cell array declaring `cells` cells, holding none. */
static const char *compressed_liar(const char *name, uint32_t cells)
{
    uint32_t matrix[] = {14, 48, 6, 8, 1, 0, 5, 8, cells, 1, 1, 9, 0x656c6966, 0x73696c5f, 0x74}; /* "file_list" */
    uLongf packed_size = compressBound(sizeof matrix);
    unsigned char file[128 + 8 + 256] = {0};
    snprintf((char *)file, 116, "MATLAB 5.0 MAT-file, a test's liar");
    file[124] = 0, file[125] = 1, file[126] = 'I', file[127] = 'M';
    cr_assert_eq(compress(file + 136, &packed_size, (const unsigned char *)matrix, sizeof matrix), Z_OK);
    uint32_t tag[2] = {15, (uint32_t)packed_size};
    memcpy(file + 128, tag, sizeof tag);
    const char *path = test_path(name);
    test_write_file(path, file, 136 + packed_size);
    return path;
}

Test(dogs, mat_sizes_are_checked_before_matio, .timeout = 60)
{
    /* Lists as matio writes them, compressed (as MATLAB does) and not, read back whole. */
    for (int compressed = 0; compressed < 2; compressed++) {
        char **names;
        int count;
        const char *path = write_list(compressed ? "zlib-list.mat" : "plain-list.mat", 300, compressed);
        cr_assert_eq(xai_mat_file_list(path, &names, &count), XAI_OK, "%s", xai_last_error());
        cr_expect_eq(count, 300);
        cr_expect_str_eq(names[299], "n02085620-Chihuahua/n02085620_299.jpg");
        for (int k = 0; k < count; k++) free(names[k]);
        free(names);
    }
    /* A 320-byte file whose file_list declares 2^31 cells (fuzz_mat's find: matio looped over
     * them for minutes), and the same lie compressed. */
    const char *liars[] = {"fuzz/corpus/mat/regress-cell-dims-loop.mat", compressed_liar("liar.mat", 1u << 31),
                           compressed_liar("small-liar.mat", 3)};
    for (int k = 0; k < 3; k++) {
        char **names;
        int count;
        cr_expect_eq(xai_mat_file_list(liars[k], &names, &count), XAI_ERR, "%s read", liars[k]);
        cr_expect(strstr(xai_last_error(), liars[k]) && strstr(xai_last_error(), "declares more elements"), "%s",
                  xai_last_error());
    }
}
