// Metadata-only views: each returns a Tensor sharing the input's storage. These are the raw
// building blocks; the public, differentiable reshape/transpose/slice/... in autodiff/ wrap them.
#pragma once

#include <cstdint>
#include <span>

#include "elegy/core/tensor.hpp"

namespace elegy::views {

// A view with `shape` when the data can be reinterpreted without a copy (always true for a
// contiguous tensor); an undefined Tensor otherwise. `shape` may hold one -1.
Tensor reshape(const Tensor& t, const Shape& shape);
// Resolves one -1 in `shape` against numel; Error naming `op` when sizes disagree.
Shape infer_shape(const char* op, const Shape& shape, std::int64_t numel, const Shape& from);
// Axes reordered: result dim i is input dim perm[i].
Tensor permute(const Tensor& t, std::span<const int> perm);
// Elements start, start+step, ... before stop along `axis` (Python slice semantics; step != 0).
Tensor slice(const Tensor& t, int axis, std::int64_t start, std::int64_t stop, std::int64_t step);
// Stride-0 expansion to `shape` (numpy broadcasting rules).
Tensor broadcast_to(const Tensor& t, const Shape& shape);
// Removes the given size-1 axes (all size-1 axes when `axes` is empty).
Tensor squeeze(const Tensor& t, std::span<const int> axes);
// Inserts a size-1 axis at `axis` (in the result's numbering).
Tensor expand_dims(const Tensor& t, int axis);

}  // namespace elegy::views
