// Regularizers (Elegy's): losses over the parameters, l1 * sum|p| + l2 * sum p^2 over every
// leaf of net_params, added to the model's loss and logged as "<name>_loss".
//   .loss = {losses::SparseCategoricalCrossentropy({.from_logits = true}),
//            regularizers::GlobalL2(1e-4)}
#pragma once

#include <string>

#include "elegy/model/losses/loss.hpp"

namespace elegy::regularizers {

losses::Loss GlobalL1L2(double l1 = 0.0, double l2 = 0.0, std::string name = "l1l2_regularization");
losses::Loss GlobalL1(double l = 0.01, std::string name = "l1_regularization");
losses::Loss GlobalL2(double l = 0.01, std::string name = "l2_regularization");

}  // namespace elegy::regularizers
