// Loss: a name and per-sample values; the base applies Keras' __call__ semantics on top:
// `on` (Elegy's path into y_true/y_pred), sample_weight and class_weight, the reduction
// (sum_over_batch_size divides the weighted sum by the number of values, not by the sum of the
// weights, as Keras and Elegy do) and a final `weight`.
//
//   losses::Loss("reconstruction", [](const LossArgs& a) { ... per-sample values ... })
//   losses::MeanSquaredError()(y_true, y_pred)                  // a scalar
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "elegy/core/tensor.hpp"
#include "elegy/model/losses/loss_args.hpp"

namespace elegy::losses {

enum class Reduction { sum_over_batch_size, sum, none };

struct LossOptions {
  Reduction reduction = Reduction::sum_over_batch_size;
  double weight = 1.0;
  std::string on{};  // path into y_true and y_pred ("image", "outputs/0"); "" = the whole tree
};

class Loss {
 public:
  // Unreduced values, one per sample (shape [batch, ...]).
  using PerSample = std::function<Tensor(const LossArgs&)>;
  using Options = LossOptions;

  Loss(std::string name, PerSample per_sample, LossOptions options = {});

  const std::string& name() const { return name_; }
  const LossOptions& options() const { return options_; }

  // The reduced, weighted value: a scalar, or the weighted per-sample values for
  // Reduction::none.
  Tensor operator()(const LossArgs& args) const;
  Tensor operator()(const Tensor& y_true, const Tensor& y_pred,
                    std::optional<Tensor> sample_weight = std::nullopt) const;

 private:
  std::string name_;
  PerSample per_sample_;
  LossOptions options_;
};

// The leaf at `on` in a y_true/y_pred tree (the tree itself when `on` is empty); Error naming
// `who` when it is missing or not a single tensor.
Tensor select_on(const char* who, const Tree& tree, const std::string& on, const char* which);

// y_true and y_pred of the args for a loss/metric that takes one tensor each.
struct Pair {
  Tensor y_true;
  Tensor y_pred;
};
Pair select_pair(const char* who, const LossArgs& args, const std::string& on);

// Per-sample weights from sample_weight and class_weight, shaped to broadcast against
// `values` (which have one entry per sample, possibly with trailing dims); nullopt when there
// are none. `labels`: the class of each sample for class_weight.
std::optional<Tensor> sample_weights(const char* who, const LossArgs& args, const Tensor& values,
                                     const Tensor& y_true, const Tensor& y_pred);

}  // namespace elegy::losses
