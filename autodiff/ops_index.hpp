// Indexing: one-hot encoding, gather (take) and its transpose (index_add).
#pragma once

#include "elegy/core/tensor.hpp"

namespace elegy {

// [..., depth] with 1 where the integer label equals the index (jax.nn.one_hot); labels out of
// [0, depth) give an all-zero row, as in JAX.
Tensor one_hot(const Tensor& labels, std::int64_t depth, DType dtype = DType::f32);
// Elements of x at integer `indices` along `axis` (jnp.take); the result has shape
// x.shape[:axis] + indices.shape + x.shape[axis+1:]. Error on out-of-range indices.
Tensor take(const Tensor& x, const Tensor& indices, int axis = 0);
// x with `updates` added at `indices` along `axis` (x.at[indices].add(updates)); repeated
// indices accumulate. `updates` has the shape take(x, indices, axis) would have.
Tensor index_add(const Tensor& x, const Tensor& indices, const Tensor& updates, int axis = 0);

}  // namespace elegy
