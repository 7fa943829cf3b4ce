#include "elegy/model/nn/conv.hpp"

#include <cmath>

#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/core/error.hpp"

namespace elegy::nn {

std::vector<std::int64_t> per_spatial_dim(const char* module, const char* what,
                                          const std::vector<std::int64_t>& values, int n,
                                          std::int64_t fill) {
  if (values.empty()) return std::vector<std::int64_t>(std::size_t(n), fill);
  if (values.size() == 1) return std::vector<std::int64_t>(std::size_t(n), values[0]);
  ELEGY_CHECK(int(values.size()) == n, module, what, " needs 1 or ", n, " values, got ",
              values.size());
  for (std::int64_t v : values) ELEGY_CHECK(v > 0, module, what, " values must be positive");
  return values;
}

namespace {

initializers::Initializer default_w_init(const Shape& w_shape) {
  std::int64_t fan_in = 1;
  for (int i = 0; i + 1 < w_shape.size(); ++i) fan_in *= w_shape[i];
  return initializers::truncated_normal(1.0 / std::sqrt(double(fan_in)));
}

void check_input(const char* module, const Context& ctx, const Tensor& x, int spatial) {
  ELEGY_CHECK(x.ndim() == spatial + 2, module, "at '", ctx.path(), "' expects [N, ",
              spatial == 1 ? "W" : "H, W", ", C] (channels last), got ", describe(x));
  ELEGY_CHECK(is_floating(x.dtype()), module, "at '", ctx.path(), "' needs float inputs, got ",
              describe(x));
}

}  // namespace

ConvND::ConvND(int num_spatial_dims, std::int64_t output_channels,
               std::vector<std::int64_t> kernel_shape, ConvOptions options)
    : Module(options.name),
      num_spatial_dims_(num_spatial_dims),
      output_channels_(output_channels),
      options_(std::move(options)) {
  ELEGY_CHECK(num_spatial_dims == 1 || num_spatial_dims == 2, "nn::ConvND",
              "supports 1 or 2 spatial dims, got ", num_spatial_dims);
  ELEGY_CHECK(output_channels > 0, "nn::ConvND", "output_channels must be positive, got ",
              output_channels);
  ELEGY_CHECK(options_.groups >= 1 && output_channels % options_.groups == 0, "nn::ConvND",
              "output_channels (", output_channels, ") must be a multiple of groups (",
              options_.groups, ")");
  kernel_shape_ = per_spatial_dim("nn::ConvND", "kernel_shape", kernel_shape, num_spatial_dims, 1);
}

std::string ConvND::type_name() const {
  return num_spatial_dims_ == 1 ? "Conv1D" : "Conv2D";
}

Tensor ConvND::call(Context& ctx, const Tensor& x) {
  const std::string who = "nn::" + type_name();
  const int n = num_spatial_dims_;
  check_input(who.c_str(), ctx, x, n);
  const std::int64_t c_in = x.shape()[x.ndim() - 1];
  ELEGY_CHECK(c_in % options_.groups == 0, who.c_str(), "at '", ctx.path(), "': input channels (",
              c_in, ") must be a multiple of groups (", options_.groups, ")");
  std::vector<std::int64_t> w_dims = kernel_shape_;
  w_dims.push_back(c_in / options_.groups);
  w_dims.push_back(output_channels_);
  const Shape w_shape(w_dims);
  const Tensor w = ctx.param(
      "w", w_shape, options_.w_init ? options_.w_init : default_w_init(w_shape), x.dtype());

  elegy::ConvOptions op;
  op.strides = per_spatial_dim(who.c_str(), "stride", options_.stride, n, 1);
  op.dilation = per_spatial_dim(who.c_str(), "rate", options_.rate, n, 1);
  op.groups = options_.groups;
  if (!options_.explicit_padding.empty()) {
    ELEGY_CHECK(int(options_.explicit_padding.size()) == n, who.c_str(), "explicit_padding needs ",
                n, " (low, high) pairs, got ", options_.explicit_padding.size());
    op.padding = options_.explicit_padding;
  } else {
    const std::vector<std::int64_t> spatial(x.shape().begin() + 1, x.shape().begin() + 1 + n);
    op.padding = conv_padding(options_.padding, spatial, kernel_shape_, op.strides, op.dilation);
  }
  Tensor b;
  if (options_.with_bias)
    b = ctx.param("b", Shape{output_channels_},
                  options_.b_init ? options_.b_init : initializers::zeros(), x.dtype());
  return conv_bias_act(x, w, b, op, options_.activation);
}

ConvTranspose2D::ConvTranspose2D(std::int64_t output_channels, std::vector<std::int64_t> kernel,
                                 ConvTransposeOptions options)
    : Module(options.name), output_channels_(output_channels), options_(std::move(options)) {
  ELEGY_CHECK(output_channels > 0, "nn::ConvTranspose2D", "output_channels must be positive, got ",
              output_channels);
  kernel_shape_ = per_spatial_dim("nn::ConvTranspose2D", "kernel_shape", kernel, 2, 1);
}

Tensor ConvTranspose2D::call(Context& ctx, const Tensor& x) {
  check_input("nn::ConvTranspose2D", ctx, x, 2);
  const std::int64_t c_in = x.shape()[3];
  const Shape w_shape{kernel_shape_[0], kernel_shape_[1], c_in, output_channels_};
  const Tensor w = ctx.param(
      "w", w_shape, options_.w_init ? options_.w_init : default_w_init(w_shape), x.dtype());
  elegy::ConvTransposeOptions op;
  op.strides = per_spatial_dim("nn::ConvTranspose2D", "stride", options_.stride, 2, 1);
  op.dilation = per_spatial_dim("nn::ConvTranspose2D", "rate", options_.rate, 2, 1);
  // lax.conv_transpose's sizes: same -> input * stride, valid -> input * stride +
  // max(dilated_kernel - stride, 0).
  op.padding = conv_transpose_padding(options_.padding, kernel_shape_, op.strides, op.dilation);
  Tensor y = conv_transpose(x, w, op);
  if (options_.with_bias) {
    y = y + ctx.param("b", Shape{output_channels_},
                      options_.b_init ? options_.b_init : initializers::zeros(), x.dtype());
  }
  return y;
}

}  // namespace elegy::nn
