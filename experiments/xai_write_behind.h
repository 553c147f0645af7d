/* xai_write_behind.h - a thread that writes finished work while the caller computes the next:
 * the caller fills one of two slots, posts it, and fills the other while the thread runs
 * write(context, slot) on the posted ones in the order they were posted. */
#ifndef XAI_WRITE_BEHIND_H
#define XAI_WRITE_BEHIND_H

#define XAI_WRITE_BEHIND_SLOTS 2

typedef struct xai_write_behind xai_write_behind;

/* write() returns XAI_OK or XAI_ERR with its message (xai_fail) set in the writing thread. */
int xai_write_behind_start(xai_write_behind **out, int (*write)(void *context, int slot), void *context);

/* Wait until `slot` is free to fill again (its last posted write is done); adds the seconds
 * waited to *waited. XAI_ERR with the failed write's message once any write has failed. */
int xai_write_behind_claim(xai_write_behind *w, int slot, double *waited);

/* Hand a filled slot to the thread. */
void xai_write_behind_post(xai_write_behind *w, int slot);

/* Wait for the posted writes, stop the thread and free w (NULL: nothing to do). `status` is the
 * caller's own so far: when it is XAI_ERR it is returned with the caller's message, else the
 * writes' outcome. Writes posted after a failed one are not run. */
int xai_write_behind_finish(xai_write_behind *w, int status);

#endif
