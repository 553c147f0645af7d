/* onnx_file.c - an ONNX file unpacked without holding its weights twice (onnx_internal.h).
 *
 * protobuf-c copies every bytes field it unpacks, so a model read whole and then unpacked sits in
 * memory twice (VGG16: 2 x 553 MB). Instead the file is mapped, and a copy of its messages is
 * made without the initializers' raw_data (walking the wire format only as deep as
 * ModelProto.graph -> GraphProto.initializer -> TensorProto.raw_data): that small copy is
 * unpacked, and each initializer's raw_data then points into the mapping, whose pages are given
 * back (madvise) as soon as the tensor has been copied out. A file that does not walk cleanly is
 * unpacked from the mapping as a whole, which reports what is wrong with it. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx_internal.h"
#include "xai_status.h"

enum { MODEL_GRAPH = 7, GRAPH_INITIALIZER = 5, TENSOR_RAW_DATA = 9, WIRE_VARINT = 0, WIRE_LEN = 2 };
typedef enum { LEVEL_MODEL, LEVEL_GRAPH, LEVEL_TENSOR } level;

static int read_varint(const uint8_t *p, size_t end, size_t *at, uint64_t *value)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && *at < end; shift += 7) {
        uint8_t b = p[(*at)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *value = v;
            return 0;
        }
    }
    return -1;
}

/* The field at *at (before `end`): its number and wire type, and its payload [*begin, *at). */
static int next_field(const uint8_t *p, size_t end, size_t *at, uint64_t *number, int *type, size_t *begin)
{
    uint64_t key, length;
    if (read_varint(p, end, at, &key)) return -1;
    *number = key >> 3, *type = (int)(key & 7);
    *begin = *at;
    switch (*type) {
    case WIRE_VARINT: return read_varint(p, end, at, &length);
    case 1: length = 8; break;
    case 5: length = 4; break;
    case WIRE_LEN:
        if (read_varint(p, end, at, &length)) return -1;
        *begin = *at;
        break;
    default: return -1; /* groups: not in ONNX */
    }
    if (length > end - *at) return -1;
    *at += length;
    return 0;
}

static size_t varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) v >>= 7, n++;
    return n;
}

static size_t put_varint(uint8_t *out, uint64_t v)
{
    size_t n = 0;
    for (; v >= 0x80; v >>= 7) out[n++] = (uint8_t)(v | 0x80);
    out[n++] = (uint8_t)v;
    return n;
}

/* Message [begin, end) of `lvl` without the initializers' raw_data: its size, and with `out` the
 * bytes themselves (recording each initializer's raw_data range in f->raw). -1 if malformed. */
static int64_t strip(onnx_file *f, level lvl, size_t begin, size_t end, uint8_t *out)
{
    const uint8_t *p = f->map;
    size_t at = begin, written = 0;
    while (at < end) {
        size_t field = at, payload;
        uint64_t number;
        int type;
        if (next_field(p, end, &at, &number, &type, &payload)) return -1;
        if (lvl == LEVEL_TENSOR && number == TENSOR_RAW_DATA && type == WIRE_LEN) {
            if (out) f->raw[f->n_raw - 1] = (onnx_raw_range){payload, at - payload};
            continue;
        }
        int deeper = type == WIRE_LEN && ((lvl == LEVEL_MODEL && number == MODEL_GRAPH) ||
                                         (lvl == LEVEL_GRAPH && number == GRAPH_INITIALIZER));
        if (!deeper) { /* copied as it is */
            if (out) memcpy(out + written, p + field, at - field);
            written += at - field;
            continue;
        }
        level inner = lvl == LEVEL_MODEL ? LEVEL_GRAPH : LEVEL_TENSOR;
        if (inner == LEVEL_TENSOR && out) f->raw[f->n_raw++] = (onnx_raw_range){0, 0};
        int64_t size = strip(f, inner, payload, at, NULL);
        if (size < 0) return -1;
        uint64_t key = number << 3 | WIRE_LEN;
        if (out) {
            written += put_varint(out + written, key);
            written += put_varint(out + written, (uint64_t)size);
            if (strip(f, inner, payload, at, out + written) != size) return -1;
        } else {
            written += varint_size(key) + varint_size((uint64_t)size);
        }
        written += (size_t)size;
    }
    return (int64_t)written;
}

/* How many initializers the graph holds (each gets a raw range). */
static size_t count_initializers(const onnx_file *f)
{
    size_t at = 0, count = 0, payload;
    uint64_t number;
    int type;
    while (at < f->size && next_field(f->map, f->size, &at, &number, &type, &payload) == 0)
        if (number == MODEL_GRAPH && type == WIRE_LEN) {
            size_t inner = payload, end = at, inner_payload;
            while (inner < end && next_field(f->map, end, &inner, &number, &type, &inner_payload) == 0)
                count += number == GRAPH_INITIALIZER && type == WIRE_LEN;
        }
    return count;
}

/* *out: the model from the stripped copy, its initializers pointing into the mapping; NULL if
 * the file does not walk cleanly or the copy does not unpack. XAI_ERR when out of memory. */
static int unpack_stripped(onnx_file *f, Onnx__ModelProto **out)
{
    *out = NULL;
    if (!(f->raw = xai_calloc(count_initializers(f) + 1, sizeof *f->raw))) return XAI_ERR;
    int64_t size = strip(f, LEVEL_MODEL, 0, f->size, NULL);
    if (size < 0) return XAI_OK;
    uint8_t *copy = xai_malloc((size_t)size + 1);
    if (!copy) return XAI_ERR;
    Onnx__ModelProto *m = NULL;
    if (strip(f, LEVEL_MODEL, 0, f->size, copy) == size) m = onnx__model_proto__unpack(NULL, (size_t)size, copy);
    free(copy);
    if (m && (!m->graph || m->graph->n_initializer != f->n_raw)) {
        onnx__model_proto__free_unpacked(m, NULL);
        m = NULL;
    }
    for (size_t k = 0; m && k < f->n_raw; k++) {
        Onnx__TensorProto *t = m->graph->initializer[k];
        if (!f->raw[k].length || t->has_raw_data) continue;
        t->raw_data.data = f->map + f->raw[k].offset;
        t->raw_data.len = f->raw[k].length;
        t->has_raw_data = 1;
    }
    *out = m;
    return XAI_OK;
}

Onnx__ModelProto *onnx_file_unpack(onnx_file *f, const char *path)
{
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        xai_fail("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        xai_fail("%s: cannot read: %s", path, errno ? strerror(errno) : "not a regular file");
        close(fd);
        return NULL;
    }
    if (st.st_size == 0) {
        close(fd);
        xai_fail("%s: empty file, not an ONNX model", path);
        return NULL;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        xai_fail("%s: cannot map: %s", path, strerror(errno));
        return NULL;
    }
    f->map = map, f->size = (size_t)st.st_size;
    madvise(map, f->size, MADV_SEQUENTIAL);
    Onnx__ModelProto *m;
    if (unpack_stripped(f, &m)) {
        onnx_file_close(f, NULL);
        return NULL;
    }
    if (!m) { /* does not walk cleanly: unpacked whole, and protobuf-c says whether it is valid */
        f->n_raw = 0;
        if (!(m = onnx__model_proto__unpack(NULL, f->size, f->map)))
            xai_fail("%s: not a valid ONNX model (truncated or corrupt protobuf)", path);
    }
    if (!m) onnx_file_close(f, NULL);
    return m;
}

int onnx_file_owns(const onnx_file *f, const void *data)
{
    const uint8_t *p = data;
    return f && f->map && p >= f->map && p < f->map + f->size;
}

/* The pages of [data, data + length) in the mapping are read: give them back. */
static void onnx_file_release(onnx_file *f, const void *data, size_t length)
{
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t begin = ((uintptr_t)data + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    uintptr_t end = ((uintptr_t)data + length) & ~((uintptr_t)page - 1);
    if (onnx_file_owns(f, data) && end > begin) madvise((void *)begin, end - begin, MADV_DONTNEED);
}

void onnx_file_copy(onnx_file *f, void *dst, const void *src, size_t length)
{
    enum { PIECE = 8 << 20 }; /* the mapping's pages are given back every 8 MB copied */
    for (size_t done = 0; done < length; done += PIECE) {
        size_t n = length - done < PIECE ? length - done : PIECE;
        memcpy((char *)dst + done, (const char *)src + done, n);
        onnx_file_release(f, (const char *)src + done, n);
    }
}

void onnx_file_close(onnx_file *f, Onnx__ModelProto *m)
{
    for (size_t k = 0; m && m->graph && k < m->graph->n_initializer; k++) {
        Onnx__TensorProto *t = m->graph->initializer[k];
        if (onnx_file_owns(f, t->raw_data.data)) t->raw_data.data = NULL, t->raw_data.len = 0;
    }
    if (m) onnx__model_proto__free_unpacked(m, NULL);
    if (f->map) munmap(f->map, f->size);
    free(f->raw);
    memset(f, 0, sizeof *f);
}
