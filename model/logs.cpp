#include "elegy/model/logs.hpp"

#include <algorithm>
#include <vector>

#include "elegy/autodiff/ops_shape.hpp"

namespace elegy {

void check_logs(const char* step, const StepLogs& logs) {
  for (const auto& [name, t] : logs)
    ELEGY_CHECK(t.defined() && t.numel() == 1, step, "log '", name, "' is ", describe(t),
                "; logs must be scalars");
}

Logs to_logs(const char* step, const StepLogs& logs) {
  check_logs(step, logs);
  Logs out;
  if (logs.empty()) return out;
  // Logs on one accelerator come back in one transfer: each item() would wait for the device
  // and pay a copy's latency of its own (a step of the mlp main has five logs).
  const Device device = logs.begin()->second.device();
  const bool one_device = std::all_of(
      logs.begin(), logs.end(), [&](const auto& log) { return log.second.device() == device; });
  if (device.is_cpu() || !one_device || logs.size() == 1) {
    for (const auto& [name, t] : logs) out[name] = t.item<float>();
    return out;
  }
  std::vector<Tensor> values;
  values.reserve(logs.size());
  for (const auto& log : logs) values.push_back(reshape(log.second.astype(DType::f32), {}));
  const std::vector<float> host = stack(values).to_vector<float>();
  std::size_t i = 0;
  for (const auto& log : logs) out[log.first] = host[i++];
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
