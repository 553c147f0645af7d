/* test_cluster.c - the cluster paths give the results of one process, bit for bit: a job array
 * of `run --shard i/n` joined by `xaibench merge`, `mpirun -np 2` and `-np 3` into one parallel
 * HDF5 file, and an MPI run with one rank killed by SIGKILL that the same command (with another
 * number of ranks) completes. All runs use --threads 1 and the same --batch, the conditions
 * under which the README promises identical maps. mpirun runs with --oversubscribe (CI has
 * two cores) and may run as root (CI does). */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "test_support.h"
#include "xai_dogs.h"
#include "xai_model.h"
#include "xai_status.h"

static const char *binary(void) { return getenv("XAIBENCH") ? getenv("XAIBENCH") : "build/xaibench"; }

/* The sample tree, its decodable photos `copies` times (a sweep long enough to kill); copies 0:
 * once, without its undecodable image (a sweep that skips nothing). */
static const char *sample_tree(int copies)
{
    if (access("data/samples/chelsea.png", R_OK) != 0) cr_skip_test("run scripts/fetch-samples.sh");
    char name[64], command[4096];
    snprintf(name, sizeof name, "cluster-dogs-%d", copies);
    const char *root = test_path(name);
    if (access(root, R_OK) == 0) return root;
    cr_assert_eq(xai_sample_set_write("data/samples", root, copies ? copies : 1), XAI_OK, "%s", xai_last_error());
    snprintf(command, sizeof command, "rm -r %s/lists %s/Images/n02123045-tabby/n02123045_2.jpg", root, root);
    if (copies == 0) cr_assert_eq(system(command), 0);
    return root;
}

static const char *model(void)
{
    const char *path = test_path("cluster-resnet18.onnx");
    xai_model_spec spec = {.arch = "resnet18", .seed = 5};
    if (access(path, R_OK) != 0) cr_assert_eq(xai_model_write_resnet(&spec, path), XAI_OK);
    return path;
}

static void need_mpi(void)
{
#ifndef XAI_WITH_MPI
    cr_skip_test("built without MPI (-DXAI_MPI=OFF)");
#endif
    if (system("command -v mpirun >/dev/null") != 0) cr_skip_test("no mpirun (apt-get install openmpi-bin)");
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    /* Containers often forbid the cross-process memory attach of Open MPI's shared-memory
     * transport; the messages here are small, so plain copies cost nothing. */
    setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 0);
}

/* `[mpirun -np K] xaibench run ... --batch 2 --threads 1 -o out [extra]`, as a shell command,
 * on the sample tree with `copies` copies. */
static int run(int ranks, int copies, const char *out, const char *extra)
{
    char command[4096];
    char launcher[128] = "";
    if (ranks) snprintf(launcher, sizeof launcher, "mpirun --oversubscribe --bind-to none -np %d ", ranks);
    snprintf(command, sizeof command, "%s%s run --model %s --dataset %s --batch 2 --threads 1 -o %s %s >>%s 2>&1",
             launcher, binary(), model(), sample_tree(copies), out, extra ? extra : "", test_path("cluster.log"));
    int status = system(command);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* Every result dataset of `b` equals `a`'s, byte for byte (timings aside: they are times). */
static void expect_same_results(const char *a_path, const char *b_path, int with_metrics)
{
    static const char *const datasets[] = {
        "/input", "/logits", "/target", "/maps/saliency", "/maps/deconvnet", "/maps/guided_backprop",
        "/heatmaps/saliency", "/heatmaps/deconvnet", "/heatmaps/guided_backprop", "/images/path", "/images/label",
        "/images/bbox", "/images/bbox_frame", "/predictions/top5", "/skipped/reason"};
    static const char *const metrics[] = {
        "/metrics/guided_backprop/total_variation", "/metrics/saliency/sparseness", "/metrics/deconvnet/mass_in_box",
        "/metrics/guided_backprop/deletion_auc", "/metrics/saliency/high_frequency_energy",
        "/metrics/deconvnet/insertion_auc", "/metrics/guided_backprop/complexity"};
    test_expect_same_datasets(a_path, b_path, datasets, sizeof datasets / sizeof *datasets);
    if (with_metrics) test_expect_same_datasets(a_path, b_path, metrics, sizeof metrics / sizeof *metrics);
}

/* test_path's names live in a ring of 64: a path held across many calls is copied. */
static const char *kept(const char *path)
{
    static char copies[16][1024];
    static int next;
    char *p = copies[next++ % 16];
    snprintf(p, sizeof copies[0], "%s", path);
    return p;
}

static const char *one_process(int copies)
{
    char name[64];
    snprintf(name, sizeof name, "cluster-whole-%d.h5", copies);
    const char *whole = kept(test_path(name));
    if (access(whole, R_OK) != 0) cr_assert_eq(run(0, copies, whole, NULL), 0, "see %s", test_path("cluster.log"));
    return whole;
}

static int metrics(const char *file)
{
    char command[4096];
    snprintf(command, sizeof command, "%s metrics %s --steps 4 --threads 1 >>%s 2>&1", binary(), file,
             test_path("cluster.log"));
    return system(command);
}

Test(cluster, shards_merged_equal_one_run, .timeout = 300)
{
    const char *whole = one_process(1);
    char shard[3][1024], option[32], command[8192];
    for (int s = 0; s < 3; s++) {
        snprintf(shard[s], sizeof shard[s], "%s", test_path(s == 0 ? "shard-0.h5" : s == 1 ? "shard-1.h5" : "shard-2.h5"));
        snprintf(option, sizeof option, "--shard %d/3", s);
        cr_assert_eq(run(0, 1, shard[s], option), 0, "shard %d failed; see %s", s, test_path("cluster.log"));
    }
    const char *merged = kept(test_path("shards-merged.h5"));
    snprintf(command, sizeof command, "%s merge %s %s %s %s >>%s 2>&1", binary(), merged, shard[2], shard[0], shard[1],
             test_path("cluster.log"));
    cr_assert_eq(system(command), 0, "merge failed; see %s", test_path("cluster.log"));
    expect_same_results(whole, merged, 0);

    /* A shard missing, or given twice: one line naming the file, no output. */
    const char *bad = kept(test_path("shards-bad.h5")), *log = kept(test_path("merge-error.log"));
    snprintf(command, sizeof command, "%s merge %s %s %s 2>%s", binary(), bad, shard[0], shard[1], log);
    int status = system(command);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    cr_expect_neq(access(bad, F_OK), 0, "a failed merge left %s", bad);
    FILE *f = fopen(log, "r");
    char line[2048] = "";
    cr_assert_not_null(f);
    cr_expect_not_null(fgets(line, sizeof line, f));
    fclose(f);
    cr_expect(strstr(line, "shard-0.h5") && strstr(line, "shard 0/3, but 2 files"), "%s", line);
    snprintf(command, sizeof command, "%s merge %s %s %s %s 2>/dev/null", binary(), bad, shard[0], shard[1], shard[1]);
    status = system(command);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 1, "a shard given twice was merged");
}

/* Without a skipped image the ranks write into the shared file as they go; with one (the sample
 * tree's truncated JPEG) they merge their parts at the end. Both must give the same file. */
Test(cluster, mpi_ranks_equal_one_process, .timeout = 300)
{
    need_mpi();
    for (int copies = 0; copies <= 1; copies++) {
        const char *whole = one_process(copies);
        cr_assert_eq(metrics(whole), 0, "see %s", test_path("cluster.log"));
        for (int ranks = 2; ranks <= 3; ranks++) {
            char name[64];
            snprintf(name, sizeof name, "mpi-%d-%d.h5", copies, ranks);
            const char *out = kept(test_path(name));
            cr_assert_eq(run(ranks, copies, out, NULL), 0, "-np %d failed; see %s", ranks, test_path("cluster.log"));
            cr_assert_eq(metrics(out), 0, "see %s", test_path("cluster.log"));
            expect_same_results(whole, out, 1);
        }
    }
}

/* The ranks of mpirun `parent`: its child processes. */
static int children(pid_t parent, pid_t *out, int room)
{
    DIR *proc = opendir("/proc");
    struct dirent *e;
    int n = 0;
    while (proc && (e = readdir(proc)) && n < room) {
        char path[300], comm[64], state;
        int pid = atoi(e->d_name), ppid = 0;
        if (pid <= 0) continue;
        snprintf(path, sizeof path, "/proc/%d/stat", pid);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fscanf(f, "%*d (%63[^)]) %c %d", comm, &state, &ppid) == 3 && ppid == parent && strstr(comm, "xaibench"))
            out[n++] = pid;
        fclose(f);
    }
    if (proc) closedir(proc);
    return n;
}

Test(cluster, killed_rank_resumes_with_other_ranks, .timeout = 300)
{
    need_mpi();
    const char *whole = one_process(4), *out = kept(test_path("mpi-killed.h5"));
    char marker[1024], ranks_text[] = "2", batch_text[] = "2", threads_text[] = "1";
    snprintf(marker, sizeof marker, "%s.parts/batch-000003.h5", out);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        FILE *log = freopen(test_path("cluster.log"), "a", stderr);
        (void)log;
        execlp("mpirun", "mpirun", "--oversubscribe", "--bind-to", "none", "-np", ranks_text, binary(), "run",
               "--model", model(), "--dataset", sample_tree(4), "--batch", batch_text, "--threads", threads_text,
               "-o", out, (char *)NULL);
        _exit(127);
    }
    for (int waited = 0; access(marker, F_OK) != 0 && waited < 60000; waited += 2) usleep(2000);
    pid_t ranks[8];
    int n = children(pid, ranks, 8);
    cr_assert_eq(n, 2, "found %d ranks under mpirun", n);
    kill(ranks[1], SIGKILL);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(!(WIFEXITED(status) && WEXITSTATUS(status) == 0), "mpirun succeeded although a rank was killed");
    cr_assert_neq(access(out, F_OK), 0, "a killed run left its final file");
    cr_assert_eq(run(3, 4, out, NULL), 0, "resume failed; see %s", test_path("cluster.log"));
    expect_same_results(whole, out, 0);
}

/* The Slurm scripts, run by hand with the variables Slurm would set: a job array of two shards,
 * its merge, and the MPI job through mpirun instead of srun. */
Test(cluster, slurm_scripts, .timeout = 300)
{
    const char *whole = one_process(1), *outdir = kept(test_path("slurm-shards"));
    const char *merged = kept(test_path("slurm-merged.h5"));
    char command[8192];
    for (int i = 0; i < 2; i++) {
        snprintf(command, sizeof command,
                 "SLURM_ARRAY_TASK_ID=%d SLURM_ARRAY_TASK_COUNT=2 XAIBENCH=%s bash experiments/slurm/sweep-array.sbatch "
                 "%s %s %s --batch 2 >>%s 2>&1",
                 i, binary(), model(), sample_tree(1), outdir, test_path("cluster.log"));
        cr_assert_eq(system(command), 0, "array task %d failed; see %s", i, test_path("cluster.log"));
    }
    snprintf(command, sizeof command, "XAIBENCH=%s bash experiments/slurm/merge.sbatch %s %s >>%s 2>&1", binary(),
             outdir, merged, test_path("cluster.log"));
    cr_assert_eq(system(command), 0, "merge.sbatch failed; see %s", test_path("cluster.log"));
    expect_same_results(whole, merged, 0);

    need_mpi();
    const char *mpi = kept(test_path("slurm-mpi.h5"));
    snprintf(command, sizeof command,
             "XAI_LAUNCH='mpirun --oversubscribe --bind-to none -np 2' XAIBENCH=%s bash experiments/slurm/sweep-mpi.sbatch "
             "%s %s %s --batch 2 >>%s 2>&1",
             binary(), model(), sample_tree(1), mpi, test_path("cluster.log"));
    cr_assert_eq(system(command), 0, "sweep-mpi.sbatch failed; see %s", test_path("cluster.log"));
    expect_same_results(whole, mpi, 0);
}
