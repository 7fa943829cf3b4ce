// Layout arithmetic shared by every elementwise-style kernel, on both backends: coalescing
// dimensions (as PyTorch's TensorIterator does) so a [64,1,784] contiguous tensor is walked as
// one run of 50176 elements, and mapping a flat row index back to per-operand offsets.
#pragma once

#include <cstdint>
#include <type_traits>

#include "elegy/core/host_device.hpp"
#include "elegy/kernels/buffer_view.hpp"

namespace elegy::kernels {

// N operands walked in lockstep over one shape. Dimension rank-1 is the innermost.
template <int N>
struct Layout {
  int rank = 0;
  std::int64_t sizes[kMaxRank] = {};
  std::int64_t strides[N][kMaxRank] = {};

  ELEGY_HOST_DEVICE std::int64_t numel() const {
    std::int64_t n = 1;
    for (int i = 0; i < rank; ++i) n *= sizes[i];
    return n;
  }
  ELEGY_HOST_DEVICE std::int64_t inner_size() const { return rank ? sizes[rank - 1] : 1; }
  ELEGY_HOST_DEVICE std::int64_t inner_stride(int k) const {
    return rank ? strides[k][rank - 1] : 0;
  }
  // Number of innermost runs ("rows").
  ELEGY_HOST_DEVICE std::int64_t num_rows() const {
    std::int64_t n = 1;
    for (int i = 0; i + 1 < rank; ++i) n *= sizes[i];
    return n;
  }
  // Element offsets (in elements) of the start of row `row`, for every operand.
  ELEGY_HOST_DEVICE void row_offsets(std::int64_t row, std::int64_t (&offsets)[N]) const {
    for (int k = 0; k < N; ++k) offsets[k] = 0;
    for (int i = rank - 2; i >= 0; --i) {
      const std::int64_t idx = row % sizes[i];
      row /= sizes[i];
      for (int k = 0; k < N; ++k) offsets[k] += idx * strides[k][i];
    }
  }
  // Offsets of flat element `index` (row-major over sizes). The index is split in Index
  // arithmetic: a GPU kernel passes std::uint32_t where the size allows, since 32-bit division
  // is several times cheaper there than 64-bit (an H200 ran a row-broadcast add at 1.1 TB/s with
  // 64-bit). Sizes must fit Index. Never deduced: 64-bit unless a caller names another type.
  template <class Index = std::int64_t>
  ELEGY_HOST_DEVICE void element_offsets(std::type_identity_t<Index> index,
                                         std::int64_t (&offsets)[N]) const {
    for (int k = 0; k < N; ++k) offsets[k] = 0;
    for (int i = rank - 1; i >= 0; --i) {
      const Index size = Index(sizes[i]);
      const Index next = index / size;
      const std::int64_t idx = std::int64_t(index - next * size);
      index = next;
      for (int k = 0; k < N; ++k) offsets[k] += idx * strides[k][i];
    }
  }
};

// Builds the layout of `views` (all of the shape of views[0], which must already be the
// broadcast shape: broadcast operands carry stride 0), dropping size-1 dimensions and merging
// neighbours that are contiguous with each other in every operand.
template <int N>
Layout<N> coalesce(const BufferView* const (&views)[N]) {
  Layout<N> l;
  const BufferView& ref = *views[0];
  for (int i = 0; i < ref.rank; ++i) {
    if (ref.sizes[i] == 1) continue;
    if (l.rank > 0) {
      const int last = l.rank - 1;
      bool mergeable = true;
      for (int k = 0; k < N; ++k)
        mergeable &= l.strides[k][last] == views[k]->strides[i] * ref.sizes[i];
      if (mergeable) {
        l.sizes[last] *= ref.sizes[i];
        for (int k = 0; k < N; ++k) l.strides[k][last] = views[k]->strides[i];
        continue;
      }
    }
    l.sizes[l.rank] = ref.sizes[i];
    for (int k = 0; k < N; ++k) l.strides[k][l.rank] = views[k]->strides[i];
    ++l.rank;
  }
  if (l.rank == 0) {  // a scalar, or all dims of size 1: one run of one element
    l.rank = 1;
    l.sizes[0] = ref.numel();
    for (int k = 0; k < N; ++k) l.strides[k][0] = 1;
  }
  return l;
}

}  // namespace elegy::kernels
