// max_pool and avg_pool: argument checks, the kernel calls, and their backward rules.
//
// Each pooling op has a backward op (max_pool_backward, avg_pool_backward) with its own kernel,
// so the backward pass is one gather over the input on every device. Those backward ops are
// linear in the cotangent and record their own rules (a take at the saved argmax, and avg_pool
// itself), so grad of grad works.
#include "elegy/autodiff/ops_pool.hpp"

#include <limits>

#include "elegy/autodiff/kernel_call.hpp"
#include "elegy/autodiff/ops_index.hpp"
#include "elegy/autodiff/ops_shape.hpp"
#include "elegy/autodiff/tape.hpp"
#include "elegy/kernels/pool_geometry.hpp"

namespace elegy {

using autodiff::buffer_view;
using kernels::Op;

namespace {

// The checked geometry of one pooling call.
struct PoolPlan {
  int spatial = 0;
  Dims window, strides, pad_low;
  Shape x_shape, y_shape;
};

std::string spatial_list(const std::vector<std::int64_t>& v) {
  return to_string(Dims(v));
}

PoolPlan plan(const char* op, const Tensor& x, const PoolOptions& o) {
  autodiff::check_defined(op, x);
  ELEGY_CHECK(is_floating(x.dtype()), op, "expected a float32 or float64 input, got ", describe(x));
  ELEGY_CHECK(x.ndim() >= 3 && x.ndim() <= 2 + kernels::kMaxPoolSpatial, op,
              "expected x of shape [N, *spatial, C] with 1 to ", kernels::kMaxPoolSpatial,
              " spatial dims (channels last), got ", describe(x));
  PoolPlan p;
  p.spatial = x.ndim() - 2;
  const std::size_t s = std::size_t(p.spatial);
  ELEGY_CHECK(o.window.size() == s, op, "window ", spatial_list(o.window), " has ", o.window.size(),
              " entries, expected one per spatial dim of ", describe(x), " (", s, ")");
  ELEGY_CHECK(o.strides.empty() || o.strides.size() == s, op, "strides ", spatial_list(o.strides),
              " has ", o.strides.size(), " entries, expected none or one per spatial dim of ",
              describe(x), " (", s, ")");
  ELEGY_CHECK(o.padding.empty() || o.padding.size() == s, op, "padding has ", o.padding.size(),
              " entries, expected none or one (low, high) pair per spatial dim of ", describe(x),
              " (", s, ")");
  p.x_shape = x.shape();
  p.y_shape = x.shape();
  for (std::size_t d = 0; d < s; ++d) {
    const std::int64_t w = o.window[d], st = o.strides.empty() ? w : o.strides[d];
    const auto [lo, hi] =
        o.padding.empty() ? std::pair<std::int64_t, std::int64_t>{0, 0} : o.padding[d];
    ELEGY_CHECK(w >= 1 && st >= 1, op, "window ", spatial_list(o.window), " and strides ",
                spatial_list(o.strides), " must be positive");
    ELEGY_CHECK(lo >= 0 && hi >= 0 && lo < w && hi < w, op, "padding (", lo, ", ", hi,
                ") of spatial dim ", d, " must be non-negative and smaller than the window (", w,
                ")");
    const std::int64_t padded = x.shape()[int(d) + 1] + lo + hi;
    ELEGY_CHECK(padded >= w, op, "window ", spatial_list(o.window),
                " is larger than the padded input along spatial dim ", d, " (", padded,
                " cells) of ", describe(x));
    p.window.push_back(w);
    p.strides.push_back(st);
    p.pad_low.push_back(lo);
    p.y_shape[int(d) + 1] = (padded - w) / st + 1;
  }
  return p;
}

// The kernel call for `p`: out, in[0] = operand, geometry in in[2] and ints (pool_geometry.hpp).
kernels::KernelArgs pool_args(const PoolPlan& p, const Tensor& out, const Tensor& operand) {
  kernels::KernelArgs args;
  args.out = buffer_view(out);
  args.in[0] = buffer_view(operand);
  args.in[1].dtype = DType::i32;
  args.in[2].rank = p.spatial;
  for (int d = 0; d < p.spatial; ++d) {
    args.in[2].sizes[d] = p.window[d];
    args.in[2].strides[d] = p.strides[d];
    args.ints[d] = p.pad_low[d];
  }
  args.num_inputs = 3;
  args.device = out.device();
  return args;
}

using autodiff::dense;

Tensor avg_pool_planned(const Tensor& x, const PoolPlan& p);

// The gradient of max_pool with respect to x: g routed to the saved argmax positions.
Tensor max_pool_backward(const Tensor& g, const Tensor& indices, const PoolPlan& p) {
  Tensor gx = Tensor::empty(p.x_shape, g.dtype(), g.device());
  if (gx.numel() > 0) {
    kernels::KernelArgs args = pool_args(p, gx, dense(g));
    args.in[1] = buffer_view(indices);
    kernels::run("max_pool_backward", Op::MaxPoolBackward, g.dtype(), args);
  }
  if (autodiff::should_record(g)) {
    autodiff::record("max_pool_backward", gx, {&g}, [indices](const Tensor& c, const Tensor&) {
      return autodiff::Cotangents{take(ravel(c), indices)};
    });
  }
  return gx;
}

// The gradient of avg_pool with respect to x: each output's cotangent spread evenly over the
// real cells of its window. Its transpose is avg_pool itself.
Tensor avg_pool_backward(const Tensor& g, const PoolPlan& p) {
  Tensor gx = Tensor::empty(p.x_shape, g.dtype(), g.device());
  if (gx.numel() > 0)
    kernels::run("avg_pool_backward", Op::AvgPoolBackward, g.dtype(), pool_args(p, gx, dense(g)));
  if (autodiff::should_record(g)) {
    autodiff::record("avg_pool_backward", gx, {&g}, [p](const Tensor& c, const Tensor&) {
      return autodiff::Cotangents{avg_pool_planned(c, p)};
    });
  }
  return gx;
}

Tensor avg_pool_planned(const Tensor& x, const PoolPlan& p) {
  Tensor y = Tensor::empty(p.y_shape, x.dtype(), x.device());
  if (y.numel() > 0) kernels::run("avg_pool", Op::AvgPool, x.dtype(), pool_args(p, y, dense(x)));
  if (autodiff::should_record(x)) {
    autodiff::record("avg_pool", y, {&x}, [p](const Tensor& g, const Tensor&) {
      return autodiff::Cotangents{avg_pool_backward(g, p)};
    });
  }
  return y;
}

}  // namespace

Tensor max_pool(const Tensor& x, const PoolOptions& options) {
  const PoolPlan p = plan("max_pool", x, options);
  Tensor y = Tensor::empty(p.y_shape, x.dtype(), x.device());
  const bool recording = autodiff::should_record(x);
  Tensor indices;
  if (recording) {
    // The backward kernel compares int32 flat indices of x.
    ELEGY_CHECK(x.numel() <= std::numeric_limits<std::int32_t>::max(), "max_pool", describe(x),
                " has too many elements for the int32 argmax the gradient needs");
    indices = Tensor::empty(p.y_shape, DType::i32, x.device());
  }
  if (y.numel() > 0) {
    kernels::KernelArgs args = pool_args(p, y, dense(x));
    if (recording) args.in[1] = buffer_view(indices);
    kernels::run("max_pool", Op::MaxPool, x.dtype(), args);
  }
  if (recording) {
    autodiff::record("max_pool", y, {&x}, [indices, p](const Tensor& g, const Tensor&) {
      return autodiff::Cotangents{max_pool_backward(g, indices, p)};
    });
  }
  return y;
}

Tensor avg_pool(const Tensor& x, const PoolOptions& options) {
  return avg_pool_planned(x, plan("avg_pool", x, options));
}

}  // namespace elegy
