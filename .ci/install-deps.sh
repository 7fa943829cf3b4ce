#!/usr/bin/env bash
# Installs everything elegy needs on a fresh Debian 12 machine (idempotent; skips apt when all
# packages are present). The CUDA toolkit is optional and not installed here: CMake uses it when
# /usr/local/cuda (or nvcc on PATH) exists.
set -euo pipefail
packages=(build-essential cmake ninja-build ccache pkg-config libhwy-dev libopenblas-dev doctest-dev
          zlib1g-dev dataset-fashion-mnist)
if [[ "${ELEGY_WITH_BENCH_PEERS:-0}" == 1 ]]; then packages+=(libtorch-dev); fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=""
  [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Python readers the checkpoint/TensorBoard tests cross-check against (skipped when missing).
if command -v python3 >/dev/null && ! python3 -c "import safetensors, numpy, tensorboard" 2>/dev/null; then
  python3 -m pip install -q --disable-pip-version-check safetensors numpy tensorboard 2>/dev/null ||
    python3 -m pip install -q --disable-pip-version-check --break-system-packages safetensors numpy tensorboard ||
    echo "warning: could not install safetensors/numpy/tensorboard; their cross-checks will be skipped"
fi
