/* xai_output_lock.h - one writer per results file. `explain` and `run` hold OUT.lock (an fcntl
 * lock, which Linux also honours on NFS) from start to end, so that a second process, or a
 * second MPI job, naming the same -o is refused at once, before it touches anything of the
 * first's. The lock file says who holds it; the kernel drops the lock when its holder dies, so
 * a killed run leaves nothing stale behind and the same command resumes. */
#ifndef XAI_OUTPUT_LOCK_H
#define XAI_OUTPUT_LOCK_H

typedef struct xai_output_lock xai_output_lock;

/* Take OUT.lock for `output`, or fail with "OUT: in use by another xaibench (pid P on host H,
 * since DATE)". */
int xai_output_lock_take(xai_output_lock **out, const char *output);

/* Remove the lock file and release it (NULL: nothing). */
void xai_output_lock_release(xai_output_lock *lock);

#endif
