#include "elegy/model/nn/norm.hpp"

#include <algorithm>
#include <cmath>

#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_norm.hpp"
#include "elegy/autodiff/ops_shape.hpp"
#include "elegy/core/error.hpp"

namespace elegy::nn {
namespace {

// Normalised axes in [0, rank), sorted, checked.
std::vector<int> resolve_axes(const char* who, const Context& ctx, const Tensor& x,
                              const std::vector<int>& axes) {
  std::vector<int> out;
  for (int a : axes) {
    const int r = a < 0 ? a + x.ndim() : a;
    ELEGY_CHECK(r >= 0 && r < x.ndim(), who, "at '", ctx.path(), "': axis ", a,
                " is out of range for ", describe(x));
    out.push_back(r);
  }
  std::sort(out.begin(), out.end());
  ELEGY_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(), who, "at '", ctx.path(),
              "': repeated axis");
  return out;
}

// The shape of the statistics (keepdims over `axes`) and of a per-feature parameter (the other
// dims, with size 1 on `axes`), both broadcastable against x.
Shape keepdims_shape(const Tensor& x, const std::vector<int>& reduced) {
  std::vector<std::int64_t> dims(x.shape().begin(), x.shape().end());
  for (int a : reduced) dims[std::size_t(a)] = 1;
  return Shape(dims);
}

}  // namespace

Tensor BatchNorm::call(Context& ctx, const Tensor& x) {
  ELEGY_CHECK(x.ndim() >= 2, "nn::BatchNorm", "at '", ctx.path(), "' expects [N, ..., C], got ",
              describe(x));
  ELEGY_CHECK(is_floating(x.dtype()), "nn::BatchNorm", "at '", ctx.path(),
              "' needs float inputs, got ", describe(x));
  std::vector<int> axes = options_.axis;
  if (axes.empty())
    for (int i = 0; i + 1 < x.ndim(); ++i) axes.push_back(i);
  axes = resolve_axes("nn::BatchNorm", ctx, x, axes);
  const Shape stat_shape = keepdims_shape(x, axes);
  const DType dt = x.dtype();

  const Tensor mean_avg = ctx.state("mean", stat_shape, initializers::zeros(), dt);
  const Tensor var_avg = ctx.state("var", stat_shape, initializers::ones(), dt);
  const Tensor mean_hidden = ctx.state("mean_hidden", stat_shape, initializers::zeros(), dt);
  const Tensor var_hidden = ctx.state("var_hidden", stat_shape, initializers::zeros(), dt);
  const Tensor counter = ctx.state("counter", Shape{}, initializers::zeros(), DType::f32);
  Tensor scale, offset;
  if (options_.create_scale)
    scale = ctx.param("scale", stat_shape,
                      options_.scale_init ? options_.scale_init : initializers::ones(), dt);
  if (options_.create_offset)
    offset = ctx.param("offset", stat_shape,
                       options_.offset_init ? options_.offset_init : initializers::zeros(), dt);

  if (!ctx.training()) return normalize(x, mean_avg, var_avg, scale, offset, options_.eps);

  BatchNormResult r = batch_norm_train(x, Axes(axes), scale, offset, options_.eps);
  if (!ctx.initializing()) {
    // Zero-debiased EMA (hk.ExponentialMovingAverage): hidden moves towards the statistic from
    // zero, and average = hidden / (1 - decay^t).
    const double d = options_.decay_rate;
    const Tensor m = stop_gradient(r.mean), v = stop_gradient(r.var);
    const Tensor t = counter + 1.0;
    const Tensor debias = 1.0 - pow(full_like(t, d), t);
    const Tensor new_mean_hidden = mean_hidden * d + m * (1.0 - d);
    const Tensor new_var_hidden = var_hidden * d + v * (1.0 - d);
    ctx.set_state("counter", t);
    ctx.set_state("mean_hidden", new_mean_hidden);
    ctx.set_state("var_hidden", new_var_hidden);
    ctx.set_state("mean", new_mean_hidden / debias.astype(dt));
    ctx.set_state("var", new_var_hidden / debias.astype(dt));
  }
  return r.y;
}

Tensor LayerNorm::call(Context& ctx, const Tensor& x) {
  ELEGY_CHECK(is_floating(x.dtype()), "nn::LayerNorm", "at '", ctx.path(),
              "' needs float inputs, got ", describe(x));
  const std::vector<int> axes = resolve_axes("nn::LayerNorm", ctx, x, options_.axis);
  // Parameters have the normalised axes' sizes, reshaped to broadcast (Haiku: param_shape).
  std::vector<std::int64_t> param_dims;
  for (int a : axes) param_dims.push_back(x.shape()[a]);
  std::vector<std::int64_t> bcast(std::size_t(x.ndim()), 1);
  for (int a : axes) bcast[std::size_t(a)] = x.shape()[a];
  Tensor scale, offset;
  if (options_.create_scale)
    scale = reshape(
        ctx.param("scale", Shape(param_dims),
                  options_.scale_init ? options_.scale_init : initializers::ones(), x.dtype()),
        Shape(bcast));
  if (options_.create_offset)
    offset = reshape(
        ctx.param("offset", Shape(param_dims),
                  options_.offset_init ? options_.offset_init : initializers::zeros(), x.dtype()),
        Shape(bcast));
  return layer_norm(x, Axes(axes), scale, offset, options_.eps);
}

}  // namespace elegy::nn
