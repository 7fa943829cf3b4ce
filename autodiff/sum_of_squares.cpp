// sum_of_squares: the global L2 norm's square over many tensors, as one node on the tape.
#include <vector>

#include "elegy/autodiff/kernel_call.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_reduce.hpp"
#include "elegy/autodiff/ops_shape.hpp"
#include "elegy/autodiff/tape.hpp"
#include "elegy/kernels/view_list.hpp"

namespace elegy {
namespace {

// Σ x² of the float tensor x into element `slot` of the dense vector `sums` (x's dtype) as one
// kernel (SumSquares): no squared temporary, and the per-tensor sums land side by side without
// a stack (which would copy each 0-d sum by a kernel of its own: one launch each on a GPU).
void sum_squares_into(const Tensor& x, const Tensor& sums, std::int64_t slot) {
  const Tensor dense = x.is_contiguous() ? x : x.contiguous();
  kernels::run("sum_of_squares", kernels::Op::SumSquares, x.dtype(),
               autodiff::reduction_into_slot(dense, sums, slot));
}

// scale * Σ sums[i] as a 0-d tensor: one ScaledSum kernel (the bits of a Sum and a Mul by
// scale).
Tensor scaled_total(const Tensor& sums, double scale) {
  const Tensor total = Tensor::empty(Shape{}, sums.dtype(), sums.device());
  kernels::KernelArgs args = autodiff::reduction_into_slot(sums, total, 0);
  args.scalar[0] = scale;
  kernels::run("sum_of_squares", kernels::Op::ScaledSum, sums.dtype(), args);
  return total;
}

// scale * Σ_t Σ xs[t]² of tensors of one dtype as one SumSquaresMany kernel: on a GPU two
// launches for a whole parameter tree instead of one or two per tensor and one to add them.
Tensor scaled_sum_of_squares(std::span<const Tensor> xs, double scale) {
  std::vector<Tensor> dense;  // (kept alive for the call)
  std::vector<kernels::BufferView> views;
  dense.reserve(xs.size());
  views.reserve(xs.size());
  for (const Tensor& x : xs) {
    dense.push_back(x.is_contiguous() ? x : x.contiguous());
    views.push_back(autodiff::buffer_view(dense.back()));
  }
  const Tensor total = Tensor::empty(Shape{}, xs[0].dtype(), xs[0].device());
  const kernels::ViewList list{views.data(), int(views.size())};
  kernels::KernelArgs args;
  args.out = autodiff::buffer_view(total);
  args.ints[0] = kernels::address_of(list);
  args.scalar[0] = scale;
  args.device = total.device();
  kernels::run("sum_of_squares", kernels::Op::SumSquaresMany, total.dtype(), args);
  return total;
}

}  // namespace

Tensor sum_of_squares(std::span<const Tensor> xs, double scale) {
  constexpr const char* kOp = "sum_of_squares";
  ELEGY_CHECK(!xs.empty(), kOp, "needs at least one tensor");
  DType dtype = DType::f32;
  bool traced = false, mixed = false;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    autodiff::check_defined(kOp, xs[i]);
    ELEGY_CHECK(is_floating(xs[i].dtype()), kOp, "tensor ", i, " is ", describe(xs[i]),
                "; sum_of_squares takes float tensors");
    autodiff::check_same_device(kOp, xs[0], xs[i]);
    dtype = i == 0 ? xs[0].dtype() : promote_types(dtype, xs[i].dtype());
    traced = traced || xs[i].node() != nullptr;
    mixed = mixed || xs[i].dtype() != xs[0].dtype();
  }
  Tensor total;
  {
    autodiff::NoGrad no_grad;
    // Each tensor is summed in its own dtype; with mixed dtypes (rare) a SumSquares per tensor,
    // the narrower sums widened.
    if (!mixed) {
      total = scaled_sum_of_squares(xs, scale);
    } else {
      std::vector<Tensor> sums;
      for (const Tensor& x : xs) {
        const Tensor own = Tensor::empty(Shape{1}, x.dtype(), x.device());
        sum_squares_into(x, own, 0);
        sums.push_back(reshape(own, Shape{}).astype(dtype));
      }
      total = scaled_total(stack(sums), scale);
    }
  }
  if (traced && autodiff::is_recording()) {
    std::vector<Tensor> inputs(xs.begin(), xs.end());
    autodiff::record(kOp, total, xs, [inputs, scale](const Tensor& g, const Tensor&) {
      // d/dx scale Σ x² = 2 scale g x, left unformed: the walker folds it into x's gradient from
      // the rest of the loss with one mul_add (grad.cpp). Public ops, so it records for grad of
      // grad.
      const Tensor two_g = g * (2.0 * scale);
      autodiff::Cotangents c;
      c.reserve(inputs.size());
      for (const Tensor& x : inputs) {
        if (!x.node()) {  // not being differentiated
          c.emplace_back();
          continue;
        }
        c.emplace_back(x, two_g.dtype() == x.dtype() ? two_g : two_g.astype(x.dtype()));
      }
      return c;
    });
  }
  return total;
}

}  // namespace elegy
