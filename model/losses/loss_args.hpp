// What a loss or a metric may read: Elegy injects these by name, elegy passes them in one struct.
#pragma once

#include <optional>

#include "elegy/core/tree.hpp"

namespace elegy {

struct LossArgs {
  Tree x{};
  Tree y_true{};
  Tree y_pred{};
  std::optional<Tensor> sample_weight{};  // [batch] (or broadcastable to the per-sample values)
  // [num_classes]: each sample's weight is multiplied by the weight of its class (its integer
  // label, or the argmax of a one-hot/probability label), Keras' class_weight.
  std::optional<Tensor> class_weight{};
  Tree net_params{};  // regularizers read the parameters
  bool training = true;
};

}  // namespace elegy
