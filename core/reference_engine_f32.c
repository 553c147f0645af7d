/* reference_engine_f32.c - the reference engine's loops in float32 (xai_reference_f32_*): the
 * same source as reference_engine.c, compiled with every value and sum a float. */
#define XAI_REFERENCE_F32 1
#include "reference_engine.c"
