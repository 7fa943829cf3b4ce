#include "elegy/model/nn/pool.hpp"

#include "elegy/autodiff/ops_reduce.hpp"
#include "elegy/core/error.hpp"
#include "elegy/model/nn/conv.hpp"

namespace elegy::nn {
namespace {

elegy::PoolOptions pool_options(const char* who, const Context& ctx, const Tensor& x,
                                const std::vector<std::int64_t>& window,
                                const PoolOptions& options) {
  ELEGY_CHECK(x.ndim() == 3 || x.ndim() == 4, who, "at '", ctx.path(),
              "' expects [N, W, C] or [N, H, W, C] (channels last), got ", describe(x));
  const int n = x.ndim() - 2;
  elegy::PoolOptions op;
  op.window = per_spatial_dim(who, "window", window, n, 1);
  op.strides = per_spatial_dim(who, "strides", options.strides, n, 0);
  if (options.strides.empty()) op.strides = op.window;
  const std::vector<std::int64_t> spatial(x.shape().begin() + 1, x.shape().begin() + 1 + n);
  const std::vector<std::int64_t> ones(std::size_t(n), 1);
  op.padding = conv_padding(options.padding, spatial, op.window, op.strides, ones);
  return op;
}

Axes spatial_axes(const char* who, const Context& ctx, const Tensor& x) {
  ELEGY_CHECK(x.ndim() >= 3, who, "at '", ctx.path(),
              "' expects [N, *spatial, C] (channels last), got ", describe(x));
  std::vector<int> axes;
  for (int i = 1; i + 1 < x.ndim(); ++i) axes.push_back(i);
  return Axes(axes);
}

}  // namespace

Tensor MaxPool::call(Context& ctx, const Tensor& x) {
  return max_pool(x, pool_options("nn::MaxPool", ctx, x, window_, options_));
}

Tensor AvgPool::call(Context& ctx, const Tensor& x) {
  return avg_pool(x, pool_options("nn::AvgPool", ctx, x, window_, options_));
}

Tensor GlobalAvgPool::call(Context& ctx, const Tensor& x) {
  return mean(x, spatial_axes("nn::GlobalAvgPool", ctx, x), keepdims_);
}

Tensor GlobalMaxPool::call(Context& ctx, const Tensor& x) {
  return max(x, spatial_axes("nn::GlobalMaxPool", ctx, x), keepdims_);
}

}  // namespace elegy::nn
