/* mat_check.c - a MATLAB v5 .mat file's declared sizes checked against its bytes before matio
 * reads it (mat_check.h). matio allocates and loops over what a variable's dimensions declare:
 * a 320-byte file declaring a cell array of 2^31 cells kept it busy for minutes. Here every
 * variable, and every cell inside one, must declare no more elements than its data element can
 * hold: a cell takes a tag of 8 bytes, a character or number at least one byte. Compressed
 * variables (what MATLAB writes) are inflated with zlib first, up to MAX_INFLATED bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "mat_check.h"
#include "xai_status.h"

enum {
    HEADER = 128,
    MI_INT32 = 5, MI_UINT32 = 6, MI_MATRIX = 14, MI_COMPRESSED = 15,
    CLASS_CELL = 1, CLASS_CHAR = 4, CLASS_DOUBLE = 6, CLASS_UINT64 = 15,
    MAX_DEPTH = 8,
    MAX_FILE = 256 << 20, MAX_INFLATED = 256 << 20,
};

typedef struct {
    const uint8_t *data;
    size_t size;
    int swap;            /* the file is big-endian */
} bytes;

static uint32_t u32(const bytes *b, size_t at)
{
    uint32_t v;
    memcpy(&v, b->data + at, 4);
    return b->swap ? __builtin_bswap32(v) : v;
}

/* The data element whose tag is at `at`, within [at, end): its type, its data and where the
 * next one starts (8-byte aligned, except after a compressed one). 0 when it does not fit. */
static int element(const bytes *b, size_t at, size_t end, uint32_t *type, size_t *data, size_t *length, size_t *next)
{
    if (at > end || end - at < 8) return 0;
    uint32_t first = u32(b, at);
    if (first >> 16) { /* small element: type and length in 4 bytes, data in the next 4 */
        *type = first & 0xffff, *length = first >> 16, *data = at + 4, *next = at + 8;
        return *length <= 4;
    }
    *type = first, *length = u32(b, at + 4), *data = at + 8;
    if (*length > end - *data) return 0;
    size_t padded = first == MI_COMPRESSED ? *length : (*length + 7) / 8 * 8;
    *next = padded > end - *data ? end : *data + padded;
    return 1;
}

/* The miMATRIX whose tag is at `at`, read in order as matio reads it: its flags, dimensions and
 * name, then one data element (characters, numbers) or its cells, each a miMATRIX again. Its own
 * length is not trusted (matio writes cells in compressed variables 8 bytes longer than they
 * are); *after is where its content really ends. */
static int check_matrix(const bytes *b, size_t at, size_t end, int depth, size_t *after)
{
    uint32_t type;
    size_t data, length, next;
    if (depth > MAX_DEPTH || at > end || end - at < 8 || u32(b, at) != MI_MATRIX) return 0;
    if (u32(b, at + 4) == 0) { /* an empty matrix (an empty cell) */
        *after = at + 8;
        return 1;
    }
    if (!element(b, at + 8, end, &type, &data, &length, &next) || type != MI_UINT32 || length < 4) return 0;
    uint32_t klass = u32(b, data) & 0xff, complex = u32(b, data) & 0x800;
    if (!element(b, next, end, &type, &data, &length, &next) || type != MI_INT32 || length < 8 || length % 4)
        return 0;
    uint64_t count = 1;
    for (size_t d = 0; d < length / 4; d++) {
        uint32_t dim = u32(b, data + 4 * d);
        if (dim > INT32_MAX || (dim && count > UINT64_MAX / dim)) return 0;
        count *= dim;
    }
    if (!element(b, next, end, &type, &data, &length, &next)) return 0; /* the name */
    if (klass == CLASS_CHAR || (klass >= CLASS_DOUBLE && klass <= CLASS_UINT64)) {
        for (int part = 0; part < (complex ? 2 : 1); part++) /* real, then imaginary */
            if (!element(b, next, end, &type, &data, &length, &next) || count > length) return 0;
        *after = next;
        return 1;
    }
    if (klass != CLASS_CELL) return 0; /* structs, objects, sparse: never in a list */
    for (uint64_t k = 0; k < count; k++) /* each cell takes a tag of 8 bytes at least */
        if ((end - next) / 8 < count - k || !check_matrix(b, next, end, depth + 1, &next)) return 0;
    *after = next;
    return 1;
}

/* A compressed variable: inflated, then one miMATRIX element. */
static int check_compressed(const bytes *b, size_t at, size_t length, const char *path)
{
    z_stream z = {0};
    if (inflateInit(&z) != Z_OK) return xai_fail("%s: zlib: cannot start inflating", path);
    size_t capacity = 1 << 16, used = 0;
    uint8_t *out = xai_malloc(capacity);
    int status = out ? Z_OK : Z_MEM_ERROR;
    z.next_in = (uint8_t *)b->data + at, z.avail_in = (uInt)length;
    while (status == Z_OK) {
        if (used == capacity) {
            uint8_t *grown = capacity < MAX_INFLATED ? realloc(out, capacity * 2) : NULL;
            if (!grown) break;
            out = grown, capacity *= 2;
        }
        z.next_out = out + used, z.avail_out = (uInt)(capacity - used);
        status = inflate(&z, Z_NO_FLUSH);
        used = capacity - z.avail_out;
        if (status == Z_BUF_ERROR && z.avail_in == 0) break; /* truncated: judge what came out */
    }
    inflateEnd(&z);
    bytes inner = {out, used, b->swap};
    size_t after;
    int ok = out && status != Z_MEM_ERROR && check_matrix(&inner, 0, used, 0, &after);
    int full = used == capacity && capacity >= MAX_INFLATED;
    free(out);
    if (full) return xai_fail("%s: a compressed variable inflates past %d MB", path, MAX_INFLATED >> 20);
    return ok ? XAI_OK : xai_fail("%s: a variable declares more elements than its data holds (a corrupt .mat file)",
                                  path);
}

int xai_mat_check_sizes(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return xai_fail("%s: cannot open", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    if (size < HEADER || size > MAX_FILE) {
        fclose(f);
        return xai_fail("%s: %ld bytes is no MATLAB v5 .mat file of a list", path, size);
    }
    uint8_t *data = xai_malloc((size_t)size);
    size_t got = data ? fread(data, 1, (size_t)size, f) : 0;
    fclose(f);
    if (got != (size_t)size) {
        free(data);
        return data ? xai_fail("%s: cannot read", path) : XAI_ERR;
    }
    bytes b = {data, (size_t)size, data[126] == 'M' && data[127] == 'I'};
    int status = XAI_OK;
    for (size_t at = HEADER, next = 0; status == XAI_OK && at + 8 <= b.size; at = next) {
        uint32_t type;
        size_t start, length;
        if (!element(&b, at, b.size, &type, &start, &length, &next))
            status = xai_fail("%s: a data element runs past the end of the file", path);
        else if (type == MI_COMPRESSED) status = check_compressed(&b, start, length, path);
        else if (type == MI_MATRIX && !check_matrix(&b, at, b.size, 0, &start))
            status = xai_fail("%s: a variable declares more elements than its data holds (a corrupt .mat file)", path);
    }
    free(data);
    return status;
}
