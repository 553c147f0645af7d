#!/usr/bin/env bash
# demo.sh - the main job on the embedded default, from a fresh Debian machine:
# install what is missing, build, take the trained MobileNetV2 of ../shared/models (or, where it is
# absent, write a seeded ResNet18 and say so), fetch the sample photos (and lay them out as a
# small Stanford Dogs tree in data/sample-dogs), explain them with saliency, deconvnet
# and guided backprop (results/runs/demo.h5), sweep the tree (results/runs/sample-run.h5), score the maps
# (results/runs/sample-run.metrics.csv) and draw the figures (results/runs/figures/figure1.png, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
mkdir -p models results/runs
# The seed's claim (guided backprop sharper and less noisy than saliency) shows only on a trained
# network: use the one ../shared holds; XAI_DEMO_MODEL=FILE.onnx picks another.
trained=../shared/models/mobilenet_v2_coral_float.onnx
model=${XAI_DEMO_MODEL:-}
if [[ -z $model && -r $trained ]]; then
  model=$trained
  echo "demo: model $model (MobileNetV2 trained on ImageNet)"
elif [[ -z $model ]]; then
  model=models/resnet18-seed0.onnx
  [[ -s $model ]] || build/xaibench model init --arch resnet18 --seed 0 -o "$model"
  echo "demo: no trained model at $trained; using $model, a ResNet18 with seeded (untrained) weights:" \
       "its maps show how the methods differ, not what a trained network looks at"
fi
scripts/fetch-samples.sh
build/xaibench dataset sample --from data/samples -o data/sample-dogs
build/xaibench dataset list data/sample-dogs
images=()
for f in chelsea.png coffee.png astronaut.png motorcycle_left.png rocket.jpg dog.jpg; do
  images+=(--image "data/samples/$f")
done
build/xaibench explain --model "$model" "${images[@]}" \
  --methods saliency,deconvnet,guided_backprop --threads "$(nproc)" -o results/runs/demo.h5
h5ls -r results/runs/demo.h5
build/xaibench run --model "$model" --dataset data/sample-dogs --batch 4 \
  --threads "$(nproc)" -o results/runs/sample-run.h5
build/xaibench metrics results/runs/sample-run.h5 --threads "$(nproc)"
build/xaibench plot results/runs/sample-run.h5 -o results/runs/figures --image 5
