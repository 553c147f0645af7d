/* test_run.c - `xaibench run` end to end on the sample tree: the documented layout, the bad
 * image skipped and counted, and a run killed with SIGKILL mid-way that the same command
 * completes, bit-identical to an uninterrupted run with every image exactly once; a second
 * process on the same output refused at once, naming the holder, the first unharmed. Also the
 * store's image rows written past the page cache (O_DIRECT) reading back exactly. */
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include "test_support.h"
#include "xai_classes.h"
#include "xai_dogs.h"
#include "xai_model.h"
#include "xai_status.h"
#include "xai_store.h"

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

/* fork + exec `xaibench run ...` with stderr appended to test_path(log), writing files of at
 * most `file_limit` bytes (0: no limit; past it writes fail with EFBIG, as on a full disk);
 * returns the pid. */
static pid_t start_run_with(const char *model_path, const char *root, const char *output, const char *batch,
                            rlim_t file_limit, const char *log, const char *const *extra)
{
    const char *args[32] = {binary(), "run", "--model", model_path, "--dataset", root, "--batch", batch,
                            "--threads", "1", "-o", output};
    int n = 12;
    for (int k = 0; extra && extra[k] && n < 31; k++) args[n++] = extra[k];
    args[n] = NULL;
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        FILE *out = freopen(test_path(log), "a", stderr);
        (void)out;
        if (file_limit) {
            struct rlimit limit = {file_limit, file_limit};
            signal(SIGXFSZ, SIG_IGN);
            setrlimit(RLIMIT_FSIZE, &limit);
        }
        execv(binary(), (char *const *)args);
        _exit(127);
    }
    return pid;
}

static pid_t start_logged_run(const char *model_path, const char *root, const char *output, const char *batch,
                              rlim_t file_limit, const char *log)
{
    return start_run_with(model_path, root, output, batch, file_limit, log, NULL);
}

static pid_t start_run(const char *model_path, const char *root, const char *output, const char *batch)
{
    return start_logged_run(model_path, root, output, batch, 0, "run.log");
}

static int finish(pid_t pid)
{
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* A whole file as a string. */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "%s missing", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    char *text = malloc((size_t)size + 1);
    cr_assert(text && fread(text, 1, (size_t)size, f) == (size_t)size);
    text[size] = '\0';
    fclose(f);
    return text;
}

/* A number after `key` in text (an SVG attribute or transform). */
static double number_after(const char *text, const char *key)
{
    const char *at = strstr(text, key);
    return at ? strtod(at + strlen(key), NULL) : NAN;
}

/* grid.gp drawn as SVG from the vars `plot` wrote: row r's title is the class of the run's
 * image r (as people write it), and it sits beside row r's original, not another row's. */
static void expect_grid_rows_titled_by_their_targets(const char *figures, const char *run, int rows)
{
    char svg[1200], command[4096];
    snprintf(svg, sizeof svg, "%s/grid-check.svg", figures);
    snprintf(command, sizeof command, "gnuplot -e \"term='svg'; out='%s'\" '%s/data/grid.vars.gp' experiments/grid.gp",
             svg, figures);
    cr_assert_eq(system(command), 0, "%s", command);
    size_t bytes;
    char *text = read_text(svg);
    int *targets = test_read_all(run, "/target", &bytes);
    cr_assert(text && targets);
    /* The originals are the leftmost images, one per row from the top. */
    double left = INFINITY, top[16], height[16];
    int found = 0;
    for (const char *image = strstr(text, "<image "); image; image = strstr(image + 1, "<image "))
        left = fmin(left, number_after(image, "x='"));
    for (const char *image = strstr(text, "<image "); image && found < 16; image = strstr(image + 1, "<image "))
        if (number_after(image, "x='") == left) {
            top[found] = number_after(image, "y='");
            height[found++] = number_after(image, "height='");
        }
    cr_assert_eq(found, rows, "%d originals in %s", found, svg);
    for (int r = 0; r < rows; r++) {
        char title[300];
        snprintf(title, sizeof title, "<text>%s</text>", xai_imagenet_name(targets[r]));
        for (char *c = title; *c; c++)
            if (*c == '_') *c = ' ';
        const char *at = strstr(text, title), *place = NULL; /* the transform before it is the title's */
        cr_assert(at, "no row title %s in %s", title, svg);
        for (const char *t = strstr(text, "translate("); t && t < at; t = strstr(t + 1, "translate(")) place = t;
        cr_assert(place, "%s: no place for %s", svg, title);
        double y = number_after(place, ",");
        cr_expect(y > top[r] && y < top[r] + height[r], "row %d's title %s at y %g, its image at %g..%g", r + 1,
                  title, y, top[r], top[r] + height[r]);
    }
    free(text), free(targets);
}

Test(run, sweep_of_the_sample_set, .timeout = 120)
{
    const char *root = sample_tree(), *out = test_path("sweep.h5");
    pid_t pid = start_run(model("resnet-tiny", 1000), root, out, "4");
    cr_assert_eq(finish(pid), 0, "run failed; see %s", test_path("run.log"));
    char parts[1024];
    snprintf(parts, sizeof parts, "%s.parts", out);
    cr_expect_neq(access(parts, F_OK), 0, "the parts were not removed");
    size_t bytes;
    int *labels = test_read_all(out, "/images/label", &bytes);
    cr_expect_eq(bytes, 6 * sizeof(int), "6 decodable images");
    int *targets = test_read_all(out, "/target", &bytes);
    for (int k = 0; k < 6; k++) cr_expect_eq(targets[k], labels[k], "target is the label by default");
    cr_expect_eq(labels[0], 281);
    char *paths = test_read_all(out, "/images/path", &bytes);
    cr_expect(strstr(paths, "n02123045_1.png") != NULL);
    char *skipped = test_read_all(out, "/skipped/reason", &bytes);
    cr_expect_eq(bytes, 1024u, "one skipped image");
    cr_expect(strstr(skipped, "n02123045_2.jpg") && strstr(skipped, "JPEG"), "%s", skipped);
    float *frame = test_read_all(out, "/images/bbox_frame", &bytes);
    cr_expect_eq(bytes, 6 * 4 * sizeof(float));
    int *top5 = test_read_all(out, "/predictions/top5", &bytes);
    cr_expect_eq(bytes, 6 * 5 * sizeof(int));
    xai_store *store;
    cr_assert_eq(xai_store_open(&store, out, XAI_STORE_READ), XAI_OK, "%s", xai_last_error());
    char *sha = NULL, *command_line = NULL;
    cr_expect(xai_store_get_attribute(store, "model_sha256", &sha) == XAI_OK && sha && strlen(sha) == 64);
    cr_expect(xai_store_get_attribute(store, "command_line", &command_line) == XAI_OK && command_line &&
              strstr(command_line, " run "), "%s", command_line ? command_line : "(none)");
    free(sha), free(command_line);
    xai_store_abort(store);
    free(labels), free(targets), free(paths), free(skipped), free(frame), free(top5);
    if (access("/usr/bin/h5dump", X_OK) == 0) {
        char command[1200];
        snprintf(command, sizeof command, "/usr/bin/h5dump -H %s >/dev/null", out);
        cr_expect_eq(system(command), 0);
    }
    /* metrics: scores per image written back, the summary as CSV beside the file */
    char command[4096], csv[1024];
    snprintf(command, sizeof command, "%s metrics %s --steps 4 >/dev/null 2>%s", binary(), out, test_path("metrics.log"));
    cr_assert_eq(system(command), 0, "see %s", test_path("metrics.log"));
    double *mass = test_read_all(out, "/metrics/guided_backprop/mass_in_box", &bytes);
    cr_expect_eq(bytes, 6 * sizeof(double));
    for (int k = 0; k < 6; k++) cr_expect(mass[k] >= 0 && mass[k] <= 1, "image %d: %g", k, mass[k]);
    double *deletion = test_read_all(out, "/metrics/saliency/deletion_auc", &bytes);
    for (int k = 0; k < 6; k++) cr_expect(deletion[k] > 0 && deletion[k] <= 1, "image %d: %g", k, deletion[k]);
    free(mass), free(deletion);
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
    expect_grid_rows_titled_by_their_targets(figures, out, 6);
}

static void first_line(const char *log, char *line, size_t size);

/* Start a run, kill it with SIGKILL once two of its batches are on disk. */
static void kill_after_two_batches(const char *net, const char *root, const char *out, const char *const *extra)
{
    char marker[1024];
    snprintf(marker, sizeof marker, "%s.parts/batch-000001.h5", out);
    pid_t pid = start_run_with(net, root, out, "1", 0, "run.log", extra);
    for (int waited = 0; access(marker, F_OK) != 0 && waited < 60000; waited += 2) usleep(2000);
    kill(pid, SIGKILL);
    cr_assert_eq(finish(pid), 128 + SIGKILL, "the run ended before it could be killed");
}

/* SmoothGrad's and Integrated Gradients' maps: the same after a kill and a resume at batch 1
 * as in one run at batch 2; a resume with another setting is refused, naming it. */
Test(run, multi_pass_methods_resume_and_rebatch_to_identical_maps, .timeout = 600)
{
    const char *root = sample_tree(), *net = model("resnet18", 1000);
    char whole[1024], killed[1024], other[1024];
    snprintf(whole, sizeof whole, "%s", test_path("smooth-whole.h5"));
    snprintf(killed, sizeof killed, "%s", test_path("smooth-killed.h5"));
    snprintf(other, sizeof other, "%s", test_path("smooth-other.h5"));
    const char *settings[] = {"--methods", "smoothgrad,integrated_gradients", "--smoothgrad-samples", "3", "--ig-steps",
                              "3", "--seed", "5", NULL};
    cr_assert_eq(finish(start_run_with(net, root, whole, "2", 0, "run.log", settings)), 0, "see %s", test_path("run.log"));
    kill_after_two_batches(net, root, killed, settings);
    cr_assert_eq(finish(start_run_with(net, root, killed, "1", 0, "run.log", settings)), 0, "resume failed; see %s",
                 test_path("run.log"));
    static const char *const same[] = {"/maps/smoothgrad", "/maps/integrated_gradients", "/images/path"};
    test_expect_same_datasets(whole, killed, same, 3);

    kill_after_two_batches(net, root, other, settings);
    const char *changed[] = {"--methods", "smoothgrad,integrated_gradients", "--smoothgrad-samples", "4", "--ig-steps",
                             "3", "--seed", "5", NULL};
    cr_assert_eq(finish(start_run_with(net, root, other, "1", 0, "refused.log", changed)), 1, "a resume with other "
                 "settings was not refused");
    char line[2048];
    first_line("refused.log", line, sizeof line);
    cr_expect(strstr(line, "smoothgrad.samples=3") && strstr(line, "differs"), "the refusal does not name the "
              "setting: %s", line);
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

/* The first line of test_path(log), into line. */
static void first_line(const char *log, char *line, size_t size)
{
    FILE *f = fopen(test_path(log), "r");
    cr_assert_not_null(f, "%s missing", test_path(log));
    if (!fgets(line, (int)size, f)) line[0] = '\0';
    fclose(f);
}

Test(run, a_second_process_on_the_same_output_is_refused_at_once, .timeout = 600)
{
    const char *root = sample_tree(), *net = model("resnet18", 1000), *out = test_path("shared-out.h5");
    char marker[1024], line[1024], command[4096];
    snprintf(marker, sizeof marker, "%s.parts/batch-000000.h5", out);
    pid_t first = start_run(net, root, out, "1");
    for (int waited = 0; access(marker, F_OK) != 0 && waited < 60000; waited += 2) usleep(2000);
    cr_assert_eq(access(marker, F_OK), 0, "the first run wrote no batch");

    pid_t second = start_logged_run(net, root, out, "1", 0, "second-run.log");
    cr_expect_eq(finish(second), 1, "the second run was not refused");
    first_line("second-run.log", line, sizeof line);
    char holder[64];
    snprintf(holder, sizeof holder, "pid %ld on ", (long)first);
    cr_expect(strstr(line, out) && strstr(line, "in use by another xaibench") && strstr(line, holder),
              "the refusal names neither the file nor its holder: %s", line);
    snprintf(command, sizeof command, "%s explain --model %s --image data/samples/chelsea.png -o %s >/dev/null 2>%s",
             binary(), net, out, test_path("explain-on-run.log"));
    cr_expect_eq(WEXITSTATUS(system(command)), 1, "explain on a run's output was not refused");
    first_line("explain-on-run.log", line, sizeof line);
    cr_expect(strstr(line, "in use by another xaibench"), "%s", line);

    cr_assert_eq(finish(first), 0, "the first run failed; see %s", test_path("run.log"));
    size_t bytes;
    free(test_read_all(out, "/images/label", &bytes));
    cr_expect_eq(bytes, 6 * sizeof(int), "the first run's results are whole");
    char lock[1100];
    snprintf(lock, sizeof lock, "%s.lock", out);
    cr_expect_neq(access(lock, F_OK), 0, "the lock file outlived its run");
}

/* The last line of the run log. */
static void last_log_line(char *line, size_t size)
{
    FILE *f = fopen(test_path("run.log"), "r");
    cr_assert_not_null(f);
    char next[4096];
    line[0] = '\0';
    while (fgets(next, sizeof next, f)) snprintf(line, size, "%s", next);
    fclose(f);
}

Test(run, failed_write_is_one_line_and_the_same_command_completes, .timeout = 600)
{
    const char *root = sample_tree(), *net = model("resnet18", 1000);
    const char *whole = test_path("whole.h5"), *limited = test_path("limited.h5");
    cr_assert_eq(finish(start_run(net, root, whole, "1")), 0, "see %s", test_path("run.log"));
    /* ~3 MB per image: the writes fail a few images in */
    cr_assert_eq(finish(start_logged_run(net, root, limited, "1", 8 << 20, "run.log")), 1, "a run past the limit did not fail cleanly");
    char line[4096];
    last_log_line(line, sizeof line);
    cr_expect(strncmp(line, "xaibench: ", 10) == 0 && strstr(line, limited) && strstr(line, "write"),
              "not one line naming the file: %s", line);
    cr_expect_neq(access(limited, F_OK), 0, "a failed run left its final file");
    cr_assert_eq(finish(start_run(net, root, limited, "1")), 0, "the rerun failed; see %s", test_path("run.log"));
    static const char *const datasets[] = {"/input", "/logits", "/maps/saliency", "/maps/guided_backprop",
                                           "/heatmaps/deconvnet", "/images/path", "/skipped/reason"};
    test_expect_same_datasets(whole, limited, datasets, sizeof datasets / sizeof *datasets);
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

/* Fraction of a file's pages held in the page cache. */
static double resident_fraction(const char *path)
{
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0);
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    long page = sysconf(_SC_PAGESIZE);
    size_t pages = ((size_t)st.st_size + (size_t)page - 1) / (size_t)page, held = 0;
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    unsigned char *in_core = malloc(pages);
    cr_assert(map != MAP_FAILED && in_core);
    cr_assert_eq(mincore(map, (size_t)st.st_size, in_core), 0);
    for (size_t k = 0; k < pages; k++) held += in_core[k] & 1;
    munmap(map, (size_t)st.st_size);
    close(fd);
    free(in_core);
    return (double)held / (double)pages;
}

/* Image rows from page-aligned memory go past the page cache where the file system allows it,
 * rows from other memory through HDF5; either way every byte reads back as written. */
Test(store, image_rows_past_the_page_cache_read_back_exactly)
{
    enum { C = 3, H = 224, W = 224, CLASSES = 10, ROWS = 5 };
    const char *methods[2] = {"saliency", "guided_backprop"};
    xai_store_shape shape = {.channels = C, .height = H, .width = W, .classes = CLASSES, .n_methods = 2,
                             .methods = methods};
    size_t image = (size_t)C * H * W, plane = (size_t)H * W;
    float *input = xai_malloc_pages(ROWS * image * sizeof(float)), *logits = malloc(ROWS * CLASSES * sizeof(float));
    float *maps[2], *heat[2];
    char *heat_memory[2];
    for (int m = 0; m < 2; m++) {
        maps[m] = xai_malloc_pages(ROWS * image * sizeof(float));
        heat_memory[m] = xai_malloc_pages(ROWS * plane * sizeof(float) + 4096);
        heat[m] = (float *)(heat_memory[m] + 16); /* not page-aligned: through HDF5 */
        test_normal_floats(maps[m], ROWS * image, 10 + (uint64_t)m);
        test_normal_floats(heat[m], ROWS * plane, 20 + (uint64_t)m);
    }
    test_normal_floats(input, ROWS * image, 1);
    test_normal_floats(logits, ROWS * CLASSES, 2);
    int targets[ROWS] = {1, 2, 3, 4, 5};
    double ms[2] = {1, 2};
    const char *path = test_path("direct.h5");
    xai_store *store;
    cr_assert_eq(xai_store_create(&store, path, &shape), XAI_OK, "%s", xai_last_error());
    for (int first = 0, count = 3; first < ROWS; first += count, count = ROWS - first) {
        const float *m_rows[2] = {maps[0] + first * image, maps[1] + first * image};
        const float *h_rows[2] = {heat[0] + first * plane, heat[1] + first * plane};
        xai_store_batch rows = {.count = count, .input = input + first * image, .logits = logits + first * CLASSES,
                                .targets = targets + first, .maps = m_rows, .heatmaps = h_rows, .ms_methods = ms};
        cr_assert_eq(xai_store_append(store, &rows), XAI_OK, "%s", xai_last_error());
    }
    cr_assert_eq(xai_store_close(store), XAI_OK, "%s", xai_last_error());

    /* Input and maps (3/4 of the bytes) never entered the cache when O_DIRECT works here. */
    int probe = open(test_path("probe"), O_WRONLY | O_CREAT | O_DIRECT, 0644);
    if (probe >= 0) {
        close(probe);
        double held = resident_fraction(path);
        cr_expect_lt(held, 0.5, "%.0f %% of %s in the page cache", 100 * held, path);
    } else {
        cr_log_info("O_DIRECT unsupported under %s: only the read-back is checked", test_dir());
    }
    struct {
        const char *name;
        const void *expected;
        size_t bytes;
    } want[] = {{"/input", input, ROWS * image * 4},          {"/logits", logits, ROWS * CLASSES * 4},
                {"/maps/saliency", maps[0], ROWS * image * 4}, {"/maps/guided_backprop", maps[1], ROWS * image * 4},
                {"/heatmaps/saliency", heat[0], ROWS * plane * 4}, {"/heatmaps/guided_backprop", heat[1], ROWS * plane * 4},
                {"/target", targets, sizeof targets}};
    for (size_t k = 0; k < sizeof want / sizeof *want; k++) {
        size_t bytes;
        void *got = test_read_all(path, want[k].name, &bytes);
        cr_expect(bytes == want[k].bytes && memcmp(got, want[k].expected, bytes) == 0, "%s differs", want[k].name);
        free(got);
    }
    free(input), free(logits);
    for (int m = 0; m < 2; m++) free(maps[m]), free(heat_memory[m]);
}
