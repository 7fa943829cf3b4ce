// Elementwise ops (jax.numpy / jax.nn names). Binary ops broadcast with numpy rules and promote
// dtypes (bool < uint8 < int32 < int64 < float32 < float64); a plain number takes the tensor's
// dtype (JAX's weak typing), except that a fractional number with an integer tensor gives
// float32. All operands must be on the same device.
#pragma once

#include "elegy/core/tensor.hpp"

namespace elegy {

// ---- unary ----
Tensor neg(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor log1p(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor square(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
// jax.nn.gelu: the tanh approximation by default, the exact erf form with approximate=false.
Tensor gelu(const Tensor& x, bool approximate = true);
Tensor softplus(const Tensor& x);
Tensor sign(const Tensor& x);
Tensor logical_not(const Tensor& x);

// ---- binary (broadcasting) ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);  // true division: integers give float32
// a / b, and 0 where b == 0 (tf.math.divide_no_nan): a mean over a count that may be zero, in
// one kernel. Float result as div; its gradient is 0 where b == 0.
Tensor divide_no_nan(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, double exponent);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, double b);
Tensor minimum(const Tensor& a, double b);
Tensor equal(const Tensor& a, const Tensor& b);
Tensor not_equal(const Tensor& a, const Tensor& b);
Tensor less(const Tensor& a, const Tensor& b);
Tensor less_equal(const Tensor& a, const Tensor& b);
Tensor greater(const Tensor& a, const Tensor& b);
Tensor greater_equal(const Tensor& a, const Tensor& b);
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
Tensor logical_xor(const Tensor& a, const Tensor& b);
// cond ? a : b elementwise, all three broadcast together; cond must be bool.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor where(const Tensor& cond, const Tensor& a, double b);
Tensor where(const Tensor& cond, double a, const Tensor& b);
Tensor clip(const Tensor& x, double lo, double hi);
// a * b + c, all three broadcast together, in one pass (torch.addcmul's shape). Same values as
// a * b + c: the product is rounded before the add. Float operands of one dtype take one fused
// kernel; any other mix is computed as a * b + c, with its promotions.
Tensor mul_add(const Tensor& a, const Tensor& b, const Tensor& c);

// ---- conversions and gradient control ----
Tensor astype(const Tensor& x, DType dtype);
// The same values with no gradient flowing back through them.
Tensor stop_gradient(const Tensor& x);

// A 0-d tensor of `value` typed to combine with `like` (weak typing, see the top of this file).
Tensor scalar_like(const Tensor& like, double value);

// ---- operators ----
Tensor operator-(const Tensor& x);
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);
Tensor operator==(const Tensor& a, const Tensor& b);
Tensor operator!=(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, const Tensor& b);
Tensor operator<=(const Tensor& a, const Tensor& b);
Tensor operator>(const Tensor& a, const Tensor& b);
Tensor operator>=(const Tensor& a, const Tensor& b);
Tensor operator==(const Tensor& a, double b);
Tensor operator!=(const Tensor& a, double b);
Tensor operator<(const Tensor& a, double b);
Tensor operator<=(const Tensor& a, double b);
Tensor operator>(const Tensor& a, double b);
Tensor operator>=(const Tensor& a, double b);
Tensor operator&(const Tensor& a, const Tensor& b);  // logical, on bool tensors
Tensor operator|(const Tensor& a, const Tensor& b);
Tensor operator^(const Tensor& a, const Tensor& b);
Tensor operator!(const Tensor& x);

}  // namespace elegy
