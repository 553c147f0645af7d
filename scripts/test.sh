#!/usr/bin/env bash
# test.sh - build and run every test: a Release build (with MPI: the MPI tests run mpirun; the
# engine tests also with oneDNN limited to AVX2 and to SSE4.1 kernels), then an AddressSanitizer
# + UndefinedBehaviorSanitizer build without MPI (the serial-HDF5 build that -DXAI_MPI=OFF
# gives), each running the whole CTest suite, then each libFuzzer harness for 20 s on its corpus.
# A failing build or suite does not stop the others: every failure is listed at the end, and
# the exit status is non-zero if there was any.
#   scripts/test.sh           all of it (what CI runs)
#   scripts/test.sh --quick   the Release build only, no fuzzing
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test || exit 1
scripts/fetch-samples.sh || exit 1
jobs=$(nproc)
failures=()
run() {
  local name=$1 dir=$2; shift 2
  echo "== $name"
  if ! cmake -S . -B "$dir" "$@" >/dev/null || ! cmake --build "$dir" -j"$jobs"; then
    failures+=("$name: the build failed")
    return
  fi
  local log="$dir/ctest.log"
  if ! (cd "$dir" && ctest --output-on-failure --timeout 1200 | tee ctest.log); then
    local failed
    failed=$(sed -n 's/^[[:space:]]*[0-9]* - \([^ ]*\) .*/\1/p' "$log" | paste -sd' ')
    failures+=("$name: ${failed:-ctest failed}")
  fi
}
run "Release build" build -DCMAKE_BUILD_TYPE=Release
if [[ "${1:-}" != "--quick" ]]; then
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run "AddressSanitizer + UndefinedBehaviorSanitizer build" build-asan \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DXAI_SANITIZE=ON -DXAI_MPI=OFF -DXAI_ISA_VARIANTS=OFF
fi
if [[ "${1:-}" != "--quick" ]]; then
  echo "== fuzzing: each harness 20 s on its corpus (scripts/fuzz.sh)"
  scripts/fuzz.sh 20 || failures+=("fuzzing: scripts/fuzz.sh 20 found a crash (build-fuzz/artifacts/)")
fi
if ((${#failures[@]})); then
  echo "== FAILED"
  printf '  %s\n' "${failures[@]}"
  exit 1
fi
echo "== all builds and tests passed"
