// Reductions and normalisations: argument checks, the kernel call, and each op's backward rule.
//
// Every reduction runs its kernel into a dense tensor of the "keepdims" shape (x's shape with
// the reduced dims set to 1) and returns it, or a view of it without those dims; a sum or mean
// with nothing to add (every reduced dim of size 1) returns a view of x itself, no kernel. Backward
// rules bring the cotangent back to that keepdims shape with a view and let elementwise
// broadcasting do the rest; sum's cotangent is broadcast to x's shape as a stride-0 view.
#include "elegy/autodiff/ops_reduce.hpp"

#include <algorithm>
#include <limits>

#include "elegy/autodiff/kernel_call.hpp"
#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/tape.hpp"
#include "elegy/core/views.hpp"

namespace elegy {

using autodiff::buffer_view;
using kernels::Op;

namespace {

// The reduced axes as a bit set, from jax.numpy-style axes (empty = all, negative from the
// end). Error on an axis out of range or listed twice.
unsigned axis_mask(const char* op, const Axes& axes, int rank) {
  if (axes.all()) return rank == 0 ? 0u : (1u << rank) - 1;
  unsigned mask = 0;
  for (int a : axes.span()) {
    const int axis = normalize_axis(op, a, rank);
    ELEGY_CHECK(!(mask & (1u << axis)), op, "axis ", a, " is repeated in the axis list (axis ",
                axis, " of a rank-", rank, " tensor); each axis may appear once");
    mask |= 1u << axis;
  }
  return mask;
}

// What reducing x over `mask` produces.
struct Reduction {
  unsigned mask = 0;
  Shape keep_shape;        // x's shape with the reduced dims set to 1
  Shape result_shape;      // keep_shape, or keep_shape without the reduced dims
  std::int64_t count = 1;  // elements reduced into each output
};

Reduction plan(const Tensor& x, unsigned mask, bool keepdims) {
  Reduction r;
  r.mask = mask;
  r.keep_shape = x.shape();
  for (int i = 0; i < x.ndim(); ++i) {
    if (mask & (1u << i)) {
      r.count *= x.shape()[i];
      r.keep_shape[i] = 1;
      if (keepdims) r.result_shape.push_back(1);
    } else {
      r.result_shape.push_back(x.shape()[i]);
    }
  }
  return r;
}

Reduction plan(const char* op, const Tensor& x, const Axes& axes, bool keepdims) {
  autodiff::check_defined(op, x);
  return plan(x, axis_mask(op, axes, x.ndim()), keepdims);
}

// Runs reduction kernel `kop` over x into a new tensor of r.result_shape and `dtype`. No tape.
Tensor run_reduction(const char* op, Op kop, const Tensor& x, const Reduction& r, DType dtype,
                     std::int64_t axis = 0, double scale = 1.0) {
  Tensor out = Tensor::empty(r.keep_shape, dtype, x.device());
  if (out.numel() > 0) {
    kernels::KernelArgs args;
    args.out = buffer_view(out);
    args.in[0] = buffer_view(x);
    args.num_inputs = 1;
    args.ints[0] = axis;
    args.scalar[0] = scale;
    args.device = x.device();
    kernels::run(op, kop, x.dtype(), args);
  }
  if (r.result_shape == r.keep_shape) return out;
  return Tensor::view_of(out.storage(), r.result_shape, contiguous_strides(r.result_shape),
                         out.offset(), dtype);
}

// `t` seen with `shape`, where the two shapes differ only by dims of size 1 (a reduction's
// result and its keepdims shape): always a view. Recorded, so backward rules built on it can be
// differentiated again.
Tensor unit_reshape(const Tensor& t, const Shape& shape) {
  if (t.shape() == shape) return t;
  Strides strides = Dims::filled(shape.size(), 0);
  int j = 0;
  for (int i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1) continue;
    while (t.shape()[j] == 1) ++j;
    strides[i] = t.strides()[j++];
  }
  Tensor out = Tensor::view_of(t.storage(), shape, strides, t.offset(), t.dtype());
  if (autodiff::should_record(t)) {
    const Shape from = t.shape();
    autodiff::record("reshape", out, {&t}, [from](const Tensor& g, const Tensor&) {
      return autodiff::Cotangents{unit_reshape(g, from)};
    });
  }
  return out;
}

// `t` broadcast to `shape` as a stride-0 view; its backward rule is sum_to.
Tensor expand(const Tensor& t, const Shape& shape) {
  if (t.shape() == shape) return t;
  Tensor out = views::broadcast_to(t, shape);
  if (autodiff::should_record(t)) {
    const Shape from = t.shape();
    autodiff::record("broadcast_to", out, {&t}, [from](const Tensor& g, const Tensor&) {
      return autodiff::Cotangents{sum_to(g, from)};
    });
  }
  return out;
}

// Integer and bool sums and products: int32 stays, the rest accumulate in int64.
DType accumulation_dtype(DType t) {
  return (t == DType::bool_ || t == DType::u8) ? DType::i64 : t;
}

// Float ops on integer input compute in float32 (jax.numpy's promotion with x64 off).
Tensor as_float(const Tensor& x) {
  return is_floating(x.dtype()) ? x : x.astype(DType::f32);
}

// Σ over r's dims, times `scale` unless it is 1 (float x only: one ScaledSum kernel, the bits
// of the sum and then a Mul by scale; a mean).
Tensor sum_over(const char* op, const Tensor& x, const Reduction& r, double scale = 1.0) {
  const DType dtype = accumulation_dtype(x.dtype());
  // Nothing to add up (a 0-d x, or only dims of size 1 reduced): x's values seen with the
  // result's shape, no kernel. (A scalar loss with a sum reduction, such as the regularizers,
  // was a kernel of every step: on a GPU, a launch.)
  if (r.count == 1 && x.dtype() == dtype) return unit_reshape(x, r.result_shape);
  const Tensor src = x.dtype() == dtype ? x : x.astype(dtype);
  const bool scaled = scale != 1.0;
  Tensor out = run_reduction(op, scaled ? Op::ScaledSum : Op::Sum, src, r, dtype, 0, scale);
  if (autodiff::should_record(x)) {
    autodiff::record(
        op, out, {&x},
        [keep = r.keep_shape, to = x.shape(), scaled, scale](const Tensor& g, const Tensor&) {
          return autodiff::Cotangents{expand(unit_reshape(scaled ? g * scale : g, keep), to)};
        });
  }
  return out;
}

// max/min: the gradient goes to the positions of the extreme value, split equally among ties
// (as jax.numpy's max does).
Tensor extreme(const char* op, Op kop, const Tensor& x, const Axes& axes, bool keepdims) {
  const Reduction r = plan(op, x, axes, keepdims);
  ELEGY_CHECK(r.count > 0 || r.keep_shape.numel() == 0, op, "cannot reduce ", describe(x),
              " over an axis of size 0: ", op, " of an empty sequence has no identity");
  Tensor out = run_reduction(op, kop, x, r, x.dtype());
  if (autodiff::should_record(x) && is_floating(x.dtype())) {
    autodiff::record(
        op, out, {&x},
        [x, keep = r.keep_shape, mask = r.mask](const Tensor& g, const Tensor& result) {
          const Tensor hit = (x == unit_reshape(result, keep)).astype(x.dtype());
          const Tensor ties =
              run_reduction("sum", Op::Sum, hit.detached(), plan(hit, mask, true), hit.dtype());
          return autodiff::Cotangents{hit * (unit_reshape(g, keep) / ties)};
        },
        /*keep_output=*/true);
  }
  return out;
}

// argmax/argmin along one axis of x (already checked), as int32.
Tensor arg_extreme(const char* op, Op kop, const Tensor& x, int axis, bool keepdims) {
  autodiff::check_defined(op, x);
  axis = normalize_axis(op, axis, x.ndim());
  const std::int64_t n = x.shape()[axis];
  ELEGY_CHECK(n > 0, op, "attempt to get ", op, " of an empty sequence: axis ", axis, " of ",
              describe(x), " has size 0");
  ELEGY_CHECK(n <= std::numeric_limits<std::int32_t>::max(), op, "axis ", axis, " of ", describe(x),
              " is too long for int32 indices");
  return run_reduction(op, kop, x, plan(x, 1u << axis, keepdims), DType::i32, axis);
}

Tensor arg_flat(const char* op, Op kop, const Tensor& x) {
  autodiff::check_defined(op, x);
  ELEGY_CHECK(x.numel() > 0, op, "attempt to get ", op, " of an empty sequence: ", describe(x));
  const Tensor dense = x.is_contiguous() ? x.detached() : x.detached().contiguous();
  const Tensor flat = views::reshape(dense, Shape{x.numel()});
  return arg_extreme(op, kop, flat, 0, false);
}

Tensor logical(const char* op, Op kop, const Tensor& x, const Axes& axes, bool keepdims) {
  const Reduction r = plan(op, x, axes, keepdims);
  const Tensor b = x.dtype() == DType::bool_ ? x.detached() : x.detached().astype(DType::bool_);
  return run_reduction(op, kop, b, r, DType::bool_);
}

template <bool kLog>
Tensor softmax_impl(const char* op, const Tensor& x_in, int axis) {
  autodiff::check_defined(op, x_in);
  const Tensor x = as_float(x_in);
  axis = normalize_axis(op, axis, x.ndim());
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (out.numel() > 0) {
    // The kernel's fast paths want a dense input; a strided one is made dense first (untaped:
    // the op below records against x itself).
    const Tensor src = x.is_contiguous() ? x : x.detached().contiguous();
    kernels::KernelArgs args;
    args.out = buffer_view(out);
    args.in[0] = buffer_view(src);
    args.num_inputs = 1;
    args.ints[0] = axis;
    args.device = x.device();
    kernels::run(op, kLog ? Op::LogSoftmax : Op::Softmax, x.dtype(), args);
  }
  if (autodiff::should_record(x)) {
    autodiff::record(
        op, out, {&x},
        [axis](const Tensor& g, const Tensor& y) {
          if constexpr (kLog)
            return autodiff::Cotangents{g - exp(y) * sum(g, axis, true)};
          else
            return autodiff::Cotangents{y * (g - sum(g * y, axis, true))};
        },
        /*keep_output=*/true);
  }
  return out;
}

}  // namespace

Tensor sum(const Tensor& x, const Axes& axes, bool keepdims) {
  return sum_over("sum", x, plan("sum", x, axes, keepdims));
}

Tensor mean(const Tensor& x, const Axes& axes, bool keepdims) {
  const Reduction r = plan("mean", x, axes, keepdims);
  const Tensor xf = as_float(x);
  // The sum and its scaling in one kernel (the bits of sum(x) * (1 / n)); with n = 1 a view of
  // x, no kernel. An empty reduction gives 0 * inf = nan, as numpy's mean of nothing does.
  return sum_over("mean", xf, r, 1.0 / double(r.count));
}

Tensor prod(const Tensor& x, const Axes& axes, bool keepdims) {
  const Reduction r = plan("prod", x, axes, keepdims);
  const DType dtype = accumulation_dtype(x.dtype());
  const Tensor src = x.dtype() == dtype ? x : x.astype(dtype);
  Tensor out = run_reduction("prod", Op::Prod, src, r, dtype);
  if (autodiff::should_record(x) && is_floating(x.dtype())) {
    // d prod / d x_i = prod / x_i: exact for nonzero inputs. Where x_i is 0 this gives nan or
    // inf instead of the product of the other elements (a documented limitation).
    autodiff::record(
        "prod", out, {&x},
        [x, keep = r.keep_shape](const Tensor& g, const Tensor& result) {
          return autodiff::Cotangents{unit_reshape(g * result, keep) / x};
        },
        /*keep_output=*/true);
  }
  return out;
}

Tensor max(const Tensor& x, const Axes& axes, bool keepdims) {
  return extreme("max", Op::Max, x, axes, keepdims);
}

Tensor min(const Tensor& x, const Axes& axes, bool keepdims) {
  return extreme("min", Op::Min, x, axes, keepdims);
}

Tensor var(const Tensor& x, const Axes& axes, bool keepdims, int ddof) {
  const Reduction r = plan("var", x, axes, keepdims);
  const Tensor xf = as_float(x);
  const Tensor centered = xf - mean(xf, axes, true);
  // numpy divides by max(n - ddof, 0): nan or inf when nothing is left, as numpy's var does.
  const double dof = std::max<double>(double(r.count) - ddof, 0.0);
  return sum(centered * centered, axes, keepdims) * (1.0 / dof);
}

Tensor logsumexp(const Tensor& x_in, const Axes& axes, bool keepdims) {
  const Reduction r = plan("logsumexp", x_in, axes, keepdims);
  const Tensor x = as_float(x_in);
  Tensor out = run_reduction("logsumexp", Op::LogSumExp, x, r, x.dtype());
  if (autodiff::should_record(x)) {
    // d/dx logsumexp = softmax(x) = exp(x - logsumexp).
    autodiff::record(
        "logsumexp", out, {&x},
        [x, keep = r.keep_shape](const Tensor& g, const Tensor& result) {
          return autodiff::Cotangents{unit_reshape(g, keep) * exp(x - unit_reshape(result, keep))};
        },
        /*keep_output=*/true);
  }
  return out;
}

Tensor argmax(const Tensor& x, int axis, bool keepdims) {
  return arg_extreme("argmax", Op::ArgMax, x, axis, keepdims);
}

Tensor argmin(const Tensor& x, int axis, bool keepdims) {
  return arg_extreme("argmin", Op::ArgMin, x, axis, keepdims);
}

Tensor argmax(const Tensor& x) {
  return arg_flat("argmax", Op::ArgMax, x);
}

Tensor argmin(const Tensor& x) {
  return arg_flat("argmin", Op::ArgMin, x);
}

Tensor any(const Tensor& x, const Axes& axes, bool keepdims) {
  return logical("any", Op::Max, x, axes, keepdims);
}

Tensor all(const Tensor& x, const Axes& axes, bool keepdims) {
  return logical("all", Op::Min, x, axes, keepdims);
}

Tensor softmax(const Tensor& x, int axis) {
  return softmax_impl<false>("softmax", x, axis);
}

Tensor log_softmax(const Tensor& x, int axis) {
  return softmax_impl<true>("log_softmax", x, axis);
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  autodiff::check_defined("sum_to", x);
  if (x.shape() == shape) return x;
  const int extra = x.ndim() - shape.size();
  ELEGY_CHECK(extra >= 0, "sum_to", "cannot sum ", describe(x), " down to the higher-rank shape ",
              shape, "; the shape must broadcast to ", x.shape());
  unsigned mask = (1u << extra) - 1;  // the leading dims the broadcast added
  for (int i = 0; i < shape.size(); ++i) {
    const std::int64_t have = x.shape()[i + extra];
    ELEGY_CHECK(shape[i] == have || shape[i] == 1, "sum_to", "cannot sum ", describe(x),
                " down to shape ", shape, ": dimension ", i, " is ", shape[i], ", expected ", have,
                " or 1 (the shape must broadcast to ", x.shape(), ")");
    if (shape[i] == 1 && have != 1) mask |= 1u << (i + extra);
  }
  Reduction r = plan(x, mask, true);
  r.result_shape = shape;
  return sum_over("sum_to", x, r);
}

}  // namespace elegy
