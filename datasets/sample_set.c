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

int xai_sample_set_write(const char *from, const char *root, int copies)
{
    if (copies < 1) return xai_fail("sample set: copies must be >= 1, not %d", copies);
    char path[4096], folder[256];
    char(*relative)[1024] = xai_calloc((size_t)N_SAMPLES * copies, sizeof *relative);
    const char **names = xai_calloc((size_t)N_SAMPLES * copies, sizeof *names);
    double *labels = xai_calloc((size_t)N_SAMPLES * copies, sizeof *labels);
    int count = 0, status = relative && names && labels ? XAI_OK : XAI_ERR;
    const char *parts[] = {"", "/Images", "/Annotation", "/lists"};
    for (int i = 0; i < 4 && status == XAI_OK; i++) {
        snprintf(path, sizeof path, "%s%s", root, parts[i]);
        status = make_dir(path);
    }
    for (int i = 0; i < N_SAMPLES && status == XAI_OK; i++) {
        const sample *s = &samples[i];
        int index = xai_imagenet_index_of_wnid(s->wnid);
        if (index < 0) {
            status = xai_fail("sample set: unknown wnid %s", s->wnid);
            break;
        }
        snprintf(folder, sizeof folder, "%s-%s", s->wnid, xai_imagenet_name(index));
        for (int p = 1; p <= 2 && status == XAI_OK; p++) {
            snprintf(path, sizeof path, "%s%s/%s", root, parts[p], folder);
            status = make_dir(path);
        }
        char source[4096], stem[256], name[300];
        snprintf(source, sizeof source, "%s/%s", from, s->source);
        snprintf(stem, sizeof stem, "%s", s->target);
        char *dot = strrchr(stem, '.');
        *dot = '\0';
        /* Copy k > 1 of an annotated photo: STEM_cK.EXT, with the same box. */
        for (int k = 1; k <= (s->box.x1 > 0 ? copies : 1) && status == XAI_OK; k++) {
            if (k == 1) snprintf(name, sizeof name, "%s", s->target);
            else snprintf(name, sizeof name, "%s_c%d.%s", stem, k, dot + 1);
            snprintf(path, sizeof path, "%s/Images/%s/%s", root, folder, name);
            if ((status = copy_file(source, path))) break;
            if (s->box.x1 > 0) {
                snprintf(path, sizeof path, "%s/Annotation/%s/%s", root, folder, name);
                *strrchr(path, '.') = '\0';
                status = xai_voc_write(path, folder, name, s->width, s->height, xai_imagenet_name(index), &s->box, 1);
            }
            snprintf(relative[count], sizeof relative[count], "%s/%s", folder, name);
            names[count] = relative[count];
            labels[count++] = index + 1.0; /* 1-based, like the official lists */
        }
    }
    static const char *const lists[] = {"test_list.mat", "file_list.mat"};
    for (int l = 0; l < 2 && status == XAI_OK; l++) {
        snprintf(path, sizeof path, "%s/lists/%s", root, lists[l]);
        status = xai_mat_write_file_list(path, names, labels, count);
    }
    snprintf(path, sizeof path, "%s/lists/train_list.mat", root);
    if (status == XAI_OK) status = xai_mat_write_file_list(path, names, labels, 0);
    free(relative);
    free(names);
    free(labels);
    return status;
}
