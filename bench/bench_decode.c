/* bench_decode.c - images per second for decode + torchvision transform of the sample photos
 * (data/samples, scripts/fetch-samples.sh), on each thread count: images are spread over the
 * threads, one image per thread at a time. The 1-thread rate is the baseline the speedup is
 * measured against, in the same run. Goal (datasets issue): >= 150 images/s on 2 threads.
 * usage: bench_decode [--threads 1,2] [--rounds N] [IMAGE...] */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xai_clock.h"
#include "xai_image.h"
#include "xai_status.h"

int main(int argc, char **argv)
{
    static const char *defaults[] = {"data/samples/chelsea.png", "data/samples/coffee.png",
                                     "data/samples/astronaut.png", "data/samples/motorcycle_left.png",
                                     "data/samples/rocket.jpg", "data/samples/dog.jpg"};
    const char **images = defaults;
    int n_images = 6, threads[8] = {1, 2}, n_threads = 2, rounds = 20;
    int first_image = 1;
    for (; first_image < argc && argv[first_image][0] == '-'; first_image += 2) {
        if (first_image + 1 >= argc) break;
        if (!strcmp(argv[first_image], "--rounds")) rounds = atoi(argv[first_image + 1]);
        else if (!strcmp(argv[first_image], "--threads")) {
            n_threads = 0;
            for (char *p = argv[first_image + 1]; p && n_threads < 8; p = strchr(p, ','), p = p ? p + 1 : p)
                threads[n_threads++] = atoi(p);
        }
    }
    if (first_image < argc) images = (const char **)argv + first_image, n_images = argc - first_image;
    if (rounds < 1) rounds = 1;
    xai_transform t;
    xai_transform_imagenet(&t);
    float *out = malloc((size_t)16 * 3 * 224 * 224 * sizeof(float));
    double rate[8] = {0};
    for (int k = 0; k < n_threads; k++) {
        omp_set_num_threads(threads[k]);
        int failed = 0;
        double t0 = xai_now_seconds();
#pragma omp parallel for schedule(dynamic) reduction(| : failed)
        for (int job = 0; job < rounds * n_images; job++) {
            xai_image image;
            float *slot = out + (size_t)omp_get_thread_num() % 16 * 3 * 224 * 224;
            if (xai_image_load(&image, images[job % n_images], 0) || xai_preprocess(&image, &t, slot, NULL))
                failed = 1;
            xai_image_free(&image);
        }
        double seconds = xai_now_seconds() - t0;
        if (failed) {
            fprintf(stderr, "bench_decode: %s\n", xai_last_error());
            return 1;
        }
        rate[k] = rounds * n_images / seconds;
        printf("%d thread%s: %7.1f images/s (decode + resize 256 + crop 224 + normalize)%s", threads[k],
               threads[k] > 1 ? "s" : " ", rate[k], k ? "" : "\n");
        if (k) printf(", %.2fx the %d-thread rate\n", rate[k] / rate[0], threads[0]);
    }
    free(out);
    return 0;
}
