/* mat_lists.c - the split lists of Stanford Dogs (MATLAB .mat files) read and written with
 * matio: `file_list` and `annotation_list`, cell arrays of strings (8- or 16-bit characters),
 * and `labels`, count x 1 doubles. */
#include <stdlib.h>
#include <string.h>

#include <matio.h>

#include "mat_check.h"
#include "xai_dogs.h"
#include "xai_status.h"

enum { MAX_NAME = 4096, MAX_LIST = 10000000 }; /* a path; more than Stanford Dogs' 20580 images */

/* A cell's characters as a string; NULL unless it is a row of at most MAX_NAME ASCII characters
 * that the data read from the file really holds (its declared dims alone are not trusted). */
static char *cell_string(const matvar_t *cell)
{
    if (!cell || cell->class_type != MAT_C_CHAR || cell->rank != 2 || !cell->data) return NULL;
    size_t width;
    if (cell->data_type == MAT_T_UINT16 || cell->data_type == MAT_T_UTF16) width = 2;
    else if (cell->data_type == MAT_T_UINT8 || cell->data_type == MAT_T_UTF8 || cell->data_type == MAT_T_INT8)
        width = 1;
    else return NULL;
    size_t n;
    if (__builtin_mul_overflow(cell->dims[0], cell->dims[1], &n) || n > MAX_NAME || n * width > cell->nbytes)
        return NULL;
    char *s = xai_malloc(n + 1);
    if (!s) return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned v = width == 2 ? ((const unsigned short *)cell->data)[i] : ((const unsigned char *)cell->data)[i];
        if (v == 0 || v > 127) { /* Stanford Dogs names are ASCII */
            free(s);
            return NULL;
        }
        s[i] = (char)v;
    }
    s[n] = '\0';
    return s;
}

int xai_mat_file_list(const char *path, char ***names, int *count)
{
    *names = NULL;
    *count = 0;
    if (xai_mat_check_sizes(path)) return XAI_ERR; /* before matio trusts them */
    mat_t *mat = Mat_Open(path, MAT_ACC_RDONLY);
    if (!mat) return xai_fail("%s: cannot open as a MATLAB .mat file", path);
    matvar_t *list = Mat_VarRead(mat, "file_list");
    int status = XAI_OK;
    if (!list || list->class_type != MAT_C_CELL) {
        status = xai_fail("%s: no cell array 'file_list' (not a Stanford Dogs list)", path);
        goto done;
    }
    size_t n = 1;
    for (int d = 0; d < list->rank && n <= MAX_LIST; d++)
        if (__builtin_mul_overflow(n, list->dims[d], &n)) n = (size_t)MAX_LIST + 1;
    if (n > MAX_LIST) {
        status = xai_fail("%s: file_list declares more than %d entries", path, MAX_LIST);
        goto done;
    }
    *names = xai_calloc(n ? n : 1, sizeof **names);
    if (!*names) {
        status = xai_fail("%s: out of memory", path);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        (*names)[i] = cell_string(Mat_VarGetCell(list, (int)i));
        if (!(*names)[i]) {
            status = xai_fail("%s: file_list entry %zu is not a string", path, i + 1);
            goto done;
        }
        (*count)++;
    }
done:
    if (list) Mat_VarFree(list);
    Mat_Close(mat);
    if (status) {
        for (int i = 0; i < *count; i++) free((*names)[i]);
        free(*names);
        *names = NULL;
        *count = 0;
    }
    return status;
}

/* A count x 1 cell array of char rows; the cells are owned by the returned variable. */
static matvar_t *string_cells(const char *name, const char *const *strings, int count, int strip_extension)
{
    size_t dims[2] = {(size_t)count, 1};
    matvar_t **cells = xai_calloc((size_t)count + 1, sizeof *cells);
    if (!cells) return NULL;
    for (int i = 0; i < count; i++) {
        size_t n = strlen(strings[i]);
        const char *dot = strrchr(strings[i], '.'), *slash = strrchr(strings[i], '/');
        if (strip_extension && dot && (!slash || dot > slash)) n = (size_t)(dot - strings[i]);
        size_t cell_dims[2] = {1, n};
        cells[i] = Mat_VarCreate(NULL, MAT_C_CHAR, MAT_T_UINT8, 2, cell_dims, (void *)strings[i], 0);
    }
    matvar_t *var = Mat_VarCreate(name, MAT_C_CELL, MAT_T_CELL, 2, dims, cells, 0);
    free(cells); /* Mat_VarCreate copied the pointer array and owns the cells */
    return var;
}

int xai_mat_write_file_list(const char *path, const char *const *names, const double *labels, int count)
{
    mat_t *mat = Mat_CreateVer(path, NULL, MAT_FT_MAT5);
    if (!mat) return xai_fail("%s: cannot create", path);
    size_t dims[2] = {(size_t)count, 1};
    matvar_t *vars[3] = {string_cells("file_list", names, count, 0),
                         string_cells("annotation_list", names, count, 1),
                         Mat_VarCreate("labels", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dims, (void *)labels, 0)};
    int status = XAI_OK;
    for (int v = 0; v < 3; v++) {
        if (!vars[v] || Mat_VarWrite(mat, vars[v], MAT_COMPRESSION_NONE) != 0)
            status = xai_fail("%s: cannot write the list", path);
        if (vars[v]) Mat_VarFree(vars[v]);
    }
    Mat_Close(mat);
    return status;
}
