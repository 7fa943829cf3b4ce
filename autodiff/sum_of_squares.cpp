// sum_of_squares: the global L2 norm's square over many tensors, as one node on the tape.
#include <vector>

#include "elegy/autodiff/kernel_call.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_reduce.hpp"
#include "elegy/autodiff/ops_shape.hpp"
#include "elegy/autodiff/tape.hpp"

namespace elegy {

Tensor sum_of_squares(std::span<const Tensor> xs) {
  constexpr const char* kOp = "sum_of_squares";
  ELEGY_CHECK(!xs.empty(), kOp, "needs at least one tensor");
  DType dtype = DType::f32;
  bool traced = false;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    autodiff::check_defined(kOp, xs[i]);
    ELEGY_CHECK(is_floating(xs[i].dtype()), kOp, "tensor ", i, " is ", describe(xs[i]),
                "; sum_of_squares takes float tensors");
    autodiff::check_same_device(kOp, xs[0], xs[i]);
    dtype = i == 0 ? xs[0].dtype() : promote_types(dtype, xs[i].dtype());
    traced = traced || xs[i].node() != nullptr;
  }
  Tensor total;
  {
    autodiff::NoGrad no_grad;
    std::vector<Tensor> sums;
    sums.reserve(xs.size());
    for (const Tensor& x : xs) {
      const Tensor s = sum(square(x));
      sums.push_back(s.dtype() == dtype ? s : s.astype(dtype));
    }
    total = sums.size() == 1 ? sums.front() : sum(stack(sums));
  }
  if (traced && autodiff::is_recording()) {
    std::vector<Tensor> inputs(xs.begin(), xs.end());
    autodiff::record(kOp, total, xs, [inputs](const Tensor& g, const Tensor&) {
      // d/dx Σ x² = 2x: written with public ops, so it records for grad of grad.
      const Tensor two_g = g * 2.0;
      autodiff::Cotangents c;
      c.reserve(inputs.size());
      for (const Tensor& x : inputs) {
        if (!x.node()) {  // not being differentiated
          c.emplace_back();
          continue;
        }
        c.push_back(x * (two_g.dtype() == x.dtype() ? two_g : two_g.astype(x.dtype())));
      }
      return c;
    });
  }
  return total;
}

}  // namespace elegy
