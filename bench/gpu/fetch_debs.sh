#!/usr/bin/env bash
# Downloads (here, on the development machine, which can reach Debian's mirrors) the Debian
# packages that bench/gpu/run.sh unpacks on the GPU machine, which can reach nothing: Highway,
# OpenBLAS (pthread build) with its Fortran runtime, doctest, ninja. The GPU image already has
# nvcc, g++, CMake and python3 with PyTorch.
#
#   bench/gpu/fetch_debs.sh                        ->  bench/gpu/debs/*.deb (about 14 MB)
#   bench/gpu/fetch_debs.sh --with-fashion-mnist   adds dataset-fashion-mnist (31 MB more), so
#                                                  the training-step bench (bench/gpu/train.py)
#                                                  trains on real images, not random pixels
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="$here/debs"
packages=(
  libhwy-dev libhwy1                                             # Highway 1.0.3 (headers, libs)
  libopenblas-dev libopenblas-pthread-dev libopenblas0-pthread   # OpenBLAS 0.3.21, pthreads
  libgfortran5 libquadmath0                                      # OpenBLAS's runtime needs
  doctest-dev                                                    # the test framework
  ninja-build                                                    # in case the image lacks ninja
)

case "${1:-}" in
  "") ;;
  --with-fashion-mnist) packages+=(dataset-fashion-mnist) ;;
  *) echo "usage: fetch_debs.sh [--with-fashion-mnist]" >&2; exit 2 ;;
esac

command -v apt-get >/dev/null || { echo "fetch_debs.sh: apt-get not found (Debian/Ubuntu only)" >&2; exit 1; }
mkdir -p "$dest"
rm -f "$dest"/*.deb
# apt-get download writes into the current directory.
(cd "$dest" && apt-get download "${packages[@]}")
echo "fetch_debs.sh: $(ls "$dest"/*.deb | wc -l) packages, $(du -sh "$dest" | cut -f1) in $dest"
