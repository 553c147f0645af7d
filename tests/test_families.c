/* test_families.c - torchvision's small CNN families through xaibench against PyTorch float64
 * (bench/families.py --check): SqueezeNet 1.1, MobileNetV3-Small, EfficientNet-B0 and ShuffleNetV2 with
 * seeded weights, exported at opsets 13 and 17 with BatchNormalization folded and kept, their
 * logits within 1e-4 and the three rules' maps at least as close to float64 as PyTorch's own
 * float32 maps are (within 2x); and bench/families.py's `parts` model, the general forms of Pad,
 * ceil_mode pools and broadcast constants, the same way. Skipped with a message where Debian's PyTorch is absent; the
 * sanitizer build runs SqueezeNet, ShuffleNet and parts at opset 13 with BatchNormalization kept. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <criterion/criterion.h>

Test(families, small_families_match_pytorch_float64, .timeout = 900)
{
    if (access("/usr/bin/python3", X_OK) != 0 ||
        system("/usr/bin/python3 -c 'import torch, torchvision, h5py' 2>/dev/null") != 0)
        cr_skip_test("Debian's python3-torch, python3-torchvision or python3-h5py is not installed");
    if (access("data/samples/dog.jpg", R_OK) != 0)
        cr_skip_test("data/samples/dog.jpg is missing (scripts/fetch-samples.sh)");
    /* The sanitizer build runs two of them in one form: the same code paths, instrumented. */
    const char *cases = XAI_SANITIZED ? "--families squeezenet1_1,shufflenet_v2_x1_0,parts --opsets 13 --batchnorm kept"
                                      : "--families squeezenet1_1,mobilenet_v3_small,efficientnet_b0,"
                                        "shufflenet_v2_x1_0,parts --opsets 13,17 --batchnorm folded,kept";
    char command[512];
    snprintf(command, sizeof command,
             "PYTHONWARNINGS=ignore /usr/bin/python3 bench/families.py %s --threads 2 --check", cases);
    int status = system(command);
    cr_expect_eq(status, 0, "bench/families.py --check failed (its table is above)");
}
