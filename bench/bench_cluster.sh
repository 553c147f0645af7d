#!/usr/bin/env bash
# bench_cluster.sh - what the cluster paths cost on one machine, all measured in this run:
#   1x2  one process, 2 threads (the baseline)
#   2x1  mpirun -np 2, 1 thread each, one parallel-HDF5 file
#   array  two `run --shard i/2` processes side by side, 1 thread each, then `xaibench merge`
# Each sweep covers the sample photos copied COPIES times, batch 8, the three methods, a seeded
# ResNet18. Printed: images/s per layout, where the time went (decode, engine, part files,
# merge: slowest rank), the write cost per image (part files + merge into the one file), and
# the MPI path's cost over the baseline (goal: <= 5 %).
#   bench/bench_cluster.sh [COPIES] [RANKS_X_THREADS...]      (default 24)
set -euo pipefail
cd "$(dirname "$0")/.."
copies=${1:-24}
xaibench=${XAIBENCH:-build/xaibench}
work=$(mktemp -d /tmp/xaibench-bench-cluster-XXXXXX)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

"$xaibench" model init --arch resnet18 --seed 0 -o "$work/resnet18.onnx" >/dev/null
"$xaibench" dataset sample -o "$work/tree" >/dev/null
(cd "$work/tree/Images" && for d in */; do for f in "$d"*_1.*; do for k in $(seq 2 "$copies"); do
  cp "$f" "${f%_1.*}_c$k.${f##*.}"; done; done; done)
rm -r "$work/tree/lists"

common=(--model "$work/resnet18.onnx" --dataset "$work/tree" --batch 8 --target predicted)
now() { date +%s.%N; }
# phase LOG: "decode engine parts merge" from the run's closing line
phase() { sed -n 's/.*: decode \([0-9.]*\) s, engine \([0-9.]*\) s, part files \([0-9.]*\) s, merge \([0-9.]*\) s.*/\1 \2 \3 \4/p' "$1"; }
images() { sed -n 's/.*: \([0-9]*\) images, .*/\1/p' "$1"; }

report() { # name seconds images decode engine parts merge
  awk -v n="$1" -v s="$2" -v i="$3" -v d="$4" -v e="$5" -v p="$6" -v m="$7" 'BEGIN {
    printf "%-7s %7.2f images/s  %6.1f s  decode %5.1f  engine %5.1f  parts %4.1f  merge %4.1f  write %5.1f ms/image\n",
           n, i / s, s, d, e, p, m, 1000 * (p + m) / i }'
}

echo "$(nproc) cores; $((copies * 6 + 1)) images (one undecodable), batch 8, three methods, ResNet18 (seeded)"
t0=$(now)
"$xaibench" run "${common[@]}" --threads 2 -o "$work/single.h5" >"$work/single.out" 2>"$work/single.log"
single=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }')
n=$(images "$work/single.out")
read -r d e p m <<<"$(phase "$work/single.log")"
report 1x2 "$single" "$n" "$d" "$e" "$p" "$m"

t0=$(now)
mpirun --bind-to core -np 2 "$xaibench" run "${common[@]}" --threads 1 -o "$work/mpi.h5" >"$work/mpi.out" 2>"$work/mpi.log"
mpi=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }')
read -r d e p m <<<"$(phase "$work/mpi.log")"
report 2x1 "$mpi" "$(images "$work/mpi.out")" "$d" "$e" "$p" "$m"

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
read -r d0 e0 p0 m0 <<<"$(phase "$work/shard-0.log")"
read -r d1 e1 p1 m1 <<<"$(phase "$work/shard-1.log")"
report array "$array" "$n" "$(awk -v a="$d0" -v b="$d1" 'BEGIN { print a > b ? a : b }')" \
  "$(awk -v a="$e0" -v b="$e1" 'BEGIN { print a > b ? a : b }')" "$(awk -v a="$p0" -v b="$p1" 'BEGIN { print a > b ? a : b }')" \
  "$(awk -v a="$m0" -v b="$m1" -v c="$merge" 'BEGIN { print (a > b ? a : b) + c }')"

for f in mpi array; do
  for d in /maps/guided_backprop /logits /images/path; do
    h5diff -q "$work/single.h5" "$work/$f.h5" "$d" "$d" >/dev/null || echo "warning: $f.h5 $d differs from the 1x2 run"
  done
done
awk -v s="$single" -v m="$mpi" -v a="$array" 'BEGIN {
  printf "MPI 2x1 over 1x2: %+.1f %% wall time (goal <= +5 %%); job array + merge over 1x2: %+.1f %%\n",
         100 * (m / s - 1), 100 * (a / s - 1) }'
