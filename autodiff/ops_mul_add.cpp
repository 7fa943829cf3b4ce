// mul_add(a, b, c) = a * b + c as one kernel (Op::MulAdd). The tape folds a scaled cotangent
// (an L2 term's 2 * l2 * p) into the gradient it accumulates with it (grad.cpp): one pass over
// the parameter instead of a Mul's and an Add's, and one launch instead of two on a GPU.
#include "elegy/autodiff/kernel_call.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/tape.hpp"

namespace elegy {

Tensor mul_add(const Tensor& a, const Tensor& b, const Tensor& c) {
  constexpr const char* kOp = "mul_add";
  autodiff::check_defined(kOp, a, "first operand");
  autodiff::check_defined(kOp, b, "second operand");
  autodiff::check_defined(kOp, c, "third operand");
  autodiff::check_same_device(kOp, a, b);
  autodiff::check_same_device(kOp, a, c);
  const DType t = a.dtype();
  // Integers, bools and mixed dtypes: the composed form promotes as the binary ops do.
  if (!is_floating(t) || b.dtype() != t || c.dtype() != t) return a * b + c;

  const Shape ab = a.shape() == b.shape() ? a.shape() : broadcast_shapes(kOp, a.shape(), b.shape());
  const Shape shape = ab == c.shape() ? ab : broadcast_shapes(kOp, ab, c.shape());
  Tensor out = Tensor::empty(shape, t, a.device());
  if (out.numel() > 0) {
    kernels::KernelArgs args;
    args.out = autodiff::broadcast_view(out, shape);
    args.in[0] = autodiff::broadcast_view(a, shape);
    args.in[1] = autodiff::broadcast_view(b, shape);
    args.in[2] = autodiff::broadcast_view(c, shape);
    args.num_inputs = 3;
    args.device = out.device();
    kernels::run(kOp, kernels::Op::MulAdd, t, args);
  }
  if (autodiff::should_record(a, b, c)) {
    // The walker sums each cotangent back to its input's shape (broadcast inputs).
    autodiff::record(
        kOp, out, {&a, &b, &c},
        [a, b, need_a = a.node() != nullptr, need_b = b.node() != nullptr](const Tensor& g,
                                                                           const Tensor&) {
          return autodiff::Cotangents{need_a ? g * b : Tensor(), need_b ? g * a : Tensor(), g};
        });
  }
  return out;
}

}  // namespace elegy
