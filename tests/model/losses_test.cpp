// Losses against the numbers in Keras' documentation (each loss's example, with sample_weight
// and the three reductions), plus Elegy's naming rules, regularizers, gradients by finite
// differences and the errors for bad input.
#include <doctest/doctest.h>

#include <cmath>

#include <elegy/elegy.hpp>

#include "../grad_check.hpp"

using namespace elegy;
using namespace elegy::testing;

namespace {

Tensor t2(std::vector<float> v, std::int64_t rows, std::int64_t cols) {
  return Tensor::from_vector<float>(v, {rows, cols});
}
Tensor t1(std::vector<float> v) {
  return Tensor::from_vector<float>(v, {std::int64_t(v.size())});
}

// The loss with each reduction: mean, sum, none, and the weighted mean.
struct KerasExample {
  Tensor y_true, y_pred, weights;
  double mean, weighted, sum;
  std::vector<double> none;
};

template <class L, class Options>
void check_example(const KerasExample& e, Options o, double eps = 1e-3) {
  CHECK(L(o)(e.y_true, e.y_pred).template item<float>() == doctest::Approx(e.mean).epsilon(eps));
  CHECK(L(o)(e.y_true, e.y_pred, e.weights).template item<float>() ==
        doctest::Approx(e.weighted).epsilon(eps));
  o.reduction = losses::Reduction::sum;
  CHECK(L(o)(e.y_true, e.y_pred).template item<float>() == doctest::Approx(e.sum).epsilon(eps));
  o.reduction = losses::Reduction::none;
  const std::vector<double> none = values(L(o)(e.y_true, e.y_pred));
  REQUIRE(none.size() == e.none.size());
  for (std::size_t i = 0; i < none.size(); ++i)
    CHECK(none[i] == doctest::Approx(e.none[i]).epsilon(eps).scale(1.0));
}

}  // namespace

TEST_CASE("losses: Keras' documented examples") {
  const Tensor bin_true = t2({0, 1, 0, 0}, 2, 2), bin_pred = t2({0.6f, 0.4f, 0.4f, 0.6f}, 2, 2);
  check_example<losses::BinaryCrossentropy>(
      {bin_true, bin_pred, t1({1, 0}), 0.815, 0.458, 1.630, {0.916, 0.714}},
      losses::BinaryCrossentropyOptions{});
  const Tensor cat_pred = t2({0.05f, 0.95f, 0, 0.1f, 0.8f, 0.1f}, 2, 3);
  check_example<losses::CategoricalCrossentropy>({t2({0, 1, 0, 0, 0, 1}, 2, 3),
                                                  cat_pred,
                                                  t1({0.3f, 0.7f}),
                                                  1.177,
                                                  0.814,
                                                  2.354,
                                                  {0.0513, 2.303}},
                                                 losses::CategoricalCrossentropyOptions{});
  check_example<losses::SparseCategoricalCrossentropy>(
      {Tensor::from_vector<std::int32_t>({1, 2}, {2}),
       cat_pred,
       t1({0.3f, 0.7f}),
       1.177,
       0.814,
       2.354,
       {0.0513, 2.303}},
      losses::SparseCategoricalCrossentropyOptions{});
  const Tensor reg_true = t2({0, 1, 0, 0}, 2, 2), reg_pred = t2({1, 1, 1, 0}, 2, 2);
  check_example<losses::MeanSquaredError>(
      {reg_true, reg_pred, t1({0.7f, 0.3f}), 0.5, 0.25, 1.0, {0.5, 0.5}},
      losses::RegressionLossOptions{});
  check_example<losses::MeanAbsoluteError>(
      {reg_true, reg_pred, t1({0.7f, 0.3f}), 0.5, 0.25, 1.0, {0.5, 0.5}},
      losses::RegressionLossOptions{});
  check_example<losses::MeanAbsolutePercentageError>({t2({2, 1, 2, 3}, 2, 2),
                                                      t2({1, 1, 1, 0}, 2, 2),
                                                      t1({0.7f, 0.3f}),
                                                      50.0,
                                                      20.0,
                                                      100.0,
                                                      {25.0, 75.0}},
                                                     losses::RegressionLossOptions{});
  check_example<losses::MeanSquaredLogarithmicError>(
      {reg_true, reg_pred, t1({0.7f, 0.3f}), 0.240, 0.120, 0.480, {0.240, 0.240}},
      losses::RegressionLossOptions{});
  check_example<losses::Huber>({bin_true, bin_pred, t1({1, 0}), 0.155, 0.09, 0.31, {0.18, 0.13}},
                               losses::HuberOptions{});
  check_example<losses::CosineSimilarity>({t2({0, 1, 1, 1}, 2, 2),
                                           t2({1, 0, 1, 1}, 2, 2),
                                           t1({0.8f, 0.2f}),
                                           -0.5,
                                           -0.1,
                                           -0.999,
                                           {0.0, -0.999}},
                                          losses::CosineSimilarityOptions{}, 2e-3);
  // From logits (Keras' BinaryCrossentropy(from_logits=True) example).
  CHECK(losses::BinaryCrossentropy({.from_logits = true})(t1({0, 1, 0, 0}),
                                                          t1({-18.6f, 0.51f, 2.94f, -12.8f}))
            .item<float>() == doctest::Approx(0.865).epsilon(1e-3));
}

TEST_CASE("losses: logits and probabilities agree; label smoothing; weight") {
  const Tensor logits = Tensor::from_vector<double>({1.0, -2.0, 0.5, 3.0, 0.1, -1.0}, {2, 3});
  const Tensor probs = softmax(logits, -1);
  const Tensor labels = Tensor::from_vector<std::int32_t>({2, 0}, {2});
  const Tensor onehot = one_hot(labels, 3, DType::f64);
  const double a =
      losses::SparseCategoricalCrossentropy({.from_logits = true})(labels, logits).item<double>();
  CHECK(losses::SparseCategoricalCrossentropy()(labels, probs).item<double>() ==
        doctest::Approx(a).epsilon(1e-9));
  CHECK(losses::CategoricalCrossentropy({.from_logits = true})(onehot, logits).item<double>() ==
        doctest::Approx(a).epsilon(1e-12));
  // By hand: -(log softmax(row0)[2] + log softmax(row1)[0]) / 2.
  auto lse = [](double x, double y, double z) {
    return std::log(std::exp(x) + std::exp(y) + std::exp(z));
  };
  CHECK(a ==
        doctest::Approx(-((0.5 - lse(1, -2, 0.5)) + (3.0 - lse(3, 0.1, -1))) / 2).epsilon(1e-12));
  // Smoothing s: targets y (1 - s) + s / K.
  const double s = 0.2;
  const Tensor smoothed = onehot * (1 - s) + s / 3;
  CHECK(
      losses::CategoricalCrossentropy({.from_logits = true, .label_smoothing = s})(onehot, logits)
          .item<double>() ==
      doctest::Approx(
          losses::CategoricalCrossentropy({.from_logits = true})(smoothed, logits).item<double>()));
  const Tensor bl = Tensor::from_vector<double>({1.0, 0.0, 1.0}, {3}),
               bz = Tensor::from_vector<double>({0.3, -1.2, 2.0}, {3});
  CHECK(
      losses::BinaryCrossentropy({.from_logits = true})(bl, bz).item<double>() ==
      doctest::Approx(losses::BinaryCrossentropy()(bl, sigmoid(bz)).item<double>()).epsilon(1e-6));
  CHECK(losses::MeanSquaredError({.weight = 3.0})(bl, bz).item<double>() ==
        doctest::Approx(3.0 * losses::MeanSquaredError()(bl, bz).item<double>()));
  // Large logits stay finite.
  CHECK(std::isfinite(
      losses::BinaryCrossentropy({.from_logits = true})(bl, bz * 1000.0).item<double>()));
}

TEST_CASE("losses: class_weight weighs each sample by its class; `on` picks a tree leaf") {
  const Tensor logits = Tensor::from_vector<double>({2.0, 0.0, 0.0, 2.0, 1.0, 1.0}, {3, 2});
  const Tensor labels = Tensor::from_vector<std::int32_t>({0, 1, 1}, {3});
  const Tensor per = losses::sparse_categorical_crossentropy(labels, logits, true);
  const std::vector<double> p = values(per);
  LossArgs a;
  a.y_true = labels;
  a.y_pred = logits;
  a.class_weight = Tensor::from_vector<double>({1.0, 3.0}, {2});
  const double got = losses::SparseCategoricalCrossentropy({.from_logits = true})(a).item<double>();
  CHECK(got == doctest::Approx((p[0] + 3 * p[1] + 3 * p[2]) / 3));
  // One-hot labels find their class by argmax.
  a.y_true = one_hot(labels, 2, DType::f64);
  CHECK(losses::CategoricalCrossentropy({.from_logits = true})(a).item<double>() ==
        doctest::Approx(got));

  LossArgs t;
  t.y_true = Tree{{"a", ones({2, 2})}, {"b", zeros({2, 2})}};
  t.y_pred = Tree{{"a", ones({2, 2}) * 3.0}, {"b", ones({2, 2})}};
  CHECK(losses::MeanSquaredError({.on = "a"})(t).item<float>() == 4.0f);
  CHECK(losses::MeanSquaredError({.on = "b"})(t).item<float>() == 1.0f);
  CHECK_THROWS_WITH_AS(losses::MeanSquaredError()(t), doctest::Contains("set `on`"), Error);
}

TEST_CASE("losses: gradients match finite differences") {
  const Tensor labels = Tensor::from_vector<std::int32_t>({2, 0, 1}, {3});
  check_gradients(
      [&](const std::vector<Tensor>& in) {
        return losses::SparseCategoricalCrossentropy({.from_logits = true})(labels, in[0]);
      },
      {host_uniform({3, 4}, 1)});
  const Tensor soft = softmax(host_uniform({3, 4}, 2), -1);
  check_gradients(
      [&](const std::vector<Tensor>& in) {
        return losses::CategoricalCrossentropy({.label_smoothing = 0.1})(soft, softmax(in[0], -1));
      },
      {host_uniform({3, 4}, 3)});
  const Tensor bins = Tensor::from_vector<double>({1, 0, 1, 1, 0, 0}, {3, 2});
  check_gradients(
      [&](const std::vector<Tensor>& in) {
        return losses::BinaryCrossentropy({.from_logits = true})(bins, in[0]);
      },
      {host_uniform({3, 2}, 4, -3, 3)});
  const Tensor target = host_uniform({3, 2}, 5);
  for (auto make :
       {+[](const Tensor&y, const Tensor&p) { return losses::Huber({.delta = 0.3})(y, p); },
        +[](const Tensor&y, const Tensor&p) { return losses::CosineSimilarity()(y, p); },
        +[](const Tensor&y, const Tensor&p) {
          return losses::MeanSquaredLogarithmicError()(y * y, p * p);
        }})
    check_gradients([&](const std::vector<Tensor>& in) { return make(target, in[0]); },
                    {host_uniform({3, 2}, 6)});
}

TEST_CASE("losses: Elegy's log names and sums, aux losses, regularizers") {
  losses::Losses set({losses::MeanSquaredError(), losses::MeanSquaredError(),
                      losses::Loss("my_loss", [](const LossArgs&) { return scalar(2.0); }),
                      regularizers::GlobalL2(0.5)});
  CHECK(set.log_names() == std::vector<std::string>{"mean_squared_error_loss",
                                                    "mean_squared_error_loss_1", "my_loss",
                                                    "l2_regularization_loss"});
  LossArgs a;
  a.y_true = zeros({2, 1});
  a.y_pred = ones({2, 1});
  a.net_params = Tree{{"w", full({3}, 2.0)}, {"b", full({1}, -1.0)}};  // sum p^2 = 13
  const losses::LossValues v = set(a, {{"kl", scalar(0.25)}, {"activity_loss", scalar(1.0)}});
  CHECK(v.logs.at("l2_regularization_loss").item<float>() == 6.5f);
  CHECK(v.logs.at("kl_loss").item<float>() == 0.25f);
  CHECK(v.logs.at("activity_loss").item<float>() == 1.0f);
  CHECK(v.total.item<float>() == doctest::Approx(1 + 1 + 2 + 6.5 + 0.25 + 1));
  CHECK(v.logs.at("loss").item<float>() == v.total.item<float>());
  CHECK(regularizers::GlobalL1(0.1)(a).item<float>() == doctest::Approx(0.7));
  CHECK(regularizers::GlobalL1L2(0.1, 0.5)(a).item<float>() == doctest::Approx(7.2));
  // A regularizer ignores sample weights (it has no samples).
  a.sample_weight = Tensor::from_vector<float>({1, 0}, {2});
  CHECK(regularizers::GlobalL2(0.5)(a).item<float>() == 6.5f);
}

TEST_CASE("losses: bad input is a clear Error") {
  const Tensor p = softmax(host_uniform({2, 3}, 1), -1);
  CHECK_THROWS_WITH_AS(losses::MeanSquaredError()(ones({2, 3}), ones({3, 2})),
                       doctest::Contains("mean_squared_error: y_true float32[2,3] on cpu and "
                                         "y_pred float32[3,2] on cpu must have the same shape"),
                       Error);
  CHECK_THROWS_WITH_AS(
      losses::SparseCategoricalCrossentropy()(Tensor::from_vector<std::int32_t>({0, 3}, {2}), p),
      doctest::Contains("label values must be in [0, 3)"), Error);
  CHECK_THROWS_WITH_AS(
      losses::SparseCategoricalCrossentropy()(Tensor::from_vector<std::int32_t>({-1, 0}, {2}), p),
      doctest::Contains("got -1"), Error);
  // From logits the fused op checks the labels: the Error names the label and where it is.
  CHECK_THROWS_WITH_AS(losses::SparseCategoricalCrossentropy({.from_logits = true})(
                           Tensor::from_vector<std::int32_t>({0, 3}, {2}), p),
                       doctest::Contains("label 3 at flat index 1 is outside [0, 3)"), Error);
  CHECK_THROWS_WITH_AS(losses::SparseCategoricalCrossentropy({.from_logits = true})(
                           Tensor::from_vector<std::int32_t>({-1, 0}, {2}), p),
                       doctest::Contains("label -1 at flat index 0 is outside [0, 3)"), Error);
  CHECK_THROWS_WITH_AS(losses::SparseCategoricalCrossentropy()(p, p),
                       doctest::Contains("one-hot labels need CategoricalCrossentropy"), Error);
  CHECK_THROWS_WITH_AS(
      losses::SparseCategoricalCrossentropy()(Tensor::from_vector<double>({0.5, 1.0}, {2}), p),
      doctest::Contains("holds 1 non-integer value: pass class indices"), Error);
  CHECK_THROWS_WITH_AS(
      losses::SparseCategoricalCrossentropy()(Tensor::from_vector<double>({2.0, NAN}, {2}), p),
      doctest::Contains("holds 1 non-integer value"), Error);
  CHECK(losses::SparseCategoricalCrossentropy()(Tensor::from_vector<double>({2.0, -0.0}, {2}), p)
            .defined());
  CHECK_THROWS_WITH_AS(losses::MeanSquaredError()(ones({2, 3}), ones({2, 3}), ones({3})),
                       doctest::Contains("sample_weight"), Error);
}
