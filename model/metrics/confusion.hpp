// Precision, Recall and F1 from running confusion counts (Keras' semantics): a prediction is
// positive when y_pred > threshold, a label when y_true is non-zero; with class_id, only that
// column of [..., K] inputs counts. Counts are weighted by sample_weight; an empty denominator
// gives 0, not NaN.
#pragma once

#include <optional>
#include <string>

#include "elegy/model/metrics/metric.hpp"

namespace elegy::metrics {

struct ConfusionOptions {
  double threshold = 0.5;
  std::optional<std::int64_t> class_id{};
  std::string on{};
  std::string name{};  // "" = "precision" / "recall" / "f1"
};

class Precision : public Metric {
 public:
  explicit Precision(ConfusionOptions options = {});
};
class Recall : public Metric {
 public:
  explicit Recall(ConfusionOptions options = {});
};
// 2 P R / (P + R).
class F1 : public Metric {
 public:
  explicit F1(ConfusionOptions options = {});
};

}  // namespace elegy::metrics
