/* classes.c - lookups in the generated ImageNet class table (imagenet_classes.c). */
#include <ctype.h>
#include <string.h>

#include "xai_classes.h"

int xai_imagenet_index_of_wnid(const char *wnid)
{
    int lo = 0, hi = XAI_IMAGENET_CLASSES - 1; /* the table is sorted by wnid */
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(xai_imagenet_classes[mid].wnid, wnid);
        if (c == 0) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

static int same_name(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a == ' ' ? '_' : (char)tolower((unsigned char)*a);
        char y = *b == ' ' ? '_' : (char)tolower((unsigned char)*b);
        if (x != y) return 0;
    }
    return *a == *b;
}

int xai_imagenet_index_of_name(const char *name)
{
    for (int k = 0; k < XAI_IMAGENET_CLASSES; k++)
        if (same_name(xai_imagenet_classes[k].name, name)) return k;
    return -1;
}

const char *xai_imagenet_name(int index)
{
    return index >= 0 && index < XAI_IMAGENET_CLASSES ? xai_imagenet_classes[index].name : "?";
}
