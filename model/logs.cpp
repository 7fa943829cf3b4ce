#include "elegy/model/logs.hpp"

#include <algorithm>

namespace elegy {

void check_logs(const char* step, const StepLogs& logs) {
  for (const auto& [name, t] : logs)
    ELEGY_CHECK(t.defined() && t.numel() == 1, step, "log '", name, "' is ", describe(t),
                "; logs must be scalars");
}

Logs to_logs(const char* step, const StepLogs& logs) {
  check_logs(step, logs);
  Logs out;
  for (const auto& [name, t] : logs) out[name] = t.item<float>();
  return out;
}

StepLogs detached(const StepLogs& logs) {
  StepLogs out;
  for (const auto& [name, t] : logs) out[name] = t.detached();
  return out;
}

States detached(const States& states) {
  States out = states;
  for (const std::string& field : states.fields()) {
    if (field == "rng") continue;
    // Only fields that hold traced tensors are rebuilt (net_params inside grad_step, say):
    // rebuilding every field of every step was a quarter of a training step's allocations.
    const Tree& tree = states[field];
    const std::vector<Tensor> leaves = tree.leaves();
    if (std::none_of(leaves.begin(), leaves.end(), [](const Tensor& t) { return t.node(); }))
      continue;
    out = out.update(field, tree.map([](const Tensor& t) { return t.detached(); }));
  }
  return out;
}

void RunningMeans::add(const Logs& logs, std::int64_t batch_size,
                       const std::set<std::string>& latest) {
  for (const auto& [name, v] : logs) {
    auto& [sum, weight] = totals_[name];
    if (latest.count(name)) {
      sum = double(v);
      weight = 1.0;
      continue;
    }
    sum += double(v) * double(batch_size);
    weight += double(batch_size);
  }
}

Logs RunningMeans::value() const {
  Logs out;
  for (const auto& [name, t] : totals_) out[name] = float(t.first / t.second);
  return out;
}

}  // namespace elegy
