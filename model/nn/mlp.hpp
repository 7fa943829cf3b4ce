// MLP: Linear layers with an activation between them (Haiku's hk.nets.MLP). Layers are named
// "linear", "linear_1", ... inside the MLP's scope.
#pragma once

#include <functional>
#include <vector>

#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/model/nn/activations.hpp"
#include "elegy/model/nn/linear.hpp"

namespace elegy::nn {

struct MLPOptions {
  initializers::Initializer w_init{};  // empty: Linear's default
  initializers::Initializer b_init{};
  bool with_bias = true;
  std::function<Tensor(const Tensor&)> activation = elegy::relu;
  bool activate_final = false;
  // Dropout between layers (after each activation) while training; 0 = none.
  double dropout_rate = 0.0;
  std::string name{};
};

class MLP : public Module {
 public:
  explicit MLP(std::vector<std::int64_t> output_sizes, MLPOptions options = {});
  Tensor call(Context& ctx, const Tensor& x) override;
  std::string type_name() const override { return "MLP"; }

 private:
  std::vector<std::int64_t> output_sizes_;
  MLPOptions options_;
};

}  // namespace elegy::nn
