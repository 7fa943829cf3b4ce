// Shape ops. The view ops (reshape of a dense tensor, transpose, swapaxes, moveaxis,
// expand_dims, squeeze, broadcast_to, slice) only rewrite metadata through core/views.hpp and
// share the input's storage; concatenate and pad allocate and copy with the Copy/Fill kernels.
// Every backward rule is the inverse view (or a slice/scatter pair), written with these same
// public ops so that second derivatives flow through them.
#include "elegy/autodiff/ops_shape.hpp"

#include <array>
#include <numeric>
#include <sstream>

#include "elegy/autodiff/kernel_call.hpp"
#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/tape.hpp"
#include "elegy/core/views.hpp"

namespace elegy {

using autodiff::buffer_view;
using autodiff::check_defined;

namespace {

// Copies `src` into `dst` (same shape and dtype; dst may be a strided view of a larger tensor).
void copy_into(const char* what, const Tensor& dst, const Tensor& src) {
  if (src.numel() == 0) return;
  kernels::KernelArgs args;
  args.out = buffer_view(dst);
  args.in[0] = buffer_view(src);
  args.num_inputs = 1;
  args.device = dst.device();
  args.in_device = src.device();
  ELEGY_CHECK(dst.device() == src.device() || !dst.device().is_cpu(), what, "copies into ",
              describe(dst), " from ", describe(src),
              ": a copy into the host goes through to(), not into a view");
  kernels::run(what, kernels::Op::Copy, dst.dtype(), args);
}

// A tensor of `shape` filled with `value`.
Tensor filled(const char* what, const Shape& shape, double value, DType dtype, Device device) {
  Tensor out = Tensor::empty(shape, dtype, device);
  if (out.numel() == 0) return out;
  kernels::KernelArgs args;
  args.out = buffer_view(out);
  args.scalar[0] = value;
  args.device = device;
  kernels::run(what, kernels::Op::Fill, dtype, args);
  return out;
}

// transpose/swapaxes/moveaxis: `perm` must already be a valid permutation of x's axes.
Tensor permute_op(const char* op, const Tensor& x, std::span<const int> perm) {
  Tensor out = views::permute(x, perm);
  if (autodiff::should_record(x)) {
    std::vector<int> inverse(perm.size());
    for (std::size_t i = 0; i < perm.size(); ++i) inverse[std::size_t(perm[i])] = int(i);
    autodiff::record(op, out, {&x}, [inverse](const Tensor& g, const Tensor&) {
      return autodiff::Cotangents{transpose(g, inverse)};
    });
  }
  return out;
}

// Zeros of `shape` with `g` written into the slice (axis, start, stop, step): the transpose of
// slicing. Its own backward slices again, so slice is differentiable to any order.
Tensor slice_scatter(const Tensor& g, const Shape& shape, int axis, std::int64_t start,
                     std::int64_t stop, std::int64_t step) {
  Tensor out = filled("slice", shape, 0.0, g.dtype(), g.device());
  copy_into("slice", views::slice(out, axis, start, stop, step), g);
  if (autodiff::should_record(g)) {
    autodiff::record("slice_transpose", out, {&g},
                     [axis, start, stop, step](const Tensor& gg, const Tensor&) {
                       return autodiff::Cotangents{slice(gg, start, stop, step, axis)};
                     });
  }
  return out;
}

// The interior of a padded cotangent: g[before_0 : before_0 + n_0, ...] for every axis.
Tensor unpad(const Tensor& g, const Dims& before, const Shape& shape) {
  Tensor out = g;
  for (int i = 0; i < shape.size(); ++i) {
    const std::int64_t b = before[i];
    if (b != 0 || shape[i] != g.shape()[i]) out = slice(out, b, b + shape[i], 1, i);
  }
  return out;
}

// record() takes a fixed list of inputs; concatenate has any number, so it builds its Node
// the same way record() does, from a span.
std::string describe_all(std::span<const Tensor> xs) {
  std::ostringstream os;
  for (std::size_t i = 0; i < xs.size(); ++i) os << (i ? ", " : "") << describe(xs[i]);
  return os.str();
}

}  // namespace

Tensor reshape(const Tensor& x, const Shape& shape) {
  check_defined("reshape", x);
  // A strided tensor is first made dense (recorded as "contiguous", whose gradient is g).
  const Tensor src = x.is_contiguous() ? x : x.contiguous();
  Tensor out = views::reshape(src, shape);
  if (autodiff::should_record(src)) {
    autodiff::record("reshape", out, {&src}, [from = src.shape()](const Tensor& g, const Tensor&) {
      return autodiff::Cotangents{reshape(g, from)};
    });
  }
  return out;
}

Tensor transpose(const Tensor& x, std::vector<int> perm) {
  check_defined("transpose", x);
  if (perm.empty()) {
    perm.resize(std::size_t(x.ndim()));
    for (int i = 0; i < x.ndim(); ++i) perm[std::size_t(i)] = x.ndim() - 1 - i;
  }
  // views::permute checks the length and repeats; normalise negative axes for the inverse.
  ELEGY_CHECK(int(perm.size()) == x.ndim(), "transpose", "permutation of ", perm.size(),
              " axes for ", describe(x));
  for (int& p : perm) p = normalize_axis("transpose", p, x.ndim());
  return permute_op("transpose", x, perm);
}

// Permutations of at most kMaxRank axes live on the stack: no allocation when not recording.
using AxisList = std::array<int, kMaxRank>;

Tensor swapaxes(const Tensor& x, int axis1, int axis2) {
  check_defined("swapaxes", x);
  axis1 = normalize_axis("swapaxes", axis1, x.ndim());
  axis2 = normalize_axis("swapaxes", axis2, x.ndim());
  AxisList perm;
  std::iota(perm.begin(), perm.begin() + x.ndim(), 0);
  std::swap(perm[std::size_t(axis1)], perm[std::size_t(axis2)]);
  return permute_op("swapaxes", x, std::span<const int>(perm.data(), std::size_t(x.ndim())));
}

Tensor moveaxis(const Tensor& x, int source, int destination) {
  check_defined("moveaxis", x);
  source = normalize_axis("moveaxis", source, x.ndim());
  destination = normalize_axis("moveaxis", destination, x.ndim());
  // The other axes in order, with `source` inserted at `destination`.
  AxisList perm;
  for (int i = 0, next = 0; i < x.ndim(); ++i) {
    if (next == source) ++next;
    perm[std::size_t(i)] = i == destination ? source : next++;
  }
  return permute_op("moveaxis", x, std::span<const int>(perm.data(), std::size_t(x.ndim())));
}

Tensor expand_dims(const Tensor& x, int axis) {
  check_defined("expand_dims", x);
  ELEGY_CHECK(x.ndim() < kMaxRank, "expand_dims", describe(x), " already has the maximum rank ",
              kMaxRank);
  axis = normalize_axis("expand_dims", axis, x.ndim() + 1);
  Tensor out = views::expand_dims(x, axis);
  if (autodiff::should_record(x)) {
    autodiff::record("expand_dims", out, {&x}, [axis](const Tensor& g, const Tensor&) {
      return autodiff::Cotangents{squeeze(g, Axes(axis))};
    });
  }
  return out;
}

Tensor squeeze(const Tensor& x, const Axes& axes) {
  check_defined("squeeze", x);
  Tensor out = views::squeeze(x, axes.span());
  if (autodiff::should_record(x)) {
    // The removed axes, ascending: re-inserting them in this order restores x's shape.
    std::vector<int> removed;
    if (axes.all()) {
      for (int i = 0; i < x.ndim(); ++i)
        if (x.shape()[i] == 1) removed.push_back(i);
    } else {
      removed = normalize_axes("squeeze", axes.span(), x.ndim());
    }
    autodiff::record("squeeze", out, {&x}, [removed](const Tensor& g, const Tensor&) {
      Tensor r = g;
      for (int a : removed) r = expand_dims(r, a);
      return autodiff::Cotangents{r};
    });
  }
  return out;
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  check_defined("broadcast_to", x);
  if (x.shape() == shape) return x;
  Tensor out = views::broadcast_to(x, shape);
  // The walker sums the cotangent back to x's shape (sum_to), which is this op's whole rule.
  if (autodiff::should_record(x)) {
    autodiff::record("broadcast_to", out, {&x},
                     [](const Tensor& g, const Tensor&) { return autodiff::Cotangents{g}; });
  }
  return out;
}

Tensor slice(const Tensor& x, std::int64_t start, std::int64_t stop, std::int64_t step, int axis) {
  check_defined("slice", x);
  ELEGY_CHECK(x.ndim() > 0, "slice", "cannot slice the 0-d ", describe(x));
  axis = normalize_axis("slice", axis, x.ndim());
  Tensor out = views::slice(x, axis, start, stop, step);
  if (autodiff::should_record(x)) {
    autodiff::record(
        "slice", out, {&x},
        [shape = x.shape(), axis, start, stop, step](const Tensor& g, const Tensor&) {
          return autodiff::Cotangents{slice_scatter(g, shape, axis, start, stop, step)};
        });
  }
  return out;
}

Tensor ravel(const Tensor& x) {
  check_defined("ravel", x);
  return reshape(x, Shape{x.numel()});
}

Tensor flatten(const Tensor& x, int preserve_dims) {
  check_defined("flatten", x);
  ELEGY_CHECK(preserve_dims >= 0, "flatten", "preserve_dims must be >= 0, got ", preserve_dims);
  // As Haiku's Flatten: nothing to merge when x has no more than preserve_dims dimensions.
  if (x.ndim() <= preserve_dims) return x;
  Shape shape;
  std::int64_t rest = 1;
  for (int i = 0; i < x.ndim(); ++i) {
    if (i < preserve_dims)
      shape.push_back(x.shape()[i]);
    else
      rest *= x.shape()[i];
  }
  shape.push_back(rest);
  return reshape(x, shape);
}

Tensor contiguous(const Tensor& x) {
  check_defined("contiguous", x);
  return x.contiguous();
}

Tensor concatenate(std::span<const Tensor> xs, int axis) {
  ELEGY_CHECK(!xs.empty(), "concatenate", "needs at least one tensor, got an empty list");
  for (const Tensor& x : xs) check_defined("concatenate", x);
  const Tensor& first = xs[0];
  ELEGY_CHECK(first.ndim() > 0, "concatenate",
              "cannot concatenate 0-d tensors: ", describe_all(xs));
  axis = normalize_axis("concatenate", axis, first.ndim());
  DType dtype = first.dtype();
  Shape shape = first.shape();
  shape[axis] = 0;
  for (const Tensor& x : xs) {
    ELEGY_CHECK(x.device() == first.device(), "concatenate",
                "operands are on different devices: ", describe_all(xs));
    bool same = x.ndim() == first.ndim();
    for (int i = 0; same && i < x.ndim(); ++i) same = i == axis || x.shape()[i] == first.shape()[i];
    ELEGY_CHECK(same, "concatenate", "shapes must match except along axis ", axis, ", got ",
                describe_all(xs));
    shape[axis] += x.shape()[axis];
    dtype = promote_types(dtype, x.dtype());
  }
  if (xs.size() == 1 && first.dtype() == dtype) return first;

  // Inputs of a narrower dtype are cast first (a recorded astype, so float32 parts of a
  // float64 result still get their gradient in float32).
  std::vector<Tensor> cast;
  std::span<const Tensor> parts = xs;
  for (const Tensor& x : xs) {
    if (x.dtype() == dtype) continue;
    for (const Tensor& p : xs) cast.push_back(p.dtype() == dtype ? p : astype(p, dtype));
    parts = cast;
    break;
  }

  Tensor out = Tensor::empty(shape, dtype, first.device());
  std::int64_t offset = 0;
  for (const Tensor& p : parts) {
    const std::int64_t n = p.shape()[axis];
    copy_into("concatenate", views::slice(out, axis, offset, offset + n, 1), p);
    offset += n;
  }

  bool any_traced = false;
  if (autodiff::is_recording())
    for (const Tensor& p : parts) any_traced |= p.node() != nullptr;
  if (any_traced) {
    std::vector<std::int64_t> sizes;
    for (const Tensor& p : parts) sizes.push_back(p.shape()[axis]);
    autodiff::record("concatenate", out, std::span<const Tensor>(parts),
                     [axis, sizes](const Tensor& g, const Tensor&) {
                       autodiff::Cotangents cots;
                       std::int64_t begin = 0;
                       for (std::int64_t n : sizes) {
                         cots.push_back(slice(g, begin, begin + n, 1, axis));
                         begin += n;
                       }
                       return cots;
                     });
  }
  return out;
}

Tensor concatenate(std::initializer_list<Tensor> xs, int axis) {
  return concatenate(std::span<const Tensor>(xs.begin(), xs.size()), axis);
}

Tensor stack(std::span<const Tensor> xs, int axis) {
  ELEGY_CHECK(!xs.empty(), "stack", "needs at least one tensor, got an empty list");
  for (const Tensor& x : xs) {
    check_defined("stack", x);
    ELEGY_CHECK(x.shape() == xs[0].shape(), "stack", "all tensors must have the same shape, got ",
                describe_all(xs));
  }
  ELEGY_CHECK(xs[0].ndim() < kMaxRank, "stack", "the result would exceed the maximum rank ",
              kMaxRank, ": ", describe(xs[0]));
  axis = normalize_axis("stack", axis, xs[0].ndim() + 1);
  std::vector<Tensor> expanded;
  expanded.reserve(xs.size());
  for (const Tensor& x : xs) expanded.push_back(expand_dims(x, axis));
  if (expanded.size() == 1) return expanded[0];
  return concatenate(expanded, axis);
}

Tensor stack(std::initializer_list<Tensor> xs, int axis) {
  return stack(std::span<const Tensor>(xs.begin(), xs.size()), axis);
}

Tensor pad(const Tensor& x, std::span<const std::pair<std::int64_t, std::int64_t>> widths,
           double value) {
  check_defined("pad", x);
  ELEGY_CHECK(int(widths.size()) == x.ndim(), "pad", "got ", widths.size(),
              " (before, after) pairs for ", describe(x), ", expected one per dimension (",
              x.ndim(), ")");
  Shape shape = x.shape();
  Dims before = Dims::filled(x.ndim(), 0);
  for (int i = 0; i < x.ndim(); ++i) {
    const auto [b, a] = widths[std::size_t(i)];
    ELEGY_CHECK(b >= 0 && a >= 0, "pad", "widths must be >= 0, got (", b, ", ", a,
                ") for dimension ", i, " of ", describe(x));
    before[i] = b;
    shape[i] += b + a;
  }
  Tensor out = filled("pad", shape, value, x.dtype(), x.device());
  Tensor interior = out;
  for (int i = 0; i < x.ndim(); ++i)
    interior = views::slice(interior, i, before[i], before[i] + x.shape()[i], 1);
  copy_into("pad", interior, x);
  if (autodiff::should_record(x)) {
    autodiff::record("pad", out, {&x}, [before, shape = x.shape()](const Tensor& g, const Tensor&) {
      return autodiff::Cotangents{unpad(g, before, shape)};
    });
  }
  return out;
}

Tensor pad(const Tensor& x, std::initializer_list<std::pair<std::int64_t, std::int64_t>> widths,
           double value) {
  return pad(x,
             std::span<const std::pair<std::int64_t, std::int64_t>>(widths.begin(), widths.size()),
             value);
}

}  // namespace elegy
