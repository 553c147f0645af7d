/* xai_clock.h - the monotonic clock that every timing in xaibench reads. */
#ifndef XAI_CLOCK_H
#define XAI_CLOCK_H

#include <time.h>

/* Seconds since an arbitrary fixed point (CLOCK_MONOTONIC): differences are durations. */
static inline double xai_now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

#endif
