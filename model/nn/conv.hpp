// Convolutions over channels-last inputs (Haiku's ConvND: NWC / NHWC), kernels [*kernel,
// C_in / groups, C_out] created on the first call from the input's channel count. Padding is
// "same" (output size ceil(in / stride)) or "valid", as XLA computes them, or explicit pairs.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "elegy/autodiff/ops_conv.hpp"
#include "elegy/model/nn/module.hpp"

namespace elegy::nn {

struct ConvOptions {
  std::vector<std::int64_t> stride{};  // one value for every spatial dim, or one per dim; {} = 1
  std::vector<std::int64_t> rate{};    // kernel dilation, same convention
  Padding padding = Padding::same;
  // Explicit (low, high) padding per spatial dim; overrides `padding` when set.
  std::vector<std::pair<std::int64_t, std::int64_t>> explicit_padding{};
  std::int64_t groups = 1;  // feature groups: C_in and C_out must be multiples (depthwise: C_in)
  bool with_bias = true;
  // Applied to conv + b as each output is stored (Keras's activation="relu"): faster than
  // relu(Conv2D(...)(ctx, x)), with the same values; the backward is one fused pass too, equal to
  // the unfused gradients to rounding.
  FusedActivation activation = FusedActivation::none;
  initializers::Initializer w_init{};  // empty: truncated_normal(1 / sqrt(fan_in))
  initializers::Initializer b_init{};  // empty: zeros
  std::string name{};
};

// N spatial dimensions (1 or 2).
class ConvND : public Module {
 public:
  ConvND(int num_spatial_dims, std::int64_t output_channels, std::vector<std::int64_t> kernel_shape,
         ConvOptions options = {});
  Tensor call(Context& ctx, const Tensor& x) override;
  std::string type_name() const override;

 private:
  int num_spatial_dims_;
  std::int64_t output_channels_;
  std::vector<std::int64_t> kernel_shape_;
  ConvOptions options_;
};

class Conv1D : public ConvND {
 public:
  Conv1D(std::int64_t output_channels, std::int64_t kernel, ConvOptions options = {})
      : ConvND(1, output_channels, {kernel}, std::move(options)) {}
};

class Conv2D : public ConvND {
 public:
  Conv2D(std::int64_t output_channels, std::int64_t kernel, ConvOptions options = {})
      : ConvND(2, output_channels, {kernel}, std::move(options)) {}
  Conv2D(std::int64_t output_channels, std::vector<std::int64_t> kernel, ConvOptions options = {})
      : ConvND(2, output_channels, std::move(kernel), std::move(options)) {}
};

struct ConvTransposeOptions {
  std::vector<std::int64_t> stride{};
  std::vector<std::int64_t> rate{};
  // same: output = input * stride; valid: output = input * stride + max(dilated kernel -
  // stride, 0) (lax.conv_transpose's sizes).
  Padding padding = Padding::same;
  bool with_bias = true;
  initializers::Initializer w_init{};
  initializers::Initializer b_init{};
  std::string name{};
};

// The transpose of Conv2D (the gradient of a convolution with respect to its input), used to
// upsample: [N, H, W, C_in] -> [N, H * stride, W * stride, C_out] with "same" padding.
class ConvTranspose2D : public Module {
 public:
  ConvTranspose2D(std::int64_t output_channels, std::int64_t kernel,
                  ConvTransposeOptions options = {})
      : ConvTranspose2D(output_channels, std::vector<std::int64_t>{kernel}, std::move(options)) {}
  ConvTranspose2D(std::int64_t output_channels, std::vector<std::int64_t> kernel,
                  ConvTransposeOptions options = {});
  Tensor call(Context& ctx, const Tensor& x) override;
  std::string type_name() const override { return "ConvTranspose2D"; }

 private:
  std::int64_t output_channels_;
  std::vector<std::int64_t> kernel_shape_;
  ConvTransposeOptions options_;
};

// One value per spatial dim from a user's list ({} -> fill, {v} -> v everywhere); Error naming
// `what` otherwise.
std::vector<std::int64_t> per_spatial_dim(const char* module, const char* what,
                                          const std::vector<std::int64_t>& values, int n,
                                          std::int64_t fill);

}  // namespace elegy::nn
