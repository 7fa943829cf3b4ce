#include "elegy/model/metrics/confusion.hpp"

#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_reduce.hpp"
#include "elegy/autodiff/ops_shape.hpp"
#include "elegy/core/error.hpp"
#include "elegy/model/losses/loss.hpp"

namespace elegy::metrics {
namespace {

enum class Kind { precision, recall, f1 };

Metric confusion_metric(Kind kind, const ConfusionOptions& o, const char* keras_name) {
  const char* who = kind == Kind::precision ? "Precision" : kind == Kind::recall ? "Recall" : "F1";
  return Metric(
      o.name.empty() ? keras_name : o.name,
      [o, who](const LossArgs& a) {
        const Device d = losses::select_on(who, a.y_pred, o.on, "y_pred").device();
        return Tree{{"tp", zeros({}, DType::f32, d)},
                    {"fp", zeros({}, DType::f32, d)},
                    {"fn", zeros({}, DType::f32, d)}};
      },
      [o, who](const Tree& state, const LossArgs& a) {
        Tensor y_true = losses::select_on(who, a.y_true, o.on, "y_true");
        Tensor y_pred = losses::select_on(who, a.y_pred, o.on, "y_pred");
        ELEGY_CHECK(y_true.shape() == y_pred.shape(), who, "y_true ", describe(y_true),
                    " and y_pred ", describe(y_pred), " must have the same shape");
        if (o.class_id) {
          const std::int64_t k = y_pred.ndim() > 0 ? y_pred.shape(-1) : 0;
          ELEGY_CHECK(*o.class_id >= 0 && *o.class_id < k, who, "class_id ", *o.class_id,
                      " is out of range for y_pred ", describe(y_pred));
          y_true = slice(y_true, *o.class_id, *o.class_id + 1, 1, -1);
          y_pred = slice(y_pred, *o.class_id, *o.class_id + 1, 1, -1);
        }
        const Tensor pred = astype(y_pred > o.threshold, DType::f32);
        const Tensor truth = astype(y_true != 0.0, DType::f32);
        Tensor w = ones_like(pred);
        if (const auto sw = losses::sample_weights(who, a, pred, y_true, y_pred))
          w = broadcast_to(sw->astype(DType::f32), pred.shape());
        return Tree{{"tp", state["tp"].tensor() + sum(pred * truth * w)},
                    {"fp", state["fp"].tensor() + sum(pred * (1.0 - truth) * w)},
                    {"fn", state["fn"].tensor() + sum((1.0 - pred) * truth * w)}};
      },
      [kind](const Tree& s) {
        const Tensor tp = s["tp"].tensor(), fp = s["fp"].tensor(), fn = s["fn"].tensor();
        const Tensor precision = divide_no_nan(tp, tp + fp), recall = divide_no_nan(tp, tp + fn);
        if (kind == Kind::precision) return precision;
        if (kind == Kind::recall) return recall;
        return divide_no_nan(2.0 * precision * recall, precision + recall);
      });
}

}  // namespace

Precision::Precision(ConfusionOptions o)
    : Metric(confusion_metric(Kind::precision, o, "precision")) {}
Recall::Recall(ConfusionOptions o) : Metric(confusion_metric(Kind::recall, o, "recall")) {}
F1::F1(ConfusionOptions o) : Metric(confusion_metric(Kind::f1, o, "f1")) {}

}  // namespace elegy::metrics
