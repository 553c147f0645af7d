/* status.c - the thread-local "last error" line behind xai_fail() and xai_last_error(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "xai_status.h"

static _Thread_local char last_error[1024];

int xai_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    /* One line whatever a file put into it (names in a model, text in an annotation). */
    for (char *c = last_error; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
    return XAI_ERR;
}

const char *xai_last_error(void) { return last_error; }

void xai_clear_error(void) { last_error[0] = '\0'; }

/* Fault injection (xai_fail_allocation): allocations counted from the last call, and the one
 * that is to fail (0: none). */
static _Atomic long allocations, failing_allocation;

void xai_fail_allocation(long k)
{
    allocations = 0;
    failing_allocation = k;
}

long xai_allocation_count(void) { return allocations; }

/* Count this allocation; true when it is the one to fail. */
static int injected_failure(void)
{
    long k = ++allocations;
    return failing_allocation && k == failing_allocation;
}

void *xai_malloc(size_t bytes)
{
    void *p = injected_failure() ? NULL : malloc(bytes ? bytes : 1);
    if (!p) xai_fail("out of memory (%zu bytes)", bytes);
    return p;
}

void *xai_calloc(size_t count, size_t size)
{
    void *p = injected_failure() ? NULL : calloc(count ? count : 1, size ? size : 1);
    if (!p) xai_fail("out of memory (%zu x %zu bytes)", count, size);
    return p;
}

void *xai_realloc(void *old, size_t bytes)
{
    void *p = injected_failure() ? NULL : realloc(old, bytes ? bytes : 1);
    if (!p) xai_fail("out of memory (%zu bytes)", bytes);
    return p;
}

char *xai_strdup(const char *text)
{
    char *p = injected_failure() ? NULL : strdup(text);
    if (!p) xai_fail("out of memory (%zu bytes)", strlen(text) + 1);
    return p;
}

char *xai_format(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *text = n >= 0 ? xai_malloc((size_t)n + 1) : NULL;
    if (text) {
        va_start(ap, fmt);
        vsnprintf(text, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return text;
}

void *xai_aligned_alloc(size_t alignment, size_t bytes)
{
    size_t rounded = (bytes + alignment - 1) / alignment * alignment;
    void *p = injected_failure() ? NULL : aligned_alloc(alignment, rounded ? rounded : alignment);
    if (!p) xai_fail("out of memory (%zu bytes)", bytes);
    return p;
}

void *xai_malloc_pages(size_t bytes) { return xai_aligned_alloc(4096, bytes); }
