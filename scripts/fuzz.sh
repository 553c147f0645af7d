#!/usr/bin/env bash
# fuzz.sh - build the libFuzzer harnesses (clang, ASan + UBSan) and run each on its corpus.
#   scripts/fuzz.sh [SECONDS] [HARNESS...]   each harness for SECONDS (default 60); all by default
# Seeds: fuzz/corpus/<name>/ (in the repository), plus ONNX's node test models from Debian's
# libonnx-testdata when installed. What the fuzzer adds goes to build-fuzz/corpus/<name>/, kept
# between runs; a crash leaves build-fuzz/artifacts/<name>/crash-* and a non-zero exit. Each
# harness's line gives its executions, and the summary the failures.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
harnesses=("$@")
((${#harnesses[@]})) || harnesses=(onnx image voc mat results)
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DXAI_FUZZ=ON -DXAI_MPI=OFF \
  >/dev/null || exit 1
cmake --build build-fuzz -j"$(nproc)" >/dev/null || { echo "fuzz: the build failed"; exit 1; }

failures=()
for name in "${harnesses[@]}"; do
  corpus=build-fuzz/corpus/$name artifacts=build-fuzz/artifacts/$name
  mkdir -p "$corpus" "$artifacts"
  seeds=(fuzz/corpus/"$name")
  if [[ $name == onnx && -d /usr/share/libonnx-testdata/data/node ]]; then
    mkdir -p build-fuzz/seeds-onnx
    for m in /usr/share/libonnx-testdata/data/node/test_{conv,relu,maxpool,averagepool,globalaveragepool,batchnorm,gemm,flatten,add,clip}*/model.onnx; do
      [[ -f $m ]] && cp "$m" "build-fuzz/seeds-onnx/$(basename "$(dirname "$m")").onnx"
    done
    seeds+=(build-fuzz/seeds-onnx)
  fi
  dict=()
  [[ -f fuzz/$name.dict ]] && dict=(-dict="fuzz/$name.dict")
  log=build-fuzz/fuzz_$name.log
  extra=()
  # matio allocates what a corrupt .mat declares before it fails: mat_check.c now refuses sizes
  # a file cannot hold first, and the limits stay wide for what matio still allocates (GiBs
  # were seen before the check).
  rss=2560
  [[ $name == mat ]] && extra=(-malloc_limit_mb=65536) rss=8192
  rerun=("${extra[@]}") # the limits, for re-running a finding
  # HDF5 1.10 crashes on some corrupt files inside its own parser (h5dump too): the results
  # harness runs in fork mode, going on past crashes, and each crash is judged by its stack below.
  [[ $name == results ]] && extra=(-fork=1 -ignore_crashes=1) rerun=()
  export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1
  build-fuzz/fuzz_"$name" "$corpus" "${seeds[@]}" "${dict[@]}" -max_total_time="$seconds" -rss_limit_mb="$rss" \
    -timeout=30 -artifact_prefix="$artifacts/" -print_final_stats=1 "${extra[@]}" >"$log" 2>&1
  status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  [[ -z $execs ]] && execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
  # A crash whose top frames (past libFuzzer's, the sanitizers' and libc's) are all in libhdf5
  # is HDF5's own; any other one is ours, and so is every hang (where a hang sits says little
  # about its cause: one in HDF5's writes came from a shape our merge trusted).
  ours=$(ls "$artifacts" | grep -c '^timeout-') theirs=0 unreproduced=0
  for input in "$artifacts"/crash-* "$artifacts"/leak-* "$artifacts"/oom-*; do
    [[ -f $input ]] || continue
    # Re-run alone under the same limits and judge it by its stack. One that does not come back
    # (fork mode's children share HDF5's state across inputs; at its wrap-up libFuzzer may write
    # an empty unit) is counted apart and kept.
    frames=$(timeout 120 build-fuzz/fuzz_"$name" "$input" -timeout=30 -rss_limit_mb="$rss" "${rerun[@]}" 2>&1 |
      grep -E '^ *#[0-9]+ ' | grep -vE 'fuzzer::|__sanitizer|__interceptor|__asan|libc\.so|/posix/|/sysdeps/| in (malloc|calloc|realloc) ' | head -4)
    if [[ -z $frames ]]; then
      unreproduced=$((unreproduced + 1))
    elif grep -qv 'libhdf5' <<<"$frames"; then
      ours=$((ours + 1))
    else
      theirs=$((theirs + 1))
    fi
  done
  [[ $name != results ]] && ((status != 0 && ours == 0 && theirs == 0)) && ours=1
  [[ -z $execs || $execs == 0 ]] && ours=1 # it did not run: no corpus, no binary
  echo "fuzz_$name: ${execs:-?} executions in ${seconds} s; findings: $ours in xaibench," \
       "$theirs inside libhdf5, $unreproduced not reproduced alone (log: $log)"
  if ((ours)); then
    grep -m3 -E "ERROR|SUMMARY|runtime error" "$log" | sed 's/^/  /'
    failures+=("fuzz_$name")
  fi
done
if ((${#failures[@]})); then
  echo "fuzz: findings in ${failures[*]}; inputs in build-fuzz/artifacts/"
  exit 1
fi
