// Indices on a GPU checked without stopping the host: take / index_add / Embedding check their
// indices with a deferred [min, max] read (autodiff/deferred_checks.hpp), and index_add groups
// its indices on the device (a radix sort), so a training step of an embedding model waits for
// the GPU only where its checks resolve and its logs are read (cuda_host_waits() counts every
// wait). Results match the CPU bit for bit; a bad index still fails with the op's Error and
// leaves the model as it was. apply_if_finite reads one flag per step, not one per leaf. Skipped
// when no GPU is visible.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "cuda/cuda_vs_cpu.hpp"

using namespace elegy;
using namespace elegy::cuda_test;
using kernels::Op;

namespace {

const bool kNoGpu = !cuda_available();

// ids [rows, 5] of a vocabulary of 10 into an embedding of 4, flattened, then 3 logits.
struct EmbedNet : nn::Module {
  nn::EmbedLookupStyle style;
  explicit EmbedNet(nn::EmbedLookupStyle s) : style(s) {}
  Tensor call(nn::Context& ctx, const Tensor& ids) override {
    const Tensor e = nn::Embedding(10, 4, {.lookup_style = style})(ctx, ids);
    return nn::Linear(3)(ctx, reshape(e, {e.shape(0), -1}));
  }
};

Model embed_model(nn::EmbedLookupStyle style, bool run_eagerly = false) {
  return Model({.module = nn::AnyModule(EmbedNet(style)),
                .loss = {losses::SparseCategoricalCrossentropy({.from_logits = true})},
                .optimizer = optim::adam(1e-2),
                .device = Device::cuda(),
                .run_eagerly = run_eagerly});
}

Tensor ids_batch(std::uint32_t seed) {
  return random::randint(Key(seed), {8, 5}, 0, 10).astype(DType::i32);
}

Tensor labels_batch(std::uint32_t seed) {
  return random::randint(Key(seed), {8}, 0, 3).astype(DType::i32);
}

std::vector<float> host_floats(const Tensor& t) {
  return t.to(Device::cpu()).to_vector<float>();
}

}  // namespace

TEST_CASE("cuda: take and index_add wait for nothing until their checks resolve; CPU's bits" *
          doctest::skip(kNoGpu)) {
  const Tensor w_cpu = random::normal(Key(3), {50, 8});
  // Negative ids count from the end; 64 draws from 100 values repeat targets.
  const Tensor ids_cpu = random::randint(Key(4), {64}, -50, 50).astype(DType::i32);
  const Tensor upd_cpu = random::normal(Key(5), {64, 8});
  const auto loss_for = [](const Tensor& ids) {
    return [ids](const Tensor& w) { return sum(take(w, ids, 0) * take(w, ids, 0)); };
  };
  const auto [loss_cpu, grad_cpu] = value_and_grad(loss_for(ids_cpu), w_cpu);
  const Tensor added_cpu = index_add(w_cpu, ids_cpu, upd_cpu, 0);

  const Tensor w = w_cpu.to(kGpu), ids = ids_cpu.to(kGpu), upd = upd_cpu.to(kGpu);
  DeferredChecks scope;
  const std::uint64_t before = cuda_host_waits();
  const auto [loss, grad] = value_and_grad(loss_for(ids), w);
  const Tensor added = index_add(w, ids, upd, 0);
  CHECK(cuda_host_waits() == before);  // forward, backward and index_add: all queued
  scope.resolve();
  // One read per checked op (the two takes and index_add); their backward rules check nothing.
  CHECK(cuda_host_waits() - before == 3);
  check_identical(host_floats(grad), grad_cpu.to_vector<float>(), "take's gradient");
  check_identical(host_floats(added), added_cpu.to_vector<float>(), "index_add");
}

TEST_CASE("cuda: a bad index fails take / index_add at the checks, and the kernels stay in bounds" *
          doctest::skip(kNoGpu)) {
  const Tensor w = random::normal(Key(3), {7, 5}).to(kGpu);
  const Tensor bad =
      Tensor::from_vector(std::vector<std::int32_t>{1, -7, 9, -8}, Shape{4}).to(kGpu);
  // Outside a scope the check runs at once, as on the CPU; [min, max] = [-8, 9] names -8.
  CHECK_THROWS_WITH_AS(take(w, bad, 0),
                       doctest::Contains("take: index -8 is out of range for axis 0 of size 7"),
                       Error);
  CHECK_THROWS_WITH_AS(
      index_add(w, bad, ones({4, 5}, DType::f32, kGpu), 0),
      doctest::Contains("index_add: index -8 is out of range for axis 0 of size 7"), Error);
  {
    DeferredChecks scope;
    // Queued: the bad rows read as zero and add nothing meanwhile (no out-of-bounds access).
    const Tensor taken = take(w, bad, 0);
    const Tensor added = index_add(w, bad, ones({4, 5}, DType::f32, kGpu), 0);
    CHECK_THROWS_WITH_AS(scope.resolve(), doctest::Contains("take: index -8 is out of range"),
                         Error);
    const std::vector<float> t = host_floats(taken), x = host_floats(w), a = host_floats(added);
    for (int j = 0; j < 5; ++j) {
      CHECK(t[std::size_t(0 * 5 + j)] == x[std::size_t(1 * 5 + j)]);
      CHECK(t[std::size_t(1 * 5 + j)] == x[std::size_t(0 * 5 + j)]);
      CHECK(t[std::size_t(2 * 5 + j)] == 0.0f);
      CHECK(t[std::size_t(3 * 5 + j)] == 0.0f);
      CHECK(a[std::size_t(0 * 5 + j)] == x[std::size_t(0 * 5 + j)] + 1.0f);
      CHECK(a[std::size_t(1 * 5 + j)] == x[std::size_t(1 * 5 + j)] + 1.0f);
      for (int r = 2; r < 7; ++r) CHECK(a[std::size_t(r * 5 + j)] == x[std::size_t(r * 5 + j)]);
    }
  }
}

TEST_CASE("cuda: an embedding model's step waits only for its checks and its logs" *
          doctest::skip(kNoGpu)) {
  for (const auto style : {nn::EmbedLookupStyle::array_index, nn::EmbedLookupStyle::one_hot}) {
    CAPTURE(int(style));
    Model model = embed_model(style);
    model.train_on_batch(ids_batch(1), labels_batch(2));  // initialised
    const std::uint64_t before = cuda_host_waits();
    const Logs logs = model.train_on_batch(ids_batch(3), labels_batch(4));
    CHECK(std::isfinite(logs.at("loss")));
    // The ids' check, the labels' check, and the logs' one read.
    CHECK(cuda_host_waits() - before == 3);
  }
}

TEST_CASE("cuda: a compiled step replays the eager step's bits with the same waits" *
          doctest::skip(kNoGpu)) {
  for (const auto style : {nn::EmbedLookupStyle::array_index, nn::EmbedLookupStyle::one_hot}) {
    CAPTURE(int(style));
    Model compiled = embed_model(style), eager = embed_model(style, /*run_eagerly=*/true);
    for (std::uint32_t step = 0; step < 6; ++step) {
      CAPTURE(step);
      const Tensor ids = ids_batch(10 + step), labels = labels_batch(20 + step);
      const std::uint64_t before = cuda_host_waits();
      const Logs lc = compiled.train_on_batch(ids, labels);
      // A replay waits where the eager step does: the ids' check, the labels', the logs.
      if (step >= 2) CHECK(cuda_host_waits() - before == 3);
      CHECK(lc == eager.train_on_batch(ids, labels));
    }
    CHECK(compiled.compiled_step_status().compiled);
    CHECK(compiled.compiled_step_status().replays == 4);
    const auto a = compiled.states().leaves(), b = eager.states().leaves();
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i)
      CHECK(host_floats(a[i].astype(DType::f32)) == host_floats(b[i].astype(DType::f32)));
    // Bad ids fail a replayed step before it writes anything.
    const Tree params =
        compiled.states().net_params().map([](const Tensor& t) { return t.to(Device::cpu()); });
    std::vector<std::int32_t> ids = ids_batch(3).to_vector<std::int32_t>();
    ids[4] = -11;
    CHECK_THROWS_AS(compiled.train_on_batch(Tensor::from_vector(ids, Shape{8, 5}), labels_batch(4)),
                    Error);
    const auto now = compiled.states().net_params().leaves(), was = params.leaves();
    for (std::size_t i = 0; i < now.size(); ++i) CHECK(host_floats(now[i]) == host_floats(was[i]));
  }
}

TEST_CASE("cuda: out-of-range ids fail an embedding model's GPU step; nothing changes" *
          doctest::skip(kNoGpu)) {
  for (const auto style : {nn::EmbedLookupStyle::array_index, nn::EmbedLookupStyle::one_hot}) {
    CAPTURE(int(style));
    Model model = embed_model(style);
    model.train_on_batch(ids_batch(1), labels_batch(2));
    const auto on_host = [](const Tensor& t) { return t.to(Device::cpu()); };
    const Tree params = model.states().net_params().map(on_host);
    const Tree optimizer = model.states().optimizer_states().map(on_host);
    std::vector<std::int32_t> ids = ids_batch(3).to_vector<std::int32_t>();
    ids[17] = 10;
    std::string message;
    try {
      model.train_on_batch(Tensor::from_vector(ids, Shape{8, 5}), labels_batch(4));
    } catch (const Error& e) {
      message = e.what();
    }
    CAPTURE(message);
    CHECK(message.find(style == nn::EmbedLookupStyle::array_index
                           ? "take: index 10 is out of range for axis 0 of size 10"
                           : "ids must be in [0, 10), got values in [") != std::string::npos);
    const auto same = [](const Tree& a, const Tree& b) {
      const auto la = a.leaves(), lb = b.leaves();
      REQUIRE(la.size() == lb.size());
      for (std::size_t i = 0; i < la.size(); ++i)
        if (host_floats(la[i].astype(DType::f32)) != host_floats(lb[i].astype(DType::f32)))
          return false;
      return true;
    };
    CHECK(same(model.states().net_params(), params));
    CHECK(same(model.states().optimizer_states(), optimizer));
  }
}

TEST_CASE("cuda: Take and ScatterAdd told the caller checks make bad indices harmless, no wait" *
          doctest::skip(kNoGpu)) {
  const std::vector<float> x_values = make_values<float>(35, 1, Values::general, 0);
  const Tensor x = Tensor::from_vector(x_values, Shape{7, 5}, kGpu);
  const Tensor idx =
      Tensor::from_vector(std::vector<std::int64_t>{2, 40, -1, -9, 2}, Shape{5}, kGpu);
  Tensor taken = poisoned(Shape{5, 5}, DType::f32);
  kernels::KernelArgs args;
  args.out = autodiff::buffer_view(taken);
  args.in[0] = autodiff::buffer_view(x);
  args.in[1] = autodiff::buffer_view(idx);
  args.num_inputs = 2;
  args.ints[1] = 1;
  args.device = args.in_device = kGpu;
  const std::uint64_t before = cuda_host_waits();
  kernels::run("take", Op::Take, DType::f32, args);
  Tensor acc = Tensor::from_vector(x_values, Shape{7, 5}, kGpu);
  const Tensor upd = ones({5, 5}, DType::f32, kGpu);
  args.out = autodiff::buffer_view(acc);
  args.in[0] = autodiff::buffer_view(upd);
  kernels::run("index_add", Op::ScatterAdd, DType::f32, args);
  CHECK(cuda_host_waits() == before);
  const std::vector<float> t = host_floats(taken), a = host_floats(acc);
  for (int j = 0; j < 5; ++j) {
    CHECK(t[std::size_t(j)] == x_values[std::size_t(2 * 5 + j)]);
    CHECK(t[std::size_t(5 + j)] == 0.0f);
    CHECK(t[std::size_t(10 + j)] == x_values[std::size_t(6 * 5 + j)]);
    CHECK(t[std::size_t(15 + j)] == 0.0f);
    CHECK(t[std::size_t(20 + j)] == x_values[std::size_t(2 * 5 + j)]);
    for (int r = 0; r < 7; ++r) {
      const float added = r == 2 ? 2.0f : r == 6 ? 1.0f : 0.0f;
      CHECK(a[std::size_t(r * 5 + j)] == x_values[std::size_t(r * 5 + j)] + added);
    }
  }
}

TEST_CASE("cuda: apply_if_finite reads one flag per update, whatever the number of leaves" *
          doctest::skip(kNoGpu)) {
  const auto opt = optim::apply_if_finite(optim::sgd(1.0), 1);
  const auto one = [] { return ones({3, 4}, DType::f32, kGpu); };
  const Tree params{{"a", one()}, {"b", one()}, {"c", one()}, {"d", one()}};
  const optim::OptState state = opt.init(params);
  Tree grads = params.map([](const Tensor& p) { return p * 0.5; });
  std::uint64_t before = cuda_host_waits();
  optim::UpdateResult r = opt.update(grads, state, params);
  CHECK(cuda_host_waits() - before == 1);
  CHECK(host_floats(r.updates["c"].tensor()) == std::vector<float>(12, -0.5f));
  std::vector<float> nan_in_c(12, 0.5f);
  nan_in_c[5] = NAN;
  grads["c"] = Tensor::from_vector(nan_in_c, Shape{3, 4}, kGpu);
  before = cuda_host_waits();
  r = opt.update(grads, state, params);
  CHECK(cuda_host_waits() - before == 1);
  CHECK(r.state["last_finite"].tensor().item<bool>() == false);
  for (const char* name : {"a", "b", "c", "d"})
    CHECK(host_floats(r.updates[name].tensor()) == std::vector<float>(12, 0.0f));
}

TEST_CASE("cuda: float labels are checked without a wait until the checks resolve" *
          doctest::skip(kNoGpu)) {
  const Tensor logits = random::normal(Key(8), {4, 3}).to(kGpu);
  const Tensor labels =
      Tensor::from_vector(std::vector<float>{0.0f, 2.5f, 1.0f, 0.5f}, Shape{4}, kGpu);
  DeferredChecks scope;
  const std::uint64_t before = cuda_host_waits();
  const Tensor loss = losses::SparseCategoricalCrossentropy({.from_logits = true})(labels, logits);
  CHECK(cuda_host_waits() == before);
  CHECK_THROWS_WITH_AS(scope.resolve(), doctest::Contains("holds 2 non-integer values"), Error);
}
