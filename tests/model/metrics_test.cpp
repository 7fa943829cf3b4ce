// Metrics against Keras' documented examples, accumulated across batches, reset, weighted; the
// collection's naming; running means; and errors for labels of the wrong kind.
#include <doctest/doctest.h>

#include <limits>
#include <map>
#include <string>
#include <vector>

#include <elegy/elegy.hpp>

#include "../grad_check.hpp"
#include "../kernel_log.hpp"

using namespace elegy;
using namespace elegy::testing;

namespace {

Tensor f2(std::vector<float> v, std::int64_t rows, std::int64_t cols) {
  return Tensor::from_vector<float>(v, {rows, cols});
}
Tensor f1(std::vector<float> v) {
  return Tensor::from_vector<float>(v, {std::int64_t(v.size())});
}

LossArgs batch(const Tensor& y_true, const Tensor& y_pred,
               std::optional<Tensor> sample_weight = std::nullopt) {
  LossArgs a;
  a.y_true = y_true;
  a.y_pred = y_pred;
  a.sample_weight = std::move(sample_weight);
  a.x = y_pred;
  return a;
}

// result after one update with the batch.
double once(const metrics::Metric& m, const LossArgs& a) {
  return m.result(m.update(m.init(a), a)).item<float>();
}

}  // namespace

TEST_CASE("metrics: Keras' documented examples, with and without sample_weight") {
  const Tensor i4 = f2({1, 2, 3, 4}, 4, 1), p4 = f2({0, 2, 3, 4}, 4, 1);
  CHECK(once(metrics::Accuracy(), batch(i4, p4)) == doctest::Approx(0.75));
  CHECK(once(metrics::Accuracy(), batch(i4, p4, f1({1, 1, 0, 0}))) == doctest::Approx(0.5));

  const Tensor b_true = f2({1, 1, 0, 0}, 4, 1), b_pred = f2({0.98f, 1, 0, 0.6f}, 4, 1);
  CHECK(once(metrics::BinaryAccuracy(), batch(b_true, b_pred)) == doctest::Approx(0.75));
  CHECK(once(metrics::BinaryAccuracy(), batch(b_true, b_pred, f1({1, 0, 0, 1}))) ==
        doctest::Approx(0.5));

  const Tensor c_true = f2({0, 0, 1, 0, 1, 0}, 2, 3),
               c_pred = f2({0.1f, 0.9f, 0.8f, 0.05f, 0.95f, 0}, 2, 3);
  CHECK(once(metrics::CategoricalAccuracy(), batch(c_true, c_pred)) == doctest::Approx(0.5));
  CHECK(once(metrics::CategoricalAccuracy(), batch(c_true, c_pred, f1({0.7f, 0.3f}))) ==
        doctest::Approx(0.3));
  const Tensor s_true = f2({2, 1}, 2, 1), s_pred = f2({0.1f, 0.6f, 0.3f, 0.05f, 0.95f, 0}, 2, 3);
  CHECK(once(metrics::SparseCategoricalAccuracy(), batch(s_true, s_pred)) == doctest::Approx(0.5));
  CHECK(once(metrics::SparseCategoricalAccuracy(), batch(s_true, s_pred, f1({0.7f, 0.3f}))) ==
        doctest::Approx(0.3));

  CHECK(once(metrics::TopKCategoricalAccuracy({.k = 1}), batch(c_true, c_pred)) ==
        doctest::Approx(0.5));
  CHECK(once(metrics::TopKCategoricalAccuracy({.k = 1}), batch(c_true, c_pred, f1({0.7f, 0.3f}))) ==
        doctest::Approx(0.3));
  const Tensor sparse2 = Tensor::from_vector<std::int32_t>({2, 1}, {2});
  CHECK(once(metrics::SparseTopKCategoricalAccuracy({.k = 1}), batch(sparse2, c_pred)) ==
        doctest::Approx(0.5));
  CHECK(once(metrics::SparseTopKCategoricalAccuracy({.k = 2}), batch(sparse2, c_pred)) ==
        doctest::Approx(1.0));

  const Tensor r_true = f2({0, 1, 0, 0}, 2, 2), r_pred = f2({1, 1, 0, 0}, 2, 2);
  CHECK(once(metrics::MeanSquaredError(), batch(r_true, r_pred)) == doctest::Approx(0.25));
  CHECK(once(metrics::MeanSquaredError(), batch(r_true, r_pred, f1({1, 0}))) ==
        doctest::Approx(0.5));
  CHECK(once(metrics::MeanAbsoluteError(), batch(r_true, r_pred)) == doctest::Approx(0.25));
  CHECK(once(metrics::MeanAbsoluteError(), batch(r_true, r_pred, f1({1, 0}))) ==
        doctest::Approx(0.5));

  const Tensor pr_true = f1({0, 1, 1, 1}), pr_pred = f1({1, 0, 1, 1});
  CHECK(once(metrics::Precision(), batch(pr_true, pr_pred)) == doctest::Approx(2.0 / 3));
  CHECK(once(metrics::Precision(), batch(pr_true, pr_pred, f1({0, 0, 1, 0}))) ==
        doctest::Approx(1.0));
  CHECK(once(metrics::Recall(), batch(pr_true, pr_pred)) == doctest::Approx(2.0 / 3));
  CHECK(once(metrics::Recall(), batch(pr_true, pr_pred, f1({0, 0, 1, 0}))) == doctest::Approx(1.0));
  CHECK(once(metrics::F1(), batch(pr_true, pr_pred)) == doctest::Approx(2.0 / 3));
  // Thresholds and class_id: Keras' Precision(thresholds=0.7) / Recall(class_id=1) style.
  const Tensor probs = f2({0.8f, 0.6f, 0.75f, 0.2f}, 2, 2), truth = f2({1, 1, 0, 1}, 2, 2);
  CHECK(once(metrics::Precision({.threshold = 0.7}), batch(truth, probs)) == doctest::Approx(0.5));
  CHECK(once(metrics::Recall({.class_id = 1}), batch(truth, probs)) == doctest::Approx(0.5));
  // No predicted positives: 0, not NaN.
  CHECK(once(metrics::Precision(), batch(f1({1, 1}), f1({0, 0}))) == 0.0);
}

TEST_CASE("metrics: states accumulate across batches and reset to init") {
  metrics::SparseCategoricalAccuracy acc;
  const Tensor pred = f2({0.9f, 0.1f, 0.2f, 0.8f, 0.6f, 0.4f}, 3, 2);
  const LossArgs b1 = batch(Tensor::from_vector<std::int32_t>({0, 1, 1}, {3}), pred);         // 2/3
  const LossArgs b2 = batch(Tensor::from_vector<std::int32_t>({0}, {1}), slice(pred, 0, 1));  // 1/1
  Tree s = acc.init(b1);
  CHECK(acc.result(s).item<float>() == 0.0f);
  s = acc.update(acc.update(s, b1), b2);
  CHECK(acc.result(s).item<float>() == doctest::Approx(3.0 / 4));  // pooled, not (2/3 + 1) / 2
  CHECK(acc.result(acc.init(b1)).item<float>() == 0.0f);

  // Any callable as a running mean weighted by batch size.
  const metrics::Metric m = metrics::Metric::mean_of(
      "pred_mean", [](const LossArgs& a) { return mean(a.y_pred.tensor()); });
  Tree ms = m.update(m.update(m.init(b1), b1), b2);
  CHECK(m.result(ms).item<float>() == doctest::Approx((0.5 * 3 + 0.5 * 1) / 4));
  metrics::Sum total("total", [](const LossArgs& a) { return sum(a.y_pred.tensor()); });
  CHECK(total.result(total.update(total.update(total.init(b1), b1), b2)).item<float>() ==
        doctest::Approx(3.0 + 1.0));
}

TEST_CASE("metrics: SparseCategoricalAccuracy's count of hits equals its weighted path") {
  // Unweighted batches count their hits in one kernel (argmax_match_count); weights of one take
  // the per-sample path (hits * weights, summed): the states must hold the same bits.
  metrics::SparseCategoricalAccuracy acc;
  Tree counted, weighted;
  for (std::uint32_t b = 0; b < 4; ++b) {
    const std::int64_t rows = 100 + 37 * b;
    const Tensor pred = random::normal(Key(b + 1), {rows, 5});
    // Every third label is the argmax: well over a fifth of the rows hit.
    std::vector<std::int32_t> labels =
        random::randint(Key(b + 11), {rows}, 0, 5, DType::i32).to_vector<std::int32_t>();
    const std::vector<std::int32_t> best = argmax(pred, -1).to_vector<std::int32_t>();
    for (std::size_t r = 0; r < labels.size(); r += 3) labels[r] = best[r];
    const Tensor y = Tensor::from_vector(labels, Shape{rows});
    const LossArgs plain = batch(y, pred), ones_weighted = batch(y, pred, ones({rows}));
    if (b == 0) {
      counted = acc.init(plain);
      weighted = acc.init(plain);
    }
    counted = acc.update(counted, plain);
    weighted = acc.update(weighted, ones_weighted);
    CHECK(counted["total"].tensor().item<float>() == weighted["total"].tensor().item<float>());
    CHECK(counted["count"].tensor().item<float>() == weighted["count"].tensor().item<float>());
  }
  CHECK(acc.result(counted).item<float>() == acc.result(weighted).item<float>());
  CHECK(acc.result(counted).item<float>() > 0.3f);
  // A class weight of one everywhere takes the weighted path too: the same ratio.
  LossArgs classed = batch(Tensor::from_vector<std::int32_t>({0, 1, 1}, {3}),
                           f2({0.9f, 0.1f, 0.2f, 0.8f, 0.6f, 0.4f}, 3, 2));
  const double plain_ratio = once(acc, classed);
  classed.class_weight = ones({2});
  CHECK(once(acc, classed) == plain_ratio);
  CHECK(plain_ratio == doctest::Approx(2.0 / 3));
}

TEST_CASE("metrics: the collection names uniquely; running means weigh by batch size") {
  metrics::Metrics set({metrics::Accuracy(), metrics::Accuracy(), metrics::MeanSquaredError()});
  const LossArgs a = batch(f2({1, 2}, 2, 1), f2({1, 3}, 2, 1));
  const auto results = set.results(set.update(set.init(a), a));
  CHECK(results.at("accuracy").item<float>() == 0.5f);
  CHECK(results.at("accuracy_1").item<float>() == 0.5f);
  CHECK(results.at("mean_squared_error").item<float>() == 0.5f);

  Tree r = metrics::running_means_init({{"loss", scalar(0.0)}});
  r = metrics::running_means_update(r, {{"loss", scalar(2.0)}}, 3.0);
  r = metrics::running_means_update(r, {{"loss", scalar(6.0)}, {"late", scalar(1.0)}}, 1.0);
  const auto means = metrics::running_means_result(r);
  CHECK(means.at("loss").item<float>() == doctest::Approx((2.0 * 3 + 6.0) / 4));
  CHECK(means.at("late").item<float>() == doctest::Approx(1.0 / 4));
}

TEST_CASE("running_means_step: one kernel, the bits of running_means_update then _result") {
  // Awkward floats (a total that does not divide evenly, a weight that is not a power of two, a
  // float64 value) and a log without a value this batch; from a zero count with weight 0 the
  // means are 0 (DivNoNan), not NaN.
  Tree state = metrics::running_means_init({{"loss", scalar(0.0)}, {"aux", scalar(0.0)}});
  const std::vector<std::map<std::string, Tensor>> batches = {
      {{"loss", scalar(0.1)}, {"aux", scalar(1.0 / 3.0)}},
      {{"loss", Tensor::from_vector(std::vector<double>{2.7182818}, Shape{1})}},  // no "aux"
      {{"loss", scalar(1e-7)}, {"aux", scalar(-5.25)}}};
  const double weights[] = {0.0, 37.0, 0.3};
  for (std::size_t b = 0; b < batches.size(); ++b) {
    CAPTURE(b);
    const Tree composed = metrics::running_means_update(state, batches[b], weights[b]);
    const auto composed_means = metrics::running_means_result(composed);
    testing::KernelLog k;
    const auto [fused, fused_means] = metrics::running_means_step(state, batches[b], weights[b]);
    k.stop();
    CHECK(k.count(kernels::Op::RunningMeans) == 1);
    CHECK(k.count(kernels::Op::MulAdd) + k.count(kernels::Op::DivNoNan) == 0);
    REQUIRE(fused_means.size() == composed_means.size());
    for (const auto& [name, mean] : composed_means) {
      CAPTURE(name);
      CHECK(fused_means.at(name).item<float>() == mean.item<float>());  // same bits
      CHECK(fused["totals"][name].tensor().item<float>() ==
            composed["totals"][name].tensor().item<float>());
    }
    CHECK(fused["count"].tensor().item<float>() == composed["count"].tensor().item<float>());
    if (b == 0) CHECK(fused_means.at("loss").item<float>() == 0.0f);
    state = fused;
  }
  // 0.3 * (1e-7) + (37 * 2.7182818 + ...): hand-check the loss mean once against float64.
  const double want = (0.1f * 0.0f + 37.0 * 2.7182818 + 0.3 * 1e-7) / (0.0 + 37.0 + 0.3);
  CHECK(metrics::running_means_result(state).at("loss").item<float>() ==
        doctest::Approx(want).epsilon(1e-6));
  // A name the state does not hold yet: the two calls (it starts counting from this batch).
  const auto [grown, grown_means] =
      metrics::running_means_step(state, {{"late", scalar(4.0)}}, 2.0);
  CHECK(grown_means.at("late").item<float>() == doctest::Approx(8.0 / (37.3 + 2.0)).epsilon(1e-6));
  CHECK(grown_means.size() == 3);
  // A [1]-shaped count (a state made by other code): the composed ops keep its shape, so the
  // step composes them too rather than hand back a 0-d count.
  Tree shaped = metrics::running_means_init({{"loss", scalar(0.0)}});
  shaped = Tree{{"count", Tensor::from_vector(std::vector<float>{2.0f}, Shape{1})},
                {"totals", shaped["totals"]}};
  const auto [kept, kept_means] = metrics::running_means_step(shaped, {{"loss", scalar(3.0)}}, 2.0);
  CHECK(kept["count"].tensor().shape() == Shape{1});
  CHECK(kept_means.at("loss").item<float>() == 1.5f);
}

TEST_CASE("Metric::step: update and result in one kernel, the bits of update then result") {
  // Accuracy (a weighted mean), a mean of a per-batch scalar (weighted by the batch size) and a
  // mean of per-sample values; with sample weights the step composes the ops (tensor counts).
  const Tensor pred = random::normal(Key(1), {7, 4});
  const Tensor labels = random::randint(Key(2), {7}, 0, 4, DType::i32);
  const Tensor weights = f1({0.5f, 1, 0, 2, 1, 1, 0.25f});
  const std::vector<metrics::Metric> ms = {
      metrics::SparseCategoricalAccuracy(),
      metrics::Mean("scalar", [](const LossArgs& a) { return mean(a.y_pred.tensor()) / 3.0; }),
      metrics::Mean("per_sample", [](const LossArgs& a) { return max(a.y_pred.tensor(), {1}); })};
  for (const metrics::Metric& m : ms) {
    for (const bool weighted : {false, true}) {
      CAPTURE(m.name());
      CAPTURE(weighted);
      const LossArgs a = batch(labels, pred, weighted ? std::optional(weights) : std::nullopt);
      Tree state = m.init(a);
      for (int b = 0; b < 3; ++b) {
        const Tree updated = m.update(state, a);
        const float want = m.result(updated).item<float>();
        testing::KernelLog k;
        const auto [stepped, result] = m.step(state, a);
        k.stop();
        CHECK(result.item<float>() == want);
        CHECK(stepped["total"].tensor().item<float>() == updated["total"].tensor().item<float>());
        CHECK(stepped["count"].tensor().item<float>() == updated["count"].tensor().item<float>());
        const bool fused = !weighted || m.name() == "scalar";  // (a scalar ignores weights)
        CHECK(k.count(kernels::Op::RunningMeans) == int(fused));
        CHECK(k.count(kernels::Op::DivNoNan) == int(!fused));
        state = stepped;
      }
    }
  }
}

TEST_CASE("metrics: labels of the wrong kind are a clear Error") {
  const Tensor probs = f2({0.1f, 0.9f, 0.8f, 0.2f}, 2, 2);
  CHECK_THROWS_WITH_AS(once(metrics::SparseCategoricalAccuracy(), batch(probs, probs)),
                       doctest::Contains("use the non-sparse metric"), Error);
  CHECK_THROWS_WITH_AS(once(metrics::SparseCategoricalAccuracy(), batch(f1({0.3f, 1.5f}), probs)),
                       doctest::Contains("holds 2 non-integer values: pass class indices"), Error);
  CHECK_THROWS_WITH_AS(once(metrics::CategoricalAccuracy(), batch(f1({0, 1}), probs)),
                       doctest::Contains("must have the same shape"), Error);
  CHECK_THROWS_WITH_AS(once(metrics::Recall({.class_id = 5}), batch(probs, probs)),
                       doctest::Contains("class_id 5 is out of range"), Error);
}

TEST_CASE("metrics: SparseCategoricalAccuracy gives the same counts for every label dtype") {
  // Rows: a clear 2, a tie between 0 and 1 (the first index wins: 0), a NaN in column 1 (the
  // NaN wins: 1), a clear 0, a 1 that row labels miss.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor pred = f2(
      {0.1f, 0.2f, 0.7f, 0.5f, 0.5f, 0.0f, 0.3f, nan, 0.2f, 0.9f, 0.05f, 0.05f, 0.2f, 0.7f, 0.1f},
      5, 3);
  const std::vector<std::int64_t> labels = {2, 0, 1, 0, 2};  // 4 of 5 right
  for (DType dtype : {DType::u8, DType::i32, DType::i64, DType::f32, DType::f64}) {
    CAPTURE(dtype);
    const Tensor y = Tensor::from_vector(labels, Shape{5}).astype(dtype);
    CHECK(once(metrics::SparseCategoricalAccuracy(), batch(y, pred)) == doctest::Approx(0.8));
    CHECK(once(metrics::SparseCategoricalAccuracy(), batch(reshape(y, {5, 1}), pred)) ==
          doctest::Approx(0.8));
  }
  // int64 labels beyond int32 never match (no wrap-around to a valid class).
  const Tensor huge = Tensor::from_vector<std::int64_t>({(std::int64_t(1) << 32) + 2, 0}, {2});
  CHECK(once(metrics::SparseCategoricalAccuracy(), batch(huge, slice(pred, 0, 2))) ==
        doctest::Approx(0.5));
}
