/* sample_set.c - the embedded sample set: real photos from Debian packages (fetched by
 * scripts/fetch-samples.sh, never committed) laid out as a small Stanford Dogs tree, with
 * ImageNet wnid folders, VOC boxes drawn by hand around each photo's object, and lists/ in
 * which every image is in the test split. truncated.jpg is kept, without an annotation, so
 * that every sweep over the sample set meets one image that cannot be decoded. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "xai_classes.h"
#include "xai_dogs.h"
#include "xai_status.h"

typedef struct {
    const char *source, *wnid, *target; /* target: file name inside its folder */
    int width, height;
    xai_box box;                        /* 0-based [x0, x1) x [y0, y1); x1 == 0: no box */
} sample;

/* Boxes drawn by eye on each photo (pixel coordinates of the original). */
static const sample samples[] = {
    {"chelsea.png", "n02123045", "n02123045_1.png", 451, 300, {10, 0, 440, 300}},     /* the cat */
    {"truncated.jpg", "n02123045", "n02123045_2.jpg", 0, 0, {0, 0, 0, 0}},           /* cut short */
    {"coffee.png", "n07920052", "n07920052_1.png", 600, 400, {76, 16, 480, 392}},    /* cup and saucer */
    {"astronaut.png", "n04266014", "n04266014_1.png", 512, 512, {356, 0, 460, 270}}, /* shuttle model */
    {"motorcycle_left.png", "n03785016", "n03785016_1.png", 741, 500, {90, 80, 690, 450}},
    {"rocket.jpg", "n03773504", "n03773504_1.jpg", 640, 427, {296, 124, 340, 410}},  /* the rocket */
    {"dog.jpg", "n02106166", "n02106166_1.jpg", 768, 576, {130, 220, 310, 540}},     /* the dog */
};
enum { N_SAMPLES = sizeof samples / sizeof *samples };

static int make_dir(const char *path)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST) return xai_fail("%s: cannot create: %s", path, strerror(errno));
    return XAI_OK;
}

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    if (!in) return xai_fail("%s: cannot open: %s (run scripts/fetch-samples.sh)", from, strerror(errno));
    FILE *out = fopen(to, "wb");
    if (!out) {
        fclose(in);
        return xai_fail("%s: cannot create: %s", to, strerror(errno));
    }
    char buffer[1 << 16];
    size_t n;
    int bad = 0;
    while ((n = fread(buffer, 1, sizeof buffer, in)) > 0) bad |= fwrite(buffer, 1, n, out) != n;
    bad |= ferror(in);
    fclose(in);
    bad |= fclose(out) != 0;
    return bad ? xai_fail("%s: cannot copy to %s", from, to) : XAI_OK;
}

/* Copy the sample photo s (`copies` times when it is annotated, with its box) into its breed's
 * folders under root; its relative names and labels go to names[*count..]. */
static int write_sample(const sample *s, const char *from, const char *root, int copies, char (*relative)[1024],
                        const char **names, double *labels, int *count)
{
    int index = xai_imagenet_index_of_wnid(s->wnid);
    if (index < 0) return xai_fail("sample set: unknown wnid %s", s->wnid);
    char folder[256], stem[256];
    snprintf(folder, sizeof folder, "%s-%s", s->wnid, xai_imagenet_name(index));
    snprintf(stem, sizeof stem, "%s", s->target);
    char *dot = strrchr(stem, '.');
    *dot = '\0';
    char *images = xai_format("%s/Images/%s", root, folder), *boxes = xai_format("%s/Annotation/%s", root, folder);
    char *source = xai_format("%s/%s", from, s->source);
    int status = images && boxes && source ? XAI_OK : XAI_ERR;
    if (status == XAI_OK) status = make_dir(images);
    if (status == XAI_OK) status = make_dir(boxes);
    /* Copy k > 1 of an annotated photo: STEM_cK.EXT, with the same box. */
    for (int k = 1; k <= (s->box.x1 > 0 ? copies : 1) && status == XAI_OK; k++) {
        char name[300];
        if (k == 1) snprintf(name, sizeof name, "%s", s->target);
        else snprintf(name, sizeof name, "%s_c%d.%s", stem, k, dot + 1);
        char *image = xai_format("%s/%s", images, name);
        char *box = xai_format("%s/%.*s", boxes, (int)(strrchr(name, '.') - name), name); /* no extension */
        status = image && box ? copy_file(source, image) : XAI_ERR;
        if (status == XAI_OK && s->box.x1 > 0)
            status = xai_voc_write(box, folder, name, s->width, s->height, xai_imagenet_name(index), &s->box, 1);
        free(image), free(box);
        snprintf(relative[*count], sizeof relative[*count], "%s/%s", folder, name);
        names[*count] = relative[*count];
        labels[(*count)++] = index + 1.0; /* 1-based, like the official lists */
    }
    free(images), free(boxes), free(source);
    return status;
}

/* ROOT/lists/NAME.mat with `count` of the images. */
static int write_list(const char *root, const char *name, const char **names, const double *labels, int count)
{
    char *path = xai_format("%s/lists/%s", root, name);
    int status = path ? xai_mat_write_file_list(path, names, labels, count) : XAI_ERR;
    free(path);
    return status;
}

int xai_sample_set_write(const char *from, const char *root, int copies)
{
    if (copies < 1) return xai_fail("sample set: copies must be >= 1, not %d", copies);
    char(*relative)[1024] = xai_calloc((size_t)N_SAMPLES * copies, sizeof *relative);
    const char **names = xai_calloc((size_t)N_SAMPLES * copies, sizeof *names);
    double *labels = xai_calloc((size_t)N_SAMPLES * copies, sizeof *labels);
    int count = 0, status = relative && names && labels ? XAI_OK : XAI_ERR;
    const char *parts[] = {"", "/Images", "/Annotation", "/lists"};
    for (int i = 0; i < 4 && status == XAI_OK; i++) {
        char *path = xai_format("%s%s", root, parts[i]);
        status = path ? make_dir(path) : XAI_ERR;
        free(path);
    }
    for (int i = 0; i < N_SAMPLES && status == XAI_OK; i++)
        status = write_sample(&samples[i], from, root, copies, relative, names, labels, &count);
    if (status == XAI_OK) status = write_list(root, "test_list.mat", names, labels, count);
    if (status == XAI_OK) status = write_list(root, "file_list.mat", names, labels, count);
    if (status == XAI_OK) status = write_list(root, "train_list.mat", names, labels, 0);
    free(relative);
    free(names);
    free(labels);
    return status;
}
