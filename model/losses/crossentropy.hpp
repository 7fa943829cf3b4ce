// Cross-entropy losses with Keras semantics (from_logits, label smoothing, the 1e-7 clipping of
// probabilities), and their function forms returning per-sample values.
#pragma once

#include "elegy/model/losses/loss.hpp"

namespace elegy::losses {

// -sum(y * log p) over the last axis. y: one-hot or probabilities [..., K].
Tensor categorical_crossentropy(const Tensor& y_true, const Tensor& y_pred,
                                bool from_logits = false, double label_smoothing = 0.0);
// -log p[label]. labels: integers [...] (or [..., 1]) in [0, K); check_bounds raises an Error
// for values outside [0, K): from logits on the CPU the fused op checks each label; otherwise
// their range is read back to the host (two small reductions, one synchronisation).
Tensor sparse_categorical_crossentropy(const Tensor& y_true, const Tensor& y_pred,
                                       bool from_logits = false, bool check_bounds = true);
// mean over the last axis of -(y log p + (1 - y) log(1 - p)).
Tensor binary_crossentropy(const Tensor& y_true, const Tensor& y_pred, bool from_logits = false,
                           double label_smoothing = 0.0);

struct CategoricalCrossentropyOptions {
  bool from_logits = false;
  double label_smoothing = 0.0;  // y * (1 - s) + s / K
  Reduction reduction = Reduction::sum_over_batch_size;
  double weight = 1.0;
  std::string on{};
  std::string name = "categorical_crossentropy";
};
class CategoricalCrossentropy : public Loss {
 public:
  explicit CategoricalCrossentropy(CategoricalCrossentropyOptions options = {});
};

struct SparseCategoricalCrossentropyOptions {
  bool from_logits = false;
  bool check_bounds = true;
  Reduction reduction = Reduction::sum_over_batch_size;
  double weight = 1.0;
  std::string on{};
  std::string name = "sparse_categorical_crossentropy";
};
class SparseCategoricalCrossentropy : public Loss {
 public:
  explicit SparseCategoricalCrossentropy(SparseCategoricalCrossentropyOptions options = {});
};

struct BinaryCrossentropyOptions {
  bool from_logits = false;
  double label_smoothing = 0.0;  // y * (1 - s) + s / 2
  Reduction reduction = Reduction::sum_over_batch_size;
  double weight = 1.0;
  std::string on{};
  std::string name = "binary_crossentropy";
};
class BinaryCrossentropy : public Loss {
 public:
  explicit BinaryCrossentropy(BinaryCrossentropyOptions options = {});
};

}  // namespace elegy::losses
