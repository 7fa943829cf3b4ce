#include "elegy/model/metrics/accuracy.hpp"

#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_index.hpp"
#include "elegy/autodiff/ops_reduce.hpp"
#include "elegy/autodiff/ops_shape.hpp"
#include "elegy/core/error.hpp"
#include "elegy/model/losses/label_checks.hpp"
#include "elegy/model/losses/regression.hpp"

namespace elegy::metrics {
namespace {

std::string name_or(const std::string& name, const char* keras_name) {
  return name.empty() ? keras_name : name;
}

Tensor as_f32(const Tensor& t) {
  return t.astype(DType::f32);
}

void check_same_shape(const char* who, const Tensor& y_true, const Tensor& y_pred) {
  ELEGY_CHECK(y_true.shape() == y_pred.shape(), who, "y_true ", describe(y_true), " and y_pred ",
              describe(y_pred), " must have the same shape");
}

// 1 where the true class (column `labels` of each row) is among the k highest scores.
Tensor in_top_k(const Tensor& labels, const Tensor& y_pred, int k) {
  const std::int64_t classes = y_pred.shape(-1);
  const std::int64_t rows = labels.numel();
  const Tensor flat = reshape(y_pred, {rows, classes});
  const Tensor index = arange(rows, DType::i64) * scalar(double(classes), DType::i64) +
                       reshape(labels.astype(DType::i64), {rows});
  const Tensor target = take(reshape(flat, {rows * classes}), index, 0);  // [rows]
  const Tensor better = sum(astype(flat > expand_dims(target, 1), DType::i32), -1);
  return reshape(as_f32(better < double(k)), labels.shape());
}

}  // namespace

Tensor sparse_labels(const char* who, const Tensor& y_true, const Tensor& y_pred) {
  Tensor labels = y_true;
  if (labels.ndim() == y_pred.ndim() && labels.ndim() > 0 && labels.shape(-1) == 1)
    labels = squeeze(labels, -1);
  ELEGY_CHECK(y_pred.ndim() >= 1 && labels.ndim() == y_pred.ndim() - 1, who, "y_true ",
              describe(y_true), " must hold one integer label per row of y_pred ", describe(y_pred),
              labels.ndim() == y_pred.ndim()
                  ? " (for one-hot or probability labels use the non-sparse metric)"
                  : "");
  ELEGY_CHECK(Shape(labels.shape().span()) ==
                  Shape(y_pred.shape().span().first(std::size_t(y_pred.ndim() - 1))),
              who, "y_true ", describe(y_true), " does not match the rows of y_pred ",
              describe(y_pred));
  if (is_floating(labels.dtype()))
    losses::check_integral_labels(who, y_true, labels, "pass class indices, not probabilities");
  return labels;
}

Accuracy::Accuracy(MetricOptions o)
    : Metric(weighted_mean(name_or(o.name, "accuracy"), o.on,
                           [](const Tensor& y_true, const Tensor& y_pred) {
                             check_same_shape("Accuracy", y_true, y_pred);
                             return as_f32(y_true == y_pred.astype(y_true.dtype()));
                           })) {}

BinaryAccuracy::BinaryAccuracy(BinaryAccuracyOptions o)
    : Metric(weighted_mean(
          o.name, o.on, [t = o.threshold](const Tensor& y_true, const Tensor& y_pred) {
            check_same_shape("BinaryAccuracy", y_true, y_pred);
            const Tensor hit = as_f32(y_true.astype(DType::f32) == as_f32(y_pred > t));
            return y_pred.ndim() > 0 ? mean(hit, -1) : hit;
          })) {}

CategoricalAccuracy::CategoricalAccuracy(MetricOptions o)
    : Metric(weighted_mean(name_or(o.name, "categorical_accuracy"), o.on,
                           [](const Tensor& y_true, const Tensor& y_pred) {
                             check_same_shape("CategoricalAccuracy", y_true, y_pred);
                             return as_f32(argmax(y_true, -1) == argmax(y_pred, -1));
                           })) {}

namespace {

// SparseCategoricalAccuracy's labels as argmax_matches takes them: integer class indices as they
// are, others (float class indices, checked integral; bool) cast once.
Tensor match_labels(const Tensor& labels) {
  const bool as_is =
      labels.dtype() == DType::i32 || labels.dtype() == DType::i64 || labels.dtype() == DType::u8;
  return as_is ? labels : labels.astype(DType::i64);
}

}  // namespace

SparseCategoricalAccuracy::SparseCategoricalAccuracy(MetricOptions o)
    : Metric(weighted_mean(
          name_or(o.name, "sparse_categorical_accuracy"), o.on,
          [](const Tensor& y_true, const Tensor& y_pred) {
            const Tensor labels = sparse_labels("SparseCategoricalAccuracy", y_true, y_pred);
            if (!is_floating(y_pred.dtype()))  // (integer scores: compared as int64)
              return as_f32(argmax(y_pred, -1).astype(DType::i64) == labels.astype(DType::i64));
            // One kernel for argmax, the comparison and the float hits.
            return argmax_matches(y_pred, match_labels(labels));
          },
          // Unweighted: the hits' count in one kernel (before: the hits, then their Sum).
          [](const Tensor& y_true, const Tensor& y_pred) {
            const Tensor labels = sparse_labels("SparseCategoricalAccuracy", y_true, y_pred);
            if (!is_floating(y_pred.dtype()))
              return ValuesSum{
                  sum(as_f32(argmax(y_pred, -1).astype(DType::i64) == labels.astype(DType::i64))),
                  labels.numel()};
            return ValuesSum{argmax_match_count(y_pred, match_labels(labels)), labels.numel()};
          })) {}

TopKCategoricalAccuracy::TopKCategoricalAccuracy(TopKOptions o)
    : Metric(weighted_mean(name_or(o.name, "top_k_categorical_accuracy"), o.on,
                           [k = o.k](const Tensor& y_true, const Tensor& y_pred) {
                             check_same_shape("TopKCategoricalAccuracy", y_true, y_pred);
                             return in_top_k(argmax(y_true, -1), y_pred, k);
                           })) {
  ELEGY_CHECK(o.k >= 1, "TopKCategoricalAccuracy", "k must be >= 1, got ", o.k);
}

SparseTopKCategoricalAccuracy::SparseTopKCategoricalAccuracy(TopKOptions o)
    : Metric(weighted_mean(name_or(o.name, "sparse_top_k_categorical_accuracy"), o.on,
                           [k = o.k](const Tensor& y_true, const Tensor& y_pred) {
                             return in_top_k(
                                 sparse_labels("SparseTopKCategoricalAccuracy", y_true, y_pred),
                                 y_pred, k);
                           })) {
  ELEGY_CHECK(o.k >= 1, "SparseTopKCategoricalAccuracy", "k must be >= 1, got ", o.k);
}

MeanSquaredError::MeanSquaredError(MetricOptions o)
    : Metric(
          weighted_mean(name_or(o.name, "mean_squared_error"), o.on, losses::mean_squared_error)) {}

MeanAbsoluteError::MeanAbsoluteError(MetricOptions o)
    : Metric(weighted_mean(name_or(o.name, "mean_absolute_error"), o.on,
                           losses::mean_absolute_error)) {}

Mean::Mean(std::string name, std::function<Tensor(const LossArgs&)> value)
    : Metric(Metric::mean_of(std::move(name), std::move(value))) {}

Sum::Sum(std::string name, std::function<Tensor(const LossArgs&)> value)
    : Metric(
          name,
          [](const LossArgs& a) {
            const Device d = a.y_pred.is_leaf() ? a.y_pred.tensor().device() : Device::cpu();
            return Tree{{"total", zeros({}, DType::f32, d)}};
          },
          [value](const Tree& state, const LossArgs& a) {
            return Tree{{"total", state["total"].tensor() + sum(value(a).astype(DType::f32))}};
          },
          [](const Tree& state) { return state["total"].tensor(); }) {}

}  // namespace elegy::metrics
