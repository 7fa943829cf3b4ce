#include "elegy/model/losses/regression.hpp"

#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_reduce.hpp"
#include "elegy/core/error.hpp"

namespace elegy::losses {
namespace {

constexpr double kEpsilon = 1e-7;

// y_true as y_pred's float dtype, after checking the shapes agree.
Tensor checked(const char* who, const Tensor& y_true, const Tensor& y_pred) {
  ELEGY_CHECK(y_true.shape() == y_pred.shape(), who, "y_true ", describe(y_true), " and y_pred ",
              describe(y_pred), " must have the same shape");
  ELEGY_CHECK(is_floating(y_pred.dtype()), who, "y_pred must be float, got ", describe(y_pred));
  return y_true.dtype() == y_pred.dtype() ? y_true : y_true.astype(y_pred.dtype());
}

// Mean over the last axis (scalars stay scalars).
Tensor last_axis_mean(const Tensor& t) {
  return t.ndim() > 0 ? mean(t, -1) : t;
}

template <class F>
Loss::PerSample per_sample(const char* who, F f) {
  return [who, f](const LossArgs& a) {
    const Pair p = select_pair(who, a, "");
    return f(p.y_true, p.y_pred);
  };
}

LossOptions base(const RegressionLossOptions& o) {
  return {o.reduction, o.weight, o.on};
}
std::string name_or(const RegressionLossOptions& o, const char* keras_name) {
  return o.name.empty() ? keras_name : o.name;
}

}  // namespace

Tensor mean_squared_error(const Tensor& y_true, const Tensor& y_pred) {
  return last_axis_mean(square(y_pred - checked("mean_squared_error", y_true, y_pred)));
}

Tensor mean_absolute_error(const Tensor& y_true, const Tensor& y_pred) {
  return last_axis_mean(abs(y_pred - checked("mean_absolute_error", y_true, y_pred)));
}

Tensor mean_absolute_percentage_error(const Tensor& y_true, const Tensor& y_pred) {
  const Tensor y = checked("mean_absolute_percentage_error", y_true, y_pred);
  return 100.0 * last_axis_mean(abs((y - y_pred) / maximum(abs(y), kEpsilon)));
}

Tensor mean_squared_logarithmic_error(const Tensor& y_true, const Tensor& y_pred) {
  const Tensor y = checked("mean_squared_logarithmic_error", y_true, y_pred);
  return last_axis_mean(
      square(log(maximum(y_pred, kEpsilon) + 1.0) - log(maximum(y, kEpsilon) + 1.0)));
}

Tensor huber(const Tensor& y_true, const Tensor& y_pred, double delta) {
  ELEGY_CHECK(delta > 0.0, "huber", "delta must be positive, got ", delta);
  const Tensor e = y_pred - checked("huber", y_true, y_pred);
  const Tensor a = abs(e);
  // The quadratic part is capped at delta; the rest grows linearly.
  const Tensor q = minimum(a, delta);
  return last_axis_mean(0.5 * square(q) + delta * (a - q));
}

Tensor cosine_similarity(const Tensor& y_true, const Tensor& y_pred, int axis) {
  const Tensor y = checked("cosine_similarity", y_true, y_pred);
  auto l2n = [axis](const Tensor& t) {
    return t * rsqrt(maximum(sum(square(t), axis, true), 1e-12));
  };
  return -sum(l2n(y) * l2n(y_pred), axis);
}

MeanSquaredError::MeanSquaredError(RegressionLossOptions o)
    : Loss(name_or(o, "mean_squared_error"), per_sample("MeanSquaredError", mean_squared_error),
           base(o)) {}
MeanAbsoluteError::MeanAbsoluteError(RegressionLossOptions o)
    : Loss(name_or(o, "mean_absolute_error"), per_sample("MeanAbsoluteError", mean_absolute_error),
           base(o)) {}
MeanAbsolutePercentageError::MeanAbsolutePercentageError(RegressionLossOptions o)
    : Loss(name_or(o, "mean_absolute_percentage_error"),
           per_sample("MeanAbsolutePercentageError", mean_absolute_percentage_error), base(o)) {}
MeanSquaredLogarithmicError::MeanSquaredLogarithmicError(RegressionLossOptions o)
    : Loss(name_or(o, "mean_squared_logarithmic_error"),
           per_sample("MeanSquaredLogarithmicError", mean_squared_logarithmic_error), base(o)) {}

Huber::Huber(HuberOptions o)
    : Loss(o.name,
           per_sample("Huber",
                      [d = o.delta](const Tensor& y, const Tensor& p) { return huber(y, p, d); }),
           {o.reduction, o.weight, o.on}) {}

CosineSimilarity::CosineSimilarity(CosineSimilarityOptions o)
    : Loss(o.name,
           per_sample("CosineSimilarity",
                      [axis = o.axis](const Tensor& y, const Tensor& p) {
                        return cosine_similarity(y, p, axis);
                      }),
           {o.reduction, o.weight, o.on}) {}

}  // namespace elegy::losses
