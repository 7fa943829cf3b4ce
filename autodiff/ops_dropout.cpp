// dropout: argument checks, the kernel call, and its backward rule. The mask is a function of
// (key, flat index) alone, so the rule is dropout itself with the same key on the cotangent: no
// mask is stored, and the rule is linear in g (grad of grad works).
#include "elegy/autodiff/ops_dropout.hpp"

#include "elegy/autodiff/kernel_call.hpp"
#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/tape.hpp"

namespace elegy {

Tensor dropout(const Key& key, double rate, const Tensor& x) {
  autodiff::check_defined("dropout", x);
  ELEGY_CHECK(rate >= 0.0 && rate <= 1.0, "dropout", "rate must be in [0, 1], got ", rate, " (for ",
              describe(x), ")");
  ELEGY_CHECK(is_floating(x.dtype()), "dropout", "expected a float32 or float64 input, got ",
              describe(x));
  if (rate == 0.0) return x;
  if (rate == 1.0) return zeros_like(x);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (out.numel() > 0) {
    kernels::KernelArgs args;
    args.out = autodiff::buffer_view(out);
    args.in[0] = autodiff::buffer_view(x);
    args.num_inputs = 1;
    args.scalar[0] = 1.0 - rate;
    args.key[0] = key.words()[0];
    args.key[1] = key.words()[1];
    args.device = x.device();
    kernels::run("dropout", kernels::Op::Dropout, x.dtype(), args);
  }
  if (autodiff::should_record(x)) {
    autodiff::record("dropout", out, {&x}, [key, rate](const Tensor& g, const Tensor&) {
      return autodiff::Cotangents{dropout(key, rate, g)};
    });
  }
  return out;
}

}  // namespace elegy
