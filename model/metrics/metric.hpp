// Metric: a stateful metric as three pure functions — init (zero state), update (state + a
// batch -> state) and result (state -> scalar). States are Trees kept in States.metrics_states,
// so they move with the model (checkpoints, devices) and reset by going back to init.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#include "elegy/core/tree.hpp"
#include "elegy/model/losses/loss_args.hpp"

namespace elegy::metrics {

class Metric {
 public:
  using Init = std::function<Tree(const LossArgs&)>;
  using Update = std::function<Tree(const Tree& state, const LossArgs&)>;
  using Result = std::function<Tensor(const Tree& state)>;
  // update then result in one go, with their values (optional: a metric that can compute both
  // with fewer kernels than the two calls, as the weighted means do with one RunningMeans).
  using Step = std::function<std::pair<Tree, Tensor>(const Tree& state, const LossArgs&)>;

  Metric(std::string name, Init init, Update update, Result result, Step step = nullptr);

  // Any per-batch value (a scalar, or per-sample values weighted by sample_weight) as a running
  // mean over the batches: Elegy's AvgMetric, weighted by the number of samples.
  static Metric mean_of(std::string name, std::function<Tensor(const LossArgs&)> value);

  const std::string& name() const { return name_; }
  Tree init(const LossArgs& args) const { return init_(args); }
  Tree update(const Tree& state, const LossArgs& args) const { return update_(state, args); }
  Tensor result(const Tree& state) const { return result_(state); }
  // The updated state and its result: the step function where there is one, else update then
  // result.
  std::pair<Tree, Tensor> step(const Tree& state, const LossArgs& args) const;

 private:
  std::string name_;
  Init init_;
  Update update_;
  Result result_;
  Step step_;
};

// A weighted mean over everything seen: state {total, count} (float32 scalars on the values'
// device), values weighted by the batch's sample weights where given. The building block of
// Mean and of every accuracy/error metric (Keras' MeanMetricWrapper).
// `values_sum`, when given, returns what an unweighted batch adds (no sample or class weights):
// {sum(values) as a float32 0-d tensor with its bits, how many values}, in fewer kernels.
struct ValuesSum {
  Tensor total;
  std::int64_t count = 0;
};
Metric weighted_mean(
    std::string name, std::string on,
    std::function<Tensor(const Tensor& y_true, const Tensor& y_pred)> values,
    std::function<ValuesSum(const Tensor& y_true, const Tensor& y_pred)> values_sum = nullptr);

}  // namespace elegy::metrics
