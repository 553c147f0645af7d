/* test_classes.c - the ImageNet class table: standard order, lookups, and the Stanford Dogs
 * synsets (ImageNet 151..268 without 251 dalmatian, plus 273..275; Weimaraner is 178). */
#include <string.h>

#include <criterion/criterion.h>

#include "xai_classes.h"

Test(classes, standard_order_and_lookups)
{
    for (int k = 1; k < XAI_IMAGENET_CLASSES; k++)
        cr_assert_lt(strcmp(xai_imagenet_classes[k - 1].wnid, xai_imagenet_classes[k].wnid), 0,
                     "wnids not sorted at %d", k);
    cr_expect_str_eq(xai_imagenet_classes[0].wnid, "n01440764");
    cr_expect_str_eq(xai_imagenet_name(0), "tench");
    cr_expect_eq(xai_imagenet_index_of_wnid("n02092339"), 178);
    cr_expect_str_eq(xai_imagenet_name(178), "Weimaraner");
    cr_expect_eq(xai_imagenet_index_of_name("weimaraner"), 178);
    cr_expect_eq(xai_imagenet_index_of_name("Italian greyhound"), 171);
    cr_expect_eq(xai_imagenet_index_of_wnid("n99999999"), -1);
    cr_expect_eq(xai_imagenet_index_of_name("unicorn"), -1);
    cr_expect_str_eq(xai_imagenet_name(1000), "?");
    for (int k = 0; k < XAI_IMAGENET_CLASSES; k++)
        cr_assert_eq(xai_imagenet_index_of_wnid(xai_imagenet_classes[k].wnid), k);
}

Test(classes, stanford_dogs_synsets)
{
    int expected[XAI_STANFORD_DOGS_BREEDS], n = 0;
    for (int k = 151; k <= 268; k++)
        if (k != 251) expected[n++] = k;
    expected[n++] = 273, expected[n++] = 274, expected[n++] = 275;
    cr_assert_eq(n, XAI_STANFORD_DOGS_BREEDS);
    for (int i = 0; i < n; i++) cr_expect_eq(xai_stanford_dogs_indices[i], expected[i], "breed %d", i);
    cr_expect_str_eq(xai_imagenet_name(251), "dalmatian");
}
