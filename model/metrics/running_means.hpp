// Running means of named batch values (the loss logs and the modules' aux metrics): state
// {"count": f32, "totals": {name: f32}}, each batch weighted by its size (Keras' loss tracker).
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "elegy/core/tree.hpp"

namespace elegy::metrics {

Tree running_means_init(const std::map<std::string, Tensor>& values);
// Names not yet in the state are added (a loss first seen later starts from that batch).
Tree running_means_update(const Tree& state, const std::map<std::string, Tensor>& values,
                          double weight);
std::map<std::string, Tensor> running_means_result(const Tree& state);
// Running means updated and read in one RunningMeans kernel (a launch where a MulAdd or Add per
// mean, an Add for the count and a DivNoNan per mean took one each): per log, total' = value *
// value_weight + total (an undefined value leaves the total as it is), count' = count +
// count_add, and mean = total' / count' (0 while count' is 0). The bits of mul_add(value,
// value_weight, total) (with value_weight 1, total + value), count + count_add and
// divide_no_nan(total', count'). nullopt, running nothing, when a tensor is not one float32
// element on count's device: the caller composes those ops instead.
struct MeanLog {
  Tensor total;
  Tensor value;
};
struct MeansUpdated {
  Tensor count;
  std::vector<Tensor> totals, means;  // per log
};
std::optional<MeansUpdated> update_means(const Tensor& count, double count_add,
                                         std::span<const MeanLog> logs, double value_weight);

// running_means_update then running_means_result, with the same values bit for bit: one
// RunningMeans kernel for all the logs (a step's loss logs; one launch where a MulAdd per log,
// an Add and a DivNoNan per log took one each) when every value's name is in the state and all
// are one-element float32 on the state's device; else the two calls.
std::pair<Tree, std::map<std::string, Tensor>> running_means_step(
    const Tree& state, const std::map<std::string, Tensor>& values, double weight);

}  // namespace elegy::metrics
