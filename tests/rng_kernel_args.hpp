// The arguments of an RNG kernel that a test calls directly: Dropout (rate 0.6) of `in` into
// `out`, or RandomNormal filling `out` (`in` unused). The key is the caller's to set (by value,
// or through KernelArgs::key_words).
#pragma once

#include <elegy/autodiff/kernel_call.hpp>
#include <elegy/elegy.hpp>

namespace elegy::testing {

inline kernels::KernelArgs rng_kernel_args(kernels::Op op, const Tensor& in, const Tensor& out) {
  kernels::KernelArgs args;
  args.out = autodiff::buffer_view(out);
  if (op == kernels::Op::Dropout) {
    args.in[0] = autodiff::buffer_view(in);
    args.num_inputs = 1;
    args.scalar[0] = 0.6;
  }
  args.device = out.device();
  return args;
}

}  // namespace elegy::testing
