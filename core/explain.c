/* explain.c - several attribution methods from one forward pass (the activation outputs and
 * max-pool choices of that forward are shared), with the target chosen per image. */

#include "xai_clock.h"
#include "xai_engine.h"
#include "xai_graph.h"
#include "xai_status.h"

int xai_engine_explain(xai_engine *e, const xai_explain_request *rq)
{
    int batch = xai_engine_batch(e);
    double t0 = 1e3 * xai_now_seconds();
    if (xai_engine_forward(e, rq->input, rq->logits)) return XAI_ERR;
    if (rq->ms_forward) *rq->ms_forward = 1e3 * xai_now_seconds() - t0;
    /* Targets: as given, or the top logit ("auto"). */
    int classes = 0;
    for (int n = 0; n < batch; n++) {
        int t = rq->targets ? rq->targets[n] : -1;
        if (t < 0) {
            if (!rq->logits) return xai_fail("explain: automatic targets need the logits");
            if (!classes) classes = xai_engine_classes(e);
            const float *row = rq->logits + (size_t)n * classes;
            t = 0;
            for (int k = 1; k < classes; k++)
                if (row[k] > row[t]) t = k;
        }
        rq->targets_out[n] = t;
    }
    for (int m = 0; m < rq->n_methods; m++) {
        double t1 = 1e3 * xai_now_seconds();
        if (xai_engine_backward(e, rq->methods[m], rq->targets_out, rq->maps[m])) return XAI_ERR;
        if (rq->ms_methods) rq->ms_methods[m] = 1e3 * xai_now_seconds() - t1;
    }
    return XAI_OK;
}
