/* reference_attention.c - the reference engine's steps for the ops of attention blocks (see
 * reference_internal.h): MatMul of two values and Softmax; plain loops over NCHW values, backward
 * passes adding into the inputs' gradients. Compiled in double and, from
 * reference_attention_f32.c, in float. */
#include <math.h>

#include "reference_internal.h"

/* Y = A B, per image (and group) [m,k] x [k,p], an operand with one group serving every group;
 * backward dA += dY B^T and dB += A^T dY (summed over the groups an operand served). */
static void matmul_pass(reference_engine *r, int i, int backward)
{
    const xai_graph *g = r->graph;
    const xai_node *node = &g->nodes[i];
    const xai_value *av = &g->values[node->input[0]], *bv = &g->values[node->input[1]];
    int count, m, k, p, a_groups = xai_matmul_groups(av), b_groups = xai_matmul_groups(bv);
    xai_matmul_dims(av, bv, &count, &m, &k, &p);
    size_t products = (size_t)r->batch * count;
    for (size_t b = 0; b < products; b++) {
        size_t image = b / count, group = b % count;
        size_t ai = image * a_groups + (a_groups == 1 ? 0 : group), bi = image * b_groups + (b_groups == 1 ? 0 : group);
        const real *a = r->value[node->input[0]] + ai * m * k, *w = r->value[node->input[1]] + bi * k * p;
        real *y = r->value[node->output] + b * m * p, *dy = r->grad[node->output] + b * m * p;
        real *da = r->grad[node->input[0]] + ai * m * k, *dw = r->grad[node->input[1]] + bi * k * p;
        for (int row = 0; row < m; row++)
            for (int column = 0; column < p; column++) {
                if (!backward) {
                    real sum = 0;
                    for (int t = 0; t < k; t++) sum += a[(size_t)row * k + t] * w[(size_t)t * p + column];
                    y[(size_t)row * p + column] = sum;
                    continue;
                }
                real d = dy[(size_t)row * p + column];
                for (int t = 0; t < k; t++) {
                    da[(size_t)row * k + t] += d * w[(size_t)t * p + column];
                    dw[(size_t)t * p + column] += a[(size_t)row * k + t] * d;
                }
            }
    }
}

void REFERENCE_STEP(matmul_forward)(reference_engine *r, int i) { matmul_pass(r, i, 0); }
void REFERENCE_STEP(matmul_backward)(reference_engine *r, int i) { matmul_pass(r, i, 1); }

/* Over each run of the normalized axes: y = exp(x - max) / sum exp(x - max); backward
 * dx += y (dy - sum(dy y)). */
static void softmax_pass(reference_engine *r, int i, int backward)
{
    const xai_graph *g = r->graph;
    const xai_node *node = &g->nodes[i];
    const xai_value *in = &g->values[node->input[0]];
    int dims[3] = {in->c, in->h, in->w};
    size_t outer, length, inner;
    xai_softmax_dims(node->reduce_axes, dims, &outer, &length, &inner);
    const real *x = r->value[node->input[0]], *dy = r->grad[node->output];
    real *y = r->value[node->output], *dx = r->grad[node->input[0]];
    for (size_t o = 0; o < (size_t)r->batch * outer; o++)
        for (size_t t = 0; t < inner; t++) {
            size_t first = o * length * inner + t;
            real sum = 0;
            if (backward) {
                for (size_t l = 0; l < length; l++) sum += dy[first + l * inner] * y[first + l * inner];
                for (size_t l = 0; l < length; l++)
                    dx[first + l * inner] += y[first + l * inner] * (dy[first + l * inner] - sum);
                continue;
            }
            real top = x[first];
            for (size_t l = 1; l < length; l++) top = fmax(top, x[first + l * inner]);
            for (size_t l = 0; l < length; l++) sum += y[first + l * inner] = exp(x[first + l * inner] - top);
            for (size_t l = 0; l < length; l++) y[first + l * inner] /= sum;
        }
}

void REFERENCE_STEP(softmax_forward)(reference_engine *r, int i) { softmax_pass(r, i, 0); }
void REFERENCE_STEP(softmax_backward)(reference_engine *r, int i) { softmax_pass(r, i, 1); }
