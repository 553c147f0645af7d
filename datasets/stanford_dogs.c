/* stanford_dogs.c - selecting images from a Stanford-Dogs-shaped tree (see xai_dogs.h):
 * the split's list (or, without lists/, every image in sorted order), then the breed, the
 * limit and the shard, in that order, and last the annotations of what is left. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "xai_classes.h"
#include "xai_dogs.h"
#include "xai_status.h"

static char *join(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
    char *s = xai_malloc(n);
    if (s) snprintf(s, n, "%s%s%s", a, b, c);
    return s;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every file under Images/<folder>/, as "<folder>/<file>", sorted. */
static int scan_images(const char *images, char ***names, int *count)
{
    *names = NULL;
    *count = 0;
    DIR *top = opendir(images);
    if (!top) return xai_fail("%s: cannot read: %s", images, strerror(errno));
    int capacity = 0, status = XAI_OK;
    struct dirent *d;
    while (status == XAI_OK && (d = readdir(top))) {
        if (d->d_name[0] == '.') continue;
        char *folder = join(images, "/", d->d_name);
        DIR *sub = folder && is_dir(folder) ? opendir(folder) : NULL;
        struct dirent *f;
        while (sub && status == XAI_OK && (f = readdir(sub))) {
            if (f->d_name[0] == '.') continue;
            if (*count == capacity) {
                capacity = capacity ? 2 * capacity : 256;
                char **grown = xai_realloc(*names, (size_t)capacity * sizeof *grown);
                if (!grown) {
                    status = xai_fail("out of memory listing %s", images);
                    break;
                }
                *names = grown;
            }
            if (!((*names)[*count] = join(d->d_name, "/", f->d_name))) status = XAI_ERR;
            else (*count)++;
        }
        if (sub) closedir(sub);
        free(folder);
    }
    closedir(top);
    if (*count) qsort(*names, (size_t)*count, sizeof **names, compare_names);
    return status;
}

void xai_dataset_free(xai_dataset *d)
{
    if (!d) return;
    for (int i = 0; i < d->count; i++) {
        free(d->items[i].path);
        free(d->items[i].relative);
        free(d->items[i].breed);
        free(d->items[i].boxes);
        free(d->items[i].frame_boxes);
    }
    for (int i = 0; i < d->skipped; i++) free(d->problems[i]);
    free(d->problems);
    free(d->items);
    free(d->warning);
    free(d->root);
    free(d);
}

static int note_problem(xai_dataset *d, const char *message)
{
    char **grown = xai_realloc(d->problems, (size_t)(d->skipped + 1) * sizeof *grown);
    if (!grown) return xai_fail("out of memory");
    d->problems = grown;
    size_t n = strlen(message) + 1;
    if (!(d->problems[d->skipped] = xai_malloc(n))) return XAI_ERR;
    memcpy(d->problems[d->skipped++], message, n);
    return XAI_OK;
}

/* Label and breed from "<wnid>-<breed>/<file>"; -1 (and a problem noted) when unusable. */
static int describe(xai_dataset *d, const char *relative, char **breed)
{
    const char *slash = strchr(relative, '/'), *dash = strchr(relative, '-');
    char wnid[32] = "";
    if (slash && dash && dash < slash && (size_t)(dash - relative) < sizeof wnid)
        memcpy(wnid, relative, (size_t)(dash - relative));
    int label = wnid[0] ? xai_imagenet_index_of_wnid(wnid) : -1;
    if (label < 0) {
        char message[1024];
        snprintf(message, sizeof message, "%s/Images/%s: folder is not <ImageNet wnid>-<breed>", d->root, relative);
        return note_problem(d, message) ? -2 : -1;
    }
    size_t n = (size_t)(slash - dash - 1);
    if ((*breed = xai_malloc(n + 1))) {
        memcpy(*breed, dash + 1, n);
        (*breed)[n] = '\0';
    }
    return *breed ? label : -2;
}

static int wanted_breed(const char *relative, const char *breed, const char *filter)
{
    if (!filter) return 1;
    return strcasecmp(breed, filter) == 0 || strncmp(relative, filter, strlen(filter)) == 0;
}

static int add_item(xai_dataset *d, const char *relative, char *breed, int label)
{
    xai_dataset_item *item = &d->items[d->count];
    memset(item, 0, sizeof *item);
    item->breed = breed;
    item->label = label;
    if (!(item->relative = join(relative, "", "")) || !(item->path = join(d->root, "/Images/", relative))) {
        free(item->relative);
        free(breed);
        return XAI_ERR;
    }
    /* Annotation/<relative without extension>; none keeps the image without a box. */
    char *annotation = join(d->root, "/Annotation/", relative);
    if (!annotation) return XAI_ERR;
    char *dot = strrchr(annotation, '.'), *last_slash = strrchr(annotation, '/');
    if (dot && dot > last_slash) *dot = '\0';
    FILE *probe = fopen(annotation, "r");
    int status = XAI_OK;
    if (probe) {
        fclose(probe);
        if (xai_voc_read(annotation, &item->boxes, &item->n_boxes, &item->width, &item->height)) {
            status = note_problem(d, xai_last_error());
            free(item->path), free(item->relative), free(item->breed);
            free(annotation);
            return status;
        }
    }
    free(annotation);
    if (item->n_boxes && item->width > 0 && item->height > 0) {
        int fw, fh;
        xai_crop_geometry g;
        xai_transform_output_size(&d->transform, &fw, &fh);
        xai_transform_geometry(&d->transform, item->width, item->height, &g);
        if (!(item->frame_boxes = xai_calloc((size_t)item->n_boxes, sizeof *item->frame_boxes))) return XAI_ERR;
        for (int b = 0; b < item->n_boxes; b++)
            xai_box_to_frame(&item->boxes[b], &g, fw, fh, &item->frame_boxes[b]);
    }
    d->count++;
    return XAI_OK;
}

/* Items [from, to) of `selected` that shard sel->shard_index of sel->shard_count keeps: whole
 * blocks of sel->shard_block items, split as evenly as whole blocks allow. */
static void shard_range(int selected, const xai_dataset_selection *sel, int *from, int *to)
{
    long block = sel->shard_block > 0 ? sel->shard_block : 1, blocks = (selected + block - 1) / block;
    long first = blocks * sel->shard_index / sel->shard_count, last = blocks * (sel->shard_index + 1) / sel->shard_count;
    *from = (int)(first * block < selected ? first * block : selected);
    *to = (int)(last * block < selected ? last * block : selected);
}

int xai_dataset_open(xai_dataset **out, const char *root, const xai_dataset_selection *sel)
{
    *out = NULL;
    const char *split = sel && sel->split ? sel->split : "all";
    if (strcmp(split, "train") && strcmp(split, "test") && strcmp(split, "all"))
        return xai_fail("--split: '%s' is not train, test or all", split);
    if (sel && sel->shard_count && (sel->shard_index < 0 || sel->shard_index >= sel->shard_count))
        return xai_fail("shard %d/%d: the index must be in 0..%d", sel->shard_index, sel->shard_count,
                        sel->shard_count - 1);
    xai_dataset *d = xai_calloc(1, sizeof *d);
    if (!d || !(d->root = join(root, "", ""))) {
        free(d);
        return XAI_ERR;
    }
    if (sel && sel->transform) d->transform = *sel->transform;
    else xai_transform_imagenet(&d->transform);
    char *images = join(root, "/Images", ""), *lists = join(root, "/lists", "");
    char **names = NULL;
    int n_names = 0, status = XAI_OK;
    if (!images || !lists) status = XAI_ERR;
    else if (!is_dir(images))
        status = xai_fail("%s: no Images/ folder (not a Stanford Dogs layout)", root);
    else if (is_dir(lists)) {
        char file[64];
        snprintf(file, sizeof file, "/%s_list.mat", strcmp(split, "all") ? split : "file");
        char *list = join(lists, file, "");
        status = list ? xai_mat_file_list(list, &names, &n_names) : XAI_ERR;
        free(list);
    } else {
        char text[512];
        snprintf(text, sizeof text, "%s: no lists/ folder: using all images in sorted order%s", root,
                 strcmp(split, "all") ? " (the split is ignored)" : "");
        if (!(d->warning = join(text, "", ""))) status = XAI_ERR;
        else status = scan_images(images, &names, &n_names);
    }
    if (status == XAI_OK && !(d->items = xai_calloc((size_t)n_names + 1, sizeof *d->items))) status = XAI_ERR;
    /* First what the selection keeps (breed, limit), then this shard's contiguous part of it. */
    char **breeds = status == XAI_OK ? xai_calloc((size_t)n_names + 1, sizeof *breeds) : NULL;
    int *labels = breeds ? xai_calloc((size_t)n_names + 1, sizeof *labels) : NULL;
    int *name_of = labels ? xai_calloc((size_t)n_names + 1, sizeof *name_of) : NULL;
    int selected = 0;
    if (!name_of) status = XAI_ERR;
    for (int i = 0; status == XAI_OK && i < n_names; i++) {
        char *breed = NULL;
        int label = describe(d, names[i], &breed);
        if (label == -2) status = XAI_ERR;
        if (label < 0) continue;
        if (!wanted_breed(names[i], breed, sel ? sel->breed : NULL) ||
            (sel && sel->limit && selected >= sel->limit)) {
            free(breed);
            continue;
        }
        breeds[selected] = breed, labels[selected] = label, name_of[selected++] = i;
    }
    int from = 0, to = selected;
    if (sel && sel->shard_count) shard_range(selected, sel, &from, &to);
    for (int k = 0; k < selected; k++) {
        if (status == XAI_OK && k >= from && k < to) status = add_item(d, names[name_of[k]], breeds[k], labels[k]);
        else free(breeds[k]);
    }
    free(breeds);
    free(labels);
    free(name_of);
    for (int i = 0; i < n_names; i++) free(names[i]);
    free(names);
    free(images);
    free(lists);
    if (status) {
        xai_dataset_free(d);
        return XAI_ERR;
    }
    *out = d;
    return XAI_OK;
}

int xai_dataset_load_batch(xai_dataset *d, int first, int count, float *out, int *indices, int *loaded)
{
    int fw, fh;
    xai_transform_output_size(&d->transform, &fw, &fh);
    size_t image = (size_t)3 * fw * fh;
    *loaded = 0;
    if (first < 0 || count < 0 || first + count > d->count)
        return xai_fail("%s: images %d..%d outside the selection of %d", d->root, first, first + count - 1, d->count);
    char **why = xai_calloc((size_t)count + 1, sizeof *why);
    char *failed = xai_calloc((size_t)count + 1, 1);
    if (!why || !failed) {
        free(why);
        free(failed);
        return XAI_ERR;
    }
    /* Each image into its own slot, then the good ones packed to the front. */
#pragma omp parallel for schedule(dynamic)
    for (int k = 0; k < count; k++) {
        xai_image img;
        const char *path = d->items[first + k].path;
        int bad = xai_image_load(&img, path, 0), decoded = !bad;
        if (!bad) bad = xai_preprocess(&img, &d->transform, out + (size_t)k * image, NULL);
        xai_image_free(&img);
        if (bad) {
            failed[k] = 1; /* a preprocessing message gets the file's name (a decoder's has it) */
            why[k] = decoded ? xai_format("%s: %s", path, xai_last_error()) : xai_format("%s", xai_last_error());
        }
    }
    int status = XAI_OK;
    for (int k = 0; k < count; k++) {
        if (failed[k]) {
            if (status == XAI_OK) status = note_problem(d, why[k] ? why[k] : d->items[first + k].path);
            continue;
        }
        if (*loaded != k) memmove(out + (size_t)*loaded * image, out + (size_t)k * image, image * sizeof(float));
        indices[(*loaded)++] = first + k;
    }
    for (int k = 0; k < count; k++) free(why[k]);
    free(why);
    free(failed);
    return status;
}

int xai_box_to_frame(const xai_box *b, const xai_crop_geometry *g, int frame_w, int frame_h, xai_box *out)
{
    float x0 = (float)(b->x0 * g->scale_x - g->crop_x), x1 = (float)(b->x1 * g->scale_x - g->crop_x);
    float y0 = (float)(b->y0 * g->scale_y - g->crop_y), y1 = (float)(b->y1 * g->scale_y - g->crop_y);
    out->x0 = x0 < 0 ? 0 : x0 > frame_w ? (float)frame_w : x0;
    out->x1 = x1 < 0 ? 0 : x1 > frame_w ? (float)frame_w : x1;
    out->y0 = y0 < 0 ? 0 : y0 > frame_h ? (float)frame_h : y0;
    out->y1 = y1 < 0 ? 0 : y1 > frame_h ? (float)frame_h : y1;
    return out->x1 > out->x0 && out->y1 > out->y0;
}
