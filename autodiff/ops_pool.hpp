// Pooling over the spatial dims of channels-last tensors, as Haiku's hk.max_pool / hk.avg_pool
// with channel_axis=-1: x is [N, *spatial, C] with 1 to 3 spatial dims, and the window, its
// strides and the padding are given per spatial dim.
//
// Padding is explicit ((low, high) cells per spatial dim; the modules compute "SAME" padding).
// Padded cells never win a maximum and are not counted in an average: each average divides by
// the number of real cells in its window, the TF/Haiku "SAME" semantics (count_include_pad =
// false in PyTorch's terms). Each side's padding must be smaller than the window, so every window
// holds at least one real cell.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "elegy/core/tensor.hpp"

namespace elegy {

struct PoolOptions {
  std::vector<std::int64_t> window{};
  std::vector<std::int64_t> strides{};                           // empty = window
  std::vector<std::pair<std::int64_t, std::int64_t>> padding{};  // empty = none (VALID)
};

// Maximum over each window. The gradient goes to the first maximum of the window in row-major
// order (ties), as XLA's select-and-scatter routes it; the argmax is saved by the forward pass.
Tensor max_pool(const Tensor& x, const PoolOptions& options);
// Mean over the real (unpadded) cells of each window.
Tensor avg_pool(const Tensor& x, const PoolOptions& options);

}  // namespace elegy
