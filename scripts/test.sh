#!/usr/bin/env bash
# test.sh - build and run every test: a Release build (with MPI: the MPI tests run mpirun), then
# an AddressSanitizer + UndefinedBehaviorSanitizer build without MPI (the serial-HDF5 build that
# -DXAI_MPI=OFF gives), each running the whole CTest suite.
#   scripts/test.sh           both builds (what CI runs)
#   scripts/test.sh --quick   the Release build only
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
scripts/fetch-samples.sh
jobs=$(nproc)
run() {
  local dir=$1; shift
  cmake -S . -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
  (cd "$dir" && ctest --output-on-failure --timeout 1200)
}
echo "== Release build"
run build -DCMAKE_BUILD_TYPE=Release
if [[ "${1:-}" != "--quick" ]]; then
  echo "== AddressSanitizer + UndefinedBehaviorSanitizer build"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DXAI_SANITIZE=ON -DXAI_MPI=OFF
fi
