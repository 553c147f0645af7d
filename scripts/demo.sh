#!/usr/bin/env bash
# demo.sh - the main job on the embedded default, from a fresh Debian machine:
# install what is missing, build, write a seeded ResNet18, fetch the sample photos (and lay them
# out as a small Stanford Dogs tree in data/sample-dogs), explain them with saliency, deconvnet
# and guided backprop (results/demo.h5), sweep the tree (results/sample-run.h5), score the maps
# (results/sample-run.metrics.csv) and draw the figures (results/figures/figure1.png, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
mkdir -p models results
[[ -s models/resnet18-seed0.onnx ]] || build/xaibench model init --arch resnet18 --seed 0 -o models/resnet18-seed0.onnx
scripts/fetch-samples.sh
build/xaibench dataset sample --from data/samples -o data/sample-dogs
build/xaibench dataset list data/sample-dogs
images=()
for f in chelsea.png coffee.png astronaut.png motorcycle_left.png rocket.jpg dog.jpg; do
  images+=(--image "data/samples/$f")
done
build/xaibench explain --model models/resnet18-seed0.onnx "${images[@]}" \
  --methods saliency,deconvnet,guided_backprop --threads "$(nproc)" -o results/demo.h5
h5ls -r results/demo.h5
build/xaibench run --model models/resnet18-seed0.onnx --dataset data/sample-dogs --batch 4 \
  --threads "$(nproc)" -o results/sample-run.h5
build/xaibench metrics results/sample-run.h5 --threads "$(nproc)"
build/xaibench plot results/sample-run.h5 -o results/figures --image 5
