/* output_lock.c - OUT.lock: an exclusive fcntl lock on a small file beside the output, naming
 * its holder (see xai_output_lock.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "xai_output_lock.h"
#include "xai_status.h"

struct xai_output_lock {
    int fd;
    char path[];
};

static int lock_whole_file(int fd)
{
    struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    return fcntl(fd, F_SETLK, &l);
}

/* The holder's line, read from the lock file, into `holder` ("" when unreadable). */
static void read_holder(int fd, char *holder, size_t size)
{
    ssize_t n = pread(fd, holder, size - 1, 0);
    holder[n > 0 ? n : 0] = '\0';
    holder[strcspn(holder, "\n")] = '\0';
}

/* Open and lock `path`; the file may be replaced between the open and the lock by a holder
 * that finishes and removes it, so the lock counts only when the path still names the file. */
static int open_locked(const char *path, const char *output, int *fd_out)
{
    for (;;) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) return xai_fail("%s: cannot create: %s", path, strerror(errno));
        if (lock_whole_file(fd) != 0) {
            int why = errno;
            char holder[256];
            read_holder(fd, holder, sizeof holder);
            close(fd);
            if (why == EACCES || why == EAGAIN)
                return xai_fail("%s: in use by another xaibench (%s); wait for it to end, or use another -o",
                                output, holder[0] ? holder : "holder unknown");
            return xai_fail("%s: cannot lock: %s", path, strerror(why));
        }
        struct stat opened, named;
        if (fstat(fd, &opened) == 0 && stat(path, &named) == 0 && opened.st_ino == named.st_ino &&
            opened.st_dev == named.st_dev) {
            *fd_out = fd;
            return XAI_OK;
        }
        close(fd); /* removed by its last holder meanwhile: take the new one */
    }
}

int xai_output_lock_take(xai_output_lock **out, const char *output)
{
    *out = NULL;
    size_t length = strlen(output) + sizeof ".lock";
    xai_output_lock *lock = xai_malloc(sizeof *lock + length);
    if (!lock) return XAI_ERR;
    snprintf(lock->path, length, "%s.lock", output);
    if (open_locked(lock->path, output, &lock->fd)) {
        free(lock);
        return XAI_ERR;
    }
    char host[128] = "?", date[64] = "", line[512];
    gethostname(host, sizeof host - 1);
    time_t now = time(NULL);
    struct tm utc;
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &utc));
    int n = snprintf(line, sizeof line, "pid %ld on %s, since %s\n", (long)getpid(), host, date);
    if (ftruncate(lock->fd, 0) != 0 || pwrite(lock->fd, line, (size_t)n, 0) != n) {
        xai_fail("%s: cannot write (disk full?)", lock->path);
        xai_output_lock_release(lock);
        return XAI_ERR;
    }
    *out = lock;
    return XAI_OK;
}

void xai_output_lock_release(xai_output_lock *lock)
{
    if (!lock) return;
    unlink(lock->path); /* while still held: a waiting open then finds the path gone */
    close(lock->fd);
    free(lock);
}
