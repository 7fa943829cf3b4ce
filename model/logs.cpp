#include "elegy/model/logs.hpp"

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
    out = out.update(field, states[field].map([](const Tensor& t) { return t.detached(); }));
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
