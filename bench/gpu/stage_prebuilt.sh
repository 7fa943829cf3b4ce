#!/usr/bin/env bash
# Stages a CUDA build made HERE (the development machine: same nvcc 13 as the lent GPU machine's
# driver) into bench/gpu/prebuilt/ and its archive bench/gpu/prebuilt.tar.xz (~6 MB), small
# enough to carry, so a lent GPU's minutes go to tests and benchmarks instead of a build.
# bench/gpu/run.sh then runs it (stages test, sanitize, bench, mains, host):
#
#   bench/gpu/stage_prebuilt.sh [BUILD] [--with-t10k] [--with-fashion-mnist]
#                                            BUILD: a -DELEGY_ENABLE_CUDA=ON Release build dir
#                                            with -DELEGY_BUILD_BENCHMARKS=ON (default build-gpu);
#                                            its examples are staged when built (the mains
#                                            stage); --with-t10k adds Fashion-MNIST's 10k test
#                                            images as a small training set for them (4.4 MB);
#                                            --with-fashion-mnist copies the whole data set
#                                            (30 MB) to bench/gpu/fmnist
#   run(command="ELEGY_GPU_BUILD=bench/gpu/prebuilt.tar.xz bench/gpu/run.sh test bench",
#       carry=["bench/gpu/debs", "bench/gpu/prebuilt.tar.xz", "bench/gpu/fmnist"])
#
# Copies the five libraries, elegy_tests, bench_train_elegy, bench_pool_latency and gpu_micro
# (compiled here), all stripped, and records the source folder the tests were built in (their
# reference files are read by that absolute path: run.sh links it to the copy of the repo on the
# GPU machine).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
with_t10k=0
with_fashion_mnist=0
args=()
for a in "$@"; do
  case $a in
    --with-t10k) with_t10k=1 ;;
    --with-fashion-mnist) with_fashion_mnist=1 ;;
    *) args+=("$a") ;;
  esac
done
build="$(cd "${args[0]:-$repo/build-gpu}" && pwd)"
dest="$repo/bench/gpu/prebuilt"

grep -q '^ELEGY_ENABLE_CUDA:BOOL=ON' "$build/CMakeCache.txt" ||
  { echo "stage_prebuilt.sh: $build is not a CUDA build (-DELEGY_ENABLE_CUDA=ON)" >&2; exit 1; }
targets=(elegy_tests bench_train_elegy bench_pool_latency)
grep -q '^ELEGY_BUILD_EXAMPLES:BOOL=ON' "$build/CMakeCache.txt" && targets+=(mlp cnn vae)
cmake --build "$build" --target "${targets[@]}"

rm -rf "$dest" && mkdir -p "$dest/tests" "$dest/bench/train"
for layer in core kernels autodiff model optim; do
  mkdir -p "$dest/$layer"
  cp -a "$build/$layer/libelegy_$layer".so* "$dest/$layer/"
done
cp "$build/tests/elegy_tests" "$dest/tests/"
cp "$build/bench/train/bench_train_elegy" "$dest/bench/train/"
cp "$build/bench/bench_pool_latency" "$dest/bench/"
g++ -O2 -std=c++20 -I"$build/include" -I"$repo/bench/peers" \
  "$repo/bench/gpu/gpu_micro.cpp" -o "$dest/gpu_micro" \
  -L"$build/autodiff" -L"$build/kernels" -L"$build/core" \
  -lelegy_autodiff -lelegy_kernels -lelegy_core
for main in mlp cnn vae; do
  if [[ -x "$build/examples/$main" ]]; then
    mkdir -p "$dest/examples" && cp "$build/examples/$main" "$dest/examples/"
  fi
done
if [[ $with_t10k -eq 1 ]]; then
  # The 10k test images doubling as the training set: the 60k set (26 MB) does not fit the
  # device tool's 64 MiB carry beside the build and the debs.
  src=/usr/share/datasets/fashion-mnist
  [[ -f $src/t10k-images-idx3-ubyte.gz ]] ||
    { echo "stage_prebuilt.sh: no $src (apt-get install dataset-fashion-mnist)" >&2; exit 1; }
  mkdir -p "$dest/fmnist-t10k"
  cp "$src"/t10k-*-idx*-ubyte.gz "$dest/fmnist-t10k/"
  ln -sf t10k-images-idx3-ubyte.gz "$dest/fmnist-t10k/train-images-idx3-ubyte.gz"
  ln -sf t10k-labels-idx1-ubyte.gz "$dest/fmnist-t10k/train-labels-idx1-ubyte.gz"
fi
if [[ $with_fashion_mnist -eq 1 ]]; then
  src=/usr/share/datasets/fashion-mnist
  [[ -f $src/train-images-idx3-ubyte.gz ]] ||
    { echo "stage_prebuilt.sh: no $src (apt-get install dataset-fashion-mnist)" >&2; exit 1; }
  rm -rf "$repo/bench/gpu/fmnist" && mkdir -p "$repo/bench/gpu/fmnist"
  cp "$src"/*-idx*-ubyte.gz "$repo/bench/gpu/fmnist/"
fi
find "$dest" -type f \( -name '*.so.*' -o -perm -u+x \) -exec strip --strip-unneeded {} +
echo "$repo" >"$dest/SOURCE_DIR"
# The libraries' Highway targets and CUDA fatbins compress ~8x: the carry is 64 MiB in all.
tar -C "$(dirname "$dest")" -cf - "$(basename "$dest")" | xz -T0 -6 >"$dest.tar.xz"
echo "stage_prebuilt.sh: $(du -sh "$dest" | cut -f1) in $dest, $(du -sh "$dest.tar.xz" | cut -f1) archived"
