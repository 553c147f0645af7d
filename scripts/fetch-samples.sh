#!/usr/bin/env bash
# fetch-samples.sh - the embedded sample images: real photos from Debian packages, taken with
# `apt-get download` and unpacked here (the packages are not installed), checked by SHA-256.
#   python3-skimage: chelsea.png (a tabby cat), coffee.png, astronaut.png, motorcycle_left.png,
#                    rocket.jpg, and truncated.jpg (deliberately cut short, for error tests)
#   darknet:         dog.jpg (a dog, a bicycle and a truck)
# Result: data/samples/. Nothing here is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
out=data/samples
mkdir -p "$out"

declare -A sums=(
  [chelsea.png]=596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb
  [coffee.png]=cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7
  [astronaut.png]=88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5
  [motorcycle_left.png]=db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179
  [rocket.jpg]=c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c
  [truncated.jpg]=4c226038acc78012d335efba29c6119a24444a886842182b7e18db378f4a557d
  [dog.jpg]=5a9522051c3cec2bbd2f6323fccba32e8fbf3ddcc2b3e2fd46b04c720bc6f866
)

have_all=1
for f in "${!sums[@]}"; do [[ -s "$out/$f" ]] || have_all=0; done
if ((have_all)); then echo "samples: present in $out"; exit 0; fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download python3-skimage darknet >/dev/null 2>&1) || {
  sudo_cmd=""; [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -q >/dev/null
  (cd "$work" && apt-get download python3-skimage darknet >/dev/null)
}
dpkg-deb -x "$work"/python3-skimage_*.deb "$work/skimage"
dpkg-deb -x "$work"/darknet_*.deb "$work/darknet"
for f in chelsea.png coffee.png astronaut.png motorcycle_left.png rocket.jpg truncated.jpg; do
  cp "$work"/skimage/usr/lib/python3/dist-packages/skimage/data/$f "$out/$f"
done
cp "$work/darknet/usr/share/darknet/data/dog.jpg" "$out/dog.jpg"
for f in "${!sums[@]}"; do
  want=${sums[$f]}
  got=$(sha256sum "$out/$f" | cut -d' ' -f1)
  if [[ "$got" != "$want" ]]; then
    echo "samples: $out/$f: checksum $got, expected $want" >&2
    exit 1
  fi
done
echo "samples: $(ls "$out" | wc -l) images in $out"
