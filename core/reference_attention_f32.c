/* reference_attention_f32.c - reference_attention.c's loops in float32 (see reference_internal.h). */
#define XAI_REFERENCE_F32 1
#include "reference_attention.c"
