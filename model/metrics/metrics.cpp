#include "elegy/model/metrics/metrics.hpp"

#include <set>

#include "elegy/core/error.hpp"

namespace elegy::metrics {

Metrics::Metrics(std::vector<Metric> metrics) : metrics_(std::move(metrics)) {
  std::set<std::string> taken;
  for (const Metric& m : metrics_) {
    ELEGY_CHECK(!m.name().empty() && m.name().find('/') == std::string::npos, "Metrics",
                "metric names must be non-empty and contain no '/', got '", m.name(), "'");
    std::string name = m.name();
    for (int i = 1; taken.count(name); ++i) name = m.name() + "_" + std::to_string(i);
    taken.insert(name);
    names_.push_back(name);
  }
}

Tree Metrics::init(const LossArgs& args) const {
  Tree::Map states;
  for (std::size_t i = 0; i < metrics_.size(); ++i) states[names_[i]] = metrics_[i].init(args);
  return Tree::from_map(std::move(states));
}

Tree Metrics::update(const Tree& states, const LossArgs& args) const {
  Tree::Map out;
  for (std::size_t i = 0; i < metrics_.size(); ++i)
    out[names_[i]] = metrics_[i].update(states[names_[i]], args);
  return Tree::from_map(std::move(out));
}

std::map<std::string, Tensor> Metrics::results(const Tree& states) const {
  std::map<std::string, Tensor> out;
  for (std::size_t i = 0; i < metrics_.size(); ++i)
    out[names_[i]] = metrics_[i].result(states[names_[i]]);
  return out;
}

std::pair<Tree, std::map<std::string, Tensor>> Metrics::step(const Tree& states,
                                                             const LossArgs& args) const {
  Tree::Map out;
  std::map<std::string, Tensor> results;
  for (std::size_t i = 0; i < metrics_.size(); ++i) {
    auto [state, result] = metrics_[i].step(states[names_[i]], args);
    out[names_[i]] = std::move(state);
    results[names_[i]] = std::move(result);
  }
  return {Tree::from_map(std::move(out)), std::move(results)};
}

}  // namespace elegy::metrics
