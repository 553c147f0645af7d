/* registry.c - the table of attribution methods, lookup by name, and their default settings. */
#include <stdio.h>
#include <string.h>

#include "xai_method.h"
#include "xai_status.h"

const xai_method *const xai_methods[] = {
    &xai_method_saliency,   &xai_method_deconvnet,      &xai_method_guided_backprop, &xai_method_gradient_x_input,
    &xai_method_grad_cam,   &xai_method_guided_grad_cam, &xai_method_smoothgrad,      &xai_method_integrated_gradients,
    NULL};

const xai_method *xai_method_find(const char *name)
{
    for (int i = 0; xai_methods[i]; i++)
        if (strcmp(xai_methods[i]->name, name) == 0) return xai_methods[i];
    char known[512] = "";
    for (int i = 0; xai_methods[i]; i++) {
        strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
        strncat(known, xai_methods[i]->name, sizeof known - strlen(known) - 1);
    }
    xai_fail("unknown method '%s' (known: %s, or all)", name, known);
    return NULL;
}

int xai_methods_parse(const char *list, const xai_method **out, int max)
{
    int count = 0;
    if (strcmp(list, "all") == 0) {
        while (xai_methods[count] && count < max) out[count] = xai_methods[count], count++;
        return count;
    }
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char name[64];
        if (len == 0 || len >= sizeof name) return xai_fail("bad method list '%s'", list);
        memcpy(name, p, len);
        name[len] = '\0';
        const xai_method *m = xai_method_find(name);
        if (!m) return XAI_ERR;
        for (int i = 0; i < count; i++)
            if (out[i] == m) return xai_fail("method '%s' named twice in '%s'", name, list);
        if (count == max) return xai_fail("too many methods in '%s'", list);
        out[count++] = m;
        p = end ? end + 1 : p + len;
    }
    if (count == 0) return xai_fail("empty method list");
    return count;
}

void xai_method_params_default(xai_method_params *p)
{
    *p = (xai_method_params){.samples = 50, .noise = 0.15, .base = &xai_method_saliency, .steps = 50, .layer = -1};
}

static int set_layer(xai_method_params *p, const xai_graph *g, const char *name)
{
    int found = -1, four_d = 0;
    for (int v = 0; v < g->n_values; v++) {
        four_d += g->values[v].rank == 4;
        if (!strcmp(g->values[v].name, name)) found = v;
    }
    if (found >= 0 && g->values[found].rank == 4) {
        p->layer = found;
        p->layer_name = g->values[found].name;
        return XAI_OK;
    }
    /* The last few 4-D tensors, nearest the output, where Grad-CAM's layer usually is. */
    char candidates[1024] = "";
    for (int v = g->n_values - 1, listed = 0; v >= 0 && listed < 6; v--)
        if (g->values[v].rank == 4 && v != g->input) {
            snprintf(candidates + strlen(candidates), sizeof candidates - strlen(candidates), "%s'%s'",
                     listed++ ? ", " : "", g->values[v].name);
        }
    return xai_fail("%s: --grad-cam-layer '%s' is %s; 4-D tensors near the output: %s (%d in all: xaibench model info)",
                    g->path, name, found >= 0 ? "not a 4-D tensor" : "no tensor of the model", candidates, four_d);
}

int xai_method_params_resolve(xai_method_params *p, const xai_graph *g, const char *layer_name)
{
    if (layer_name) return set_layer(p, g, layer_name);
    p->layer = -1;
    for (int i = g->n_nodes - 1; i >= 0 && p->layer < 0; i--)
        if (g->nodes[i].op == XAI_OP_GLOBALAVGPOOL) p->layer = g->nodes[i].input[0];
    p->layer_name = p->layer >= 0 ? g->values[p->layer].name : NULL;
    return XAI_OK;
}
