#!/usr/bin/env bash
# submit-array.sh - a job array of N shards and, once all succeeded, their merge into OUT.h5.
#   experiments/slurm/submit-array.sh N MODEL.onnx DATASET_DIR OUT.h5 [run options]
# Extra sbatch options (partition, account, --cpus-per-task) go in SBATCH_OPTIONS.
set -euo pipefail
if (($# < 4)); then
  echo "usage: submit-array.sh N MODEL.onnx DATASET_DIR OUT.h5 [run options]" >&2
  exit 2
fi
n=$1 model=$2 dataset=$3 out=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
outdir="$out.shards"
read -r -a options <<<"${SBATCH_OPTIONS:-}"
array=$(sbatch --parsable "${options[@]}" --array="0-$((n - 1))" "$here/sweep-array.sbatch" "$model" "$dataset" "$outdir" "$@")
array=${array%%;*}
merge=$(sbatch --parsable "${options[@]}" --dependency="afterok:$array" "$here/merge.sbatch" "$outdir" "$out")
echo "submitted: array $array ($n shards into $outdir), merge $merge into $out"
