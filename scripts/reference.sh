#!/usr/bin/env bash
# reference.sh - remakes the reference outputs committed in results/ (make -f Makefile.experiments
# reference), on the machine it runs on, and results/README.md saying what each is, the command
# and that machine. The runs behind them go to results/runs/reference/ (ignored). Needs the
# trained MobileNetV2 and pets.jpg of ../shared; PyTorch (python3-torch, python3-torchvision)
# for the comparison lines, which are left out, with a line saying so, where it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${REAL_MODEL:-../shared/models/mobilenet_v2_coral_float.onnx}
image=${REAL_IMAGE:-../shared/images/pets.jpg}
for f in "$model" "$image"; do
  [[ -r $f ]] || { echo "reference: $f is missing (../shared holds the trained MobileNetV2 and pets.jpg)" >&2; exit 1; }
done
threads=$(nproc)
work=results/runs/reference
rm -rf "$work"
mkdir -p "$work"

scripts/fetch-samples.sh
build/xaibench dataset sample --from data/samples -o data/sample-dogs >/dev/null
# The seed's figure: original | deconvnet | guided backprop | saliency, Italian greyhound (171).
build/xaibench explain --model "$model" --image "$image" --target 171 --threads "$threads" -o "$work/pets.h5"
build/xaibench plot "$work/pets.h5" -o "$work/pets"
# The sample sweep: the sample photos as a Stanford Dogs tree, each explained at its label.
build/xaibench run --model "$model" --dataset data/sample-dogs --batch 4 --threads "$threads" -o "$work/samples.h5"
build/xaibench metrics "$work/samples.h5" --threads "$threads" --csv "$work/samples.metrics.csv"
build/xaibench plot "$work/samples.h5" -o "$work/samples"
# Speed: the thread-scaling plot (with PyTorch's line) and the side-by-side table.
make -f Makefile.experiments scaling SCALING_DIR="$work/scaling"
bench/vs_pytorch.py --batches 1,8 --csv "$work/vs_pytorch.csv" | tee "$work/vs_pytorch.txt"

cp "$work/pets/figure1.png" results/figure1-pets.png
cp "$work/samples/grid.png" results/sample-grid.png
cp "$work/samples/boxplots.png" results/sample-boxplots.png
cp "$work/samples.metrics.csv" results/sample-metrics.csv
cp "$work/scaling/scaling.png" results/scaling.png
cp "$work/vs_pytorch.txt" results/vs_pytorch.txt

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
memory=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
simd=$(grep -q avx512f /proc/cpuinfo && echo AVX-512 || (grep -q avx2 /proc/cpuinfo && echo AVX2 || echo "no AVX2"))
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
torch=$(/usr/bin/python3 -c 'import torch; print("PyTorch", torch.__version__)' 2>/dev/null || echo "no PyTorch (its lines are left out)")
cat >results/README.md <<EOF
# Reference outputs

Made by \`make -f Makefile.experiments reference\` (scripts/reference.sh) at commit $commit on
$(date -u +%Y-%m-%d): $cpu ($simd), $threads cores, $memory; $torch. Every file here is remade by that
one target; the runs behind them (HDF5 files, PDFs, the figures' data) go to results/runs/, which
git ignores, as do your own runs there.

| file | what it is |
|---|---|
| figure1-pets.png | The seed's figure on real weights: the trained MobileNetV2 of ../shared/models on ../shared/images/pets.jpg, explained at ImageNet 171 (Italian greyhound): original, deconvnet, guided backprop, saliency. |
| sample-grid.png | The sample sweep (\`xaibench run\` over the sample photos laid out as a Stanford Dogs tree, each explained at its label), one row per image. |
| sample-metrics.csv | That sweep's per-method metric summaries (docs/metrics.md): mean, median and a 95 % bootstrap interval per metric. |
| sample-boxplots.png | The same metrics' distributions per method. |
| scaling.png | Three maps from one forward (seeded ResNet18, batch 1) against the thread count: xaibench's engine (build/bench_engine) and, in the same run, PyTorch (bench/vs_pytorch.py). |
| vs_pytorch.txt | bench/vs_pytorch.py's table: PyTorch (Captum style and sharing one forward), xaibench's engine and \`xaibench explain\` end to end, ms per image at each thread count and batch 1 and 8, with the ratios. |

Commands, from the repository root ($threads threads):

    build/xaibench explain --model MOBILENET --image pets.jpg --target 171 --threads $threads -o pets.h5
    build/xaibench plot pets.h5 -o pets
    build/xaibench run --model MOBILENET --dataset data/sample-dogs --batch 4 --threads $threads -o samples.h5
    build/xaibench metrics samples.h5 --threads $threads --csv samples.metrics.csv
    build/xaibench plot samples.h5 -o samples
    make -f Makefile.experiments scaling
    bench/vs_pytorch.py --batches 1,8
EOF
du -ch results/*.png results/*.csv results/*.txt results/README.md | tail -1
echo "wrote results/ (see results/README.md)"
