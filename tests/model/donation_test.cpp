// Donated states (ModelOptions::donate_states): train_on_batch and fit let the default
// train_step update parameters and optimizer states in place. The values are those of a model
// that copies, bit for bit; a States copy a user keeps is never written; a failing step leaves
// the states as they were. These run eagerly (the compiled step's own cases are in
// compiled_step_test.cpp), except where said.
#include <doctest/doctest.h>

#include <vector>

#include <elegy/elegy.hpp>

#include "../grad_check.hpp"

using namespace elegy;

namespace {

struct Net : nn::Module {
  Tensor call(nn::Context& ctx, const Tensor& x) override {
    return nn::Linear(3)(ctx, nn::relu(ctx, nn::Linear(40)(ctx, x)));
  }
};

ModelOptions options(bool donate, bool run_eagerly = true) {
  return {.module = Net(),
          .loss = {losses::SparseCategoricalCrossentropy({.from_logits = true})},
          .metrics = {metrics::SparseCategoricalAccuracy()},
          .optimizer = optim::adam(1e-2),
          .donate_states = donate,
          .run_eagerly = run_eagerly};
}

struct Batch {
  Tensor x, y;
  explicit Batch(std::uint64_t seed)
      : x(random::normal(Key(seed), {16, 5})), y(random::randint(Key(seed + 1), {16}, 0, 3)) {}
};

using testing::addresses;
using testing::values_of;

// Every field's values (the rng is compared through its key).
std::vector<std::vector<std::vector<double>>> values_of(const States& s) {
  std::vector<std::vector<std::vector<double>>> out;
  for (const std::string& field : s.fields())
    if (field != "rng") out.push_back(values_of(s[field]));
  return out;
}

// The adam moments of a model's optimizer state.
Tree moments(const Model& m) {
  return Tree{{"mu", m.states().optimizer_states()[0]["mu"]},
              {"nu", m.states().optimizer_states()[0]["nu"]}};
}

}  // namespace

TEST_CASE("donated steps write params and moments in place, with a copying model's values") {
  Model donating(options(true)), copying(options(false));
  for (int step = 0; step < 4; ++step) {
    const Batch b(10 + std::uint64_t(step));
    const auto params_at = addresses(donating.states().net_params());
    const auto moments_at = step > 0 ? addresses(moments(donating)) : params_at;
    const auto copying_at = addresses(copying.states().net_params());
    const Logs ld = donating.train_on_batch(b.x, b.y);
    const Logs lc = copying.train_on_batch(b.x, b.y);
    CHECK(ld == lc);
    CHECK(values_of(donating.states()) == values_of(copying.states()));
    CHECK(donating.states().rng() == copying.states().rng());
    // Step 0 initialises, and initial_states shares the first buffers, so that step writes
    // fresh ones; from step 1 on the model alone holds its params and moments.
    if (step >= 1) {
      CHECK(addresses(donating.states().net_params()) == params_at);
      CHECK(addresses(moments(donating)) == moments_at);
    }
    if (step >= 1) CHECK(addresses(copying.states().net_params()) != copying_at);
  }
  // initial_states kept its values: reset() goes back to them.
  Model fresh(options(false));
  fresh.init_on_batch(Batch(10).x, Batch(10).y);
  CHECK(values_of(donating.initial_states().net_params()) ==
        values_of(fresh.states().net_params()));
}

TEST_CASE("a States copy a user keeps is never written by a donated step") {
  for (const bool eager : {true, false}) {  // the compiled step writes in place too
    CAPTURE(eager);
    Model model(options(true, eager));
    for (int step = 0; step < 4; ++step) model.train_on_batch(Batch(20).x, Batch(20).y);
    CHECK(model.compiled_step_status().compiled == !eager);
    const States kept = model.states();
    const auto kept_values = values_of(kept);
    const Batch b(21);
    model.train_on_batch(b.x, b.y);
    CHECK(values_of(kept) == kept_values);
    CHECK(values_of(model.states().net_params()) != values_of(kept.net_params()));
    CHECK(addresses(model.states().net_params()) != addresses(kept.net_params()));
    // A single tensor kept is enough to keep its buffer from being written.
    const Tensor w = model.states().net_params()["linear"]["w"];
    const auto w_values = w.to_vector<float>();
    for (int step = 0; step < 4; ++step) model.train_on_batch(b.x, b.y);
    CHECK(w.to_vector<float>() == w_values);
  }
}

TEST_CASE("a failing donated step leaves the states as they were") {
  // Bad logs or bad gradients, chosen per call; nothing else differs from the default steps.
  struct Faulty : Model {
    using Model::Model;
    bool bad_log = false, bad_grads = false;
    TestStep test_step(const StepArgs& a) override {
      TestStep t = Model::test_step(a);
      if (bad_log) t.logs["bad"] = ones({2});
      return t;
    }
    GradStep grad_step(const StepArgs& a) override {
      GradStep g = Model::grad_step(a);
      if (bad_grads) {  // drop one parameter's gradient: the optimizer raises
        Tree::Map fewer = g.grads.items();
        fewer.erase(fewer.begin());
        g.grads = Tree::from_map(fewer);
      }
      return g;
    }
  };
  Faulty model(options(true));
  for (int step = 0; step < 3; ++step) model.train_on_batch(Batch(30).x, Batch(30).y);
  // Compared by value and address, holding no copy (a copy would turn donation off).
  const auto values = values_of(model.states());
  const auto params_at = addresses(model.states().net_params());
  const RngSeq rng = model.states().rng();
  const Batch b(31);
  model.bad_log = true;
  CHECK_THROWS_WITH_AS(model.train_on_batch(b.x, b.y), doctest::Contains("log 'bad'"), Error);
  CHECK(values_of(model.states()) == values);
  CHECK(model.states().rng() == rng);
  model.bad_log = false;
  model.bad_grads = true;
  CHECK_THROWS_AS(model.train_on_batch(b.x, b.y), Error);
  CHECK(values_of(model.states()) == values);
  CHECK(addresses(model.states().net_params()) == params_at);
  // The model trains on, in place, as if nothing had happened.
  model.bad_grads = false;
  Model twin(options(true));
  for (int step = 0; step < 3; ++step) twin.train_on_batch(Batch(30).x, Batch(30).y);
  model.train_on_batch(b.x, b.y);
  twin.train_on_batch(b.x, b.y);
  CHECK(values_of(model.states()) == values_of(twin.states()));
  CHECK(addresses(model.states().net_params()) == params_at);
}

TEST_CASE("an override calling Model::train_step finds the new values in its args") {
  struct Wrapper : Model {
    using Model::Model;
    bool args_hold_new_params = false;
    TrainStep train_step(const StepArgs& a) override {
      TrainStep t = Model::train_step(a);
      if (!a.initializing)
        args_hold_new_params = values_of(a.states.net_params()) == values_of(t.states.net_params());
      return t;
    }
  };
  for (bool donate : {true, false}) {
    INFO("donate_states = " << donate);
    Wrapper model(options(donate));
    for (int step = 0; step < 3; ++step) model.train_on_batch(Batch(40).x, Batch(40).y);
    // Donated, the args' params were updated in place (torch.optim's view); otherwise they are
    // the old values.
    CHECK(model.args_hold_new_params == donate);
    CHECK(model.states().net_params().num_leaves() == 4);
  }
}

TEST_CASE("an override failing after Model::train_step leaves valid states that train on") {
  struct Rejecting : Model {
    using Model::Model;
    bool reject = false;
    TrainStep train_step(const StepArgs& a) override {
      TrainStep t = Model::train_step(a);
      if (reject) throw Error("rejected");
      return t;
    }
  };
  Rejecting model(options(true)), twin(options(true));
  for (int step = 0; step < 3; ++step) {
    model.train_on_batch(Batch(50).x, Batch(50).y);
    twin.train_on_batch(Batch(50).x, Batch(50).y);
  }
  const auto metrics_before = values_of(model.states().metrics_states());
  model.reject = true;
  const Batch b(51);
  CHECK_THROWS_WITH_AS(model.train_on_batch(b.x, b.y), "rejected", Error);
  // The update was written in place, so the model keeps it (as the option documents); the other
  // states are as they were.
  twin.train_on_batch(b.x, b.y);
  CHECK(values_of(model.states().net_params()) == values_of(twin.states().net_params()));
  CHECK(values_of(model.states().optimizer_states()) ==
        values_of(twin.states().optimizer_states()));
  CHECK(values_of(model.states().metrics_states()) == metrics_before);
  model.reject = false;
  CHECK_NOTHROW(model.train_on_batch(b.x, b.y));
  CHECK(model.states().net_params().num_leaves() == 4);
}
