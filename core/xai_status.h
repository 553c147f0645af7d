/* xai_status.h - how every fallible xaibench function reports failure.
 *
 * A function that can fail returns XAI_OK (0) or XAI_ERR (-1). On failure it has recorded one
 * human-readable line, "FILE: what is wrong" where a file is involved, in a thread-local buffer
 * that xai_last_error() returns. Callers that only propagate the failure return XAI_ERR without
 * touching the message, so the first, most precise cause is the one reported. Control characters
 * in the message (from names inside a file) become '?', so that it stays one line. */
#ifndef XAI_STATUS_H
#define XAI_STATUS_H

#include <stdarg.h>
#include <stddef.h>

enum { XAI_OK = 0, XAI_ERR = -1 };

#if defined(__GNUC__)
#define XAI_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#else
#define XAI_PRINTF(fmt_index, first_arg)
#endif

/* Record the message of the current failure and return XAI_ERR, so that
 * `return xai_fail("%s: truncated", path);` reads as one step. */
int xai_fail(const char *fmt, ...) XAI_PRINTF(1, 2);

/* The last recorded failure message of this thread ("" when none). */
const char *xai_last_error(void);

/* Forget the last message (tests use it between cases). */
void xai_clear_error(void);

/* Allocation that records "out of memory (N bytes)" on failure and returns NULL. */
void *xai_malloc(size_t bytes);
void *xai_calloc(size_t count, size_t size);

void *xai_realloc(void *old, size_t bytes);
char *xai_strdup(const char *text);
/* printf into a string of its own length (paths, names: no fixed buffers); NULL when out of
 * memory (recorded). */
char *xai_format(const char *fmt, ...) XAI_PRINTF(1, 2);
/* On an `alignment`-byte boundary (a power of two), the size rounded up to it; free() frees it. */
void *xai_aligned_alloc(size_t alignment, size_t bytes);

/* The same on a 4096-byte boundary (buffers written to files opened O_DIRECT); free() frees it. */
void *xai_malloc_pages(size_t bytes);

/* Fault injection, for tests: the k-th allocation through the functions above from now on
 * fails as if memory were exhausted (k >= 1; 0: none), and the allocations since the last call
 * are counted. */
void xai_fail_allocation(long k);
long xai_allocation_count(void);

#endif
