/* status.c - the thread-local "last error" line behind xai_fail() and xai_last_error(). */
#include <stdio.h>
#include <stdlib.h>
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

void *xai_malloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) xai_fail("out of memory (%zu bytes)", bytes);
    return p;
}

void *xai_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) xai_fail("out of memory (%zu x %zu bytes)", count, size);
    return p;
}

void *xai_malloc_pages(size_t bytes)
{
    size_t rounded = (bytes + 4095) / 4096 * 4096;
    void *p = aligned_alloc(4096, rounded ? rounded : 4096);
    if (!p) xai_fail("out of memory (%zu bytes)", bytes);
    return p;
}
