// moments, normalize, layer_norm and batch_norm_train: argument checks, the fused kernels, and
// their backward rules.
//
// The kernels see x as a dense 2-D matrix: [groups, count] with the statistics' axes last (row
// statistics: LayerNorm) or [count, groups] with them first (column statistics: channels-last
// BatchNorm). Any other axis choice is transposed into one of those first.
//
// layer_norm and batch_norm_train run a fused backward kernel when the backward pass is not
// itself being recorded. When it is (grad of grad), their rules compute the same cotangents
// with public ops instead, which record, so higher derivatives work; the tests check both.
#include "elegy/autodiff/ops_norm.hpp"

#include <algorithm>
#include <limits>

#include "elegy/autodiff/kernel_call.hpp"
#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_reduce.hpp"
#include "elegy/autodiff/ops_shape.hpp"
#include "elegy/autodiff/tape.hpp"
#include "elegy/core/views.hpp"

namespace elegy {

using autodiff::buffer_view;
using kernels::Op;

namespace {

// Which axes of x the statistics run over, and how x maps onto the kernels' 2-D matrix.
struct NormLayout {
  std::vector<int> reduced, kept;  // x's axes, increasing
  Shape stat_shape;                // x's shape with the reduced axes set to 1 (keepdims)
  Shape kept_sizes, reduced_sizes;
  std::int64_t count = 1;   // elements per statistic
  std::int64_t groups = 1;  // number of statistics
};

NormLayout layout(const char* op, const Tensor& x, const Axes& axes) {
  NormLayout l;
  l.reduced = normalize_axes(op, axes.span(), x.ndim());
  if (!axes.all()) {
    ELEGY_CHECK(l.reduced.size() == axes.span().size(), op, "an axis is repeated in the axes of ",
                describe(x));
  }
  l.stat_shape = x.shape();
  for (int i = 0; i < x.ndim(); ++i) {
    if (std::find(l.reduced.begin(), l.reduced.end(), i) != l.reduced.end()) {
      l.stat_shape[i] = 1;
      l.count *= x.shape()[i];
      l.reduced_sizes.push_back(x.shape()[i]);
    } else {
      l.kept.push_back(i);
      l.groups *= x.shape()[i];
      l.kept_sizes.push_back(x.shape()[i]);
    }
  }
  return l;
}

using autodiff::dense;

// x as a dense 2-D matrix: [groups, count] when reduced_last, else [count, groups]. No tape.
Tensor arrange(const Tensor& x, const NormLayout& l, bool reduced_last) {
  std::vector<int> perm = reduced_last ? l.kept : l.reduced;
  const std::vector<int>& rest = reduced_last ? l.reduced : l.kept;
  perm.insert(perm.end(), rest.begin(), rest.end());
  bool identity = true;
  for (int i = 0; i < int(perm.size()); ++i) identity &= perm[std::size_t(i)] == i;
  const Tensor t = identity ? dense(x) : views::permute(x.detached(), perm).contiguous();
  const Shape two_d = reduced_last ? Shape{l.groups, l.count} : Shape{l.count, l.groups};
  return views::reshape(t, two_d);
}

// The inverse of arrange: a dense 2-D result back in x's axes (a view when transposed).
Tensor unarrange(const Tensor& m, const NormLayout& l, bool reduced_last, const Shape& x_shape) {
  std::vector<int> perm = reduced_last ? l.kept : l.reduced;
  const std::vector<int>& rest = reduced_last ? l.reduced : l.kept;
  perm.insert(perm.end(), rest.begin(), rest.end());
  Shape permuted;
  for (int axis : perm) permuted.push_back(x_shape[axis]);
  std::vector<int> inverse(perm.size());
  for (std::size_t i = 0; i < perm.size(); ++i) inverse[std::size_t(perm[i])] = int(i);
  return views::permute(views::reshape(m, permuted), inverse);
}

// True when the reduced axes are the last ones (a LayerNorm row layout needs no transpose).
bool reduced_are_suffix(const NormLayout& l, int rank) {
  for (std::size_t i = 0; i < l.reduced.size(); ++i)
    if (l.reduced[i] != rank - int(l.reduced.size()) + int(i)) return false;
  return true;
}

void check_float(const char* op, const Tensor& x) {
  autodiff::check_defined(op, x);
  ELEGY_CHECK(is_floating(x.dtype()), op, "expected a float32 or float64 input, got ", describe(x));
}

// Error unless the optional `p` broadcasts to x's shape and matches its dtype and device.
void check_param(const char* op, const char* name, const Tensor& p, const Tensor& x) {
  if (!p.defined()) return;
  bool broadcasts = p.ndim() <= x.ndim();
  for (int i = 0; broadcasts && i < p.ndim(); ++i) {
    const std::int64_t size = p.shape()[i];
    broadcasts = size == 1 || size == x.shape()[x.ndim() - p.ndim() + i];
  }
  ELEGY_CHECK(broadcasts, op, name, " ", describe(p), " does not broadcast to the shape of x ",
              describe(x));
  ELEGY_CHECK(p.dtype() == x.dtype(), op, name, " ", describe(p), " and x ", describe(x),
              " have different dtypes");
  autodiff::check_same_device(op, p, x);
}

// True when `p` (broadcasting against x) varies only along `axes` of x.
bool varies_only_along(const Tensor& p, const std::vector<int>& axes, int rank) {
  if (!p.defined()) return true;
  const int lead = rank - p.ndim();
  for (int i = 0; i < p.ndim(); ++i)
    if (p.shape()[i] != 1 && std::find(axes.begin(), axes.end(), lead + i) == axes.end())
      return false;
  return true;
}

// `p` (varying only along `axes`) as a dense vector over those axes, row-major. No tape.
Tensor param_vector(const Tensor& p, const std::vector<int>& axes, const Shape& sizes, int rank) {
  if (!p.defined()) return Tensor();
  Shape aligned = Dims::filled(rank - p.ndim(), 1);
  for (std::int64_t s : p.shape()) aligned.push_back(s);
  Shape along;
  for (int axis : axes) along.push_back(aligned[axis]);
  const Tensor v = views::reshape(dense(p), along);
  return views::reshape(dense(views::broadcast_to(v, sizes)), Shape{sizes.numel()});
}

// The cotangents of (x, scale, offset) of y = normalize(x, moments over `axes`) * scale +
// offset, written with public ops (they record, so this is the differentiable form).
autodiff::Cotangents composed_norm_backward(const Tensor& g, const Tensor& x, const Axes& axes,
                                            const Tensor& scale, const Tensor& offset, double eps) {
  const Tensor mu = mean(x, axes, true);
  const Tensor xc = x - mu;
  const Tensor rstd = rsqrt(mean(xc * xc, axes, true) + eps);
  const Tensor xhat = xc * rstd;
  const Tensor gs = scale.defined() ? g * scale : g;
  const Tensor gx = rstd * (gs - mean(gs, axes, true) - xhat * mean(gs * xhat, axes, true));
  return {gx, scale.defined() ? g * xhat : Tensor(), offset.defined() ? g : Tensor()};
}

// Records the mean and var outputs of a moments computation: d mean = g / count broadcast,
// d var = g * 2 (x - mean) / count. `mean_out` must already carry its node when var's rule
// reads it, so second derivatives see mean's dependence on x.
void record_moments(const char* op, const Tensor& x, Tensor& mean_out, Tensor& var_out,
                    std::int64_t count) {
  if (!autodiff::should_record(x)) return;
  const double inv = 1.0 / double(count);
  autodiff::record(op, mean_out, {&x}, [inv, shape = x.shape()](const Tensor& g, const Tensor&) {
    return autodiff::Cotangents{broadcast_to(g * inv, shape)};
  });
  autodiff::record(op, var_out, {&x}, [inv, x, mean_out](const Tensor& g, const Tensor&) {
    return autodiff::Cotangents{(g * (2.0 * inv)) * (x - mean_out)};
  });
}

// Mean and variance, un-taped, as dense tensors of the keepdims shape.
Moments run_moments(const char* op, const Tensor& x, const NormLayout& l) {
  Tensor mean_out = Tensor::empty(l.stat_shape, x.dtype(), x.device());
  Tensor var_out = Tensor::empty(l.stat_shape, x.dtype(), x.device());
  if (l.groups == 0) return {mean_out, var_out};
  if (l.count == 0) {  // the mean of nothing is NaN, as in numpy
    const double nan = std::numeric_limits<double>::quiet_NaN();
    return {full(l.stat_shape, nan, x.dtype(), x.device()),
            full(l.stat_shape, nan, x.dtype(), x.device())};
  }
  // Row statistics when the reduced axes are last (or need a transpose anyway); column
  // statistics when they are first.
  bool prefix = true;
  for (std::size_t i = 0; i < l.reduced.size(); ++i) prefix &= l.reduced[i] == int(i);
  const bool reduced_last = reduced_are_suffix(l, x.ndim()) || !prefix;
  const Tensor arranged = arrange(x, l, reduced_last);  // alive until the kernel has read it
  kernels::KernelArgs args;
  args.out = buffer_view(mean_out);
  args.in[0] = buffer_view(arranged);
  args.in[1] = buffer_view(var_out);
  args.num_inputs = 2;
  args.ints[0] = reduced_last ? 1 : 0;
  args.device = x.device();
  kernels::run(op, Op::Moments, x.dtype(), args);
  return {mean_out, var_out};
}

// `p` (varying only along x's last axis) as a 1-D tensor: [C], or [1] when it is constant.
// Recorded (a reshape), so gradients reach p.
Tensor channel_vector(const Tensor& p) {
  return reshape(p, Shape{p.ndim() == 0 ? 1 : p.shape()[p.ndim() - 1]});
}

// x * a + b with a and b of shape [C] along x's last axis, in one pass (ChannelAffine). Its
// rule is written with ops: {g * a, g * x, g} (the tape sums the last two down to [C]).
Tensor channel_affine(const Tensor& x, const Tensor& a, const Tensor& b) {
  const std::int64_t C = x.shape()[x.ndim() - 1];
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  // Named: a kernel's operands must outlive it (kernel_call.hpp).
  const Tensor rows_out = views::reshape(y, Shape{x.numel() / C, C});
  const Tensor rows_in = views::reshape(dense(x), Shape{x.numel() / C, C});
  const Tensor a_dense = dense(a), b_dense = dense(b);
  kernels::KernelArgs args;
  args.out = buffer_view(rows_out);
  args.in[0] = buffer_view(rows_in);
  args.in[1] = buffer_view(a_dense);
  args.in[2] = buffer_view(b_dense);
  args.num_inputs = 3;
  args.device = x.device();
  kernels::run("normalize", Op::ChannelAffine, x.dtype(), args);
  if (autodiff::should_record(x, a, b)) {
    autodiff::record("normalize", y, {&x, &a, &b}, [x, a](const Tensor& g, const Tensor&) {
      return autodiff::Cotangents{g * a, g * x, g};
    });
  }
  return y;
}

}  // namespace

Moments moments(const Tensor& x, const Axes& axes) {
  check_float("moments", x);
  const NormLayout l = layout("moments", x, axes);
  Moments m = run_moments("moments", x, l);
  record_moments("moments", x, m.mean, m.var, l.count);
  return m;
}

Tensor normalize(const Tensor& x, const Tensor& mean_in, const Tensor& var_in, const Tensor& scale,
                 const Tensor& offset, double eps) {
  check_float("normalize", x);
  autodiff::check_defined("normalize", mean_in, "mean");
  autodiff::check_defined("normalize", var_in, "var");
  check_param("normalize", "mean", mean_in, x);
  check_param("normalize", "var", var_in, x);
  check_param("normalize", "scale", scale, x);
  check_param("normalize", "offset", offset, x);
  const int rank = x.ndim();
  const std::vector<int> last{rank - 1};
  if (rank >= 1 && x.numel() > 0 && varies_only_along(mean_in, last, rank) &&
      varies_only_along(var_in, last, rank) && varies_only_along(scale, last, rank) &&
      varies_only_along(offset, last, rank)) {
    // Per-channel statistics (BatchNorm at inference): y = x * a + b in one pass, with a and b
    // computed on [C] vectors by (recorded) ops.
    const Shape channels{x.shape()[rank - 1]};
    Tensor a = rsqrt(channel_vector(var_in) + eps);
    if (scale.defined()) a = a * channel_vector(scale);
    Tensor b = -(channel_vector(mean_in) * a);
    if (offset.defined()) b = b + channel_vector(offset);
    return channel_affine(x, broadcast_to(a, channels), broadcast_to(b, channels));
  }
  Tensor a = rsqrt(var_in + eps);
  if (scale.defined()) a = a * scale;
  const Tensor y = (x - mean_in) * a;
  return offset.defined() ? y + offset : y;
}

Tensor layer_norm(const Tensor& x, const Axes& axes, const Tensor& scale, const Tensor& offset,
                  double eps) {
  check_float("layer_norm", x);
  check_param("layer_norm", "scale", scale, x);
  check_param("layer_norm", "offset", offset, x);
  const NormLayout l = layout("layer_norm", x, axes);
  const int rank = x.ndim();
  if (!varies_only_along(scale, l.reduced, rank) || !varies_only_along(offset, l.reduced, rank) ||
      l.count == 0 || l.groups == 0) {
    // Parameters that vary across rows: the composed form.
    const Moments m = moments(x, axes);
    return normalize(x, m.mean, m.var, scale, offset, eps);
  }
  const Tensor x2 = arrange(x, l, true);
  const Tensor scale_v = param_vector(scale, l.reduced, l.reduced_sizes, rank);
  const Tensor offset_v = param_vector(offset, l.reduced, l.reduced_sizes, rank);
  const Tensor y2 = Tensor::empty(x2.shape(), x.dtype(), x.device());
  if (y2.numel() > 0) {
    kernels::KernelArgs args;
    args.out = buffer_view(y2);
    args.in[0] = buffer_view(x2);
    if (scale_v.defined()) args.in[1] = buffer_view(scale_v);
    if (offset_v.defined()) args.in[2] = buffer_view(offset_v);
    args.num_inputs = 3;
    args.scalar[0] = eps;
    args.device = x.device();
    kernels::run("layer_norm", Op::LayerNorm, x.dtype(), args);
  }
  Tensor y = unarrange(y2, l, true, x.shape());
  if (autodiff::should_record(x, scale, offset)) {
    autodiff::record("layer_norm", y, {&x, &scale, &offset},
                     [x, x2, scale, offset, scale_v, l, axes, eps](const Tensor& g, const Tensor&) {
                       if (autodiff::is_recording())
                         return composed_norm_backward(g, x, axes, scale, offset, eps);
                       const std::int64_t K = l.count;
                       // Row 0: the scale (read); rows 1 and 2: dscale and doffset (written).
                       Tensor work = Tensor::empty(Shape{3, K}, x.dtype(), x.device());
                       if (scale_v.defined()) {
                         const Tensor scale_row =
                             views::reshape(views::slice(work, 0, 0, 1, 1), Shape{K});
                         kernels::KernelArgs copy;
                         copy.out = buffer_view(scale_row);
                         copy.in[0] = buffer_view(scale_v);
                         copy.num_inputs = 1;
                         copy.device = x.device();
                         copy.in_device = x.device();
                         kernels::run("layer_norm", Op::Copy, x.dtype(), copy);
                       }
                       const Tensor gx2 = Tensor::empty(x2.shape(), x.dtype(), x.device());
                       {
                         const Tensor g2 = arrange(g, l, true);
                         kernels::KernelArgs args;
                         args.out = buffer_view(gx2);
                         args.in[0] = buffer_view(g2);
                         args.in[1] = buffer_view(x2);
                         args.in[2] = buffer_view(work);
                         args.num_inputs = 3;
                         args.ints[0] = scale_v.defined();
                         args.ints[1] = scale.defined();
                         args.ints[2] = offset.defined();
                         args.scalar[0] = eps;
                         args.device = x.device();
                         kernels::run("layer_norm", Op::LayerNormBackward, x.dtype(), args);
                       }
                       Shape pshape = Dims::filled(x.ndim(), 1);
                       for (int axis : l.reduced) pshape[axis] = x.shape()[axis];
                       auto row = [&](std::int64_t i) {
                         return views::reshape(views::slice(work, 0, i, i + 1, 1), pshape);
                       };
                       return autodiff::Cotangents{unarrange(gx2, l, true, x.shape()),
                                                   scale.defined() ? row(1) : Tensor(),
                                                   offset.defined() ? row(2) : Tensor()};
                     });
  }
  return y;
}

BatchNormResult batch_norm_train(const Tensor& x, const Axes& axes, const Tensor& scale,
                                 const Tensor& offset, double eps) {
  check_float("batch_norm_train", x);
  check_param("batch_norm_train", "scale", scale, x);
  check_param("batch_norm_train", "offset", offset, x);
  const NormLayout l = layout("batch_norm_train", x, axes);
  const int rank = x.ndim();
  if (!varies_only_along(scale, l.kept, rank) || !varies_only_along(offset, l.kept, rank) ||
      l.count == 0 || l.groups == 0) {
    const Moments m = moments(x, axes);
    return {normalize(x, m.mean, m.var, scale, offset, eps), m.mean, m.var};
  }
  // [R, C]: the statistics' axes first, the channels last.
  const Tensor x2 = arrange(x, l, false);
  const std::int64_t R = l.count, C = l.groups;
  Moments m = run_moments("batch_norm_train", x, l);
  const Tensor mean_c = views::reshape(m.mean, Shape{C});
  const Tensor var_c = views::reshape(m.var, Shape{C});
  const Tensor scale_v = param_vector(scale, l.kept, l.kept_sizes, rank);
  const Tensor offset_v = param_vector(offset, l.kept, l.kept_sizes, rank);
  // y = x * a + b per channel, a = scale / sqrt(var + eps), b = offset - mean * a.
  Tensor rstd, a, b;
  {
    autodiff::NoGrad no_grad;
    rstd = 1.0 / sqrt(var_c + eps);
    a = scale_v.defined() ? scale_v * rstd : rstd;
    b = offset_v.defined() ? offset_v - mean_c * a : -(mean_c * a);
  }
  const Tensor y2 = Tensor::empty(x2.shape(), x.dtype(), x.device());
  {
    const Tensor a_dense = dense(a), b_dense = dense(b);
    kernels::KernelArgs args;
    args.out = buffer_view(y2);
    args.in[0] = buffer_view(x2);
    args.in[1] = buffer_view(a_dense);
    args.in[2] = buffer_view(b_dense);
    args.num_inputs = 3;
    args.device = x.device();
    kernels::run("batch_norm_train", Op::ChannelAffine, x.dtype(), args);
  }
  Tensor y = unarrange(y2, l, false, x.shape());
  if (autodiff::should_record(x, scale, offset)) {
    autodiff::record(
        "batch_norm_train", y, {&x, &scale, &offset},
        [x, x2, scale, offset, l, axes, eps, mean_c, rstd, a, R, C](const Tensor& g,
                                                                    const Tensor&) {
          if (autodiff::is_recording())
            return composed_norm_backward(g, x, axes, scale, offset, eps);
          const Tensor g2 = arrange(g, l, false);
          // Column sums of g and g * (x - mean), then dx = k0 g + k1 x + k2 per channel.
          const Tensor sums = Tensor::empty(Shape{2, C}, x.dtype(), x.device());
          kernels::KernelArgs reduce;
          reduce.out = buffer_view(sums);
          reduce.in[0] = buffer_view(g2);
          reduce.in[1] = buffer_view(x2);
          reduce.in[2] = buffer_view(mean_c);
          reduce.num_inputs = 3;
          reduce.device = x.device();
          kernels::run("batch_norm_train", Op::BatchNormBackwardReduce, x.dtype(), reduce);
          const Tensor sum_g = views::reshape(views::slice(sums, 0, 0, 1, 1), Shape{C});
          const Tensor sum_gxc = views::reshape(views::slice(sums, 0, 1, 2, 1), Shape{C});
          // dx = a (g - sum_g / R - xhat * (sum_gxc * rstd) / R), xhat = (x - mean) rstd.
          const Tensor k1 = -(a * rstd * rstd * sum_gxc) * (1.0 / double(R));
          const Tensor k2 = -(a * sum_g) * (1.0 / double(R)) - k1 * mean_c;
          const Tensor k = stack({a, k1, k2}).contiguous();
          const Tensor gx2 = Tensor::empty(x2.shape(), x.dtype(), x.device());
          kernels::KernelArgs args;
          args.out = buffer_view(gx2);
          args.in[0] = buffer_view(g2);
          args.in[1] = buffer_view(x2);
          args.in[2] = buffer_view(k);
          args.num_inputs = 3;
          args.device = x.device();
          kernels::run("batch_norm_train", Op::BatchNormBackward, x.dtype(), args);
          Shape pshape = Dims::filled(x.ndim(), 1);
          for (int axis : l.kept) pshape[axis] = x.shape()[axis];
          return autodiff::Cotangents{unarrange(gx2, l, false, x.shape()),
                                      scale.defined() ? reshape(sum_gxc * rstd, pshape) : Tensor(),
                                      offset.defined() ? reshape(sum_g, pshape) : Tensor()};
        });
  }
  record_moments("batch_norm_train", x, m.mean, m.var, l.count);
  return {y, m.mean, m.var};
}

}  // namespace elegy
