/* team.c - the sweep's processes (see xai_team.h): MPI when built with it and launched by mpirun
 * or srun, a team of one otherwise. */
#include <stdlib.h>

#ifdef XAI_WITH_MPI
#include <mpi.h>
#endif

#include "xai_status.h"
#include "xai_team.h"

/* Set by mpirun (Open MPI), by PMIx and PMI launchers (srun, hydra). */
static int launched_by_mpi(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

int xai_team_join(xai_team *team, int *argc, char ***argv)
{
    team->rank = 0, team->size = 1, team->joined_mpi = 0;
#ifdef XAI_WITH_MPI
    if (!launched_by_mpi()) return XAI_OK;
    int provided;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return xai_fail("MPI: cannot initialize");
    team->joined_mpi = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &team->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &team->size);
#else
    (void)argc, (void)argv;
    /* Several copies of a build without MPI would each run the whole sweep into one file. */
    if (launched_by_mpi())
        return xai_fail("started by an MPI launcher, but this build has no MPI (configure with -DXAI_MPI=ON)");
#endif
    return XAI_OK;
}

void xai_team_leave(xai_team *team)
{
#ifdef XAI_WITH_MPI
    if (team->joined_mpi) MPI_Finalize();
#endif
    team->joined_mpi = 0;
}

int xai_team_agree(const xai_team *team, int status)
{
    if (team->size == 1) return status;
#ifdef XAI_WITH_MPI
    int mine = status ? team->rank + 1 : 0, failed = 0; /* the highest failed rank, + 1 */
    MPI_Allreduce(&mine, &failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (failed && !status) return xai_fail("rank %d failed (its own message is above)", failed - 1);
    return failed ? XAI_ERR : XAI_OK;
#else
    return status;
#endif
}

int xai_team_sum(const xai_team *team, long long *values, int n)
{
    if (team->size == 1) return XAI_OK;
#ifdef XAI_WITH_MPI
    if (MPI_Allreduce(MPI_IN_PLACE, values, n, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
        return xai_fail("MPI: cannot sum over the ranks");
#else
    (void)values, (void)n;
#endif
    return XAI_OK;
}

int xai_team_sum_doubles(const xai_team *team, double *values, int n)
{
    if (team->size == 1) return XAI_OK;
#ifdef XAI_WITH_MPI
    if (MPI_Allreduce(MPI_IN_PLACE, values, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
        return xai_fail("MPI: cannot sum over the ranks");
#else
    (void)values, (void)n;
#endif
    return XAI_OK;
}

double xai_team_max(const xai_team *team, double value)
{
#ifdef XAI_WITH_MPI
    if (team->size > 1) MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
#else
    (void)team;
#endif
    return value;
}
