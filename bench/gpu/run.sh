#!/usr/bin/env bash
# Builds elegy with its CUDA backend on a GPU machine that can reach nothing (the device tool's
# H100/H200), runs the whole test suite there, and times the GPU benchmarks against PyTorch: the
# kernel microbenchmarks, then whole training steps (bench/gpu/train.py: elegy vs PyTorch eager
# and, when installed with a GPU backend, JAX jit).
#
#   bench/gpu/run.sh [STAGE...]      stages: build test sanitize bench mains host
#                                    (default: build test bench); "all" = all six
#   ELEGY_GPU_BUILD=bench/gpu/prebuilt.tar.xz bench/gpu/run.sh test bench
#                                    runs a build staged on the development machine by
#                                    bench/gpu/stage_prebuilt.sh (no build stage: saves minutes);
#                                    the folder bench/gpu/prebuilt works too (5x the bytes)
#
# Needs bench/gpu/debs/*.deb (made here by bench/gpu/fetch_debs.sh and carried along): they are
# unpacked with dpkg -x into a private prefix, never into /. The machine must have nvcc, g++ and
# CMake (the device image does). Writes its logs under $OUT when set (the device tool brings
# those back), else under build-gpu/out. Exit status: 0 only when every stage run succeeded.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$repo/bench/gpu"
build="${ELEGY_GPU_BUILD:-$repo/build-gpu}"     # /build*/ is git-ignored: kept while warm
[[ $build == /* ]] || build="$repo/$build"
prefix="${ELEGY_GPU_PREFIX:-/tmp/elegy-gpu-deps}"
if [[ $build == *.tar.xz ]]; then
  # stage_prebuilt.sh's archive: unpacked once per machine.
  unpacked=/tmp/elegy-prebuilt
  if [[ ! -f $unpacked/.from || $(cat "$unpacked/.from") != "$(stat -c %Y "$build")" ]]; then
    rm -rf "$unpacked" && mkdir -p "$unpacked"
    tar -xJf "$build" -C "$unpacked"
    stat -c %Y "$build" >"$unpacked/.from"
  fi
  build="$unpacked/prebuilt"
fi
out="${OUT:-$build/out}"
jobs="$(nproc)"
status=0

say() { printf '\n[gpu/run.sh] %s\n' "$*"; }
die() { printf '\n[gpu/run.sh] ERROR: %s\n' "$*" >&2; exit 1; }
failed() { printf '[gpu/run.sh] FAILED: %s\n' "$*" >&2; status=1; }

stages=("$@")
[[ ${#stages[@]} -eq 0 ]] && stages=(build test bench)
[[ " ${stages[*]} " == *" all "* ]] && stages=(build test sanitize bench mains host)
for s in "${stages[@]}"; do
  [[ $s =~ ^(build|test|sanitize|bench|mains|host)$ ]] ||
    die "unknown stage '$s' (build test sanitize bench mains host all)"
done
wants() { [[ " ${stages[*]} " == *" $1 "* ]]; }
mkdir -p "$out" "$build"

# ---- the machine ------------------------------------------------------------------------------
say "machine"
{
  uname -srm
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  else
    echo "nvidia-smi: not found"
  fi
  # The host CPU and C library: CPU test results (OpenBLAS's kernel choice, libm) depend on them.
  lscpu 2>/dev/null | grep -E '^(Model name|CPU\(s\)|Thread|L2|L3)' || true
  if grep -q -m1 avx512f /proc/cpuinfo; then echo "AVX-512: yes"; else echo "AVX-512: no"; fi
  ldd --version 2>/dev/null | head -n 1 || true
  # What the scheduler lets this process use (elegy's default pool size follows it).
  echo "nproc: $(nproc), online: $(getconf _NPROCESSORS_ONLN), affinity: $(taskset -pc $$ 2>/dev/null | sed 's/.*: //')"
  echo "cgroup: $(tr '\n' ' ' </proc/self/cgroup)"
  for f in /sys/fs/cgroup/cpu.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpuset.cpus.effective; do
    [[ -r $f ]] && echo "$f: $(cat "$f")"
  done
  true
} | tee "$out/machine.txt"

# ---- tools and the unpacked dependencies -------------------------------------------------------
export PATH="/usr/local/cuda/bin:$PATH"
for tool in cmake g++ nvcc dpkg; do
  command -v "$tool" >/dev/null || die "'$tool' is not installed on this machine"
done
shopt -s nullglob
debs=("$here"/debs/*.deb)
shopt -u nullglob
[[ ${#debs[@]} -gt 0 ]] || die "no .deb files in bench/gpu/debs: run bench/gpu/fetch_debs.sh on the \
development machine, then pass carry=[\"bench/gpu/debs\"] to the device tool (see bench/gpu/README.md)"

libdir="$prefix/usr/lib/x86_64-linux-gnu"
if [[ ! -f "$prefix/.unpacked" ]]; then
  say "unpacking ${#debs[@]} packages into $prefix"
  rm -rf "$prefix" && mkdir -p "$prefix"
  for deb in "${debs[@]}"; do dpkg -x "$deb" "$prefix"; done
  # Two CMake package files name absolute /usr paths: point them into the prefix.
  sed -i "s|/usr/|$prefix/usr/|g" "$libdir/openblas-pthread/cmake/openblas/OpenBLASConfig.cmake"
  sed -i "s|_IMPORT_PREFIX \"/usr\"|_IMPORT_PREFIX \"$prefix/usr\"|" \
    "$prefix/usr/lib/cmake/doctest/doctestTargets.cmake"
  touch "$prefix/.unpacked"
fi
# OpenBLAS finds libgfortran (a dependency of a dependency) through the loader path, not RPATH.
# elegy's own layers and CUDA's libraries are on the path too: a prebuilt build's RUNPATH names
# the folders of the machine it was built on.
deps_path="$libdir:$libdir/openblas-pthread"
for layer in core kernels autodiff model optim; do deps_path="$deps_path:$build/$layer"; done
for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib; do
  [[ -d $d ]] && deps_path="$deps_path:$d"
done
if [[ -f "$build/SOURCE_DIR" ]]; then
  # The prebuilt tests read their reference files by the source path they were built in.
  src="$(cat "$build/SOURCE_DIR")"
  if [[ $src != "$repo" && ! -e $src ]]; then
    mkdir -p "$(dirname "$src")" && ln -s "$repo" "$src"
  fi
fi
# The whole Fashion-MNIST, when carried (stage_prebuilt.sh --with-fashion-mnist) or unpacked from
# the debs (fetch_debs.sh --with-fashion-mnist): the training benchmarks' data and the mains'.
fmnist=""
for d in "$here/fmnist" "$prefix/usr/share/datasets/fashion-mnist"; do
  [[ -f $d/train-images-idx3-ubyte.gz ]] && { fmnist="$d"; break; }
done
with_deps() { LD_LIBRARY_PATH="$deps_path${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$@"; }
ninja_bin="$(command -v ninja || true)"
[[ -n $ninja_bin ]] || ninja_bin="$prefix/usr/bin/ninja"
[[ -x $ninja_bin ]] || die "no ninja on this machine and none in bench/gpu/debs"

# ---- build -----------------------------------------------------------------------------------
if wants build; then
  say "configure + build ($jobs jobs) -> $build"
  # Benchmarks on for bench_train_elegy; their libtorch peers are CPU programs that need the C++
  # libtorch, which the image lacks (its PyTorch is Python's): Torch is not looked for at all.
  if ! {
    cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_MAKE_PROGRAM="$ninja_bin" \
      -DCMAKE_BUILD_TYPE=Release -DELEGY_ENABLE_CUDA=ON -DELEGY_BUILD_EXAMPLES=OFF \
      -DELEGY_BUILD_BENCHMARKS=ON -DCMAKE_DISABLE_FIND_PACKAGE_Torch=ON \
      -DCMAKE_CUDA_ARCHITECTURES=90-real \
      -DCMAKE_PREFIX_PATH="$prefix/usr" \
      -Dhwy_DIR="$libdir/cmake/hwy" \
      -DOpenBLAS_DIR="$libdir/openblas-pthread/cmake/openblas" \
      -Ddoctest_DIR="$prefix/usr/lib/cmake/doctest" &&
      cmake --build "$build" -j"$jobs" --target elegy_tests bench_train_elegy
  } >"$out/build.log" 2>&1; then
    tail -n 40 "$out/build.log"
    die "the build failed (whole log: build.log)"
  fi
  grep -m1 "elegy: CUDA backend" "$out/build.log" || true
  grep -q "elegy: CUDA backend ON" "$out/build.log" || die "CMake did not enable the CUDA backend (see build.log)"
  echo "built $build/tests/elegy_tests and $build/bench/train/bench_train_elegy"
fi
tests_bin="$build/tests/elegy_tests"

# ---- the test suite ---------------------------------------------------------------------------
if wants test; then
  [[ -x $tests_bin ]] || die "no $tests_bin: run the build stage first"
  say "elegy_tests (all of it; --duration lists every test case that ran)"
  set +e
  # A hung test must not eat the whole call: doctest reports SIGTERM as a crash of that case.
  # ELEGY_GPU_TEST_ARGS: extra doctest arguments (a filter such as -tc='cuda*' for a short run).
  # shellcheck disable=SC2086
  with_deps timeout "${ELEGY_GPU_TEST_TIMEOUT:-400}" "$tests_bin" --duration=true ${ELEGY_GPU_TEST_ARGS:-} \
    >"$out/tests.log" 2>&1
  rc=$?
  set -e
  {
    echo "elegy_tests exit status: $rc$([[ $rc -eq 124 ]] && echo ' (timed out)')"
    grep -E '^\[doctest\] (test cases|assertions|Status)' "$out/tests.log" || true
    echo "CUDA test cases that ran:"
    grep -E '^[0-9.]+ s: cuda:' "$out/tests.log" || echo "  (none: were they skipped?)"
    echo "failing test cases:"
    # Every case's output starts with "TEST CASE:  <name>"; a failure adds an ERROR line under it.
    awk '/^TEST CASE:/ { name = substr($0, 13) }
         /: (FATAL )?ERROR: / && name != "" && !seen[name]++ { print "  " name }' \
      "$out/tests.log"
  } | tee "$out/summary.txt"
  [[ $rc -eq 0 ]] || failed "elegy_tests (details: tests.log)"
  # Every optax trajectory's worst deviation in tolerance units, to compare machines (optax.log).
  ELEGY_OPTAX_VERBOSE=1 with_deps "$tests_bin" -tc='optimizers match optax*' -s 2>&1 |
    grep 'MESSAGE:' | sed 's/.*MESSAGE: //' | sort -t' ' -k6 -g -r >"$out/optax.log" || true
  echo "optax runs closest to their tolerance (optax.log):"
  awk '{ for (i = 1; i < NF; ++i) if ($i == "worst") print "  " $(i + 1) " x: " $0 }' \
    "$out/optax.log" | sort -g -r -k1 | head -n 3 | cut -c1-160 || true
  if [[ $rc -gt 1 ]]; then
    # A crash or a hang ends doctest's whole run: every GPU test case then runs in its own
    # process, so one crash hides no other result. (',' splits doctest filters: '?' matches it.)
    say "elegy_tests ended abnormally: the GPU test cases one process each (tests_each.log)"
    set +e
    with_deps "$tests_bin" -ltc -tc='cuda*,*GPU*,*gpu*,*device*' 2>/dev/null |
      grep -v -E '^(\[doctest\]|=+$)' | while IFS= read -r name; do
        [[ -n $name ]] || continue
        with_deps timeout 90 "$tests_bin" -tc="${name//,/?}" >>"$out/tests_each.log" 2>&1
        echo "  exit $? : $name"
      done | tee -a "$out/summary.txt"
    set -e
  fi
fi

# ---- memory checker over the CUDA tests -----------------------------------------------------------
if wants sanitize; then
  say "compute-sanitizer memcheck over the CUDA tests"
  if command -v compute-sanitizer >/dev/null && [[ -x $tests_bin ]]; then
    set +e
    # ELEGY_CUDA_CACHE=0: freed blocks go back to the driver, so memcheck sees a use after free.
    # Left out: the cases whose CUDA calls fail on purpose (memcheck reports every failed call):
    # the 4 TiB allocation and a capture's refused device -> host copy; and a timing case.
    ELEGY_CUDA_CACHE=0 with_deps timeout "${ELEGY_GPU_SANITIZE_TIMEOUT:-480}" compute-sanitizer --tool memcheck --error-exitcode 99 \
      "$tests_bin" -tc='cuda:*' \
      -tce='cuda: an allocation past*,cuda: a capture that waits on the host*,cuda: a copy to the GPU queued behind*' \
      >"$out/sanitize.log" 2>&1
    rc=$?
    set -e
    grep -E 'ERROR SUMMARY|^\[doctest\] (test cases|Status)' "$out/sanitize.log" || tail -n 20 "$out/sanitize.log"
    [[ $rc -eq 0 ]] || failed "compute-sanitizer exit status $rc (details: sanitize.log)"
  else
    failed "compute-sanitizer or $tests_bin missing"
  fi
fi

# ---- benchmarks -------------------------------------------------------------------------------
if wants bench; then
  say "GPU microbenchmarks"
  [[ -f "$build/core/libelegy_core.so" ]] || die "no elegy libraries in $build: run the build stage first"
  micro="$build/gpu_micro"
  [[ -x $micro && $micro -nt "$here/gpu_micro.cpp" ]] || g++ -O2 -std=c++20 -I"$build/include" -I"$repo/bench/peers" "$here/gpu_micro.cpp" -o "$micro" \
    -L"$build/autodiff" -L"$build/kernels" -L"$build/core" \
    -lelegy_autodiff -lelegy_kernels -lelegy_core \
    -Wl,-rpath,"$build/autodiff:$build/kernels:$build/core"
  if ! with_deps "$micro" >"$out/gpu_micro.csv"; then failed "gpu_micro"; fi
  # Any GPU benchmark binaries the build made (bench/, ELEGY_BUILD_BENCHMARKS=ON) run too.
  for b in "$build"/bench/bench_*gpu*; do
    [[ -x $b ]] || continue
    say "$(basename "$b")"
    with_deps "$b" | tee -a "$out/gpu_micro.csv" || failed "$(basename "$b")"
  done
  if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    say "PyTorch peer (torch/elegy > 1: elegy faster)"
    python3 "$here/torch_peer.py" --elegy-csv "$out/gpu_micro.csv" >"$out/torch_peer.csv" 2>"$out/torch_peer.txt" ||
      failed "torch_peer.py"
    cat "$out/torch_peer.txt"
  else
    echo "(no PyTorch with CUDA here: peer comparison skipped)"
  fi

  say "training steps: elegy vs PyTorch eager and JAX jit (peer/elegy > 1: elegy faster)"
  train_bin="$build/bench/train/bench_train_elegy"
  train_args=(--build "$build" --out "$out" --library-path "$deps_path")
  [[ -n $fmnist ]] && train_args+=(--fashion-mnist "$fmnist")
  if [[ ! -x $train_bin ]]; then
    failed "no $train_bin: run the build stage first"
  elif ! python3 -c 'import numpy, torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' \
    2>/dev/null; then
    echo "(no PyTorch with CUDA, or no numpy, here: training-step comparison skipped)"
  elif ! timeout "${ELEGY_GPU_TRAIN_TIMEOUT:-300}" python3 "$here/train.py" "${train_args[@]}" \
    2>"$out/train.log"; then
    tail -n 30 "$out/train.log"
    failed "bench/gpu/train.py (details: train.log)"
  fi
fi

# ---- sample mains on the GPU ----------------------------------------------------------------
if wants mains; then
  # The examples' fit loops, one epoch each, with ELEGY_FIT_PROFILE=1 (where each step's time
  # goes), on the GPU and on the host's CPU, at 2 threads, at every online CPU and at the default
  # (elegy's available_cpus()): on the H200 host fit took 10x the bare step on both devices
  # (2026-12-04). Data: the full Fashion-MNIST when carried (stage_prebuilt.sh
  # --with-fashion-mnist puts it in bench/gpu/fmnist), else the debs' copy, else the 10k subset.
  data_dir="$fmnist"
  [[ -z $data_dir && -f $build/fmnist-t10k/train-images-idx3-ubyte.gz ]] && data_dir="$build/fmnist-t10k"
  if [[ -z $data_dir ]]; then
    failed "mains: no Fashion-MNIST (stage_prebuilt.sh --with-fashion-mnist or --with-t10k)"
  else
    echo "data: $data_dir"
    online="$(getconf _NPROCESSORS_ONLN)"
    for main in ${ELEGY_GPU_MAINS:-mlp cnn vae}; do
      bin="$build/examples/$main"
      [[ -x $bin ]] || { failed "mains: no $bin (build the examples)"; continue; }
      # ELEGY_GPU_MAIN_DEVICES / ELEGY_GPU_MAIN_THREADS narrow the matrix (e.g. "cuda", "default").
      for device in ${ELEGY_GPU_MAIN_DEVICES:-cuda cpu}; do
        for threads in ${ELEGY_GPU_MAIN_THREADS:-default 2 $online}; do
          say "$main --device $device, threads $threads"
          env_threads=()
          [[ $threads == default ]] || env_threads=(ELEGY_NUM_THREADS="$threads")
          log="$out/main-$main-$device-$threads.txt"
          set +e
          env "${env_threads[@]}" ELEGY_FIT_PROFILE=1 LD_LIBRARY_PATH="$deps_path" timeout 120 \
            "$bin" --device "$device" --epochs "${ELEGY_GPU_MAIN_EPOCHS:-1}" --data "$data_dir" \
            >"$log" 2>&1
          rc=$?
          set -e
          tr '\r' '\n' <"$log" | grep -E 'fit profile|test accuracy|rror' | cut -c1-230 || true
          [[ $rc -eq 0 ]] || failed "$main --device $device (threads $threads) exit status $rc"
        done
      done
    done
  fi
fi

# ---- the host's scheduling costs ---------------------------------------------------------------
if wants host; then
  say "thread pool latency after idle gaps, std::async's cost (bench_pool_latency)"
  pool_bin="$build/bench/bench_pool_latency"
  if [[ -x $pool_bin ]]; then
    with_deps "$pool_bin" 2 4 8 "$(getconf _NPROCESSORS_ONLN)" | tee "$out/pool_latency.txt" ||
      failed "bench_pool_latency"
  else
    failed "no $pool_bin (build with -DELEGY_BUILD_BENCHMARKS=ON)"
  fi
fi

say "done; logs in $out: $(cd "$out" && ls | tr '\n' ' ')"
[[ $status -eq 0 ]] || say "some stages FAILED (see above)"
exit "$status"
