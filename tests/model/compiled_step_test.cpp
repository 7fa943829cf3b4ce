// The compiled train step (model/compiled_step.hpp): a model with run_eagerly = false (the
// default) gives the very logs and states, bit for bit, of a twin running eagerly, while it
// replays its recorded step; steps that cannot be replayed run eagerly and say why; a bad batch
// still fails with the op's Error and changes nothing; nobody else's tensors are ever written.
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include <elegy/autodiff/step_recording.hpp>
#include <elegy/elegy.hpp>

#include "../grad_check.hpp"

using namespace elegy;
using testing::addresses;

namespace {

// Every leaf's values, fields in order, and the rng's key.
std::vector<std::vector<double>> values_of(const States& s) {
  std::vector<std::vector<double>> out;
  for (const Tensor& leaf : s.leaves()) out.push_back(testing::values(leaf));
  if (s.has_rng())
    for (std::uint32_t k : s.rng().key().words()) out.push_back({double(k)});
  return out;
}

struct Mlp : nn::Module {
  Tensor call(nn::Context& ctx, const Tensor& x) override {
    Tensor h = nn::Flatten()(ctx, x.astype(DType::f32) / 255.0);
    h = nn::relu(ctx, nn::Linear(24)(ctx, h));
    return nn::Linear(5)(ctx, h);
  }
};

struct Cnn : nn::Module {
  Tensor call(nn::Context& ctx, const Tensor& x) override {
    Tensor h = nn::Conv2D(4, 3, {.activation = FusedActivation::relu})(ctx, x);
    h = nn::MaxPool(2)(ctx, h);
    h = nn::Conv2D(6, 3, {.stride = {2}})(ctx, h);
    return nn::Linear(5)(ctx, nn::Flatten()(ctx, h));
  }
};

struct DropoutNet : nn::Module {
  Tensor call(nn::Context& ctx, const Tensor& x) override {
    Tensor h = nn::relu(ctx, nn::Linear(16)(ctx, nn::Flatten()(ctx, x.astype(DType::f32))));
    return nn::Linear(5)(ctx, nn::Dropout(0.3)(ctx, h));
  }
};

// The cnn main's layers: BatchNorm's moving averages are states, Dropout draws a key per step.
struct BatchNormDropoutCnn : nn::Module {
  Tensor call(nn::Context& ctx, const Tensor& x) override {
    Tensor h = nn::BatchNorm()(ctx, nn::Conv2D(4, 3)(ctx, x));
    h = nn::MaxPool(2)(ctx, nn::relu(ctx, h));
    h = nn::Dropout(0.25)(ctx, nn::Flatten()(ctx, h));
    return nn::Linear(5)(ctx, nn::Dropout(0.5)(ctx, nn::relu(ctx, nn::Linear(8)(ctx, h))));
  }
};

// A key the module derives from a drawn one: the host computes it, so it is a literal of the
// recording, and it changes every step.
struct DerivedKeyNet : nn::Module {
  Tensor call(nn::Context& ctx, const Tensor& x) override {
    Tensor h = nn::relu(ctx, nn::Linear(16)(ctx, nn::Flatten()(ctx, x.astype(DType::f32))));
    return nn::Linear(5)(ctx, dropout(fold_in(ctx.next_key(), 3), 0.3, h));
  }
};

// Keeps its hidden activation past the end of the step while `*hold` is set: that step holds
// a block longer than the one before it did.
struct HoldingNet : nn::Module {
  std::shared_ptr<bool> hold;
  std::shared_ptr<std::vector<Tensor>> kept;
  HoldingNet(std::shared_ptr<bool> h, std::shared_ptr<std::vector<Tensor>> k)
      : hold(std::move(h)), kept(std::move(k)) {}
  Tensor call(nn::Context& ctx, const Tensor& x) override {
    Tensor h = nn::relu(ctx, nn::Linear(64)(ctx, nn::Flatten()(ctx, x.astype(DType::f32))));
    kept->clear();
    if (*hold) kept->push_back(h.detached());  // (its bytes, not the tape behind it)
    return nn::Linear(5)(ctx, nn::relu(ctx, nn::Linear(64)(ctx, h)));
  }
};

struct EmbeddingNet : nn::Module {
  Tensor call(nn::Context& ctx, const Tensor& ids) override {
    return nn::Linear(5)(ctx, nn::Flatten()(ctx, nn::Embedding(11, 4)(ctx, ids)));
  }
};

using Make = std::function<ModelOptions()>;

ModelOptions mlp_options(optim::GradientTransformation opt) {
  return {.module = Mlp(),
          .loss = {losses::SparseCategoricalCrossentropy({.from_logits = true}),
                   regularizers::GlobalL2(1e-4)},
          .metrics = {metrics::SparseCategoricalAccuracy()},
          .optimizer = std::move(opt)};
}

struct Batch {
  Tensor x, y;
};

Batch image_batch(std::uint64_t seed, std::int64_t n = 8) {
  return {(random::uniform(Key(seed), {n, 6, 6}) * 255.0).astype(DType::u8),
          random::randint(Key(seed + 100), {n}, 0, 5, DType::i32)};
}

Batch float_image_batch(std::uint64_t seed, std::int64_t n = 4) {
  return {random::normal(Key(seed), {n, 10, 10, 2}),
          random::randint(Key(seed + 100), {n}, 0, 5, DType::i64)};
}

Batch id_batch(std::uint64_t seed, std::int64_t n = 6) {
  return {random::randint(Key(seed), {n, 3}, 0, 11, DType::i32),
          random::randint(Key(seed + 100), {n}, 0, 5, DType::i32)};
}

// Trains `make()` compiled and eagerly on the same batches; every step's logs and the final
// states must agree exactly.
Model train_both(const Make& make, const std::function<Batch(int)>& batch, int steps) {
  ModelOptions compiled_options = make(), eager_options = make();
  compiled_options.run_eagerly = false;
  eager_options.run_eagerly = true;
  Model compiled(std::move(compiled_options)), eager(std::move(eager_options));
  for (int step = 0; step < steps; ++step) {
    CAPTURE(step);
    const Batch b = batch(step);
    const Logs lc = compiled.train_on_batch(b.x, b.y);
    const Logs le = eager.train_on_batch(b.x, b.y);
    CHECK(lc == le);
  }
  CHECK(values_of(compiled.states()) == values_of(eager.states()));
  CHECK(eager.compiled_step_status().why_eager == "run_eagerly is set");
  return compiled;
}

}  // namespace

TEST_CASE("a compiled step gives the eager step's logs and states, bit for bit") {
  struct Case {
    const char* name;
    Make make;
  };
  const std::vector<Case> cases = {
      {"adam", [] { return mlp_options(optim::adam(1e-2)); }},
      {"adamw with a cosine schedule",
       [] { return mlp_options(optim::adamw(optim::cosine_decay_schedule(1e-2, 7), {})); }},
      {"sgd with momentum and a schedule",
       [] {
         return mlp_options(optim::sgd(optim::exponential_decay(0.1, 2, 0.5), {.momentum = 0.9}));
       }},
      {"lamb", [] { return mlp_options(optim::lamb(1e-2)); }},
  };
  for (const Case& c : cases) {
    CAPTURE(std::string(c.name));
    const Model m = train_both(
        c.make, [](int step) { return image_batch(std::uint64_t(step)); }, 9);
    const CompiledStepStatus s = m.compiled_step_status();
    CHECK(s.compiled);
    CHECK(s.why_eager.empty());
    CHECK(s.replays == 9 - 2);  // two recorded steps (the first also initialises), then replays
    CHECK(s.kernels > 10);
  }
}

TEST_CASE("a compiled step updates parameters and moments in place, copying only small states") {
  // What it copies into its state buffers after the step: the metrics' new totals and counts
  // and adam's step count, never a parameter or a moment (a tape kept alive by a recorded check
  // once made every weight a copy); and all of them in one CopyMany kernel, not a Copy each.
  const Model m = train_both([] { return mlp_options(optim::adam(1e-2)); },
                             [](int step) { return image_batch(std::uint64_t(step)); }, 4);
  const CompiledStepStatus s = m.compiled_step_status();
  REQUIRE(s.compiled);
  int copies = 0, grouped = 0;
  for (const std::string& op : s.operations) {
    copies += op.starts_with("Copy ") && op.ends_with("(compiled step)");
    grouped += op.starts_with("CopyMany ");
  }
  CHECK(copies == 0);
  CHECK(grouped == 1);
  const std::string expected = "CopyMany uint8 (compiled step, " +
                               std::to_string(m.states().metrics_states().num_leaves() + 1) +
                               " copies)";
  CHECK(std::find(s.operations.begin(), s.operations.end(), expected) != s.operations.end());
}

TEST_CASE("a compiled step's blocks are packed by lifetime") {
  const Model m = train_both([] { return mlp_options(optim::adam(1e-2)); },
                             [](int step) { return image_batch(std::uint64_t(step), 32); }, 4);
  const CompiledStepStatus s = m.compiled_step_status();
  REQUIRE(s.compiled);
  // Activations die in the backward pass, whose gradients take their bytes.
  CHECK(s.bytes < s.unpacked_bytes * 4 / 5);
  CHECK(s.bytes > 0);
}

TEST_CASE("after its first recording, a compiled step holds no more memory than an eager one") {
  // The first recording is kept only to be compared with the second: it lets go of the step's
  // activations, gradients and temporaries, so the second step does not run beside them.
  const auto in_use = [] { return cpu_allocator().stats().bytes_in_use; };
  ModelOptions compiled_options = mlp_options(optim::adam(1e-2)),
               eager_options = mlp_options(optim::adam(1e-2));
  eager_options.run_eagerly = true;
  Model compiled(std::move(compiled_options)), eager(std::move(eager_options));
  const Batch b = image_batch(1, 1024);
  const std::int64_t before_eager = in_use();
  eager.train_on_batch(b.x, b.y);
  const std::int64_t eager_holds = in_use() - before_eager;
  const std::int64_t before_compiled = in_use();
  compiled.train_on_batch(b.x, b.y);
  const std::int64_t compiled_holds = in_use() - before_compiled;
  // The compiled model keeps a private copy of the batch (its signature) besides the states.
  const std::int64_t batch_copy = 1024 * 6 * 6 + 1024 * 4;
  MESSAGE("eager holds ", eager_holds, " bytes after one step, compiled ", compiled_holds);
  CHECK(eager_holds > 0);
  CHECK(compiled_holds <= eager_holds + batch_copy + 8192);
  compiled.train_on_batch(b.x, b.y);
  CHECK(compiled.compiled_step_status().compiled);
}

TEST_CASE("a step that holds a block longer than the recording before it still replays exactly") {
  // The second recording finds the hidden activation alive where the first had let it go:
  // the blocks planned over its bytes get their own, and every step matches the eager twin.
  const auto hold = std::make_shared<bool>(false);
  const auto kept_compiled = std::make_shared<std::vector<Tensor>>();
  const auto kept_eager = std::make_shared<std::vector<Tensor>>();
  auto make = [&](bool eager) {
    return ModelOptions{.module = HoldingNet(hold, eager ? kept_eager : kept_compiled),
                        .loss = {losses::SparseCategoricalCrossentropy({.from_logits = true})},
                        .optimizer = optim::adam(1e-2),
                        .run_eagerly = eager};
  };
  Model compiled(make(false)), eager(make(true));
  for (int step = 0; step < 6; ++step) {
    CAPTURE(step);
    *hold = step == 1;  // the second recording
    const Batch b = image_batch(std::uint64_t(step), 16);
    CHECK(compiled.train_on_batch(b.x, b.y) == eager.train_on_batch(b.x, b.y));
    // What the step kept was not overwritten by the blocks made after it in the backward pass.
    if (step == 1)
      CHECK(testing::values(kept_compiled->at(0)) == testing::values(kept_eager->at(0)));
  }
  CHECK(values_of(compiled.states()) == values_of(eager.states()));
  CHECK(compiled.compiled_step_status().why_eager == "");
  CHECK(compiled.compiled_step_status().replays == 4);
}

TEST_CASE("a compiled convolutional step matches the eager one") {
  const Model m = train_both(
      [] {
        return ModelOptions{.module = Cnn(),
                            .loss = {losses::SparseCategoricalCrossentropy({.from_logits = true})},
                            .metrics = {metrics::SparseCategoricalAccuracy()},
                            .optimizer = optim::adam(1e-2)};
      },
      [](int step) { return float_image_batch(std::uint64_t(step)); }, 7);
  CHECK(m.compiled_step_status().compiled);
}

TEST_CASE("a compiled step checks each batch's labels and ids before it writes anything") {
  SUBCASE("labels out of range") {
    Model model(mlp_options(optim::adam(1e-2)));
    for (int step = 0; step < 5; ++step) model.train_on_batch(image_batch(1).x, image_batch(1).y);
    REQUIRE(model.compiled_step_status().compiled);
    const auto values = values_of(model.states());
    const auto at = addresses(model.states().net_params());
    const std::int64_t replays = model.compiled_step_status().replays;
    Batch bad = image_batch(2);
    bad.y = Tensor::from_vector(std::vector<std::int32_t>{0, 1, 2, 7, 1, 0, 3, 4}, Shape{8});
    CHECK_THROWS_WITH_AS(model.train_on_batch(bad.x, bad.y),
                         doctest::Contains("label 7 at flat index 3 is outside [0, 5)"), Error);
    CHECK(values_of(model.states()) == values);
    CHECK(addresses(model.states().net_params()) == at);
    // It trains on, still compiled, as its eager twin does.
    Model twin([] {
      ModelOptions o = mlp_options(optim::adam(1e-2));
      o.run_eagerly = true;
      return o;
    }());
    for (int step = 0; step < 5; ++step) twin.train_on_batch(image_batch(1).x, image_batch(1).y);
    const Batch good = image_batch(3);
    CHECK(model.train_on_batch(good.x, good.y) == twin.train_on_batch(good.x, good.y));
    CHECK(values_of(model.states()) == values_of(twin.states()));
    CHECK(model.compiled_step_status().replays == replays + 1);  // the failed one not counted
  }
  SUBCASE("embedding ids out of range") {
    auto make = [] {
      return ModelOptions{.module = EmbeddingNet(),
                          .loss = {losses::SparseCategoricalCrossentropy({.from_logits = true})},
                          .optimizer = optim::adam(1e-2)};
    };
    Model model = train_both(
        make, [](int step) { return id_batch(std::uint64_t(step)); }, 6);
    REQUIRE(model.compiled_step_status().compiled);
    const auto values = values_of(model.states());
    Batch bad = id_batch(9);
    std::vector<std::int32_t> ids = bad.x.to_vector<std::int32_t>();
    ids[7] = 11;
    bad.x = Tensor::from_vector(ids, bad.x.shape());
    CHECK_THROWS_AS(model.train_on_batch(bad.x, bad.y), Error);
    CHECK(values_of(model.states()) == values);
  }
}

TEST_CASE("a batch of another shape runs eagerly and the compiled step carries on") {
  auto make = [] { return mlp_options(optim::adam(1e-2)); };
  // Steps of 8 rows with a 3-row batch every fourth step (an epoch's last batch).
  const Model m = train_both(
      make, [](int step) { return image_batch(std::uint64_t(step), step % 4 == 3 ? 3 : 8); }, 13);
  const CompiledStepStatus s = m.compiled_step_status();
  CHECK(s.compiled);
  CHECK(s.replays == 8);  // steps 2, 4, 5, 6, 8, 9, 10, 12: 0 and 1 recorded, the rest were short
}

TEST_CASE("states set from outside are copied into the compiled step's buffers") {
  ModelOptions eager_options = mlp_options(optim::adam(1e-2));
  eager_options.run_eagerly = true;
  Model compiled(mlp_options(optim::adam(1e-2))), eager(std::move(eager_options));
  for (int step = 0; step < 5; ++step) {
    compiled.train_on_batch(image_batch(std::uint64_t(step)).x, image_batch(std::uint64_t(step)).y);
    eager.train_on_batch(image_batch(std::uint64_t(step)).x, image_batch(std::uint64_t(step)).y);
  }
  REQUIRE(compiled.compiled_step_status().compiled);
  compiled.reset();
  eager.reset();
  for (int step = 0; step < 3; ++step) {
    const Batch b = image_batch(std::uint64_t(20 + step));
    CHECK(compiled.train_on_batch(b.x, b.y) == eager.train_on_batch(b.x, b.y));
  }
  CHECK(values_of(compiled.states()) == values_of(eager.states()));
  CHECK(compiled.compiled_step_status().compiled);
  // The initial states were copied from, never written.
  Model fresh(mlp_options(optim::adam(1e-2)));
  fresh.init_on_batch(image_batch(0).x, image_batch(0).y);
  CHECK(values_of(compiled.initial_states()) == values_of(fresh.states()));
}

TEST_CASE("a tensor of the states a user keeps is never written by a compiled step") {
  Model model(mlp_options(optim::adam(1e-2)));
  for (int step = 0; step < 5; ++step) model.train_on_batch(image_batch(1).x, image_batch(1).y);
  REQUIRE(model.compiled_step_status().compiled);
  const Tensor w = model.states().net_params()["linear"]["w"];
  const Tensor count = model.states().optimizer_states()[0]["count"];
  const auto w_values = w.to_vector<float>();
  const auto count_value = count.item<std::int32_t>();
  for (int step = 0; step < 4; ++step) model.train_on_batch(image_batch(2).x, image_batch(2).y);
  CHECK(w.to_vector<float>() == w_values);
  CHECK(count.item<std::int32_t>() == count_value);
  CHECK(model.states().optimizer_states()[0]["count"].tensor().item<std::int32_t>() ==
        count_value + 4);
}

TEST_CASE("a step with dropout replays with keys drawn from the model's rng, as eager ones") {
  // train_both compares the logs of every step and the final states, the rng's key included:
  // each replay draws the eager step's keys and leaves the rng where the eager step does.
  SUBCASE("an MLP with dropout") {
    const Model m = train_both(
        [] {
          return ModelOptions{
              .module = DropoutNet(),
              .loss = {losses::SparseCategoricalCrossentropy({.from_logits = true})},
              .metrics = {metrics::SparseCategoricalAccuracy()},
              .optimizer = optim::adam(1e-2)};
        },
        [](int step) { return image_batch(std::uint64_t(step)); }, 7);
    const CompiledStepStatus s = m.compiled_step_status();
    CHECK(s.compiled);
    CHECK(s.replays == 7 - 2);
    // The forward mask and its backward rule use the same drawn key.
    int drawn = 0;
    for (const std::string& op : s.operations) drawn += op.find("drawn key 0") != std::string::npos;
    CHECK(drawn == 2);
  }
  SUBCASE("a CNN with BatchNorm and two Dropouts") {
    const Model m = train_both(
        [] {
          return ModelOptions{
              .module = BatchNormDropoutCnn(),
              .loss = {losses::SparseCategoricalCrossentropy({.from_logits = true})},
              .metrics = {metrics::SparseCategoricalAccuracy()},
              .optimizer = optim::adamw(1e-2, {})};
        },
        [](int step) { return float_image_batch(std::uint64_t(step)); }, 6);
    const CompiledStepStatus s = m.compiled_step_status();
    CHECK(s.compiled);
    int first = 0, second = 0;
    for (const std::string& op : s.operations) {
      first += op.find("drawn key 0") != std::string::npos;
      second += op.find("drawn key 1") != std::string::npos;
    }
    CHECK(first == 2);
    CHECK(second == 2);
  }
  SUBCASE("states (and their rng) set from outside") {
    auto make = [] {
      return ModelOptions{.module = DropoutNet(),
                          .loss = {losses::SparseCategoricalCrossentropy({.from_logits = true})},
                          .optimizer = optim::sgd(0.1),
                          .seed = 3};
    };
    ModelOptions eager_options = make();
    eager_options.run_eagerly = true;
    Model compiled(make()), eager(std::move(eager_options));
    for (int step = 0; step < 8; ++step) {
      const Batch b = image_batch(std::uint64_t(step));
      if (step == 5) {  // another rng while compiled: the replays draw from it
        compiled.set_states(compiled.states().update_rng(RngSeq(99)));
        eager.set_states(eager.states().update_rng(RngSeq(99)));
      }
      CHECK(compiled.train_on_batch(b.x, b.y) == eager.train_on_batch(b.x, b.y));
    }
    CHECK(values_of(compiled.states()) == values_of(eager.states()));
    CHECK(compiled.compiled_step_status().replays == 8 - 2);
  }
  SUBCASE("fit with validation data") {
    const Tensor x = (random::uniform(Key(5), {48, 6, 6}) * 255.0).astype(DType::u8);
    const Tensor y = random::randint(Key(6), {48}, 0, 5, DType::i32);
    std::vector<History> histories;
    for (const bool eager : {false, true}) {
      Model model(
          ModelOptions{.module = DropoutNet(),
                       .loss = {losses::SparseCategoricalCrossentropy({.from_logits = true})},
                       .metrics = {metrics::SparseCategoricalAccuracy()},
                       .optimizer = optim::adam(1e-2),
                       .run_eagerly = eager});
      histories.push_back(model.fit({.x = x,
                                     .y = y,
                                     .batch_size = 16,
                                     .epochs = 3,
                                     .verbose = 0,
                                     .validation_data = ValidationData{.x = x, .y = y}}));
      if (!eager) CHECK(model.compiled_step_status().replays == 3 * 3 - 2);
    }
    CHECK(histories[0].history == histories[1].history);
  }
}

TEST_CASE("steps that cannot be replayed run eagerly and say why") {
  SUBCASE("a key derived on the host from a drawn one") {
    const Model m = train_both(
        [] {
          return ModelOptions{
              .module = DerivedKeyNet(),
              .loss = {losses::SparseCategoricalCrossentropy({.from_logits = true})},
              .optimizer = optim::adam(1e-2)};
        },
        [](int step) { return image_batch(std::uint64_t(step)); }, 5);
    const CompiledStepStatus s = m.compiled_step_status();
    CHECK_FALSE(s.compiled);
    CHECK(s.replays == 0);
    CHECK(s.why_eager.find("its random key differs between two steps") != std::string::npos);
  }
  SUBCASE("more keys drawn than a replay binds") {
    struct ManyKeys : nn::Module {
      Tensor call(nn::Context& ctx, const Tensor& x) override {
        if (ctx.training())
          for (int i = 0; i < 5000; ++i) ctx.next_key();
        return nn::Linear(5)(ctx, nn::Flatten()(ctx, x.astype(DType::f32)));
      }
    };
    const Model m = train_both(
        [] {
          return ModelOptions{
              .module = ManyKeys(),
              .loss = {losses::SparseCategoricalCrossentropy({.from_logits = true})},
              .optimizer = optim::adam(1e-2)};
        },
        [](int step) { return image_batch(std::uint64_t(step)); }, 3);
    CHECK_FALSE(m.compiled_step_status().compiled);
    CHECK(m.compiled_step_status().why_eager.find("drawing at most 4096 keys") !=
          std::string::npos);
  }
  SUBCASE("a host read: apply_if_finite's flag") {
    const Model m =
        train_both([] { return mlp_options(optim::apply_if_finite(optim::adam(1e-2), 3)); },
                   [](int step) { return image_batch(std::uint64_t(step)); }, 5);
    const CompiledStepStatus s = m.compiled_step_status();
    CHECK_FALSE(s.compiled);
    CHECK(s.why_eager.find("the host read or wrote the values of") != std::string::npos);
  }
  SUBCASE("an override reading a value on the host") {
    struct Reading : Model {
      using Model::Model;
      int calls = 0;
      TrainStep train_step(const StepArgs& a) override {
        ++calls;
        TrainStep t = Model::train_step(a);
        if (t.logs.at("loss").item<float>() < 0) throw Error("impossible");
        return t;
      }
    };
    Reading m(mlp_options(optim::adam(1e-2)));
    for (int step = 0; step < 6; ++step) m.train_on_batch(image_batch(1).x, image_batch(1).y);
    CHECK(m.calls == 1 + 6);  // init_step, then every step ran the override
    CHECK_FALSE(m.compiled_step_status().compiled);
  }
  SUBCASE("a step that trains another model") {
    struct Outer : Model {
      using Model::Model;
      Model inner{mlp_options(optim::adam(1e-2))};
      TrainStep train_step(const StepArgs& a) override {
        if (!a.initializing) inner.train_on_batch(a.x, a.y_true);
        return Model::train_step(a);
      }
    };
    Outer m(mlp_options(optim::adam(1e-2)));
    Model twin(mlp_options(optim::adam(1e-2)));
    for (int step = 0; step < 6; ++step) {
      const Batch b = image_batch(std::uint64_t(step));
      m.train_on_batch(b.x, b.y);
      twin.train_on_batch(b.x, b.y);
    }
    CHECK_FALSE(m.compiled_step_status().compiled);  // the inner step's logs are host reads
    // The inner model ran eagerly inside the outer one's recording; once the outer model runs
    // eagerly, the inner one records (steps 1 and 2) and replays (3 to 5) on its own.
    CHECK(m.inner.compiled_step_status().replays == 3);
    CHECK(values_of(m.inner.states()) == values_of(twin.states()));
  }
}

TEST_CASE("a step whose new state is another state's old buffer runs eagerly, values right") {
  // The step hands back its last metric state as the first one's old buffer. Copied into their
  // slots in order, the first state's new value would overwrite that buffer before the last
  // state's copy reads it (on a GPU the two copies would race): such a step is not replayed,
  // and its states are taken as it made them.
  struct Aliasing : Model {
    using Model::Model;
    TrainStep train_step(const StepArgs& a) override {
      TrainStep t = Model::train_step(a);
      if (a.initializing) return t;
      std::vector<Tensor> now = t.states.metrics_states().leaves();
      now.back() = a.states.metrics_states().leaves().front();
      t.states = t.states.update("metrics_states", t.states.metrics_states().unflatten(now));
      return t;
    }
  };
  ModelOptions eager_options = mlp_options(optim::adam(1e-2));
  eager_options.run_eagerly = true;
  Aliasing compiled(mlp_options(optim::adam(1e-2))), eager(std::move(eager_options));
  for (int step = 0; step < 5; ++step) {
    CAPTURE(step);
    const Batch b = image_batch(std::uint64_t(step));
    compiled.train_on_batch(b.x, b.y);
    eager.train_on_batch(b.x, b.y);
    CHECK(values_of(compiled.states()) == values_of(eager.states()));
  }
  const std::vector<Tensor> states = compiled.states().metrics_states().leaves();
  CHECK(states.front().item<float>() != states.back().item<float>());  // the alias shows
  CHECK_FALSE(compiled.compiled_step_status().compiled);
  CHECK(compiled.compiled_step_status().why_eager == "the step's states alias each other");
}

TEST_CASE("a recording that runs out of memory leaves the step to run eagerly") {
  // A module standing in for a step too big to record: it fails as an allocator would, only
  // while the step is being recorded.
  struct Hungry : nn::Module {
    Tensor call(nn::Context& ctx, const Tensor& x) override {
      if (autodiff::StepRecording::current() != nullptr)
        throw OutOfMemoryError("cuda allocator: cudaMallocAsync of 1 bytes failed");
      return Mlp()(ctx, x);
    }
  };
  const Model model = train_both(
      [] {
        ModelOptions o = mlp_options(optim::adam(1e-2));
        o.module = Hungry();  // (the eager twin never records, so never fails)
        return o;
      },
      [](int step) { return image_batch(std::uint64_t(step)); }, 4);
  const CompiledStepStatus s = model.compiled_step_status();
  CHECK_FALSE(s.compiled);
  CHECK(s.why_eager.find("ran out of memory") != std::string::npos);
}

TEST_CASE("a test step whose recording runs out of memory runs eagerly") {
  struct HungryWhenTesting : nn::Module {
    Tensor call(nn::Context& ctx, const Tensor& x) override {
      if (autodiff::StepRecording::current() != nullptr && !ctx.training())
        throw OutOfMemoryError("cpu_allocator: out of memory allocating 1 bytes");
      return Mlp()(ctx, x);
    }
  };
  ModelOptions o = mlp_options(optim::adam(1e-2)), eager_options = mlp_options(optim::adam(1e-2));
  o.module = HungryWhenTesting();
  eager_options.run_eagerly = true;
  Model model(std::move(o)), twin(std::move(eager_options));
  for (int step = 0; step < 4; ++step) {
    const Batch b = image_batch(std::uint64_t(step));
    CHECK(model.train_on_batch(b.x, b.y) == twin.train_on_batch(b.x, b.y));
  }
  for (int step = 0; step < 3; ++step) {
    const Batch b = image_batch(std::uint64_t(50 + step));
    CHECK(model.test_on_batch(b.x, b.y) == twin.test_on_batch(b.x, b.y));
  }
  CHECK(values_of(model.states()) == values_of(twin.states()));
  CHECK(model.compiled_step_status().compiled);  // the train step replays all the same
  CHECK(model.compiled_step_status().test_replays == 0);
}

TEST_CASE("test_on_batch replays over the train step's buffers, interleaved with training") {
  ModelOptions eager_options = mlp_options(optim::adam(1e-2));
  eager_options.run_eagerly = true;
  Model compiled(mlp_options(optim::adam(1e-2))), eager(std::move(eager_options));
  for (int round = 0; round < 4; ++round) {
    CAPTURE(round);
    for (int step = 0; step < 3; ++step) {
      const Batch b = image_batch(std::uint64_t(10 * round + step));
      CHECK(compiled.train_on_batch(b.x, b.y) == eager.train_on_batch(b.x, b.y));
    }
    compiled.reset_metrics();
    eager.reset_metrics();
    for (int step = 0; step < 3; ++step) {
      const Batch b = image_batch(std::uint64_t(100 + step), 5);
      CHECK(compiled.test_on_batch(b.x, b.y) == eager.test_on_batch(b.x, b.y));
    }
    CHECK(values_of(compiled.states()) == values_of(eager.states()));
  }
  const CompiledStepStatus s = compiled.compiled_step_status();
  CHECK(s.compiled);
  CHECK(s.replays == 4 * 3 - 2);
  // The test step records in round 0 (steps 0 and 1), then replays.
  CHECK(s.test_replays == 4 * 3 - 2);

  // A bad label fails a replayed test step; the metrics' states are as they were.
  const auto values = values_of(compiled.states());
  Batch bad = image_batch(7, 5);
  bad.y = Tensor::from_vector(std::vector<std::int32_t>{0, 1, 9, 2, 3}, Shape{5});
  CHECK_THROWS_WITH_AS(compiled.test_on_batch(bad.x, bad.y),
                       doctest::Contains("label 9 at flat index 2"), Error);
  CHECK(values_of(compiled.states()) == values);
}

TEST_CASE("fit with validation data and a compiled step gives the eager history") {
  const Tensor x = (random::uniform(Key(5), {48, 6, 6}) * 255.0).astype(DType::u8);
  const Tensor y = random::randint(Key(6), {48}, 0, 5, DType::i32);
  const Tensor vx = (random::uniform(Key(7), {32, 6, 6}) * 255.0).astype(DType::u8);
  const Tensor vy = random::randint(Key(8), {32}, 0, 5, DType::i32);
  std::vector<History> histories;
  for (const bool eager : {false, true}) {
    ModelOptions o = mlp_options(optim::adam(1e-2));
    o.run_eagerly = eager;
    Model model(std::move(o));
    histories.push_back(model.fit({.x = x,
                                   .y = y,
                                   .batch_size = 16,
                                   .epochs = 4,
                                   .verbose = 0,
                                   .validation_data = ValidationData{.x = vx, .y = vy}}));
    if (!eager) {
      CHECK(model.compiled_step_status().replays == 4 * 3 - 2);
      CHECK(model.compiled_step_status().test_replays == 4 * 2 - 2);
    }
  }
  CHECK(histories[0].history.count("val_loss") == 1);
  CHECK(histories[0].history == histories[1].history);
}

TEST_CASE("fit with a compiled step gives the eager history") {
  const Tensor x = (random::uniform(Key(5), {40, 6, 6}) * 255.0).astype(DType::u8);
  const Tensor y = random::randint(Key(6), {40}, 0, 5, DType::i32);
  std::vector<History> histories;
  for (const bool eager : {false, true}) {
    ModelOptions o = mlp_options(optim::adamw(optim::cosine_decay_schedule(1e-2, 20), {}));
    o.run_eagerly = eager;
    Model model(std::move(o));
    histories.push_back(model.fit({.x = x, .y = y, .batch_size = 16, .epochs = 3, .verbose = 0}));
    // Batches of 16, 16 and 8: epoch 1 records, epochs 2 and 3 replay their two full batches
    // (reset_metrics at each epoch start is copied into the states' buffers) and run the short
    // one eagerly.
    if (!eager) CHECK(model.compiled_step_status().replays == 4);
  }
  CHECK(histories[0].history == histories[1].history);
}

TEST_CASE("cuda_graphs on a CPU model: the replay is unchanged and the status says why") {
  ModelOptions graphs_options = mlp_options(optim::adam(1e-2));
  graphs_options.cuda_graphs = true;
  Model with_graphs(std::move(graphs_options)), without(mlp_options(optim::adam(1e-2)));
  for (int step = 0; step < 5; ++step) {
    CAPTURE(step);
    const Batch b = image_batch(std::uint64_t(40 + step));
    CHECK(with_graphs.train_on_batch(b.x, b.y) == without.train_on_batch(b.x, b.y));
  }
  CHECK(values_of(with_graphs.states()) == values_of(without.states()));
  const CompiledStepStatus s = with_graphs.compiled_step_status();
  CHECK(s.replays == 3);
  CHECK(s.graphs == 0);
  CHECK(s.graph_kernels == 0);
  CHECK(s.why_no_graphs == "graphs hold a GPU's work; this step's kernels run on cpu");
  CHECK(without.compiled_step_status().why_no_graphs == "graphs are off");
}
