#include "elegy/model/metrics/metric.hpp"

#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_reduce.hpp"
#include "elegy/autodiff/ops_shape.hpp"
#include "elegy/core/error.hpp"
#include "elegy/model/losses/loss.hpp"

namespace elegy::metrics {
namespace {

Tree zero_state(Device device) {
  return Tree{{"total", zeros({}, DType::f32, device)}, {"count", zeros({}, DType::f32, device)}};
}

// Adds `values` (weighted by the batch's sample weights) to a {total, count} state.
Tree accumulate(const char* who, const Tree& state, const Tensor& values, const LossArgs& args,
                const Tensor& y_true, const Tensor& y_pred) {
  Tensor v = values.astype(DType::f32);
  const std::optional<Tensor> w =
      v.ndim() > 0 ? losses::sample_weights(who, args, v, y_true, y_pred) : std::nullopt;
  if (w) {
    const Tensor ww = broadcast_to(w->astype(DType::f32), v.shape());
    return Tree{{"total", state["total"].tensor() + sum(v * ww)},
                {"count", state["count"].tensor() + sum(ww)}};
  }
  // The count grows by a plain number: a constant operand, not a Fill kernel per step.
  return Tree{{"total", state["total"].tensor() + sum(v)},
              {"count", state["count"].tensor() + double(v.numel())}};
}

Tensor ratio(const Tree& state) {
  // No samples yet: 0, not NaN (Keras' divide_no_nan).
  const Tensor count = state["count"].tensor();
  return divide_no_nan(state["total"].tensor(), count);
}

}  // namespace

Metric::Metric(std::string name, Init init, Update update, Result result)
    : name_(std::move(name)),
      init_(std::move(init)),
      update_(std::move(update)),
      result_(std::move(result)) {
  ELEGY_CHECK(init_ && update_ && result_, "Metric", "metric '", name_,
              "' needs init, update and result functions");
}

Metric Metric::mean_of(std::string name, std::function<Tensor(const LossArgs&)> value) {
  const std::string who = name;
  return Metric(
      std::move(name),
      [](const LossArgs& a) {
        return zero_state(a.y_pred.is_leaf() ? a.y_pred.tensor().device() : Device::cpu());
      },
      [value, who](const Tree& state, const LossArgs& a) {
        const Tensor v = value(a);
        ELEGY_CHECK(v.defined(), who.c_str(), "the metric function returned no tensor");
        // A scalar counts once per sample of the batch (Keras weighs batch means by size).
        if (v.ndim() == 0) {
          const std::vector<Tensor> leaves = a.x.leaves();
          const double n =
              leaves.empty() || leaves.front().ndim() == 0 ? 1.0 : double(leaves.front().shape(0));
          const Tensor v32 = v.astype(DType::f32);
          return Tree{{"total", mul_add(v32, scalar_like(v32, n), state["total"].tensor())},
                      {"count", state["count"].tensor() + n}};
        }
        return accumulate(who.c_str(), state, v, a, v, v);
      },
      ratio);
}

Metric weighted_mean(std::string name, std::string on,
                     std::function<Tensor(const Tensor& y_true, const Tensor& y_pred)> values) {
  const std::string who = name;
  return Metric(
      std::move(name),
      [on, who](const LossArgs& a) {
        return zero_state(losses::select_on(who.c_str(), a.y_pred, on, "y_pred").device());
      },
      [on, who, values](const Tree& state, const LossArgs& a) {
        const Tensor y_true = losses::select_on(who.c_str(), a.y_true, on, "y_true");
        const Tensor y_pred = losses::select_on(who.c_str(), a.y_pred, on, "y_pred");
        return accumulate(who.c_str(), state, values(y_true, y_pred), a, y_true, y_pred);
      },
      ratio);
}

}  // namespace elegy::metrics
