/* fuzz_input.c - the scratch directory and input file of a harness (see fuzz_input.h). It lives
 * in /dev/shm when there is one (no disk writes per input) and is removed at exit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_input.h"

static char dir[256];

static void remove_scratch(void)
{
    char command[300];
    snprintf(command, sizeof command, "rm -rf '%s'", dir);
    if (dir[0] && system(command) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

const char *fuzz_scratch_dir(void)
{
    if (dir[0]) return dir;
    snprintf(dir, sizeof dir, "%s/xaibench-fuzz-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(dir)) {
        perror(dir);
        abort();
    }
    atexit(remove_scratch);
    return dir;
}

const char *fuzz_input_file(const char *name, const uint8_t *data, size_t size)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", fuzz_scratch_dir(), name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
        perror(path);
        abort();
    }
    return path;
}
