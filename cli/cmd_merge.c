/* cmd_merge.c - `xaibench merge OUT.h5 PART.h5...`: the files of a job array of
 * `run --shard i/n` joined into one run file (see xai_merge_shards); under mpirun the ranks
 * write it together. */
#include <stdio.h>

#include "cli.h"
#include "xai_run.h"
#include "xai_status.h"

int cmd_merge(int argc, char **argv)
{
    if (argc < 3) return xai_fail("merge: expected OUT.h5 PART.h5..."), cli_report();
    for (int i = 1; i < argc; i++)
        if (argv[i][0] == '-') return xai_fail("merge: unknown option %s", argv[i]), cli_report();
    xai_team team;
    if (xai_team_join(&team, &argc, &argv)) return cli_report();
    int status = xai_merge_shards(argv[1], (const char *const *)argv + 2, argc - 2, &team);
    if (status) cli_report();
    else if (team.rank == 0) printf("%s: %d files merged\n", argv[1], argc - 2);
    xai_team_leave(&team);
    return status ? 1 : 0;
}
