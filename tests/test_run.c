/* test_run.c - `xaibench run` end to end on the sample tree: the documented layout, the bad
 * image skipped and counted, and a run killed with SIGKILL mid-way that the same command
 * completes, bit-identical to an uninterrupted run with every image exactly once. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <hdf5.h>

#include "test_support.h"
#include "xai_dogs.h"
#include "xai_model.h"
#include "xai_status.h"

static const char *binary(void) { return getenv("XAIBENCH") ? getenv("XAIBENCH") : "build/xaibench"; }

static const char *sample_tree(void)
{
    if (access("data/samples/chelsea.png", R_OK) != 0) cr_skip_test("run scripts/fetch-samples.sh");
    const char *root = test_path("sample-dogs");
    if (access(root, R_OK) != 0)
        cr_assert_eq(xai_sample_set_write("data/samples", root, 1), XAI_OK, "%s", xai_last_error());
    return root;
}

static const char *model(const char *arch, int classes)
{
    char name[128];
    snprintf(name, sizeof name, "%s-%d.onnx", arch, classes);
    const char *path = test_path(name);
    xai_model_spec spec = {.arch = arch, .seed = 3, .classes = classes};
    if (access(path, R_OK) != 0) cr_assert_eq(xai_model_write_resnet(&spec, path), XAI_OK);
    return path;
}

/* fork + exec `xaibench run ...` with stdout/stderr to files; returns the pid. */
static pid_t start_run(const char *model_path, const char *root, const char *output, const char *batch)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        FILE *out = freopen(test_path("run.log"), "a", stderr);
        (void)out;
        execl(binary(), binary(), "run", "--model", model_path, "--dataset", root, "--batch", batch,
              "--threads", "1", "-o", output, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int finish(pid_t pid)
{
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Test(run, sweep_of_the_sample_set, .timeout = 120)
{
    const char *root = sample_tree(), *out = test_path("sweep.h5");
    pid_t pid = start_run(model("resnet-tiny", 1000), root, out, "4");
    cr_assert_eq(finish(pid), 0, "run failed; see %s", test_path("run.log"));
    char parts[1024];
    snprintf(parts, sizeof parts, "%s.parts", out);
    cr_expect_neq(access(parts, F_OK), 0, "the parts were not removed");
    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    size_t bytes;
    int *labels = test_read_all(f, "/images/label", &bytes);
    cr_expect_eq(bytes, 6 * sizeof(int), "6 decodable images");
    int *targets = test_read_all(f, "/target", &bytes);
    for (int k = 0; k < 6; k++) cr_expect_eq(targets[k], labels[k], "target is the label by default");
    cr_expect_eq(labels[0], 281);
    char *paths = test_read_all(f, "/images/path", &bytes);
    cr_expect(strstr(paths, "n02123045_1.png") != NULL);
    char *skipped = test_read_all(f, "/skipped/reason", &bytes);
    cr_expect_eq(bytes, 1024u, "one skipped image");
    cr_expect(strstr(skipped, "n02123045_2.jpg") && strstr(skipped, "JPEG"), "%s", skipped);
    float *frame = test_read_all(f, "/images/bbox_frame", &bytes);
    cr_expect_eq(bytes, 6 * 4 * sizeof(float));
    int *top5 = test_read_all(f, "/predictions/top5", &bytes);
    cr_expect_eq(bytes, 6 * 5 * sizeof(int));
    cr_expect(H5Aexists(f, "model_sha256") > 0 && H5Aexists(f, "command_line") > 0);
    free(labels), free(targets), free(paths), free(skipped), free(frame), free(top5);
    H5Fclose(f);
    if (access("/usr/bin/h5dump", X_OK) == 0) {
        char command[1200];
        snprintf(command, sizeof command, "/usr/bin/h5dump -H %s >/dev/null", out);
        cr_expect_eq(system(command), 0);
    }
    /* metrics: scores per image written back, the summary as CSV beside the file */
    char command[4096], csv[1024];
    snprintf(command, sizeof command, "%s metrics %s --steps 4 >/dev/null 2>%s", binary(), out, test_path("metrics.log"));
    cr_assert_eq(system(command), 0, "see %s", test_path("metrics.log"));
    f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    double *mass = test_read_all(f, "/metrics/guided_backprop/mass_in_box", &bytes);
    cr_expect_eq(bytes, 6 * sizeof(double));
    for (int k = 0; k < 6; k++) cr_expect(mass[k] >= 0 && mass[k] <= 1, "image %d: %g", k, mass[k]);
    double *deletion = test_read_all(f, "/metrics/saliency/deletion_auc", &bytes);
    for (int k = 0; k < 6; k++) cr_expect(deletion[k] > 0 && deletion[k] <= 1, "image %d: %g", k, deletion[k]);
    free(mass), free(deletion);
    H5Fclose(f);
    snprintf(csv, sizeof csv, "%s", out);
    strcpy(strrchr(csv, '.'), ".metrics.csv");
    FILE *table = fopen(csv, "r");
    cr_assert_not_null(table, "%s missing", csv);
    int lines = 0;
    char line[512];
    while (fgets(line, sizeof line, table)) lines++;
    fclose(table);
    cr_expect_eq(lines, 1 + 3 * 10, "a header and one row per method and metric");

    /* figures: every file produced and not empty (gnuplot draws them) */
    const char *figures = test_path("figures");
    snprintf(command, sizeof command, "%s plot %s -o %s --image 5 >/dev/null 2>%s", binary(), out, figures,
             test_path("plot.log"));
    cr_assert_eq(system(command), 0, "see %s", test_path("plot.log"));
    static const char *const made[] = {"figure1.png", "figure1.pdf", "grid.png", "grid.pdf", "boxplots.png", "boxplots.pdf"};
    for (int k = 0; k < 6; k++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", figures, made[k]);
        FILE *image = fopen(path, "rb");
        cr_expect_not_null(image, "%s missing", path);
        if (!image) continue;
        fseek(image, 0, SEEK_END);
        cr_expect_gt(ftell(image), 1000, "%s is nearly empty", path);
        fclose(image);
    }
}

Test(run, killed_run_resumes_to_identical_results, .timeout = 600)
{
    const char *root = sample_tree(), *net = model("resnet18", 1000);
    const char *whole = test_path("whole.h5"), *killed = test_path("killed.h5");
    cr_assert_eq(finish(start_run(net, root, whole, "1")), 0, "see %s", test_path("run.log"));

    /* Kill the second run with SIGKILL once two of its batches are on disk. */
    char marker[1024];
    snprintf(marker, sizeof marker, "%s.parts/batch-000001.h5", killed);
    pid_t pid = start_run(net, root, killed, "1");
    for (int waited = 0; access(marker, F_OK) != 0 && waited < 60000; waited += 2) usleep(2000);
    kill(pid, SIGKILL);
    cr_assert_eq(finish(pid), 128 + SIGKILL, "the run ended before it could be killed");
    cr_assert_neq(access(killed, F_OK), 0, "a killed run left its final file");
    cr_assert_eq(finish(start_run(net, root, killed, "1")), 0, "resume failed; see %s", test_path("run.log"));

    static const char *const datasets[] = {"/input", "/logits", "/target", "/maps/saliency", "/maps/deconvnet",
                                           "/maps/guided_backprop", "/heatmaps/guided_backprop", "/images/path",
                                           "/images/label", "/images/bbox", "/predictions/top5", "/skipped/reason"};
    test_expect_same_datasets(whole, killed, datasets, sizeof datasets / sizeof *datasets);
}

Test(run, refuses_to_resume_another_command)
{
    const char *root = sample_tree(), *out = test_path("other.h5");
    char parts[1024], command[4096];
    snprintf(parts, sizeof parts, "%s.parts", out);
    snprintf(command, sizeof command, "mkdir -p %s && echo 'another run' > %s/manifest", parts, parts);
    cr_assert_eq(system(command), 0);
    snprintf(command, sizeof command, "%s run --model %s --dataset %s -o %s 2>%s", binary(), model("resnet-tiny", 1000),
             root, out, test_path("refuse.log"));
    int status = system(command);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    FILE *f = fopen(test_path("refuse.log"), "r");
    char line[2048] = "";
    cr_assert_not_null(f);
    cr_expect_not_null(fgets(line, sizeof line, f));
    fclose(f);
    cr_expect(strstr(line, parts) && strstr(line, "another command"), "%s", line);
}
