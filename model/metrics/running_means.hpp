// Running means of named batch values (the loss logs and the modules' aux metrics): state
// {"count": f32, "totals": {name: f32}}, each batch weighted by its size (Keras' loss tracker).
#pragma once

#include <map>
#include <string>
#include <utility>

#include "elegy/core/tree.hpp"

namespace elegy::metrics {

Tree running_means_init(const std::map<std::string, Tensor>& values);
// Names not yet in the state are added (a loss first seen later starts from that batch).
Tree running_means_update(const Tree& state, const std::map<std::string, Tensor>& values,
                          double weight);
std::map<std::string, Tensor> running_means_result(const Tree& state);
// running_means_update then running_means_result, with the same values bit for bit: one
// RunningMeans kernel for all the logs (a step's loss logs; one launch where a MulAdd per log,
// an Add and a DivNoNan per log took one each) when every value's name is in the state and all
// are one-element float32 on the state's device; else the two calls.
std::pair<Tree, std::map<std::string, Tensor>> running_means_step(
    const Tree& state, const std::map<std::string, Tensor>& values, double weight);

}  // namespace elegy::metrics
