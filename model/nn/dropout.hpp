// Dropout: while training, zeroes each element with probability `rate` and scales the kept ones
// by 1/(1 - rate) (inverted dropout, as hk.dropout); the identity in evaluation. The mask's key
// comes from the model's random sequence (states.rng), so a run is reproducible from its seed.
#pragma once

#include "elegy/model/nn/module.hpp"

namespace elegy::nn {

class Dropout : public Module {
 public:
  explicit Dropout(double rate, std::string name = {});
  Tensor call(Context& ctx, const Tensor& x) override;
  std::string type_name() const override { return "Dropout"; }

 private:
  double rate_;
};

}  // namespace elegy::nn
