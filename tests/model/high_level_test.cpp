// The high-level API end to end: a module, losses, metrics and an optimizer given to Model, and
// nothing overridden — and overriding one step still composes with the defaults.
#include <doctest/doctest.h>

#include <cmath>

#include <elegy/elegy.hpp>
#include <elegy/optim/wrappers.hpp>

#include "../grad_check.hpp"

using namespace elegy;
using namespace elegy::testing;

namespace {

// Two Gaussian blobs in 4-D, labels 0 and 1: linearly separable with margin.
struct Blobs {
  Tensor x, y;
  explicit Blobs(std::int64_t n = 256, std::uint64_t seed = 1) {
    const Tensor labels = random::randint(Key(seed), {n}, 0, 2);
    const Tensor centers = (labels.astype(DType::f32) * 2.0 - 1.0) * 1.5;
    x = random::normal(Key(seed + 1), {n, 4}) + expand_dims(centers, 1);
    y = labels;
  }
};

struct Classifier : nn::Module {
  Tensor call(nn::Context& ctx, const Tensor& x) override {
    return nn::Linear(2)(ctx, nn::relu(ctx, nn::Linear(8)(ctx, x)));
  }
};

Model make_classifier() {
  return Model({.module = Classifier(),
                .loss = {losses::SparseCategoricalCrossentropy({.from_logits = true}),
                         regularizers::GlobalL2(1e-4)},
                .metrics = {metrics::SparseCategoricalAccuracy()},
                .optimizer = optim::adam(1e-2)});
}

}  // namespace

TEST_CASE("high level: fit with module, losses, metrics and optimizer learns and logs by name") {
  Blobs d;
  Model model = make_classifier();
  const History h = model.fit({.x = d.x, .y = d.y, .batch_size = 32, .epochs = 8, .verbose = 0});
  const auto& hist = h.history;
  for (const char* key : {"loss", "sparse_categorical_crossentropy_loss", "l2_regularization_loss",
                          "sparse_categorical_accuracy"})
    CHECK(hist.count(key) == 1);
  CHECK(hist.at("sparse_categorical_accuracy").back() > 0.95f);
  CHECK(hist.at("loss").back() < hist.at("loss").front());
  // The total is the sum of its parts (both running means over the same batches).
  CHECK(hist.at("loss").back() ==
        doctest::Approx(hist.at("sparse_categorical_crossentropy_loss").back() +
                        hist.at("l2_regularization_loss").back())
            .epsilon(1e-5));
  // Parameters by path, in net_params.
  CHECK(model.states().net_params()["linear/w"].tensor().shape() == Shape{4, 8});
  CHECK(model.states().net_params()["linear_1/b"].tensor().shape() == Shape{2});
}

TEST_CASE("high level: evaluate's metrics are over all samples, not a mean of batch means") {
  Blobs d(100, 5);
  Model model = make_classifier();
  model.fit({.x = d.x, .y = d.y, .batch_size = 16, .epochs = 2, .verbose = 0});
  // Batches of 30: 30, 30, 30, 10 — unequal, so a mean of batch accuracies would differ.
  const Logs logs = model.evaluate({.x = d.x, .y = d.y, .verbose = 0, .batch_size = 30});
  const Tensor pred = model.predict({.x = d.x, .batch_size = 7}).tensor();
  const std::vector<std::int32_t> guess =
      argmax(pred, -1).astype(DType::i32).to_vector<std::int32_t>();
  const std::vector<std::int32_t> truth = d.y.to_vector<std::int32_t>();
  int correct = 0;
  for (std::size_t i = 0; i < guess.size(); ++i) correct += guess[i] == truth[i];
  CHECK(logs.at("sparse_categorical_accuracy") == doctest::Approx(correct / 100.0).epsilon(1e-6));
  // The loss log: the sample-weighted mean of per-batch losses = the mean over all samples.
  const Tensor per_sample = -sum(one_hot(d.y, 2) * log_softmax(pred, -1), -1);
  const double l2 = [&] {
    double s = 0;
    for (const Tensor& p : model.states().net_params().leaves()) s += sum(square(p)).item<float>();
    return 1e-4 * s;
  }();
  CHECK(logs.at("loss") == doctest::Approx(mean(per_sample).item<float>() + l2).epsilon(1e-4));
}

TEST_CASE("high level: modules' aux losses and metrics reach the loss and the logs") {
  struct WithAux : nn::Module {
    Tensor call(nn::Context& ctx, const Tensor& x) override {
      const Tensor y = nn::Linear(1, {.w_init = initializers::constant(0.5)})(ctx, x);
      ctx.add_loss("activity", mean(square(y)) * 0.1);
      ctx.add_metric("output_mean", mean(y));
      return y;
    }
  };
  Model model(
      {.module = WithAux(), .loss = {losses::MeanSquaredError()}, .optimizer = optim::sgd(0.0)});
  const Tensor x = Tensor::from_vector<float>({1, 2, 3, 4}, {4, 1});
  const Tensor y = zeros({4, 1});
  const Logs logs = model.evaluate({.x = x, .y = y, .verbose = 0, .batch_size = 4});
  // y_pred = 0.5 x: mse = mean(0.25 x^2) = 1.875; activity = 0.1 * 1.875.
  CHECK(logs.at("mean_squared_error_loss") == doctest::Approx(1.875));
  CHECK(logs.at("activity_loss") == doctest::Approx(0.1875));
  CHECK(logs.at("loss") == doctest::Approx(1.875 + 0.1875));
  CHECK(logs.at("output_mean") == doctest::Approx(1.25));
}

TEST_CASE("high level: overriding one step composes with the default ones") {
  // pred_step overridden (a scaled module output), test_step/grad_step/train_step default.
  struct Scaled : Model {
    using Model::Model;
    PredStep pred_step(const StepArgs& a) override {
      PredStep p = Model::pred_step(a);
      p.y_pred = Tree(p.y_pred.tensor() * 2.0);
      return p;
    }
  };
  Scaled model({.module = nn::Linear(1, {.w_init = initializers::constant(1.0)}),
                .loss = {losses::MeanAbsoluteError()},
                .optimizer = optim::sgd(0.0)});
  const Tensor x = Tensor::from_vector<float>({1, 2}, {2, 1});
  const Logs logs = model.evaluate({.x = x, .y = zeros({2, 1}), .verbose = 0});
  CHECK(logs.at("loss") == doctest::Approx(3.0));  // mean(|2 x|)

  // test_step overridden to add a log on top of the default one.
  struct Extra : Model {
    using Model::Model;
    TestStep test_step(const StepArgs& a) override {
      TestStep t = Model::test_step(a);
      t.logs["double_loss"] = t.loss * 2.0;
      return t;
    }
  };
  Extra extra({.module = nn::Linear(1, {.w_init = initializers::constant(1.0)}),
               .loss = {losses::MeanAbsoluteError()},
               .optimizer = optim::sgd(0.0)});
  const Logs l2 = extra.evaluate({.x = x, .y = zeros({2, 1}), .verbose = 0});
  CHECK(l2.at("double_loss") == doctest::Approx(3.0));
}

TEST_CASE("high level: bad input is an Error and leaves the states untouched") {
  Blobs d(32, 9);
  Model model = make_classifier();
  model.fit({.x = d.x, .y = d.y, .batch_size = 16, .epochs = 1, .verbose = 0});
  const std::vector<double> before = values(model.states().net_params()["linear/w"].tensor());
  // Labels out of range for 2 classes.
  const Tensor bad_labels = full({32}, 5.0, DType::i32);
  CHECK_THROWS_AS(model.train_on_batch(d.x, bad_labels), Error);
  // Inputs of the wrong width for the built parameters.
  CHECK_THROWS_WITH_AS(model.train_on_batch(ones({32, 3}), d.y),
                       doctest::Contains("Linear at 'linear'"), Error);
  CHECK(values(model.states().net_params()["linear/w"].tensor()) == before);
  // No module: an Error that says what to do.
  Model empty({.loss = {losses::MeanSquaredError()}});
  CHECK_THROWS_WITH_AS(empty.predict_on_batch(ones({1, 1})), doctest::Contains("not initialized"),
                       Error);
  CHECK_THROWS_WITH_AS(empty.evaluate({.x = ones({2, 1}), .y = ones({2, 1}), .verbose = 0}),
                       doctest::Contains("has no module"), Error);
}

TEST_CASE("high level: fit logs the learning rate an inject_hyperparams optimizer reports") {
  Blobs d(64, 3);
  const optim::Schedule decay = [](std::int64_t step) { return 0.1 / double(step + 1); };
  Model model({.module = Classifier(),
               .loss = {losses::SparseCategoricalCrossentropy({.from_logits = true})},
               .optimizer = optim::inject_hyperparams(
                   [](const optim::Hyperparams& h) { return optim::sgd(h.at("learning_rate")); },
                   {{"learning_rate", decay}})});
  const History h = model.fit({.x = d.x, .y = d.y, .batch_size = 32, .epochs = 2, .verbose = 0});
  // Two steps per epoch: the last update of epoch 0 used step 1's rate, of epoch 1 step 3's.
  REQUIRE(h.history.count("lr") == 1);
  CHECK(h.history.at("lr")[0] == doctest::Approx(0.05));
  CHECK(h.history.at("lr")[1] == doctest::Approx(0.025));
  // A plain optimizer exposes no rate, so no "lr" log.
  Model plain = make_classifier();
  CHECK(plain.fit({.x = d.x, .y = d.y, .batch_size = 32, .epochs = 1, .verbose = 0})
            .history.count("lr") == 0);
}
