// Regression losses with Keras semantics (each reduces the last axis to one value per sample),
// and their function forms.
#pragma once

#include "elegy/model/losses/loss.hpp"

namespace elegy::losses {

Tensor mean_squared_error(const Tensor& y_true, const Tensor& y_pred);
Tensor mean_absolute_error(const Tensor& y_true, const Tensor& y_pred);
// 100 * mean(|y - p| / max(|y|, 1e-7))
Tensor mean_absolute_percentage_error(const Tensor& y_true, const Tensor& y_pred);
// mean((log(max(p, 1e-7) + 1) - log(max(y, 1e-7) + 1))^2)
Tensor mean_squared_logarithmic_error(const Tensor& y_true, const Tensor& y_pred);
// mean(0.5 e^2 where |e| <= delta, else delta (|e| - delta / 2))
Tensor huber(const Tensor& y_true, const Tensor& y_pred, double delta = 1.0);
// -sum(l2_normalize(y) * l2_normalize(p)) along `axis`
Tensor cosine_similarity(const Tensor& y_true, const Tensor& y_pred, int axis = -1);

// The common options of the losses below (each class also takes its own name).
struct RegressionLossOptions {
  Reduction reduction = Reduction::sum_over_batch_size;
  double weight = 1.0;
  std::string on{};
  std::string name{};  // "" = the loss's Keras name
};

class MeanSquaredError : public Loss {
 public:
  explicit MeanSquaredError(RegressionLossOptions options = {});
};
class MeanAbsoluteError : public Loss {
 public:
  explicit MeanAbsoluteError(RegressionLossOptions options = {});
};
class MeanAbsolutePercentageError : public Loss {
 public:
  explicit MeanAbsolutePercentageError(RegressionLossOptions options = {});
};
class MeanSquaredLogarithmicError : public Loss {
 public:
  explicit MeanSquaredLogarithmicError(RegressionLossOptions options = {});
};

struct HuberOptions {
  double delta = 1.0;
  Reduction reduction = Reduction::sum_over_batch_size;
  double weight = 1.0;
  std::string on{};
  std::string name = "huber_loss";
};
class Huber : public Loss {
 public:
  explicit Huber(HuberOptions options = {});
};

struct CosineSimilarityOptions {
  int axis = -1;
  Reduction reduction = Reduction::sum_over_batch_size;
  double weight = 1.0;
  std::string on{};
  std::string name = "cosine_similarity";
};
class CosineSimilarity : public Loss {
 public:
  explicit CosineSimilarity(CosineSimilarityOptions options = {});
};

}  // namespace elegy::losses
