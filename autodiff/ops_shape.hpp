// Shape ops. reshape/transpose/slice/broadcast_to/squeeze/expand_dims return views that share
// storage whenever the layout allows (reshape of a non-contiguous tensor copies).
#pragma once

#include <span>
#include <utility>
#include <vector>

#include "elegy/autodiff/axes.hpp"
#include "elegy/core/tensor.hpp"

namespace elegy {

Tensor reshape(const Tensor& x, const Shape& shape);  // one -1 allowed
// Axes permuted: result dim i = x dim perm[i]; reversed when perm is empty (x.T).
Tensor transpose(const Tensor& x, std::vector<int> perm = {});
Tensor swapaxes(const Tensor& x, int axis1, int axis2);
Tensor moveaxis(const Tensor& x, int source, int destination);
Tensor expand_dims(const Tensor& x, int axis);
Tensor squeeze(const Tensor& x, const Axes& axes = {});
Tensor broadcast_to(const Tensor& x, const Shape& shape);
// Python slice start:stop:step along `axis`.
Tensor slice(const Tensor& x, std::int64_t start, std::int64_t stop, std::int64_t step = 1,
             int axis = 0);
// All dimensions into one (jnp.ravel).
Tensor ravel(const Tensor& x);
// Keeps the first `preserve_dims` dimensions and flattens the rest (Haiku's Flatten).
Tensor flatten(const Tensor& x, int preserve_dims = 1);
// A dense row-major copy unless x already is one (then x itself).
Tensor contiguous(const Tensor& x);

Tensor concatenate(std::span<const Tensor> xs, int axis = 0);
Tensor concatenate(std::initializer_list<Tensor> xs, int axis = 0);
Tensor stack(std::span<const Tensor> xs, int axis = 0);
Tensor stack(std::initializer_list<Tensor> xs, int axis = 0);
// (before, after) padding per dimension, filled with `value` (jnp.pad mode="constant").
Tensor pad(const Tensor& x, std::span<const std::pair<std::int64_t, std::int64_t>> widths,
           double value = 0.0);
Tensor pad(const Tensor& x, std::initializer_list<std::pair<std::int64_t, std::int64_t>> widths,
           double value = 0.0);

}  // namespace elegy
