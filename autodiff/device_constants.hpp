// Scalars on an accelerator, made once. On a GPU each `x * 2.0` would otherwise cost a fill
// kernel and an allocation for its 0-d operand (22 of the 116 kernels of the mlp main's step on
// an H200, whose host spends ~5 µs on each); a step uses the same few constants every time.
#pragma once

#include <optional>

#include "elegy/core/tensor.hpp"

namespace elegy::autodiff {

// A 0-d tensor of `dtype` on `device` (not the CPU) holding `value`, shared by every caller
// asking for the same (device, dtype, value bits). Sharing is safe because nothing writes into a
// tensor that another handle holds: in-place updates require is_sole_owner() and the cache holds
// one handle; the tape accumulates out of place. At most 4096 constants are kept (then the cache
// starts over).
Tensor device_constant(double value, DType dtype, Device device);

// The value of `t` when it is one of those constants (0-d, the cache's own storage, not a
// tensor on the tape), as the constant's dtype holds it; else nothing. Products of two such
// constants are made on the host (ops_elementwise.cpp's mul): a training step's backward scales
// its seed (the constant 1) by constants, a kernel launch each on a GPU otherwise.
std::optional<double> device_constant_value(const Tensor& t);

}  // namespace elegy::autodiff
