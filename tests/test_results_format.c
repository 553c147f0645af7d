/* test_results_format.c - docs/results-format.md against real files, read by HDF5's own
 * `h5dump -H -p` (not by xaibench's store): an explain file and a run file with metrics. Both
 * ways: every dataset and root attribute that the document names for that kind of file is
 * there with the documented type, shape, chunks and filters, and every one in the file is named.
 * The explain file holds every method (--methods all), the run file the default three. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include "test_support.h"
#include "xai_dogs.h"
#include "xai_model.h"
#include "xai_status.h"

#define MAX_ROWS 64
#define MAX_OBJECTS 256

/* A row of one of the document's tables: the cells after the name. */
typedef struct {
    char name[128], type[32], shape[64], chunks[64], filters[64], in[32];
} doc_row;

/* What h5dump says of a dataset or a root attribute. */
typedef struct {
    char path[256], type[32], shape[64], chunks[64], filters[64];
    int is_attribute, matched;
} dumped;

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '`')) s[--n] = '\0';
    size_t k = strspn(s, " `");
    memmove(s, s + k, n - k + 1);
}

/* The tables' rows whose first cell is a `/dataset` (datasets) or a `name` (attributes). */
static int read_doc(doc_row *datasets, int *n_datasets, doc_row *attributes, int *n_attributes)
{
    FILE *f = fopen("docs/results-format.md", "r");
    cr_assert_not_null(f, "docs/results-format.md is missing");
    char line[1024];
    *n_datasets = *n_attributes = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "| `", 3)) continue;
        char *cells[8] = {0};
        int n = 0;
        for (char *c = strtok(line + 1, "|"); c && n < 8; c = strtok(NULL, "|")) trim(cells[n++] = c);
        if (n && !*cells[n - 1]) n--; /* after the last | */
        if (n == 6 && cells[0][0] == '/') {
            doc_row *r = &datasets[(*n_datasets)++];
            snprintf(r->name, sizeof r->name, "%s", cells[0]);
            snprintf(r->type, sizeof r->type, "%s", cells[1]);
            snprintf(r->shape, sizeof r->shape, "%s", cells[2]);
            snprintf(r->chunks, sizeof r->chunks, "%s", cells[3]);
            snprintf(r->filters, sizeof r->filters, "%s", cells[4]);
            snprintf(r->in, sizeof r->in, "%s", cells[5]);
        } else if (n == 3) {
            doc_row *r = &attributes[(*n_attributes)++];
            snprintf(r->name, sizeof r->name, "%s", cells[0]);
            snprintf(r->in, sizeof r->in, "%s", cells[2]);
        }
        cr_assert_lt(*n_datasets, MAX_ROWS);
        cr_assert_lt(*n_attributes, MAX_ROWS);
    }
    fclose(f);
    return *n_datasets;
}

/* "( 6, 3, 64, 64 )" -> "[6, 3, 64, 64]" */
static void bracketed(const char *from, char *out, size_t size)
{
    const char *open = strchr(from, '('), *close = open ? strchr(open, ')') : NULL;
    cr_assert(open && close, "unexpected h5dump line: %s", from);
    char inner[64];
    snprintf(inner, sizeof inner, "%.*s", (int)(close - open - 1), open + 1);
    trim(inner);
    snprintf(out, size, "[%s]", inner);
}

/* The dataset `current` as far as `line` describes it. */
static void describe(dumped *current, const char *line)
{
    const char *at;
    if ((at = strstr(line, "DATATYPE"))) {
        sscanf(at, "DATATYPE %31s", current->type);
    } else if ((at = strstr(line, "STRSIZE"))) {
        snprintf(current->type, sizeof current->type, "string[%d]", atoi(at + 7));
    } else if (strstr(line, "STRPAD") && !strstr(line, "H5T_STR_NULLPAD")) {
        strcat(current->type, " not NUL-padded");
    } else if ((at = strstr(line, "DATASPACE"))) {
        bracketed(at, current->shape, sizeof current->shape);
    } else if ((at = strstr(line, "CHUNKED"))) {
        bracketed(at, current->chunks, sizeof current->chunks);
    } else if (strstr(line, "CONTIGUOUS")) {
        snprintf(current->chunks, sizeof current->chunks, "contiguous");
    } else if (strstr(line, "PREPROCESSING SHUFFLE")) {
        snprintf(current->filters, sizeof current->filters, "shuffle");
    } else if ((at = strstr(line, "LEVEL"))) {
        int none = !strcmp(current->filters, "none");
        char level[32];
        snprintf(level, sizeof level, "%sdeflate %d", none ? "" : ", ", atoi(at + 5));
        if (none) current->filters[0] = '\0';
        strcat(current->filters, level);
    }
}

/* Every dataset and root attribute of `path`, as h5dump -H -p prints them (a dataset's own
 * attributes are passed over). */
static int dump(const char *path, dumped *objects)
{
    char command[1200], line[1024];
    snprintf(command, sizeof command, "h5dump -H -p %s", path);
    FILE *p = popen(command, "r");
    cr_assert_not_null(p);
    char groups[16][128] = {{0}};
    int depth = 0, n = 0, object_depth = -1; /* where the object being described began */
    dumped *current = NULL;
    while (fgets(line, sizeof line, p)) {
        char name[128];
        int group = sscanf(line, " GROUP \"%127[^\"]\"", name) == 1;
        int dataset = !group && sscanf(line, " DATASET \"%127[^\"]\"", name) == 1;
        int attribute = !group && !dataset && sscanf(line, " ATTRIBUTE \"%127[^\"]\"", name) == 1;
        if (group) snprintf(groups[depth], sizeof groups[depth], "%s", strcmp(name, "/") ? name : "");
        if (object_depth < 0 && (dataset || (attribute && depth == 2))) {
            cr_assert_lt(n, MAX_OBJECTS);
            current = &objects[n++];
            memset(current, 0, sizeof *current);
            char prefix[256] = "";
            for (int d = 2; d < depth; d++) strcat(strcat(prefix, "/"), groups[d]);
            snprintf(current->path, sizeof current->path, "%s/%s", prefix, name);
            current->is_attribute = attribute;
            snprintf(current->filters, sizeof current->filters, "none");
            object_depth = depth;
        } else if (current && (attribute || group)) {
            current = NULL; /* an attribute of the dataset: not its own type */
        } else if (current && !current->is_attribute) {
            describe(current, line);
        }
        for (const char *c = line; *c; c++) depth += (*c == '{') - (*c == '}');
        cr_assert(depth >= 0 && depth < 15);
        if (object_depth >= 0 && depth <= object_depth) current = NULL, object_depth = -1;
    }
    cr_assert_eq(pclose(p), 0, "h5dump failed on %s", path);
    return n;
}

/* The document's type word as h5dump writes it. */
static const char *dumped_type(const char *doc_type)
{
    if (!strcmp(doc_type, "float32")) return "H5T_IEEE_F32LE";
    if (!strcmp(doc_type, "float64")) return "H5T_IEEE_F64LE";
    if (!strcmp(doc_type, "int32")) return "H5T_STD_I32LE";
    return doc_type; /* string[1024] */
}

/* A shape of the document with the file's numbers put in for its symbols. */
static void resolve(const char *doc, const char *const *symbols, const int *values, int n_symbols, char *out,
                    size_t size)
{
    out[0] = '\0';
    char copy[64];
    snprintf(copy, sizeof copy, "%s", doc);
    if (copy[0] != '[') {
        snprintf(out, size, "%s", copy);
        return;
    }
    strcat(out, "[");
    int first = 1;
    for (char *t = strtok(copy + 1, ", ]"); t; t = strtok(NULL, ", ]")) {
        char word[32];
        snprintf(word, sizeof word, "%s", t);
        for (int k = 0; k < n_symbols; k++)
            if (!strcmp(t, symbols[k])) snprintf(word, sizeof word, "%d", values[k]);
        strcat(strcat(out, first ? "" : ", "), word);
        first = 0;
    }
    strcat(out, "]");
}

/* Whether `path` is an instance of the document's `name` ("/maps/<method>" and so on). */
static int instance_of(const char *name, const char *path)
{
    const char *hole = strchr(name, '<');
    if (!hole) return !strcmp(name, path);
    size_t prefix = (size_t)(hole - name);
    if (strncmp(name, path, prefix)) return 0;
    int holes = 0, slashes = 0;
    for (const char *c = hole; *c; c++) holes += *c == '<';
    for (const char *c = path + prefix; *c; c++) slashes += *c == '/';
    return path[prefix] && slashes == holes - 1;
}

typedef struct {
    const char *path, *kind; /* kind: "run" or "explain" */
    int n, c, h, w, classes, skipped, with_metrics, all_methods;
} results_file;

static void check_file(const results_file *file)
{
    doc_row datasets[MAX_ROWS], attributes[MAX_ROWS];
    int n_datasets, n_attributes;
    read_doc(datasets, &n_datasets, attributes, &n_attributes);
    cr_assert_gt(n_datasets, 10, "the document's dataset table was not found");
    cr_assert_gt(n_attributes, 8, "the document's attribute table was not found");
    static dumped objects[MAX_OBJECTS];
    int n_objects = dump(file->path, objects);
    const char *symbols[] = {"N", "C", "H", "W", "classes", "K", "Cm"};
    int values[] = {file->n, file->c, file->h, file->w, file->classes, file->skipped, file->c};
    for (int r = 0; r < n_datasets; r++) {
        const doc_row *row = &datasets[r];
        int applies = !strcmp(row->in, "every file") || (!strcmp(row->in, "run") && !strcmp(file->kind, "run")) ||
                      (!strcmp(row->in, "metrics") && file->with_metrics) ||
                      (!strcmp(row->in, "integrated_gradients") && file->all_methods);
        int found = 0;
        for (int k = 0; k < n_objects; k++) {
            dumped *o = &objects[k];
            if (o->is_attribute || !instance_of(row->name, o->path)) continue;
            /* Cm: a method's map channels, 1 for grad_cam's own */
            values[6] = strstr(o->path, "/grad_cam") ? 1 : file->c;
            char shape[64], chunks[64];
            resolve(row->shape, symbols, values, 7, shape, sizeof shape);
            resolve(row->chunks, symbols, values, 7, chunks, sizeof chunks);
            found++;
            o->matched = 1;
            cr_expect(applies, "%s: %s is in a %s file; the document says: %s", file->path, o->path, file->kind, row->in);
            cr_expect_str_eq(o->type, dumped_type(row->type), "%s: %s", file->path, o->path);
            cr_expect_str_eq(o->shape, shape, "%s: %s", file->path, o->path);
            cr_expect_str_eq(o->chunks, chunks, "%s: %s", file->path, o->path);
            cr_expect_str_eq(o->filters, row->filters, "%s: %s", file->path, o->path);
        }
        if (applies) cr_expect_gt(found, 0, "%s: no %s, which the document names", file->path, row->name);
    }
    for (int r = 0; r < n_attributes; r++) {
        const doc_row *row = &attributes[r];
        int applies = !strcmp(row->in, "every file") || (!strcmp(row->in, "run") && !strcmp(file->kind, "run"));
        char path[sizeof row->name + 1];
        snprintf(path, sizeof path, "/%.127s", row->name);
        int found = 0;
        for (int k = 0; k < n_objects; k++)
            if (objects[k].is_attribute && !strcmp(objects[k].path, path)) found = objects[k].matched = 1;
        cr_expect_eq(found, applies, "%s: attribute %s %s", file->path, row->name,
                     applies ? "missing" : "present, but the document keeps it to run files");
    }
    for (int k = 0; k < n_objects; k++)
        cr_expect(objects[k].matched, "%s: %s %s is not in docs/results-format.md", file->path,
                  objects[k].is_attribute ? "attribute" : "dataset", objects[k].path);
}

static const char *binary(void) { return getenv("XAIBENCH") ? getenv("XAIBENCH") : "build/xaibench"; }

static void need_tools(void)
{
    if (system("h5dump --version >/dev/null 2>&1") != 0) cr_skip_test("h5dump missing (Debian hdf5-tools)");
    if (access("data/samples/chelsea.png", R_OK) != 0) cr_skip_test("run scripts/fetch-samples.sh");
}

static const char *tiny_model(void)
{
    const char *path = test_path("format-tiny.onnx");
    xai_model_spec spec = {.arch = "resnet-tiny", .seed = 4, .classes = 1000};
    if (access(path, R_OK) != 0) cr_assert_eq(xai_model_write_resnet(&spec, path), XAI_OK, "%s", xai_last_error());
    return path;
}

Test(results_format, explain_file_is_as_documented, .timeout = 60)
{
    need_tools();
    const char *out = test_path("format-explain.h5");
    char command[2048];
    snprintf(command, sizeof command,
             "%s explain --model %s --image data/samples/chelsea.png --image data/samples/dog.jpg --batch 2 "
             "--methods all --smoothgrad-samples 2 --ig-steps 2 -o %s >/dev/null 2>%s", binary(), tiny_model(), out,
             test_path("format-explain.log"));
    cr_assert_eq(system(command), 0, "explain failed; see %s", test_path("format-explain.log"));
    results_file file = {out, "explain", 2, 3, 64, 64, 1000, 0, 0, 1};
    check_file(&file);
}

Test(results_format, run_file_with_metrics_is_as_documented, .timeout = 120)
{
    need_tools();
    const char *root = test_path("format-dogs"), *out = test_path("format-run.h5");
    cr_assert_eq(xai_sample_set_write("data/samples", root, 1), XAI_OK, "%s", xai_last_error());
    char command[2048];
    snprintf(command, sizeof command, "%s run --model %s --dataset %s -o %s >/dev/null 2>%s && %s metrics %s --steps 2 "
             ">/dev/null 2>>%s", binary(), tiny_model(), root, out, test_path("format-run.log"), binary(), out,
             test_path("format-run.log"));
    cr_assert_eq(system(command), 0, "run or metrics failed; see %s", test_path("format-run.log"));
    results_file file = {out, "run", 6, 3, 64, 64, 1000, 1, 1, 0};
    check_file(&file);
}
