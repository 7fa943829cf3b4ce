// Metrics: the list of metrics the default test_step updates (Elegy's Metrics), under unique
// names ("accuracy", "accuracy_1", ...). Their states form one Tree {name: state}.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "elegy/model/metrics/accuracy.hpp"
#include "elegy/model/metrics/confusion.hpp"
#include "elegy/model/metrics/metric.hpp"
#include "elegy/model/metrics/running_means.hpp"

namespace elegy::metrics {

class Metrics {
 public:
  Metrics() = default;
  Metrics(std::vector<Metric> metrics);  // NOLINT: implicit, from ModelOptions::metrics

  bool empty() const { return metrics_.empty(); }
  Tree init(const LossArgs& args) const;
  Tree update(const Tree& states, const LossArgs& args) const;
  std::map<std::string, Tensor> results(const Tree& states) const;
  // update then results, with their values: each metric's step (Metric::step), so a weighted
  // mean's update and result are one kernel.
  std::pair<Tree, std::map<std::string, Tensor>> step(const Tree& states,
                                                      const LossArgs& args) const;

 private:
  std::vector<Metric> metrics_;
  std::vector<std::string> names_;
};

}  // namespace elegy::metrics
