/* xai_classes.h - the ImageNet class table (index, wnid, name) and the Stanford Dogs breeds. */
#ifndef XAI_CLASSES_H
#define XAI_CLASSES_H

#define XAI_IMAGENET_CLASSES 1000
#define XAI_STANFORD_DOGS_BREEDS 120

typedef struct {
    const char *wnid, *name;
} xai_imagenet_class;

/* In the standard order: index k is the k-th wnid in sorted order. */
extern const xai_imagenet_class xai_imagenet_classes[XAI_IMAGENET_CLASSES];

/* ImageNet indices of the 120 Stanford Dogs synsets, ascending. */
extern const short xai_stanford_dogs_indices[XAI_STANFORD_DOGS_BREEDS];

/* Index of a wnid ("n02092339") or of a class name ("Weimaraner", case-insensitive, '_' or
 * ' ' alike); -1 when unknown. */
int xai_imagenet_index_of_wnid(const char *wnid);
int xai_imagenet_index_of_name(const char *name);

/* The class name of index k, or "?" outside 0..999. */
const char *xai_imagenet_name(int index);

#endif
