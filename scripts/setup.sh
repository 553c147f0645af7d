#!/usr/bin/env bash
# setup.sh - install the Debian packages xaibench needs, only those missing.
#   scripts/setup.sh          build and run dependencies
#   scripts/setup.sh --test   also what the tests use (Criterion is always installed; this adds
#                             ONNX's checker and node test cases, PIL for the preprocessing check,
#                             SciPy and scikit-image for the sanity checks' similarity measures,
#                             clang with libFuzzer and its OpenMP for the fuzzing harnesses,
#                             PyTorch, torchvision and h5py for the model families against
#                             PyTorch, bench/families.py)
set -euo pipefail

packages=(build-essential cmake pkg-config libdnnl-dev libhdf5-dev hdf5-tools libprotobuf-c-dev
          protobuf-c-compiler libjpeg-dev libpng-dev libssl-dev libxml2-dev libmatio-dev zlib1g-dev libfftw3-dev libcriterion-dev gnuplot-nox
          ca-certificates libopenmpi-dev openmpi-bin libhdf5-openmpi-dev)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(python3 python3-onnx python3-numpy python3-pil python3-scipy python3-skimage libonnx-testdata clang libclang-rt-14-dev libomp-dev
             python3-torch python3-torchvision python3-h5py)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi
echo "setup: installing ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
