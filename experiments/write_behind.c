/* write_behind.c - the writing thread of xai_write_behind.h: a queue of at most two posted slots
 * under one mutex, the first failure's message kept for the caller's thread. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "xai_clock.h"
#include "xai_status.h"
#include "xai_write_behind.h"

struct xai_write_behind {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int (*write)(void *context, int slot);
    void *context;
    int queue[XAI_WRITE_BEHIND_SLOTS], head, queued; /* posted slots, oldest at head */
    int busy[XAI_WRITE_BEHIND_SLOTS];                /* posted and not yet written */
    int stopping, failed;
    char error[1024];
};

static void *write_posted(void *arg)
{
    xai_write_behind *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (w->queued == 0 && !w->stopping) pthread_cond_wait(&w->changed, &w->lock);
        if (w->queued == 0) break;
        int slot = w->queue[w->head], skip = w->failed;
        pthread_mutex_unlock(&w->lock);
        int status = skip ? XAI_ERR : w->write(w->context, slot);
        pthread_mutex_lock(&w->lock);
        if (status != XAI_OK && !w->failed) {
            w->failed = 1;
            snprintf(w->error, sizeof w->error, "%s", xai_last_error());
        }
        w->head = (w->head + 1) % XAI_WRITE_BEHIND_SLOTS;
        w->queued--;
        w->busy[slot] = 0;
        pthread_cond_broadcast(&w->changed);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int xai_write_behind_start(xai_write_behind **out, int (*write)(void *context, int slot), void *context)
{
    xai_write_behind *w = *out = xai_calloc(1, sizeof *w);
    if (!w) return XAI_ERR;
    w->write = write;
    w->context = context;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->changed, NULL);
    if (pthread_create(&w->thread, NULL, write_posted, w) != 0) {
        pthread_cond_destroy(&w->changed);
        pthread_mutex_destroy(&w->lock);
        free(w);
        *out = NULL;
        return xai_fail("cannot start the writing thread");
    }
    return XAI_OK;
}

int xai_write_behind_claim(xai_write_behind *w, int slot, double *waited)
{
    double started = xai_now_seconds();
    pthread_mutex_lock(&w->lock);
    while (w->busy[slot] && !w->failed) pthread_cond_wait(&w->changed, &w->lock);
    int status = w->failed ? xai_fail("%s", w->error) : XAI_OK;
    pthread_mutex_unlock(&w->lock);
    *waited += xai_now_seconds() - started;
    return status;
}

void xai_write_behind_post(xai_write_behind *w, int slot)
{
    pthread_mutex_lock(&w->lock);
    w->busy[slot] = 1;
    w->queue[(w->head + w->queued) % XAI_WRITE_BEHIND_SLOTS] = slot;
    w->queued++;
    pthread_cond_broadcast(&w->changed);
    pthread_mutex_unlock(&w->lock);
}

int xai_write_behind_finish(xai_write_behind *w, int status)
{
    if (!w) return status;
    pthread_mutex_lock(&w->lock);
    w->stopping = 1;
    pthread_cond_broadcast(&w->changed);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    if (status == XAI_OK && w->failed) status = xai_fail("%s", w->error);
    pthread_cond_destroy(&w->changed);
    pthread_mutex_destroy(&w->lock);
    free(w);
    return status;
}
