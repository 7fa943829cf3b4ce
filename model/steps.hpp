// What the steps of a Model take and return (Elegy 0.7.4's contracts, named structs in C++).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "elegy/core/tree.hpp"
#include "elegy/model/states.hpp"

namespace elegy {

// Logs inside a step: tensors (so they can come out of value_and_grad).
using StepLogs = std::map<std::string, Tensor>;
// Logs a user reads after fit/evaluate/train_on_batch: name -> value.
using Logs = std::map<std::string, float>;

// The one argument every step takes; a step reads what it needs by name (Elegy's injectable
// names: x, y_true, sample_weight, class_weight, states, initializing, training).
struct StepArgs {
  Tree x{};
  Tree y_true{};
  std::optional<Tensor> sample_weight{};
  std::optional<Tensor> class_weight{};
  States states{};
  bool initializing = false;
  bool training = true;
};

// One row of summary(): a module path, its type, its output, and its parameter counts.
struct SummaryTableEntry {
  std::string path{};
  std::string module_type_name{};
  Tree output_value{};
  std::int64_t trainable_params_count = 0;
  std::int64_t trainable_params_size = 0;  // bytes
  std::int64_t non_trainable_params_count = 0;
  std::int64_t non_trainable_params_size = 0;
};

struct PredStep {
  Tree y_pred{};
  States states{};
  // What modules added while running (nn::Context): auxiliary losses and metrics, which the
  // default test_step adds to the loss and the logs, and one summary row per module call.
  StepLogs aux_losses{};
  StepLogs aux_metrics{};
  std::vector<SummaryTableEntry> summaries{};
};

struct TestStep {
  Tensor loss{};  // the batch's loss: a scalar, differentiated by grad_step
  StepLogs logs{};
  States states{};
};

struct GradStep {
  Tensor loss{};
  StepLogs logs{};
  States states{};
  Tree grads;  // shaped like states.net_params()
};

struct TrainStep {
  StepLogs logs{};
  States states{};
};

// Per-epoch logs of a fit (Keras' History): history["loss"][i] is epoch[i]'s loss.
struct History {
  std::vector<int> epoch{};
  std::map<std::string, std::vector<float>> history{};
};

}  // namespace elegy
