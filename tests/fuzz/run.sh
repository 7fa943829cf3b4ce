#!/usr/bin/env bash
# Builds the fuzz harnesses (when needed), writes their seed corpora, then runs each harness in
# turn for the given seconds (default 180) and prints its executions, coverage and findings.
#   tests/fuzz/run.sh [seconds]
# Environment: ELEGY_FUZZ_BUILD (build folder, default build-fuzz), ELEGY_FUZZ_JOBS (build jobs,
# default 2), ELEGY_FUZZ_ONLY (space-separated formats to run, default all).
set -euo pipefail

seconds=${1:-180}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${ELEGY_FUZZ_BUILD:-$root/build-fuzz}
formats=${ELEGY_FUZZ_ONLY:-idx npy npz safetensors csv}
# Inputs larger than a format needs only slow the search down; these leave room for several
# members (npz), gzip and data, while keeping one execution fast.
declare -A max_len=([idx]=65536 [npy]=16384 [npz]=65536 [safetensors]=16384 [csv]=4096)

if [[ ! -f $build/build.ninja ]]; then
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DELEGY_BUILD_FUZZERS=ON -DELEGY_ENABLE_CUDA=OFF -DELEGY_BUILD_EXAMPLES=OFF \
    -DELEGY_BUILD_TESTS=OFF
fi
cmake --build "$build" --target elegy_fuzzers -j "${ELEGY_FUZZ_JOBS:-2}"
python3 "$root/tests/fuzz/make_seeds.py" "$build/fuzz-seeds"

# UBSan reports stop the run (the library is also built with -fno-sanitize-recover).
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
printf '%-12s %8s %10s %8s %7s %7s  %s\n' harness seconds execs exec/s cov ft result
for format in $formats; do
  corpus=$build/fuzz-corpus/$format
  artifacts=$build/fuzz-artifacts/$format
  log=$build/fuzz-logs/$format.log
  rm -rf "$artifacts"  # findings of this run only (earlier ones are regression tests by now)
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  dict=()
  [[ -f $root/tests/fuzz/$format.dict ]] && dict=(-dict="$root/tests/fuzz/$format.dict")
  status=0
  "$build/tests/fuzz/fuzz_$format" "$corpus" "$build/fuzz-seeds/$format" "${dict[@]}" \
    -max_len="${max_len[$format]}" -rss_limit_mb=2048 -timeout=10 -max_total_time="$seconds" \
    -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  found=$(find "$artifacts" -type f | head -1)
  if [[ $status -ne 0 || -n $found ]]; then
    result="FINDING (exit $status) ${found:-see $log}"
  else
    result="no crash"
  fi
  printf '%-12s %8s %10s %8s %7s %7s  %s\n' "$format" "$seconds" "${execs:-?}" "${rate:-?}" \
    "${cov:-?}" "${ft:-?}" "$result"
done
