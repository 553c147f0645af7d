/* test_datasets.c - decoding and preprocessing: torchvision's eval transform on PIL images is
 * matched (mean |difference| <= 1/255 of a pixel, on the sample photos and on grey, progressive,
 * CMYK, palette, alpha and 16-bit variants), and every bad image gives one line naming it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "test_support.h"
#include "xai_image.h"
#include "xai_status.h"

static const char *const samples[] = {"chelsea.png", "coffee.png", "astronaut.png",
                                      "motorcycle_left.png", "rocket.jpg", "dog.jpg", NULL};

static const char *sample(const char *name)
{
    static char path[8][512];
    static int next;
    char *p = path[next++ % 8];
    snprintf(p, sizeof path[0], "data/samples/%s", name);
    if (access(p, R_OK) != 0) cr_skip_test("%s missing: run scripts/fetch-samples.sh", p);
    return p;
}

static void expect_pil_match(const char *image_path, const char *tensor_path)
{
    static const float std[3] = {0.229f, 0.224f, 0.225f};
    enum { PLANE = 224 * 224 };
    float *expected = malloc(3 * PLANE * sizeof(float)), *ours = malloc(3 * PLANE * sizeof(float));
    FILE *f = fopen(tensor_path, "rb");
    cr_assert_not_null(f);
    cr_assert_eq(fread(expected, sizeof(float), 3 * PLANE, f), 3 * PLANE);
    fclose(f);
    xai_image image;
    cr_assert_eq(xai_image_load(&image, image_path, 0), XAI_OK, "%s", xai_last_error());
    xai_transform t;
    xai_transform_imagenet(&t);
    cr_assert_eq(xai_preprocess(&image, &t, ours, NULL), XAI_OK, "%s", xai_last_error());
    xai_image_free(&image);
    double sum = 0.0, worst = 0.0;
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < PLANE; i++) {
            double d = fabs((double)ours[c * PLANE + i] - expected[c * PLANE + i]) * std[c]; /* pixel units */
            sum += d;
            worst = fmax(worst, d);
        }
    double mean = sum / (3 * PLANE);
    cr_expect_leq(mean, 1.0 / 255, "%s: mean |difference| to PIL %g pixel", image_path, mean);
    cr_log_info("%s: mean |difference| to PIL + torchvision %.3g, max %.3g (in [0,1] pixel units)",
                image_path, mean, worst);
    free(expected), free(ours);
}

Test(datasets, preprocessing_matches_pil_and_torchvision, .timeout = 120)
{
    if (system("/usr/bin/python3 -c 'import PIL, numpy' 2>/dev/null") != 0)
        cr_skip_test("Debian's python3-pil is not installed; see preprocessing_expected_values");
    char command[4096] = "/usr/bin/python3 tests/pil_reference.py ";
    strcat(command, test_dir());
    for (int i = 0; samples[i]; i++) strcat(strcat(command, " "), sample(samples[i]));
    FILE *p = popen(command, "r");
    cr_assert_not_null(p);
    char line[2048];
    int cases = 0;
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = '\0';
        char *tab = strchr(line, '\t');
        cr_assert_not_null(tab, "bad line from pil_reference.py: %s", line);
        *tab = '\0';
        expect_pil_match(line, tab + 1);
        cases++;
    }
    cr_assert_eq(pclose(p), 0, "pil_reference.py failed");
    cr_expect_geq(cases, 12);
    /* 16-bit grey keeps its high byte: the same pixels as the 8-bit file. */
    xai_image grey8, grey16;
    cr_assert_eq(xai_image_load(&grey8, test_path("grey8.png"), 0), XAI_OK, "%s", xai_last_error());
    cr_assert_eq(xai_image_load(&grey16, test_path("grey16.png"), 0), XAI_OK, "%s", xai_last_error());
    cr_assert_eq(grey8.width, grey16.width);
    cr_expect_eq(memcmp(grey8.rgb, grey16.rgb, (size_t)grey8.width * grey8.height * 3), 0);
    xai_image_free(&grey8);
    xai_image_free(&grey16);
}

/* Without PIL: values that PIL + torchvision gave for chelsea.png, kept in the test. */
Test(datasets, preprocessing_expected_values)
{
    xai_image image;
    cr_assert_eq(xai_image_load(&image, sample("chelsea.png"), 0), XAI_OK, "%s", xai_last_error());
    cr_expect_eq(image.width, 451);
    cr_expect_eq(image.height, 300);
    xai_transform t;
    xai_transform_imagenet(&t);
    float *out = malloc(3 * 224 * 224 * sizeof(float));
    xai_crop_geometry geometry;
    cr_assert_eq(xai_preprocess(&image, &t, out, &geometry), XAI_OK);
    cr_expect_eq(geometry.resized_w, 384);
    cr_expect_eq(geometry.resized_h, 256);
    cr_expect_eq(geometry.crop_x, 80);
    cr_expect_eq(geometry.crop_y, 16);
    FILE *f = fopen("tests/data/chelsea_expected.tsv", "r");
    cr_assert_not_null(f, "tests/data/chelsea_expected.tsv missing");
    int c, y, x, n = 0;
    float v;
    while (fscanf(f, "%d %d %d %g", &c, &y, &x, &v) == 4) {
        cr_expect_float_eq(out[(c * 224 + y) * 224 + x], v, 1e-5, "(%d,%d,%d): %g, PIL gave %g", c, y, x,
                           out[(c * 224 + y) * 224 + x], v);
        n++;
    }
    fclose(f);
    cr_expect_geq(n, 32);
    free(out);
    xai_image_free(&image);
}

static void expect_image_error(const char *path, size_t max_pixels, const char *words)
{
    xai_image image;
    xai_clear_error();
    cr_expect_eq(xai_image_load(&image, path, max_pixels), XAI_ERR, "%s decoded", path);
    cr_expect_null(image.rgb);
    cr_expect(strstr(xai_last_error(), path) != NULL, "no file name: %s", xai_last_error());
    cr_expect(strstr(xai_last_error(), words) != NULL, "expected '%s' in: %s", words, xai_last_error());
    cr_expect_null(strchr(xai_last_error(), '\n'));
}

Test(datasets, bad_images)
{
    expect_image_error(sample("truncated.jpg"), 0, "JPEG");
    expect_image_error(test_path("absent.png"), 0, "cannot open");
    test_write_file(test_path("empty.jpg"), "", 0);
    expect_image_error(test_path("empty.jpg"), 0, "empty file");
    const char text[] = "this is a text file, not a picture\n";
    test_write_file(test_path("text.jpg"), text, sizeof text - 1);
    expect_image_error(test_path("text.jpg"), 0, "not a JPEG or PNG");
    /* A PNG whose first IDAT byte is changed: its CRC no longer matches. */
    FILE *f = fopen(sample("chelsea.png"), "rb");
    cr_assert_not_null(f);
    static unsigned char png[1 << 20];
    size_t size = fread(png, 1, sizeof png, f);
    fclose(f);
    unsigned char *idat = memmem(png, size, "IDAT", 4);
    cr_assert_not_null(idat);
    idat[8] ^= 0x55;
    test_write_file(test_path("crc.png"), png, size);
    expect_image_error(test_path("crc.png"), 0, "PNG");
    /* The pixel limit, checked from the header. */
    expect_image_error(sample("astronaut.png"), 512 * 511, "over the limit");
}
