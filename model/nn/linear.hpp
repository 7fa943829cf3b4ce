// Linear: y = activation(x @ w + b) over the last axis of x (Haiku/Elegy's Linear). w is [in, out],
// created on the first call from x's last dimension; default w_init is a truncated normal with
// stddev 1/sqrt(in) and b starts at zero.
#pragma once

#include <cstdint>
#include <optional>

#include "elegy/autodiff/ops_bias_act.hpp"
#include "elegy/model/nn/module.hpp"

namespace elegy::nn {

struct LinearOptions {
  bool with_bias = true;
  // Applied to x @ w + b in the same pass as the bias (Keras's activation="relu"): faster than
  // relu(Linear(...)(ctx, x)), with the same values.
  FusedActivation activation = FusedActivation::none;
  initializers::Initializer w_init{};  // empty: truncated_normal(1 / sqrt(fan_in))
  initializers::Initializer b_init{};  // empty: zeros
  DType dtype = DType::f32;            // of the parameters
  std::string name{};
};

class Linear : public Module {
 public:
  explicit Linear(std::int64_t output_size, LinearOptions options = {});
  Tensor call(Context& ctx, const Tensor& x) override;
  std::string type_name() const override { return "Linear"; }

 private:
  std::int64_t output_size_;
  LinearOptions options_;
};

}  // namespace elegy::nn
