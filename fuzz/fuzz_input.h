/* fuzz_input.h - what every harness needs: the fuzzer's bytes as a file (the parsers read paths),
 * in a scratch directory of this process, rewritten for each input. */
#ifndef XAI_FUZZ_INPUT_H
#define XAI_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

/* Write data to the scratch file `name` and return its path (valid until the next call). */
const char *fuzz_input_file(const char *name, const uint8_t *data, size_t size);

/* The scratch directory itself. */
const char *fuzz_scratch_dir(void);

#endif
