// Creating tensors: constants, ranges, and random numbers.
#pragma once

#include <cstdint>

#include "elegy/core/random.hpp"
#include "elegy/core/tensor.hpp"

namespace elegy {

Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
Tensor full(const Shape& shape, double value, DType dtype = DType::f32,
            Device device = Device::cpu());
Tensor zeros_like(const Tensor& x);
Tensor ones_like(const Tensor& x);
Tensor full_like(const Tensor& x, double value);
// A 0-d tensor holding `value`.
Tensor scalar(double value, DType dtype = DType::f32, Device device = Device::cpu());
// [0, 1, ..., n-1] (jnp.arange(n); int32 like JAX's default integer).
Tensor arange(std::int64_t n, DType dtype = DType::i32, Device device = Device::cpu());
// start, start+step, ... below stop.
Tensor arange(double start, double stop, double step, DType dtype = DType::f32,
              Device device = Device::cpu());

// jax.random's distributions over counter-based keys: element i of the result depends only on
// (key, i), so the numbers are the same on any thread count and on any device.
namespace random {
Tensor uniform(const Key& key, const Shape& shape, DType dtype = DType::f32, double minval = 0.0,
               double maxval = 1.0, Device device = Device::cpu());
Tensor normal(const Key& key, const Shape& shape, DType dtype = DType::f32,
              Device device = Device::cpu());
// Standard normal truncated to [lower, upper] (jax.random.truncated_normal).
Tensor truncated_normal(const Key& key, double lower, double upper, const Shape& shape,
                        DType dtype = DType::f32, Device device = Device::cpu());
// Bool tensor, true with probability p.
Tensor bernoulli(const Key& key, double p, const Shape& shape, Device device = Device::cpu());
// Integers uniform in [minval, maxval).
Tensor randint(const Key& key, const Shape& shape, std::int64_t minval, std::int64_t maxval,
               DType dtype = DType::i32, Device device = Device::cpu());
// A random ordering of 0..n-1 (int32).
Tensor permutation(const Key& key, std::int64_t n, Device device = Device::cpu());
// `x` with its first axis shuffled.
Tensor permutation(const Key& key, const Tensor& x);
}  // namespace random

}  // namespace elegy
