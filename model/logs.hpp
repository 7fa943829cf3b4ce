// Small helpers between step results and what users read: tensors -> floats, running means, and
// dropping tape history from values that outlive a step.
#pragma once

#include <map>
#include <set>
#include <string>

#include "elegy/model/states.hpp"
#include "elegy/model/steps.hpp"

namespace elegy {

// Each log as a float; Error naming the step and the log when a value is not a scalar.
Logs to_logs(const char* step, const StepLogs& logs);
// The same check without reading the values (no device synchronisation).
void check_logs(const char* step, const StepLogs& logs);

// The same values without tape history (what a step hands back to the model).
StepLogs detached(const StepLogs& logs);
States detached(const States& states);

// Running means of logs over an epoch, weighted by batch size (Keras' epoch logs).
class RunningMeans {
 public:
  // Logs named in `latest` are running means already (stateful metrics): their newest value is
  // kept as it is instead of being averaged again.
  void add(const Logs& logs, std::int64_t batch_size, const std::set<std::string>& latest = {});
  Logs value() const;

 private:
  std::map<std::string, std::pair<double, double>> totals_;  // name -> (weighted sum, weight)
};

}  // namespace elegy
