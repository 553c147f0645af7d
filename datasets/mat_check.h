/* mat_check.h - private to datasets/: a .mat file's declared sizes checked before matio reads it
 * (mat_check.c). */
#ifndef XAI_MAT_CHECK_H
#define XAI_MAT_CHECK_H

/* XAI_OK when every variable of the MATLAB v5 file at path declares no more elements than its
 * bytes can hold; else XAI_ERR with a one-line message naming the file. */
int xai_mat_check_sizes(const char *path);

#endif
