// Running means of named batch values (the loss logs and the modules' aux metrics): state
// {"count": f32, "totals": {name: f32}}, each batch weighted by its size (Keras' loss tracker).
#pragma once

#include <map>
#include <string>

#include "elegy/core/tree.hpp"

namespace elegy::metrics {

Tree running_means_init(const std::map<std::string, Tensor>& values);
// Names not yet in the state are added (a loss first seen later starts from that batch).
Tree running_means_update(const Tree& state, const std::map<std::string, Tensor>& values,
                          double weight);
std::map<std::string, Tensor> running_means_result(const Tree& state);

}  // namespace elegy::metrics
