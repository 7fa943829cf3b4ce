#include "elegy/model/metrics/metric.hpp"

#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_reduce.hpp"
#include "elegy/autodiff/ops_shape.hpp"
#include "elegy/core/error.hpp"
#include "elegy/model/losses/loss.hpp"
#include "elegy/model/metrics/running_means.hpp"

namespace elegy::metrics {
namespace {

Tree zero_state(Device device) {
  return Tree{{"total", zeros({}, DType::f32, device)}, {"count", zeros({}, DType::f32, device)}};
}

Tensor ratio(const Tree& state) {
  // No samples yet: 0, not NaN (Keras' divide_no_nan).
  const Tensor count = state["count"].tensor();
  return divide_no_nan(state["total"].tensor(), count);
}

// A {total, count} state grown by value * value_weight and count_add, and its ratio: one
// RunningMeans kernel where it can (the bits of the ops below), else the ops.
std::pair<Tree, Tensor> grow(const Tree& state, const Tensor& value, double value_weight,
                             double count_add) {
  const Tensor total = state["total"].tensor(), count = state["count"].tensor();
  const MeanLog log{total, value};
  if (const auto fused = update_means(count, count_add, std::span(&log, 1), value_weight))
    return {Tree{{"total", fused->totals[0]}, {"count", fused->count}}, fused->means[0]};
  // (The count grows by a plain number: a constant operand, not a Fill kernel per step.)
  // (value * 1 + total has the bits of value + total.)
  Tree grown{{"total", mul_add(value, scalar_like(value, value_weight), total)},
             {"count", count + count_add}};
  Tensor r = ratio(grown);
  return {std::move(grown), std::move(r)};
}

// Adds `values` (weighted by the batch's sample weights) to a {total, count} state; returns the
// new state and its ratio.
std::pair<Tree, Tensor> accumulate(const char* who, const Tree& state, const Tensor& values,
                                   const LossArgs& args, const Tensor& y_true,
                                   const Tensor& y_pred) {
  Tensor v = values.astype(DType::f32);
  const std::optional<Tensor> w =
      v.ndim() > 0 ? losses::sample_weights(who, args, v, y_true, y_pred) : std::nullopt;
  if (w) {
    const Tensor ww = broadcast_to(w->astype(DType::f32), v.shape());
    Tree grown{{"total", state["total"].tensor() + sum(v * ww)},
               {"count", state["count"].tensor() + sum(ww)}};
    Tensor r = ratio(grown);
    return {std::move(grown), std::move(r)};
  }
  return grow(state, sum(v), 1.0, double(v.numel()));
}

}  // namespace

Metric::Metric(std::string name, Init init, Update update, Result result, Step step)
    : name_(std::move(name)),
      init_(std::move(init)),
      update_(std::move(update)),
      result_(std::move(result)),
      step_(std::move(step)) {
  ELEGY_CHECK(init_ && update_ && result_, "Metric", "metric '", name_,
              "' needs init, update and result functions");
}

std::pair<Tree, Tensor> Metric::step(const Tree& state, const LossArgs& args) const {
  if (step_) return step_(state, args);
  Tree updated = update_(state, args);
  Tensor r = result_(updated);
  return {std::move(updated), std::move(r)};
}

Metric Metric::mean_of(std::string name, std::function<Tensor(const LossArgs&)> value) {
  const std::string who = name;
  // One function for the update and the step: the step's RunningMeans computes the ratio as it
  // updates (no kernel more than the update alone).
  auto step = [value, who](const Tree& state, const LossArgs& a) {
    const Tensor v = value(a);
    ELEGY_CHECK(v.defined(), who.c_str(), "the metric function returned no tensor");
    // A scalar counts once per sample of the batch (Keras weighs batch means by size).
    if (v.ndim() == 0) {
      const std::vector<Tensor> leaves = a.x.leaves();
      const double n =
          leaves.empty() || leaves.front().ndim() == 0 ? 1.0 : double(leaves.front().shape(0));
      return grow(state, v.astype(DType::f32), n, n);
    }
    return accumulate(who.c_str(), state, v, a, v, v);
  };
  return Metric(
      std::move(name),
      [](const LossArgs& a) {
        return zero_state(a.y_pred.is_leaf() ? a.y_pred.tensor().device() : Device::cpu());
      },
      [step](const Tree& state, const LossArgs& a) { return step(state, a).first; }, ratio, step);
}

Metric weighted_mean(
    std::string name, std::string on,
    std::function<Tensor(const Tensor& y_true, const Tensor& y_pred)> values,
    std::function<ValuesSum(const Tensor& y_true, const Tensor& y_pred)> values_sum) {
  const std::string who = name;
  auto step = [on, who, values, values_sum](const Tree& state, const LossArgs& a) {
    const Tensor y_true = losses::select_on(who.c_str(), a.y_true, on, "y_true");
    const Tensor y_pred = losses::select_on(who.c_str(), a.y_pred, on, "y_pred");
    if (values_sum && !a.sample_weight && !a.class_weight) {
      const ValuesSum s = values_sum(y_true, y_pred);
      return grow(state, s.total, 1.0, double(s.count));
    }
    return accumulate(who.c_str(), state, values(y_true, y_pred), a, y_true, y_pred);
  };
  return Metric(
      std::move(name),
      [on, who](const LossArgs& a) {
        return zero_state(losses::select_on(who.c_str(), a.y_pred, on, "y_pred").device());
      },
      [step](const Tree& state, const LossArgs& a) { return step(state, a).first; }, ratio, step);
}

}  // namespace elegy::metrics
