/* xai_team.h - the processes that share one sweep: a process alone, or the ranks of an MPI job
 * started by mpirun or srun. Without MPI in the build, or started without a launcher, the team
 * is one process and every call below is trivial, so callers have one code path. */
#ifndef XAI_TEAM_H
#define XAI_TEAM_H

typedef struct {
    int rank, size;
    int joined_mpi; /* MPI_Init was called by xai_team_join */
} xai_team;

/* Join the job's team: MPI when the process was started by an MPI launcher (and the build has
 * MPI), otherwise a team of one. */
int xai_team_join(xai_team *team, int *argc, char ***argv);
void xai_team_leave(xai_team *team);

/* Every member passes its own status; all get XAI_ERR when any member failed. A member that did
 * not fail gets the message "rank R failed (its own message is above)". */
int xai_team_agree(const xai_team *team, int status);

/* In-place sums and maxima over the members. */
int xai_team_sum(const xai_team *team, long long *values, int n);
int xai_team_sum_doubles(const xai_team *team, double *values, int n);
double xai_team_max(const xai_team *team, double value);

#endif
