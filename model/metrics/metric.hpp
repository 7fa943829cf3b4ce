// Metric: a stateful metric as three pure functions — init (zero state), update (state + a
// batch -> state) and result (state -> scalar). States are Trees kept in States.metrics_states,
// so they move with the model (checkpoints, devices) and reset by going back to init.
#pragma once

#include <functional>
#include <string>

#include "elegy/core/tree.hpp"
#include "elegy/model/losses/loss_args.hpp"

namespace elegy::metrics {

class Metric {
 public:
  using Init = std::function<Tree(const LossArgs&)>;
  using Update = std::function<Tree(const Tree& state, const LossArgs&)>;
  using Result = std::function<Tensor(const Tree& state)>;

  Metric(std::string name, Init init, Update update, Result result);

  // Any per-batch value (a scalar, or per-sample values weighted by sample_weight) as a running
  // mean over the batches: Elegy's AvgMetric, weighted by the number of samples.
  static Metric mean_of(std::string name, std::function<Tensor(const LossArgs&)> value);

  const std::string& name() const { return name_; }
  Tree init(const LossArgs& args) const { return init_(args); }
  Tree update(const Tree& state, const LossArgs& args) const { return update_(state, args); }
  Tensor result(const Tree& state) const { return result_(state); }

 private:
  std::string name_;
  Init init_;
  Update update_;
  Result result_;
};

// A weighted mean over everything seen: state {total, count} (float32 scalars on the values'
// device), values weighted by the batch's sample weights where given. The building block of
// Mean and of every accuracy/error metric (Keras' MeanMetricWrapper).
Metric weighted_mean(std::string name, std::string on,
                     std::function<Tensor(const Tensor& y_true, const Tensor& y_pred)> values);

}  // namespace elegy::metrics
