// Model's step hierarchy: the defaults, each override path, the call_* entry points, fit /
// evaluate / predict semantics, and bad input leaving the states untouched.
#include <doctest/doctest.h>

#include <cmath>

#include <elegy/elegy.hpp>

using namespace elegy;

namespace {

// Plain SGD as a GradientTransformation, so these tests do not depend on optim's aliases.
optim::GradientTransformation plain_sgd(double lr) {
  return {[](const Tree&) { return Tree(); },
          [lr](const Tree& g, const optim::OptState& s, const Tree&) {
            return optim::UpdateResult{g.map([lr](const Tensor& t) { return t * -lr; }), s};
          }};
}

// y = 3 x - 1 with x in [-1, 1): 64 samples of one feature.
struct LineData {
  Tensor x = random::uniform(Key(3), {64, 1}, DType::f32, -1.0, 1.0);
  Tensor y = x * 3.0 - 1.0;
};

// Overrides only test_step (the seed example's shape): a linear regression.
struct OnlyTestStep : Model {
  using Model::Model;
  TestStep test_step(const StepArgs& a) override {
    Tensor w, b;
    if (a.initializing) {
      w = zeros({1, 1});
      b = zeros({1});
    } else {
      w = a.states.net_params()["w"];
      b = a.states.net_params()["b"];
    }
    const Tensor pred = matmul(a.x.tensor(), w) + b;
    const Tensor loss = mean(square(pred - a.y_true.tensor()));
    return {loss,
            {{"loss", loss}, {"x_mean", mean(a.x.tensor())}},
            a.states.update("net_params", Tree{{"w", w}, {"b", b}})};
  }
};

// Overrides only pred_step: y = 2 x with a constant parameter.
struct OnlyPredStep : Model {
  using Model::Model;
  PredStep pred_step(const StepArgs& a) override {
    const Tensor w = a.initializing ? full({1}, 2.0) : a.states.net_params()["w"].tensor();
    return {a.x.tensor() * w, a.states.update("net_params", Tree{{"w", w}})};
  }
};

// Overrides only train_step: counts steps in a custom field, no optimizer needed.
struct OnlyTrainStep : Model {
  using Model::Model;
  TrainStep train_step(const StepArgs& a) override {
    const Tensor count = a.initializing ? zeros({}, DType::i32) : a.states["steps"].tensor() + 1;
    return {{{"steps", count.astype(DType::f32)}}, a.states.update("steps", count)};
  }
};

}  // namespace

TEST_CASE("only test_step: fit learns, evaluate averages over the whole set, predict explains") {
  LineData d;
  OnlyTestStep model({.optimizer = plain_sgd(0.1)});
  const History h = model.fit({.x = d.x, .y = d.y, .batch_size = 8, .epochs = 20, .verbose = 0});
  REQUIRE(h.epoch.size() == 20);
  CHECK(h.history.at("loss").back() < 0.01f * h.history.at("loss").front());
  CHECK(model.states().net_params()["w"].tensor().item<float>() ==
        doctest::Approx(3).epsilon(0.05));
  // Logs are means over all samples: x_mean of the full set, whatever the batching.
  const Logs logs = model.evaluate({.x = d.x, .y = d.y, .verbose = 0, .batch_size = 10});
  CHECK(logs.at("x_mean") == doctest::Approx(mean(d.x).item<float>()).epsilon(1e-5));
  CHECK_THROWS_WITH_AS(model.predict({.x = d.x}), doctest::Contains("override pred_step"), Error);
}

TEST_CASE("default grad_step is value_and_grad of test_step over net_params") {
  LineData d;
  OnlyTestStep model({.optimizer = plain_sgd(0.1)});
  model.init({.x = d.x, .y = d.y, .batch_size = 64});
  StepArgs a{.x = d.x, .y_true = d.y, .states = model.states()};
  const GradStep g = model.grad_step(a);
  // L = mean((w x + b - y)^2) at w = b = 0: dL/dw = -2 mean(x y), dL/db = -2 mean(y)
  CHECK(g.grads["w"].tensor().item<float>() ==
        doctest::Approx(-2 * mean(d.x * d.y).item<float>()).epsilon(1e-5));
  CHECK(g.grads["b"].tensor().item<float>() ==
        doctest::Approx(-2 * mean(d.y).item<float>()).epsilon(1e-5));
  CHECK(g.loss.item<float>() == doctest::Approx(mean(square(d.y)).item<float>()).epsilon(1e-5));
}

TEST_CASE("only pred_step: predict concatenates batches; fit names what is missing") {
  OnlyPredStep model({.optimizer = plain_sgd(0.1)});
  const Tensor x = arange(0.0, 10.0, 1.0);
  model.init({.x = x});
  const Tensor y = model.predict({.x = x, .batch_size = 3}).tensor();  // batches 3,3,3,1
  CHECK(y.to_vector<float>() == std::vector<float>{0, 2, 4, 6, 8, 10, 12, 14, 16, 18});
  CHECK_THROWS_WITH_AS(model.fit({.x = x, .y = x, .verbose = 0}),
                       doctest::Contains("override test_step"), Error);
}

TEST_CASE("only train_step: fit runs without an optimizer and threads custom states") {
  OnlyTrainStep model;
  const Tensor x = zeros({10, 2});
  model.fit({.x = x, .y = x, .batch_size = 4, .epochs = 2, .verbose = 0});  // 3 steps an epoch
  CHECK(model.states()["steps"].tensor().item<int>() == 6);
}

TEST_CASE("call_test_step overrides change evaluate and leave fit alone") {
  struct Counting : OnlyTestStep {
    using OnlyTestStep::OnlyTestStep;
    int test_calls = 0;
    TestStep call_test_step(const StepArgs& a) override {
      ++test_calls;
      return OnlyTestStep::call_test_step(a);
    }
  };
  LineData d;
  // Eager: a compiled step runs an override's host code only while recording (as jax.jit).
  Counting model({.optimizer = plain_sgd(0.1), .run_eagerly = true});
  model.fit({.x = d.x, .y = d.y, .batch_size = 16, .epochs = 1, .verbose = 0});
  CHECK(model.test_calls == 0);
  model.evaluate({.x = d.x, .y = d.y, .verbose = 0, .batch_size = 16});
  CHECK(model.test_calls == 4);
}

TEST_CASE("fit twice continues from the trained states; reset goes back to the initial ones") {
  LineData d;
  OnlyTestStep model({.optimizer = plain_sgd(0.05)});
  const History first = model.fit({.x = d.x, .y = d.y, .batch_size = 8, .epochs = 3, .verbose = 0});
  const History second =
      model.fit({.x = d.x, .y = d.y, .batch_size = 8, .epochs = 3, .verbose = 0});
  CHECK(second.history.at("loss").front() < first.history.at("loss").back());
  model.reset();
  CHECK(model.states().net_params()["w"].tensor().item<float>() == 0.0f);
}

TEST_CASE("the same seed gives the same shuffled training run") {
  LineData d;
  OnlyTestStep a({.optimizer = plain_sgd(0.1), .seed = 7}),
      b({.optimizer = plain_sgd(0.1), .seed = 7}), c({.optimizer = plain_sgd(0.1), .seed = 8});
  for (Model* m : {static_cast<Model*>(&a), static_cast<Model*>(&b), static_cast<Model*>(&c)})
    m->fit({.x = d.x, .y = d.y, .batch_size = 5, .epochs = 1, .verbose = 0});
  const float wa = a.states().net_params()["w"].tensor().item<float>();
  CHECK(wa == b.states().net_params()["w"].tensor().item<float>());
  CHECK(wa != c.states().net_params()["w"].tensor().item<float>());
}

TEST_CASE("validation_split holds out the last samples and logs val_*") {
  LineData d;
  OnlyTestStep model({.optimizer = plain_sgd(0.1)});
  const History h = model.fit(
      {.x = d.x, .y = d.y, .batch_size = 8, .epochs = 2, .verbose = 0, .validation_split = 0.25});
  REQUIRE(h.history.count("val_x_mean"));
  const float tail_mean = mean(slice(d.x, 48, 64)).item<float>();
  CHECK(h.history.at("val_x_mean")[0] == doctest::Approx(tail_mean).epsilon(1e-5));
}

TEST_CASE("steps_per_epoch continues the data stream across epochs") {
  OnlyTrainStep model;
  const Tensor x = zeros({10, 1});
  const History h =
      model.fit({.x = x, .y = x, .batch_size = 4, .epochs = 3, .verbose = 0, .steps_per_epoch = 2});
  CHECK(h.epoch == std::vector<int>{0, 1, 2});
  CHECK(model.states()["steps"].tensor().item<int>() == 6);
}

TEST_CASE("bad input raises Errors and leaves the states exactly as they were") {
  LineData d;
  OnlyTestStep model({.optimizer = plain_sgd(0.1)});
  model.fit({.x = d.x, .y = d.y, .batch_size = 8, .epochs = 1, .verbose = 0});
  const float w_before = model.states().net_params()["w"].tensor().item<float>();
  auto unchanged = [&] {
    CHECK(model.states().net_params()["w"].tensor().item<float>() == w_before);
  };
  CHECK_THROWS_WITH_AS(model.fit({.x = d.x, .y = slice(d.y, 0, 10), .verbose = 0}),
                       doctest::Contains("different numbers of samples"), Error);
  unchanged();
  CHECK_THROWS_WITH_AS(model.fit({.x = d.x, .y = d.y, .batch_size = 0, .verbose = 0}),
                       doctest::Contains("batch_size must be positive"), Error);
  unchanged();
  // A test_step returning a non-scalar loss.
  struct VectorLoss : OnlyTestStep {
    using OnlyTestStep::OnlyTestStep;
    bool broken = false;
    TestStep test_step(const StepArgs& a) override {
      TestStep t = OnlyTestStep::test_step(a);
      if (broken) t.loss = t.loss * ones({3});
      return t;
    }
  };
  VectorLoss v({.optimizer = plain_sgd(0.1)});
  v.fit({.x = d.x, .y = d.y, .batch_size = 8, .epochs = 1, .verbose = 0});
  const States before = v.states();
  v.broken = true;
  CHECK_THROWS_WITH_AS(v.train_on_batch(d.x, d.y),
                       doctest::Contains("expected a scalar float loss"), Error);
  CHECK(v.states().net_params()["w"].tensor().item<float>() ==
        before.net_params()["w"].tensor().item<float>());
  // No optimizer with the default train_step.
  OnlyTestStep no_opt;
  CHECK_THROWS_WITH_AS(no_opt.fit({.x = d.x, .y = d.y, .verbose = 0}),
                       doctest::Contains("no optimizer"), Error);
}

TEST_CASE("NaN inputs flow through as NaN logs (no exception)") {
  OnlyTestStep model({.optimizer = plain_sgd(0.1)});
  const Tensor x = full({4, 1}, std::nan(""));
  const Logs logs = model.train_on_batch(x, x);
  CHECK(std::isnan(logs.at("loss")));
}

TEST_CASE("States: update, maybe_update, unknown fields, rng") {
  const States s = States{{"a", Tree(ones({2}))}}.update_rng(RngSeq(1));
  const States t = s.update("b", Tree(zeros({1})));
  CHECK(!s.has("b"));
  CHECK(t.has("b"));
  CHECK(t.maybe_update({{"a", Tree(zeros({5}))}})["a"].tensor().shape() == Shape{2});
  CHECK(t.maybe_update({{"c", Tree(zeros({5}))}})["c"].tensor().shape() == Shape{5});
  CHECK_THROWS_WITH_AS(t["missing"],
                       doctest::Contains("no field 'missing' (fields present: {rng, a, b}"), Error);
  RngSeq r = s.rng();
  const Key k1 = r.next(), k2 = r.next();
  CHECK(!(k1 == k2));
  CHECK(s.rng() == RngSeq(1));  // reading a copy never advances the states' sequence
}

TEST_CASE("init_step fills the default fields from states_step") {
  OnlyTestStep model({.optimizer = plain_sgd(0.1), .seed = 5});
  LineData d;
  model.init({.x = d.x, .y = d.y});
  CHECK(model.initialized());
  CHECK(model.states().has("net_params"));
  CHECK(model.states().rng() == RngSeq(5));
  const std::vector<std::string> fields = model.states().fields();
  for (const char* f : {"rng", "net_params", "net_states", "metrics_states", "optimizer_states"})
    CHECK(std::find(fields.begin(), fields.end(), f) != fields.end());
}

TEST_CASE("summary_step runs pred_step on the inputs and counts the parameters") {
  OnlyPredStep model;
  const Tensor x = zeros({4, 3});
  const std::vector<SummaryTableEntry> rows = model.call_summary_step(StepArgs{.x = x});
  // No module: the inputs and the totals only.
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].module_type_name == "Inputs");
  CHECK(rows[0].output_value.tensor().shape() == Shape{4, 3});
  CHECK(rows[1].module_type_name == "Total");
  CHECK(rows[1].trainable_params_count == 1);  // the one-element w
  CHECK(rows[1].trainable_params_size == 4);
  CHECK(rows[1].non_trainable_params_count == 0);
  CHECK_THROWS_WITH_AS(OnlyTestStep().call_summary_step(StepArgs{.x = x}),
                       doctest::Contains("override pred_step"), Error);
}
