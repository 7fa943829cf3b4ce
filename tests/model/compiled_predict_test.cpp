// predict_on_batch's compiled pred step (model/compiled_predict.cpp): replayed predictions are
// the eager twin's, bit for bit, and the caller's to keep; the plan follows the states it reads
// (in place under a compiled train step, recorded again when they move); a bad batch still
// fails with the op's Error.
#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include <elegy/elegy.hpp>

#include "../grad_check.hpp"

using namespace elegy;

namespace {

struct Mlp : nn::Module {
  Tensor call(nn::Context& ctx, const Tensor& x) override {
    Tensor h = nn::Flatten()(ctx, x.astype(DType::f32) / 255.0);
    h = nn::Dropout(0.2)(ctx, nn::relu(ctx, nn::Linear(24)(ctx, h)));
    return nn::Linear(5)(ctx, h);
  }
};

struct BatchNormNet : nn::Module {
  Tensor call(nn::Context& ctx, const Tensor& x) override {
    Tensor h = nn::BatchNorm()(ctx, nn::Conv2D(4, 3)(ctx, x));
    return nn::Linear(5)(ctx, nn::Flatten()(ctx, nn::relu(ctx, h)));
  }
};

struct EmbeddingNet : nn::Module {
  Tensor call(nn::Context& ctx, const Tensor& ids) override {
    return nn::Linear(5)(ctx, nn::Flatten()(ctx, nn::Embedding(11, 4)(ctx, ids)));
  }
};

ModelOptions options(nn::AnyModule module, bool eager) {
  return {.module = std::move(module),
          .loss = {losses::SparseCategoricalCrossentropy({.from_logits = true})},
          .optimizer = optim::adam(1e-2),
          .run_eagerly = eager};
}

Tensor images(std::uint64_t seed, std::int64_t n = 8) {
  return (random::uniform(Key(seed), {n, 6, 6}) * 255.0).astype(DType::u8);
}
Tensor labels(std::uint64_t seed, std::int64_t n = 8) {
  return random::randint(Key(seed + 100), {n}, 0, 5, DType::i32);
}

}  // namespace

TEST_CASE("predict_on_batch replays its pred step: the eager predictions, the caller's to keep") {
  Model compiled(options(Mlp(), false)), eager(options(Mlp(), true));
  for (std::uint64_t step = 0; step < 4; ++step) {
    compiled.train_on_batch(images(step), labels(step));
    eager.train_on_batch(images(step), labels(step));
  }
  REQUIRE(compiled.compiled_step_status().compiled);
  std::vector<Tensor> kept;
  for (std::uint64_t batch = 0; batch < 6; ++batch) {
    CAPTURE(batch);
    const Tensor y = compiled.predict_on_batch(images(50 + batch)).tensor();
    CHECK(testing::values(y) ==
          testing::values(eager.predict_on_batch(images(50 + batch)).tensor()));
    kept.push_back(y);
  }
  CHECK(compiled.compiled_step_status().predict_replays == 6 - 2);
  CHECK(compiled.compiled_step_status().predict_why_eager.empty());
  // Later replays did not write over what earlier ones returned.
  for (std::uint64_t batch = 0; batch < 6; ++batch)
    CHECK(testing::values(kept[batch]) ==
          testing::values(eager.predict_on_batch(images(50 + batch)).tensor()));
  // A batch of another size runs eagerly; the plan stays.
  CHECK(testing::values(compiled.predict_on_batch(images(7, 3)).tensor()) ==
        testing::values(eager.predict_on_batch(images(7, 3)).tensor()));
  compiled.predict_on_batch(images(8));
  CHECK(compiled.compiled_step_status().predict_replays == 6 - 2 + 1);
}

TEST_CASE("a compiled pred step reads the weights a compiled train step updates in place") {
  // Training and predicting by turns: the train plan updates the states' buffers in place, so
  // the pred plan stays, and each prediction sees the latest weights.
  Model compiled(options(BatchNormNet(), false)), eager(options(BatchNormNet(), true));
  const auto x = [](std::uint64_t seed) { return random::normal(Key(seed), {4, 6, 6, 2}); };
  for (std::uint64_t step = 0; step < 8; ++step) {
    CAPTURE(step);
    CHECK(compiled.train_on_batch(x(step), labels(step, 4)) ==
          eager.train_on_batch(x(step), labels(step, 4)));
    CHECK(testing::values(compiled.predict_on_batch(x(90)).tensor()) ==
          testing::values(eager.predict_on_batch(x(90)).tensor()));
  }
  CHECK(compiled.compiled_step_status().compiled);
  CHECK(compiled.compiled_step_status().predict_replays == 8 - 2);
}

TEST_CASE("a pred step over states that moved is recorded again") {
  // Trained eagerly, the states are new buffers after every step: predict records again, and
  // once they stay put it replays.
  ModelOptions o = options(Mlp(), false);
  Model model(std::move(o)), twin(options(Mlp(), true));
  model.init_on_batch(images(0), labels(0));
  twin.init_on_batch(images(0), labels(0));
  for (int i = 0; i < 3; ++i) model.predict_on_batch(images(1));
  CHECK(model.compiled_step_status().predict_replays == 1);
  // Other weights (as load or set_states gives): copies in new buffers.
  States moved = twin.states().update(
      "net_params", twin.states().net_params().map([](const Tensor& t) { return t * 2.0; }));
  model.set_states(moved);
  twin.set_states(moved);
  for (int i = 0; i < 4; ++i)
    CHECK(testing::values(model.predict_on_batch(images(2 + i)).tensor()) ==
          testing::values(twin.predict_on_batch(images(2 + i)).tensor()));
  CHECK(model.compiled_step_status().predict_replays == 2);  // a new plan: 2 recorded, 2 replays
}

TEST_CASE("a pred step replays on after evaluate resets the metrics it does not read") {
  // evaluate gives the metrics new state buffers; the pred plan reads only the net's, so it
  // stays. New weights still make it record again.
  ModelOptions o = options(Mlp(), false);
  o.metrics = {metrics::SparseCategoricalAccuracy()};
  ModelOptions t = options(Mlp(), true);
  t.metrics = {metrics::SparseCategoricalAccuracy()};
  Model model(std::move(o)), twin(std::move(t));
  model.init_on_batch(images(0), labels(0));
  twin.init_on_batch(images(0), labels(0));
  for (int i = 0; i < 3; ++i) model.predict_on_batch(images(1));
  REQUIRE(model.compiled_step_status().predict_replays == 1);
  for (int i = 0; i < 2; ++i) {
    CHECK(model.test_on_batch(images(20 + i), labels(20 + i)) ==
          twin.test_on_batch(images(20 + i), labels(20 + i)));
    model.reset_metrics();
    twin.reset_metrics();
    CHECK(testing::values(model.predict_on_batch(images(2 + i)).tensor()) ==
          testing::values(twin.predict_on_batch(images(2 + i)).tensor()));
  }
  CHECK(model.compiled_step_status().predict_replays == 3);
  model.set_states(twin.states().update(
      "net_params", twin.states().net_params().map([](const Tensor& w) { return w * 2.0; })));
  model.predict_on_batch(images(5));
  CHECK(model.compiled_step_status().predict_replays == 0);  // recording again
}

TEST_CASE("a replayed pred step checks its batch: bad ids fail, the next batch predicts") {
  Model model(options(EmbeddingNet(), false)), twin(options(EmbeddingNet(), true));
  const auto ids = [](std::uint64_t seed) {
    return random::randint(Key(seed), {6, 3}, 0, 11, DType::i32);
  };
  model.init_on_batch(ids(0), labels(0, 6));
  twin.init_on_batch(ids(0), labels(0, 6));
  for (std::uint64_t i = 0; i < 3; ++i) model.predict_on_batch(ids(i));
  REQUIRE(model.compiled_step_status().predict_replays == 1);
  std::vector<std::int32_t> bad = ids(5).to_vector<std::int32_t>();
  bad[4] = 11;
  CHECK_THROWS_WITH_AS(model.predict_on_batch(Tensor::from_vector(bad, Shape{6, 3})),
                       doctest::Contains("11"), Error);
  CHECK(testing::values(model.predict_on_batch(ids(6)).tensor()) ==
        testing::values(twin.predict_on_batch(ids(6)).tensor()));
  CHECK(model.compiled_step_status().predict_replays == 2);  // the failed one not counted
}

TEST_CASE("a pred step that changes the states runs eagerly and says why") {
  struct Counting : Model {
    using Model::Model;
    PredStep pred_step(const StepArgs& a) override {
      PredStep r = Model::pred_step(a);
      const Tensor calls = a.states.has("calls") ? a.states["calls"].tensor() + 1.0 : scalar(1.0);
      r.states = r.states.update("calls", Tree(calls));
      return r;
    }
  };
  Counting model(options(Mlp(), false));
  model.init_on_batch(images(0), labels(0));
  model.predict_on_batch(images(1));
  const float calls = model.states()["calls"].tensor().item<float>();
  for (int i = 0; i < 5; ++i) model.predict_on_batch(images(1));
  CHECK(model.compiled_step_status().predict_replays == 0);
  CHECK(model.compiled_step_status().predict_why_eager ==
        "the pred step changed the model's states");
  CHECK(model.states()["calls"].tensor().item<float>() == calls + 5.0f);  // every call ran
}

TEST_CASE("a pred step that returns a buffer of the states runs eagerly, and training replays on") {
  // Its plan would keep that buffer as an output, a reference the train plan does not expect.
  struct ReturnsWeights : Model {
    using Model::Model;
    PredStep pred_step(const StepArgs& a) override {
      PredStep r = Model::pred_step(a);
      if (!a.training)  // (predict only: the loss takes the logits alone)
        r.y_pred = Tree::from_list({r.y_pred, Tree(a.states.net_params().leaves().front())});
      return r;
    }
  };
  ReturnsWeights model(options(Mlp(), false));
  for (std::uint64_t step = 0; step < 3; ++step) model.train_on_batch(images(step), labels(step));
  REQUIRE(model.compiled_step_status().compiled);
  for (std::uint64_t step = 3; step < 6; ++step) {
    {  // (the caller lets go of the weights it was given before training on)
      const Tree y = model.predict_on_batch(images(1));
      CHECK(testing::values(y.leaves()[1]) ==
            testing::values(model.states().net_params().leaves().front()));
    }
    model.train_on_batch(images(step), labels(step));
  }
  CHECK(model.compiled_step_status().predict_why_eager ==
        "the pred step returns a buffer of the model's states");
  CHECK(model.compiled_step_status().replays == 4);
}
