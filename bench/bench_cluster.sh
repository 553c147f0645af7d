#!/usr/bin/env bash
# bench_cluster.sh - what the cluster paths cost on one machine, all measured in this run:
#   1x2  one process, 2 threads (the baseline)
#   2x1  mpirun -np 2, 1 thread each, one parallel-HDF5 file
#   array  two `run --shard i/2` processes side by side, 1 thread each, then `xaibench merge`
# Each sweep covers the six sample photos copied COPIES times, batch 8, the three methods, a seeded
# ResNet18. Printed: images/s per layout (wall time of the whole command, mpirun included),
# where the time went (start-up, decode, engine, part files, output: the slowest rank's), the
# write cost per image (part files + output file), and the MPI path's cost over the baseline
# (goal: <= 5 %).
#   bench/bench_cluster.sh [COPIES] [RANKS_X_THREADS...]      (default 24)
set -euo pipefail
cd "$(dirname "$0")/.."
copies=${1:-24}
xaibench=${XAIBENCH:-build/xaibench}
work=$(mktemp -d /tmp/xaibench-bench-cluster-XXXXXX)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

"$xaibench" model init --arch resnet18 --seed 0 -o "$work/resnet18.onnx" >/dev/null
"$xaibench" dataset sample --copies "$copies" -o "$work/tree" >/dev/null
# Without the sample set's undecodable image: a sweep that skips one gives up writing the shared
# file as it goes and merges its parts at the end (README), not the case measured here.
rm -r "$work/tree/lists" "$work/tree/Images/n02123045-tabby/n02123045_2.jpg"

common=(--model "$work/resnet18.onnx" --dataset "$work/tree" --batch 8 --target predicted)
now() { date +%s.%N; }
# phase LOG: "start-up decode engine parts output" from the run's closing line
phase() {
  sed -n 's/.*start-up \([0-9.]*\) s, decode \([0-9.]*\) s, engine \([0-9.]*\) s, part files \([0-9.]*\) s, output \([0-9.]*\) s.*/\1 \2 \3 \4 \5/p' "$1"
}
max() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b ? a : b) }'; }
images() { sed -n 's/.*: \([0-9]*\) images, .*/\1/p' "$1"; }

report() { # name seconds images start-up decode engine parts output
  awk -v n="$1" -v s="$2" -v i="$3" -v u="$4" -v d="$5" -v e="$6" -v p="$7" -v m="$8" 'BEGIN {
    printf "%-6s %6.2f images/s %5.1f s: start-up %4.1f, decode %4.1f, engine %5.1f, part files %4.1f, output %4.1f;" \
           " writing %4.1f ms/image\n", n, i / s, s, u, d, e, p, m, 1000 * (p + m) / i }'
}

echo "$(nproc) cores; $((copies * 6)) images, batch 8, three methods, ResNet18 (seeded)"
t0=$(now)
"$xaibench" run "${common[@]}" --threads 2 -o "$work/single.h5" >"$work/single.out" 2>"$work/single.log"
single=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }')
n=$(images "$work/single.out")
read -r u d e p m <<<"$(phase "$work/single.log")"
report 1x2 "$single" "$n" "$u" "$d" "$e" "$p" "$m"

t0=$(now)
mpirun --bind-to core -np 2 "$xaibench" run "${common[@]}" --threads 1 -o "$work/mpi.h5" >"$work/mpi.out" 2>"$work/mpi.log"
mpi=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }')
read -r u d e p m <<<"$(phase "$work/mpi.log")"
report 2x1 "$mpi" "$(images "$work/mpi.out")" "$u" "$d" "$e" "$p" "$m"

t0=$(now)
for i in 0 1; do
  taskset -c "$i" "$xaibench" run "${common[@]}" --threads 1 --shard "$i/2" -o "$work/shard-$i.h5" \
    >"$work/shard-$i.out" 2>"$work/shard-$i.log" &
done
wait
t1=$(now)
"$xaibench" merge "$work/array.h5" "$work/shard-0.h5" "$work/shard-1.h5" >/dev/null
t2=$(now)
array=$(awk -v a="$t0" -v b="$t2" 'BEGIN { print b - a }')
merge=$(awk -v a="$t1" -v b="$t2" 'BEGIN { print b - a }')
read -r u0 d0 e0 p0 m0 <<<"$(phase "$work/shard-0.log")"
read -r u1 d1 e1 p1 m1 <<<"$(phase "$work/shard-1.log")"
report array "$array" "$n" "$(max "$u0" "$u1")" "$(max "$d0" "$d1")" "$(max "$e0" "$e1")" "$(max "$p0" "$p1")" \
  "$(awk -v a="$(max "$m0" "$m1")" -v b="$merge" 'BEGIN { print a + b }')"
echo "(array: the output column adds the shards' own output and the final merge, $(printf %.1f "$merge") s)"

for f in mpi array; do
  for d in /maps/guided_backprop /logits /images/path; do
    h5diff -q "$work/single.h5" "$work/$f.h5" "$d" "$d" >/dev/null || echo "warning: $f.h5 $d differs from the 1x2 run"
  done
done
awk -v s="$single" -v m="$mpi" -v a="$array" 'BEGIN {
  printf "MPI 2x1 over 1x2: %+.1f %% wall time (goal <= +5 %%); job array + merge over 1x2: %+.1f %%\n",
         100 * (m / s - 1), 100 * (a / s - 1) }'
# The sweep alone: xaibench's own total less its start-up (mpirun's launch is outside both).
sweep() { awk -v t="$(sed -n 's/.*xaibench: \([0-9.]*\) s in all.*/\1/p' "$1")" -v u="$(phase "$1" | cut -d' ' -f1)" \
  'BEGIN { print t - u }'; }
awk -v s="$(sweep "$work/single.log")" -v m="$(sweep "$work/mpi.log")" 'BEGIN {
  printf "the sweep alone (no start-up, no launch): 1x2 %.1f s, 2x1 %.1f s: MPI over 1x2 %+.1f %%\n", s, m, 100 * (m / s - 1) }'
