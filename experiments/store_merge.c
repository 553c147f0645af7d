/* store_merge.c - joins result files of one layout into one (xai_store_merge, see xai_store.h).
 * The rows of every part are counted first, the merged datasets are created at their final
 * size, and each part's rows are written at their offset. A team of processes shares the parts
 * out round by round (part p to member p mod size) and writes into one file through MPI-IO. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store_hdf5.h"
#include "xai_status.h"

typedef struct {
    char *name;
    hid_t type, create; /* the first part's */
    int rank;
    hsize_t dims[8];    /* dims[0]: rows in the first part; the rest: one row's shape */
    size_t row_bytes;
} merged_set;

/* What a part may declare: a row (one image of one dataset) of at most 1 GiB, and no more data
 * in a dataset than its file can hold: the file's size unfiltered, 1032 times it deflated
 * (deflate's largest ratio). A corrupt shape is refused before a dataset is laid out for it. */
#define MAX_ROW_BYTES ((size_t)1 << 30)
#define DEFLATE_MAX_RATIO 1032

typedef struct {
    const char *path;
    const char *const *parts;
    int n_parts, n_sets;
    merged_set *sets;
    long long *rows;    /* [part][set] */
    long long *first;   /* [part][set]: where the part's rows go in the merged dataset */
    hid_t *out_sets;
} merge;

static herr_t list_dataset(hid_t root, const char *name, const H5O_info_t *info, void *data)
{
    merge *m = data;
    if (info->type != H5O_TYPE_DATASET) return 0;
    merged_set *grown = xai_realloc(m->sets, (size_t)(m->n_sets + 1) * sizeof *grown);
    if (!grown) return -1;
    m->sets = grown;
    merged_set *s = &m->sets[m->n_sets];
    memset(s, 0, sizeof *s);
    if (!(s->name = xai_strdup(name))) return -1;
    m->n_sets++;
    hid_t d = H5Dopen2(root, name, H5P_DEFAULT);
    if (d < 0) return -1;
    hid_t space = H5Dget_space(d);
    s->type = H5Dget_type(d);
    s->create = H5Dget_create_plist(d);
    s->rank = H5Sget_simple_extent_ndims(space);
    if (s->rank >= 1 && s->rank <= 8) H5Sget_simple_extent_dims(space, s->dims, NULL);
    H5Sclose(space);
    H5Dclose(d);
    if (s->rank < 1 || s->rank > 8) return -1;
    s->row_bytes = H5Tget_size(s->type);
    for (int k = 1; k < s->rank; k++)
        if (__builtin_mul_overflow(s->row_bytes, (size_t)s->dims[k], &s->row_bytes)) return -1;
    return s->row_bytes == 0 || s->row_bytes > MAX_ROW_BYTES ? -1 : 0; /* a corrupt shape */
}

static void free_merge(merge *m)
{
    for (int k = 0; k < m->n_sets; k++) {
        free(m->sets[k].name);
        if (m->sets[k].type > 0) H5Tclose(m->sets[k].type);
        if (m->sets[k].create > 0) H5Pclose(m->sets[k].create);
        if (m->out_sets && m->out_sets[k] > 0) H5Dclose(m->out_sets[k]);
    }
    free(m->sets);
    free(m->rows);
    free(m->first);
    free(m->out_sets);
}

/* Rows of every dataset of part p, checked against the first part's shapes and types. */
static int count_rows(merge *m, int p)
{
    struct stat file;
    if (stat(m->parts[p], &file) != 0) return xai_fail("%s: cannot open: %s", m->parts[p], strerror(errno));
    off_t file_size = file.st_size;
    hid_t in = H5Fopen(m->parts[p], H5F_ACC_RDONLY, H5P_DEFAULT);
    if (in < 0) return xai_fail("%s: cannot open as HDF5", m->parts[p]);
    int status = XAI_OK;
    for (int k = 0; k < m->n_sets && status == XAI_OK; k++) {
        const merged_set *s = &m->sets[k];
        hid_t d = H5Lexists(in, s->name, H5P_DEFAULT) > 0 ? H5Dopen2(in, s->name, H5P_DEFAULT) : -1;
        if (d < 0) {
            status = xai_fail("%s: has no dataset %s (not a part of the same run)", m->parts[p], s->name);
            break;
        }
        hid_t space = H5Dget_space(d), type = H5Dget_type(d);
        hsize_t dims[8] = {0};
        int same = H5Sget_simple_extent_ndims(space) == s->rank && H5Tequal(type, s->type) > 0;
        H5Sget_simple_extent_dims(space, dims, NULL);
        for (int j = 1; same && j < s->rank; j++) same = dims[j] == s->dims[j];
        if (!same) status = xai_fail("%s: dataset %s differs in shape or type from %s's", m->parts[p], s->name, m->parts[0]);
        hid_t create = H5Dget_create_plist(d);
        size_t bytes, room = (size_t)file_size * (H5Pget_nfilters(create) > 0 ? DEFLATE_MAX_RATIO : 1);
        if (create >= 0) H5Pclose(create);
        if (status == XAI_OK && (__builtin_mul_overflow((size_t)dims[0], s->row_bytes, &bytes) || bytes > room))
            status = xai_fail("%s: dataset %s declares more data than the file holds (corrupt?)", m->parts[p], s->name);
        m->rows[(size_t)p * m->n_sets + k] = (long long)dims[0];
        H5Tclose(type);
        H5Sclose(space);
        H5Dclose(d);
    }
    H5Fclose(in);
    return status;
}

static int create_sets(merge *m, hid_t out)
{
    for (int k = 0; k < m->n_sets; k++) {
        merged_set *s = &m->sets[k];
        hsize_t dims[8], max[8];
        for (int j = 0; j < s->rank; j++) dims[j] = max[j] = s->dims[j];
        dims[0] = 0, max[0] = H5S_UNLIMITED;
        for (int p = 0; p < m->n_parts; p++) dims[0] += (hsize_t)m->rows[(size_t)p * m->n_sets + k];
        hid_t space = H5Screate_simple(s->rank, dims, max), links = H5Pcreate(H5P_LINK_CREATE);
        hid_t create = H5Pcopy(s->create);
        H5Pset_create_intermediate_group(links, 1);
        H5Pset_fill_time(create, H5D_FILL_TIME_NEVER); /* every row is written */
        m->out_sets[k] = H5Dcreate2(out, s->name, s->type, space, links, create, H5P_DEFAULT);
        H5Pclose(create);
        H5Pclose(links);
        H5Sclose(space);
        if (m->out_sets[k] < 0) return xai_fail("%s: cannot create dataset %s (disk full?)", m->path, s->name);
    }
    return XAI_OK;
}

static herr_t copy_attribute(hid_t location, const char *name, const H5A_info_t *info, void *data)
{
    (void)info;
    const void *const *context = data;
    hid_t to = *(const hid_t *)context[0];
    const char *const *overrides = context[1];
    for (int k = 0; overrides && overrides[k]; k += 2)
        if (!strcmp(overrides[k], name)) return 0;
    hid_t a = H5Aopen(location, name, H5P_DEFAULT);
    hid_t type = H5Aget_type(a), space = H5Aget_space(a);
    size_t size = H5Tget_size(type) * (size_t)H5Sget_simple_extent_npoints(space);
    void *value = xai_malloc(size ? size : 1);
    herr_t status = -1;
    if (value && H5Aread(a, type, value) >= 0) {
        hid_t b = H5Acreate2(to, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
        status = b >= 0 && H5Awrite(b, type, value) >= 0 ? 0 : -1;
        if (b >= 0) H5Aclose(b);
    }
    free(value);
    H5Sclose(space);
    H5Tclose(type);
    H5Aclose(a);
    return status;
}

static int copy_attributes(merge *m, hid_t out, const char *const *overrides)
{
    hid_t in = H5Fopen(m->parts[0], H5F_ACC_RDONLY, H5P_DEFAULT);
    if (in < 0) return xai_fail("%s: cannot open as HDF5", m->parts[0]);
    const void *context[2] = {&out, overrides};
    herr_t copied = H5Aiterate2(in, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, copy_attribute, context);
    /* and each dataset's own (a method's parameters on /maps/<method>) */
    for (int k = 0; copied >= 0 && k < m->n_sets; k++) {
        const void *of_set[2] = {&m->out_sets[k], NULL};
        copied = H5Aiterate_by_name(in, m->sets[k].name, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, copy_attribute,
                                    of_set, H5P_DEFAULT);
    }
    H5Fclose(in);
    if (copied < 0) return xai_fail("%s: cannot copy its attributes", m->parts[0]);
    for (int k = 0; overrides && overrides[k]; k += 2) {
        hid_t type = H5Tcopy(H5T_C_S1), space = H5Screate(H5S_SCALAR);
        H5Tset_size(type, strlen(overrides[k + 1]) + 1);
        H5Tset_cset(type, H5T_CSET_UTF8);
        hid_t a = H5Acreate2(out, overrides[k], type, space, H5P_DEFAULT, H5P_DEFAULT);
        herr_t w = a >= 0 ? H5Awrite(a, type, overrides[k + 1]) : -1;
        if (a >= 0) H5Aclose(a);
        H5Sclose(space);
        H5Tclose(type);
        if (w < 0) return xai_fail("%s: cannot write attribute %s", m->path, overrides[k]);
    }
    return XAI_OK;
}

/* Dataset k of part p (p < 0: none, this member only takes part in the collective write) into
 * its rows of the merged file. */
static int write_rows(merge *m, int k, int p, hid_t in, hid_t transfer, int failed)
{
    const merged_set *s = &m->sets[k];
    hsize_t rows = p >= 0 && !failed ? (hsize_t)m->rows[(size_t)p * m->n_sets + k] : 0;
    hsize_t first = p >= 0 ? (hsize_t)m->first[(size_t)p * m->n_sets + k] : 0;
    hid_t src = rows ? H5Dopen2(in, s->name, H5P_DEFAULT) : -1;
    int status = rows && src < 0 ? xai_fail("%s: cannot read dataset %s", m->parts[p], s->name) : XAI_OK;
    void *buffer = rows && status == XAI_OK ? xai_malloc(rows * s->row_bytes) : NULL;
    if (rows && status == XAI_OK && !buffer) status = xai_fail("out of memory merging %s", s->name);
    if (buffer && H5Dread(src, s->type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer) < 0)
        status = xai_fail("%s: cannot read dataset %s", m->parts[p], s->name);
    if (status) rows = 0; /* still take part in the collective write, with nothing */
    hsize_t start[8] = {first}, count[8];
    for (int j = 0; j < s->rank; j++) count[j] = j ? s->dims[j] : rows ? rows : 1;
    hid_t file_space = H5Dget_space(m->out_sets[k]), memory = H5Screate_simple(s->rank, count, NULL);
    if (rows) H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, NULL, count, NULL);
    else H5Sselect_none(file_space), H5Sselect_none(memory);
    if (H5Dwrite(m->out_sets[k], s->type, memory, file_space, transfer, buffer) < 0 && status == XAI_OK)
        status = xai_fail("%s: cannot write dataset %s (disk full?)", m->path, s->name);
    H5Sclose(memory);
    H5Sclose(file_space);
    free(buffer);
    if (src >= 0) H5Dclose(src);
    return status;
}

/* The layout, from the first part; then every part's rows, each part counted by one member,
 * and where each part's rows go. */
static int read_layout(merge *m, const xai_team *team)
{
    hid_t first = H5Fopen(m->parts[0], H5F_ACC_RDONLY, H5P_DEFAULT);
    int status = first < 0 ? xai_fail("%s: cannot open as HDF5", m->parts[0]) : XAI_OK;
    if (status == XAI_OK && H5Ovisit2(first, H5_INDEX_NAME, H5_ITER_NATIVE, list_dataset, m, H5O_INFO_BASIC) < 0)
        status = xai_fail("%s: cannot list its datasets", m->parts[0]);
    if (first >= 0) H5Fclose(first);
    size_t cells = (size_t)m->n_parts * m->n_sets + 1;
    if (status == XAI_OK && (!(m->rows = xai_calloc(cells, sizeof *m->rows)) ||
                             !(m->first = xai_calloc(cells, sizeof *m->first)) ||
                             !(m->out_sets = xai_calloc((size_t)m->n_sets + 1, sizeof *m->out_sets))))
        status = XAI_ERR;
    for (int p = team->rank; p < m->n_parts && status == XAI_OK; p += team->size) status = count_rows(m, p);
    status = xai_team_agree(team, status);
    if (status == XAI_OK) status = xai_team_sum(team, m->rows, m->n_parts * m->n_sets);
    for (int p = 1; status == XAI_OK && p < m->n_parts; p++)
        for (int k = 0; k < m->n_sets; k++) {
            size_t here = (size_t)p * m->n_sets + k, before = here - (size_t)m->n_sets;
            m->first[here] = m->first[before] + m->rows[before];
        }
    return status;
}

/* One file, created and laid out by all members together, with the first part's attributes. */
static int create_merged(merge *m, const char *partial, const char *const *overrides, const xai_team *team, hid_t *out)
{
    hid_t access = store_team_file_access(team);
    *out = H5Fcreate(partial, H5F_ACC_TRUNC, H5P_DEFAULT, access);
    H5Pclose(access);
    int err = errno, status = XAI_OK;
    if (*out < 0) status = xai_fail("%s: cannot create the HDF5 file%s%s", m->path, err ? ": " : "", err ? strerror(err) : "");
    if (status == XAI_OK) status = create_sets(m, *out);
    if (status == XAI_OK) status = copy_attributes(m, *out, overrides);
    return xai_team_agree(team, status);
}

/* Round r: member i writes part r * size + i; all members make every write call. Filtered
 * datasets must be written collectively; the others independently, which measured a little
 * faster (bench/bench_cluster.sh, README). */
static int write_parts(merge *m, const xai_team *team)
{
    hid_t collective = store_team_transfer(team, 1), independent = store_team_transfer(team, 0);
    int rounds = (m->n_parts + team->size - 1) / team->size, failed = XAI_OK;
    for (int r = 0; r < rounds; r++) {
        int p = r * team->size + team->rank;
        if (p >= m->n_parts) p = -1;
        hid_t in = p >= 0 && !failed ? H5Fopen(m->parts[p], H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
        if (p >= 0 && !failed && in < 0) failed = xai_fail("%s: cannot open as HDF5", m->parts[p]);
        for (int k = 0; k < m->n_sets; k++) {
            hid_t transfer = H5Pget_nfilters(m->sets[k].create) > 0 ? collective : independent;
            int w = write_rows(m, k, failed ? -1 : p, in, transfer, failed);
            if (w && !failed) failed = w;
        }
        if (in >= 0) H5Fclose(in);
    }
    H5Pclose(collective);
    H5Pclose(independent);
    return failed;
}

int xai_store_merge(const char *path, const char *const *parts, int n_parts, const char *const *overrides,
                    const xai_team *team)
{
    xai_team alone = {.rank = 0, .size = 1};
    if (!team) team = &alone;
    store_library_init();
    if (n_parts < 1) return xai_fail("%s: nothing to merge", path);
    merge m = {.path = path, .parts = parts, .n_parts = n_parts};
    char *partial = xai_format("%s.partial", path);
    if (!partial) return XAI_ERR;
    hid_t out = -1;
    int status = read_layout(&m, team);
    if (status == XAI_OK) status = create_merged(&m, partial, overrides, team, &out);
    if (status == XAI_OK) status = write_parts(&m, team);
    for (int k = 0; m.out_sets && k < m.n_sets; k++)
        if (m.out_sets[k] > 0) H5Dclose(m.out_sets[k]), m.out_sets[k] = 0;
    if (out >= 0 && H5Fclose(out) < 0 && status == XAI_OK) status = xai_fail("%s: cannot finish writing (disk full?)", path);
    status = xai_team_agree(team, status);
    if (status == XAI_OK && team->rank == 0 && rename(partial, path) != 0)
        status = xai_fail("%s: cannot move the merged file into place: %s", path, strerror(errno));
    if (status && team->rank == 0) remove(partial);
    status = xai_team_agree(team, status);
    free_merge(&m);
    free(partial);
    return status;
}
