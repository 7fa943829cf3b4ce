// Metrics that are running means of a per-sample value (Keras' MeanMetricWrapper family):
// the accuracies, the regression errors, and Mean/Sum of any value. All honour sample_weight.
#pragma once

#include <functional>
#include <string>

#include "elegy/model/metrics/metric.hpp"

namespace elegy::metrics {

struct MetricOptions {
  std::string on{};    // path into y_true/y_pred trees ("" = the whole tree)
  std::string name{};  // "" = the Keras name
};

// mean(y_true == y_pred), y_pred cast to y_true's dtype.
class Accuracy : public Metric {
 public:
  explicit Accuracy(MetricOptions options = {});
};

struct BinaryAccuracyOptions {
  double threshold = 0.5;
  std::string on{};
  std::string name = "binary_accuracy";
};
// mean over the last axis of y_true == (y_pred > threshold).
class BinaryAccuracy : public Metric {
 public:
  explicit BinaryAccuracy(BinaryAccuracyOptions options = {});
};

// argmax(y_true) == argmax(y_pred): one-hot or probability labels.
class CategoricalAccuracy : public Metric {
 public:
  explicit CategoricalAccuracy(MetricOptions options = {});
};

// y_true == argmax(y_pred): integer labels, one per row of y_pred.
class SparseCategoricalAccuracy : public Metric {
 public:
  explicit SparseCategoricalAccuracy(MetricOptions options = {});
};

struct TopKOptions {
  int k = 5;
  std::string on{};
  std::string name{};
};
// The true class is among the k highest scores (ties count in its favour, as tf.math.in_top_k).
class TopKCategoricalAccuracy : public Metric {
 public:
  explicit TopKCategoricalAccuracy(TopKOptions options = {});
};
class SparseTopKCategoricalAccuracy : public Metric {
 public:
  explicit SparseTopKCategoricalAccuracy(TopKOptions options = {});
};

// Running means of the regression losses of the same names.
class MeanSquaredError : public Metric {
 public:
  explicit MeanSquaredError(MetricOptions options = {});
};
class MeanAbsoluteError : public Metric {
 public:
  explicit MeanAbsoluteError(MetricOptions options = {});
};

// The running (sample-weighted) mean / sum of a value computed from the batch.
class Mean : public Metric {
 public:
  Mean(std::string name, std::function<Tensor(const LossArgs&)> value);
};
class Sum : public Metric {
 public:
  Sum(std::string name, std::function<Tensor(const LossArgs&)> value);
};

// The integer labels of a sparse metric/loss, checked against y_pred [..., K]: Error naming
// `who` for one-hot/probability labels or non-integer values.
Tensor sparse_labels(const char* who, const Tensor& y_true, const Tensor& y_pred);

}  // namespace elegy::metrics
