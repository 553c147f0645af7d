#!/usr/bin/env bash
# fetch-stanford-dogs.sh - download the real Stanford Dogs data set (Khosla et al. 2011) from its
# home page, check each archive's size and SHA-256, and unpack it as xaibench reads it:
#   data/stanford-dogs/{Images,Annotation,lists}/
# About 800 MB; needs network access to vision.stanford.edu (the project's own machines have none,
# and nothing in the tests needs this).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-data/stanford-dogs}
base=http://vision.stanford.edu/aditya86/ImageNetDogs
# archive size sha256 (as published with the data set's mirrors)
archives=(
  "images.tar 793579520 a443fc2f9a851aa1a7b8e4fa4af94b8459fce2c9f5a2f4dd4669cf9673a4ec58"
  "annotation.tar 21852160 662ed36f707be6b195c2fda392d8e153e83af28cedc8e2134a649f198def30fd"
  "lists.tar 481280 34b47cacd9a98b5d150e084f24d29391c084c55272295ec65c85651bc35f4d6c"
)
mkdir -p "$out/downloads" "$out/lists"
for entry in "${archives[@]}"; do
  read -r name size sum <<<"$entry"
  file="$out/downloads/$name"
  if [[ ! -s "$file" ]] || [[ $(stat -c %s "$file") != "$size" ]]; then
    echo "stanford-dogs: downloading $base/$name ($size bytes)"
    if command -v curl >/dev/null; then curl -fL --retry 3 -o "$file.partial" "$base/$name"
    else wget -q -O "$file.partial" "$base/$name"; fi
    mv "$file.partial" "$file"
  fi
  got=$(sha256sum "$file" | cut -d' ' -f1)
  if [[ "$got" != "$sum" ]]; then
    echo "stanford-dogs: $file: SHA-256 $got, expected $sum" >&2
    exit 1
  fi
done
tar -xf "$out/downloads/images.tar" -C "$out"          # Images/<wnid>-<breed>/*.jpg
tar -xf "$out/downloads/annotation.tar" -C "$out"      # Annotation/<wnid>-<breed>/*
tar -xf "$out/downloads/lists.tar" -C "$out/lists"     # {file,train,test}_list.mat
echo "stanford-dogs: ready in $out ($(find "$out/Images" -type f | wc -l) images)"
