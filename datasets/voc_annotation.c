/* voc_annotation.c - PASCAL VOC XML (as Stanford Dogs ships it) read and written with libxml2:
 * <annotation><size><width/><height/></size><object><bndbox><xmin/>...</bndbox></object>...
 * Every box must lie inside the declared image size and have positive area. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "xai_dogs.h"
#include "xai_status.h"

static xmlNode *child(xmlNode *parent, const char *name)
{
    for (xmlNode *n = parent ? parent->children : NULL; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0) return n;
    return NULL;
}

/* The integer text of parent/name; 0 with *ok cleared when absent, not a number, or beyond any
 * image's size (|v| > 1e9, which could not even be converted to a long). */
static long number(xmlNode *parent, const char *name, int *ok)
{
    xmlNode *n = child(parent, name);
    xmlChar *text = n ? xmlNodeGetContent(n) : NULL;
    char *end = NULL;
    double v = text ? strtod((const char *)text, &end) : 0;
    int bad = !text || end == (char *)text || !(v >= -1e9 && v <= 1e9);
    xmlFree(text);
    if (bad) {
        *ok = 0;
        return 0;
    }
    return (long)v;
}

/* libxml2 prints some errors (a bad encoding) through its generic channel, which the parse
 * options do not silence; a bad annotation gets our one line only. */
static void silent(void *context, const char *fmt, ...)
{
    (void)context, (void)fmt;
}

int xai_voc_read(const char *path, xai_box **boxes, int *n_boxes, int *width, int *height)
{
    *boxes = NULL;
    *n_boxes = *width = *height = 0;
    xmlSetGenericErrorFunc(NULL, silent);
    xmlDoc *doc = xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) return xai_fail("%s: not a readable XML annotation", path);
    xmlNode *root = xmlDocGetRootElement(doc);
    int status = XAI_OK, ok = 1;
    if (!root || strcmp((const char *)root->name, "annotation") != 0) {
        status = xai_fail("%s: no <annotation> root element", path);
        goto done;
    }
    xmlNode *size = child(root, "size");
    if (size) {
        *width = (int)number(size, "width", &ok);
        *height = (int)number(size, "height", &ok);
        if (!ok || *width < 0 || *height < 0) {
            status = xai_fail("%s: bad <size>", path);
            goto done;
        }
    }
    for (xmlNode *o = root->children; o; o = o->next) {
        if (o->type != XML_ELEMENT_NODE || strcmp((const char *)o->name, "object") != 0) continue;
        xmlNode *b = child(o, "bndbox");
        long x0 = number(b, "xmin", &ok), y0 = number(b, "ymin", &ok);
        long x1 = number(b, "xmax", &ok), y1 = number(b, "ymax", &ok);
        if (!b || !ok) {
            status = xai_fail("%s: an <object> without a complete <bndbox>", path);
            goto done;
        }
        if (x0 < 1 || y0 < 1 || x1 < x0 || y1 < y0 || (*width && x1 > *width) || (*height && y1 > *height)) {
            status = xai_fail("%s: box (%ld,%ld)-(%ld,%ld) is outside the %dx%d image", path, x0, y0,
                              x1, y1, *width, *height);
            goto done;
        }
        xai_box *grown = xai_realloc(*boxes, (size_t)(*n_boxes + 1) * sizeof *grown);
        if (!grown) {
            status = xai_fail("%s: out of memory", path);
            goto done;
        }
        *boxes = grown;
        (*boxes)[(*n_boxes)++] = (xai_box){(float)(x0 - 1), (float)(y0 - 1), (float)x1, (float)y1};
    }
done:
    xmlFreeDoc(doc);
    if (status) {
        free(*boxes);
        *boxes = NULL;
        *n_boxes = 0;
    }
    return status;
}

int xai_voc_write(const char *path, const char *folder, const char *filename, int width,
                  int height, const char *object_name, const xai_box *boxes, int n_boxes)
{
    xmlDoc *doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNode *root = xmlNewNode(NULL, BAD_CAST "annotation");
    xmlDocSetRootElement(doc, root);
    char text[64];
    xmlNewTextChild(root, NULL, BAD_CAST "folder", BAD_CAST folder);
    xmlNewTextChild(root, NULL, BAD_CAST "filename", BAD_CAST filename);
    xmlNode *size = xmlNewChild(root, NULL, BAD_CAST "size", NULL);
    snprintf(text, sizeof text, "%d", width);
    xmlNewTextChild(size, NULL, BAD_CAST "width", BAD_CAST text);
    snprintf(text, sizeof text, "%d", height);
    xmlNewTextChild(size, NULL, BAD_CAST "height", BAD_CAST text);
    xmlNewTextChild(size, NULL, BAD_CAST "depth", BAD_CAST "3");
    for (int i = 0; i < n_boxes; i++) {
        xmlNode *o = xmlNewChild(root, NULL, BAD_CAST "object", NULL);
        xmlNewTextChild(o, NULL, BAD_CAST "name", BAD_CAST object_name);
        xmlNode *b = xmlNewChild(o, NULL, BAD_CAST "bndbox", NULL);
        const long v[4] = {(long)boxes[i].x0 + 1, (long)boxes[i].y0 + 1, (long)boxes[i].x1, (long)boxes[i].y1};
        static const char *const names[4] = {"xmin", "ymin", "xmax", "ymax"};
        for (int k = 0; k < 4; k++) {
            snprintf(text, sizeof text, "%ld", v[k]);
            xmlNewTextChild(b, NULL, BAD_CAST names[k], BAD_CAST text);
        }
    }
    int written = xmlSaveFormatFileEnc(path, doc, "UTF-8", 1);
    xmlFreeDoc(doc);
    return written < 0 ? xai_fail("%s: cannot write the annotation", path) : XAI_OK;
}
