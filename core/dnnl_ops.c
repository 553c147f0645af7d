/* dnnl_ops.c - the oneDNN engine's op registry (dnnl_internal.h): for every op, the steps the
 * engine's set-up and passes call. An op's kernels live in a file of their own kind (dnnl_conv.c,
 * dnnl_pad.c, ...); adding one is that file and one line here. */
#include "dnnl_internal.h"

const engine_op engine_ops[XAI_OP_COUNT] = {
    /*                        layout                    setup                   bind                        forward                          backward                          destroy */
    [XAI_OP_CONV] =          {engine_layout_conv,       NULL,                   engine_conv_bind_gradients, engine_conv_forward,             engine_conv_backward,             engine_conv_destroy},
    [XAI_OP_RELU] =          {engine_layout_activation, NULL,                   NULL,                       kernel_activation_pass_forward,  kernel_activation_pass_backward,  NULL},
    [XAI_OP_CLIP] =          {engine_layout_activation, NULL,                   NULL,                       kernel_activation_pass_forward,  kernel_activation_pass_backward,  NULL},
    [XAI_OP_MAXPOOL] =       {engine_layout_same_kind,  engine_setup_pool,      NULL,                       kernel_pool_forward,             kernel_pool_backward,             engine_primitive_op_destroy},
    [XAI_OP_AVGPOOL] =       {engine_layout_same_kind,  engine_setup_pool,      NULL,                       kernel_pool_forward,             kernel_pool_backward,             engine_primitive_op_destroy},
    [XAI_OP_GLOBALAVGPOOL] = {engine_layout_plain,      NULL,                   NULL,                       kernel_global_avgpool_forward,   kernel_global_avgpool_backward,   NULL},
    [XAI_OP_ADD] =           {engine_layout_activation, engine_setup_add,       NULL,                       kernel_add_forward,              kernel_add_backward,              NULL},
    [XAI_OP_FLATTEN] =       {engine_layout_plain,      NULL,                   engine_bind_flatten,        kernel_flatten_forward,          kernel_flatten_backward,          NULL},
    [XAI_OP_GEMM] =          {engine_layout_plain,      engine_setup_gemm,      engine_matmul_bind,         engine_matmul_forward,           engine_matmul_backward,           engine_matmul_destroy},
    [XAI_OP_CONCAT] =        {engine_layout_same_kind,  NULL,                   NULL,                       kernel_concat_forward,           kernel_concat_backward,           NULL},
    [XAI_OP_SLICE] =         {engine_layout_same_kind,  kernel_moves_plan,      NULL,                       kernel_moves_forward,            kernel_moves_backward,            NULL},
    [XAI_OP_SHUFFLE] =       {engine_layout_same_kind,  kernel_moves_plan,      NULL,                       kernel_moves_forward,            kernel_moves_backward,            NULL},
    [XAI_OP_MUL] =           {engine_layout_mul,        NULL,                   NULL,                       kernel_binary_forward,           kernel_binary_backward,           NULL},
    [XAI_OP_SUB] =           {engine_layout_mul,        NULL,                   NULL,                       kernel_binary_forward,           kernel_binary_backward,           NULL},
    [XAI_OP_DIV] =           {engine_layout_mul,        NULL,                   NULL,                       kernel_binary_forward,           kernel_binary_backward,           NULL},
    [XAI_OP_SIGMOID] =       {engine_layout_like_input, engine_setup_eltwise,   NULL,                       kernel_eltwise_forward,          kernel_eltwise_backward,          engine_primitive_op_destroy},
    [XAI_OP_HARDSIGMOID] =   {engine_layout_like_input, NULL,                   NULL,                       kernel_smooth_forward,           kernel_smooth_backward,           NULL},
    [XAI_OP_HARDSWISH] =     {engine_layout_like_input, NULL,                   NULL,                       kernel_smooth_forward,           kernel_smooth_backward,           NULL},
    [XAI_OP_ERF] =           {engine_layout_like_input, NULL,                   NULL,                       kernel_smooth_forward,           kernel_smooth_backward,           NULL},
    [XAI_OP_SCALE] =         {engine_layout_like_input, NULL,                   NULL,                       kernel_scale_forward,            kernel_scale_backward,            NULL},
    [XAI_OP_TRANSPOSE] =     {engine_layout_plain,      NULL,                   NULL,                       kernel_transpose_forward,        kernel_transpose_backward,        NULL},
    [XAI_OP_LAYERNORM] =     {engine_layout_plain,      engine_setup_layernorm, NULL,                       kernel_layernorm_forward,        kernel_layernorm_backward,        engine_primitive_op_destroy},
    [XAI_OP_SQRT] =          {engine_layout_like_input, NULL,                   NULL,                       kernel_smooth_forward,           kernel_smooth_backward,           NULL},
    [XAI_OP_POW] =           {engine_layout_like_input, NULL,                   NULL,                       kernel_smooth_forward,           kernel_smooth_backward,           NULL},
    [XAI_OP_TANH] =          {engine_layout_like_input, engine_setup_eltwise,   NULL,                       kernel_eltwise_forward,          kernel_eltwise_backward,          engine_primitive_op_destroy},
    [XAI_OP_REDUCEMEAN] =    {engine_layout_plain,      NULL,                   NULL,                       kernel_reduce_mean_forward,      kernel_reduce_mean_backward,      NULL},
    [XAI_OP_PAD] =           {engine_layout_same_kind,  NULL,                   NULL,                       kernel_pad_forward,              kernel_pad_backward,              NULL},
    [XAI_OP_MATMUL] =        {engine_layout_plain,      engine_setup_matmul_values, engine_bind_scratchpads, kernel_matmul_values_forward,   kernel_matmul_values_backward,    engine_primitive_op_destroy},
    [XAI_OP_SOFTMAX] =       {engine_layout_plain,      engine_setup_softmax,   NULL,                       kernel_softmax_forward,          kernel_softmax_backward,          engine_primitive_op_destroy},
    /* XAI_OP_BATCHNORM: none; the reader folds it (into a Conv, or as a depthwise 1x1 Conv) */
};
