// Normalisation layers (Haiku's BatchNorm and LayerNorm, Elegy's defaults).
#pragma once

#include <optional>
#include <vector>

#include "elegy/autodiff/axes.hpp"
#include "elegy/model/nn/module.hpp"

namespace elegy::nn {

struct BatchNormOptions {
  bool create_scale = true;
  bool create_offset = true;
  double decay_rate = 0.99;  // of the moving averages
  double eps = 1e-5;
  initializers::Initializer scale_init{};   // empty: ones
  initializers::Initializer offset_init{};  // empty: zeros
  // Axes the statistics are taken over; {} = every axis but the last (channels last).
  std::vector<int> axis{};
  std::string name{};
};

// Training: normalises with the batch's mean and (biased) variance, and moves the moving
// averages (non-trainable, in net_states: "mean", "var", with "mean_hidden", "var_hidden" and
// "counter" for Haiku's zero-debiased EMA, so the averages equal the batch statistics after the
// first step instead of creeping up from zero). Evaluation: normalises with the averages.
class BatchNorm : public Module {
 public:
  explicit BatchNorm(BatchNormOptions options = {})
      : Module(options.name), options_(std::move(options)) {}
  Tensor call(Context& ctx, const Tensor& x) override;
  std::string type_name() const override { return "BatchNorm"; }

 private:
  BatchNormOptions options_;
};

struct LayerNormOptions {
  std::vector<int> axis{-1};  // normalised axes
  bool create_scale = true;
  bool create_offset = true;
  double eps = 1e-5;
  initializers::Initializer scale_init{};   // empty: ones
  initializers::Initializer offset_init{};  // empty: zeros
  std::string name{};
};

// Normalises each example over `axis` with its own statistics; scale and offset have the shape
// of the normalised axes.
class LayerNorm : public Module {
 public:
  explicit LayerNorm(LayerNormOptions options = {})
      : Module(options.name), options_(std::move(options)) {}
  Tensor call(Context& ctx, const Tensor& x) override;
  std::string type_name() const override { return "LayerNorm"; }

 private:
  LayerNormOptions options_;
};

}  // namespace elegy::nn
