/* xai_provenance.h - facts recorded beside every result: file checksums, CPU, date. */
#ifndef XAI_PROVENANCE_H
#define XAI_PROVENANCE_H

#include <stddef.h>

/* SHA-256 of a file as 64 hex digits plus NUL. */
int xai_sha256_file(const char *path, char hex[65]);

/* The CPU's model name from /proc/cpuinfo ("unknown" elsewhere). */
void xai_cpu_name(char *out, size_t size);

/* The current UTC time as ISO 8601. */
void xai_utc_now(char *out, size_t size);

/* argv joined with spaces (each argument quoted when it holds a space), allocated; NULL when out
 * of memory (recorded). */
char *xai_command_line(int argc, char **argv);

#endif
