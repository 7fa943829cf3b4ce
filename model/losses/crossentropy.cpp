// Cross-entropies in their stable forms: log_softmax for logits, log-sum-exp style for binary
// logits, and for probabilities Keras' clipping to [1e-7, 1 - 1e-7].
#include "elegy/model/losses/crossentropy.hpp"

#include <vector>

#include "elegy/autodiff/deferred_checks.hpp"
#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_index.hpp"
#include "elegy/autodiff/ops_reduce.hpp"
#include "elegy/autodiff/ops_shape.hpp"
#include "elegy/autodiff/ops_xent.hpp"
#include "elegy/core/error.hpp"
#include "elegy/model/losses/label_checks.hpp"

namespace elegy::losses {
namespace {

constexpr double kEpsilon = 1e-7;  // Keras' backend epsilon

void check_same_shape(const char* who, const Tensor& y_true, const Tensor& y_pred) {
  ELEGY_CHECK(y_true.shape() == y_pred.shape(), who, "y_true ", describe(y_true), " and y_pred ",
              describe(y_pred), " must have the same shape");
  ELEGY_CHECK(is_floating(y_pred.dtype()), who, "y_pred must be float, got ", describe(y_pred));
}

Tensor as_float(const Tensor& y, const Tensor& like) {
  return y.dtype() == like.dtype() ? y : y.astype(like.dtype());
}

}  // namespace

Tensor categorical_crossentropy(const Tensor& y_true, const Tensor& y_pred, bool from_logits,
                                double label_smoothing) {
  const char* who = "categorical_crossentropy";
  check_same_shape(who, y_true, y_pred);
  ELEGY_CHECK(y_pred.ndim() >= 1, who, "needs [..., num_classes] inputs, got ", describe(y_pred));
  Tensor y = as_float(y_true, y_pred);
  if (label_smoothing > 0.0)
    y = y * (1.0 - label_smoothing) + label_smoothing / double(y_pred.shape(-1));
  if (from_logits) return -sum(y * log_softmax(y_pred, -1), -1);
  // Keras rescales probabilities to sum to one, then clips.
  const Tensor p = clip(y_pred / sum(y_pred, -1, true), kEpsilon, 1.0 - kEpsilon);
  return -sum(y * log(p), -1);
}

Tensor sparse_categorical_crossentropy(const Tensor& y_true, const Tensor& y_pred, bool from_logits,
                                       bool check_bounds) {
  const char* who = "sparse_categorical_crossentropy";
  ELEGY_CHECK(y_pred.ndim() >= 1 && is_floating(y_pred.dtype()), who,
              "y_pred must be float [..., num_classes], got ", describe(y_pred));
  Tensor labels = y_true;
  if (labels.ndim() == y_pred.ndim() && labels.shape(-1) == 1) labels = squeeze(labels, -1);
  ELEGY_CHECK(
      labels.ndim() == y_pred.ndim() - 1 &&
          Shape(labels.shape().span()) ==
              Shape(y_pred.shape().span().first(std::size_t(y_pred.ndim() - 1))),
      who, "y_true ", describe(y_true), " must hold one integer label per row of y_pred ",
      describe(y_pred),
      labels.ndim() == y_pred.ndim() ? " (one-hot labels need CategoricalCrossentropy)" : "");
  if (is_floating(labels.dtype())) {
    // Float labels are accepted when integral (Keras casts them); probabilities are not labels.
    check_integral_labels(who, y_true, labels,
                          "pass class indices (probabilities or one-hot labels need "
                          "CategoricalCrossentropy)");
  }
  const std::int64_t k = y_pred.shape(-1);
  // int32 and int64 labels go in as they are (the datasets' labels are int32: no cast kernel per
  // step); narrower integers widen to int32, floats (checked integral) to int64.
  const DType label_dtype = labels.dtype();
  const Tensor idx = label_dtype == DType::i32 || label_dtype == DType::i64
                         ? labels
                         : labels.astype(is_floating(label_dtype) ? DType::i64 : DType::i32);
  // From logits on the CPU the fused op checks every label itself (an Error naming the label and
  // its index), so the two reductions here would only repeat it. Elsewhere one read-back of
  // [min, max], which inside a Model step on a GPU does not stop the host (check_later: the
  // step checks it before it writes anything).
  const bool op_checks = from_logits && idx.device().is_cpu();
  if (check_bounds && idx.numel() > 0 && !op_checks) {
    check_range_later(
        idx, 0, k,
        // y_pred is described only when the check fails: not a string built every step.
        [k, who, y_pred = y_pred.detached()](std::int64_t lo, std::int64_t hi) {
          fail(who, "label values must be in [0, ", k, ") for y_pred ", describe(y_pred), ", got ",
               lo < 0 ? lo : hi);
        },
        who);
  }
  // From logits: one fused op, forward and backward (ops_xent.hpp).
  if (from_logits) return softmax_cross_entropy_with_integer_labels(y_pred, idx);
  const Tensor logp = log(clip(y_pred / sum(y_pred, -1, true), kEpsilon, 1.0 - kEpsilon));
  // Gather each row's label column from the flattened [rows * k] log-probabilities: no one-hot.
  const std::int64_t rows = idx.numel();
  const Tensor flat_index =
      arange(rows, DType::i64) * scalar(double(k), DType::i64) + reshape(idx, {rows});
  return -reshape(take(reshape(logp, {rows * k}), flat_index, 0), labels.shape());
}

Tensor binary_crossentropy(const Tensor& y_true, const Tensor& y_pred, bool from_logits,
                           double label_smoothing) {
  const char* who = "binary_crossentropy";
  check_same_shape(who, y_true, y_pred);
  Tensor y = as_float(y_true, y_pred);
  if (label_smoothing > 0.0) y = y * (1.0 - label_smoothing) + 0.5 * label_smoothing;
  const int last = y_pred.ndim() > 0 ? -1 : 0;
  if (from_logits) {
    // max(z, 0) - z y + log(1 + exp(-|z|)): no overflow for large |z|.
    const Tensor z = y_pred;
    const Tensor per = maximum(z, 0.0) - z * y + log1p(exp(-abs(z)));
    return y_pred.ndim() > 0 ? mean(per, last) : per;
  }
  const Tensor p = clip(y_pred, kEpsilon, 1.0 - kEpsilon);
  const Tensor per = -(y * log(p + kEpsilon) + (1.0 - y) * log(1.0 - p + kEpsilon));
  return y_pred.ndim() > 0 ? mean(per, last) : per;
}

CategoricalCrossentropy::CategoricalCrossentropy(CategoricalCrossentropyOptions o)
    : Loss(o.name,
           [o](const LossArgs& a) {
             const Pair p = select_pair("CategoricalCrossentropy", a, "");
             return categorical_crossentropy(p.y_true, p.y_pred, o.from_logits, o.label_smoothing);
           },
           {o.reduction, o.weight, o.on}) {}

SparseCategoricalCrossentropy::SparseCategoricalCrossentropy(SparseCategoricalCrossentropyOptions o)
    : Loss(o.name,
           [o](const LossArgs& a) {
             const Pair p = select_pair("SparseCategoricalCrossentropy", a, "");
             return sparse_categorical_crossentropy(p.y_true, p.y_pred, o.from_logits,
                                                    o.check_bounds);
           },
           {o.reduction, o.weight, o.on}) {}

BinaryCrossentropy::BinaryCrossentropy(BinaryCrossentropyOptions o)
    : Loss(o.name,
           [o](const LossArgs& a) {
             const Pair p = select_pair("BinaryCrossentropy", a, "");
             return binary_crossentropy(p.y_true, p.y_pred, o.from_logits, o.label_smoothing);
           },
           {o.reduction, o.weight, o.on}) {}

}  // namespace elegy::losses
