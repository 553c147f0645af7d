/* registry.c - the table of attribution methods and lookup by name. */
#include <stdio.h>
#include <string.h>

#include "xai_method.h"
#include "xai_status.h"

const xai_method *const xai_methods[] = {&xai_method_saliency, &xai_method_deconvnet,
                                         &xai_method_guided_backprop, NULL};

const xai_method *xai_method_find(const char *name)
{
    for (int i = 0; xai_methods[i]; i++)
        if (strcmp(xai_methods[i]->name, name) == 0) return xai_methods[i];
    char known[256] = "";
    for (int i = 0; xai_methods[i]; i++) {
        strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
        strncat(known, xai_methods[i]->name, sizeof known - strlen(known) - 1);
    }
    xai_fail("unknown method '%s' (known: %s)", name, known);
    return NULL;
}

int xai_methods_parse(const char *list, const xai_method **out, int max)
{
    int count = 0;
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
