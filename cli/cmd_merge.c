/* cmd_merge.c - `xaibench merge OUT.h5 PART.h5...`: the files of a job array of
 * `run --shard i/n` joined into one run file (see xai_merge_shards); under mpirun the ranks
 * write it together. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "xai_run.h"
#include "xai_status.h"

int cmd_merge(int argc, char **argv)
{
    const cli_option options[] = {CLI_OPT_END};
    const cli_command command = {"merge", "join the files of run --shard i/n, i = 0..n-1, into one run file",
                                 "OUT.h5 RUN-SHARD.h5...", 2, -1, options};
    char **operands;
    int n, parsed = cli_parse(&command, argc - 1, argv + 1, &operands, &n);
    if (parsed) return cli_parse_exit(parsed);
    free(operands);
    xai_team team;
    if (xai_team_join(&team, &argc, &argv)) return cli_report();
    int status = xai_merge_shards(argv[1], (const char *const *)argv + 2, argc - 2, &team);
    if (status) cli_report();
    else if (team.rank == 0) printf("%s: %d files merged\n", argv[1], argc - 2);
    xai_team_leave(&team);
    return status ? 1 : 0;
}
