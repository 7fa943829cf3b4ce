// ModelOptions::device: batches are copied to the model's device, so parameters, optimizer and
// metric states are created there, and fit / evaluate / predict run unchanged. On the CPU the
// option must change nothing (same bits as without it); on a GPU (skipped when none is visible)
// training matches the CPU run to float32 rounding; asking for a GPU that is not there is an
// Error that leaves the model as it was.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include <elegy/elegy.hpp>

#include "../kernel_log.hpp"

using namespace elegy;

namespace {

struct SmallNet : nn::Module {
  Tensor call(nn::Context& ctx, const Tensor& x) override {
    const Tensor h = nn::Linear(16, {.activation = FusedActivation::relu})(ctx, x);
    return nn::Linear(3)(ctx, nn::Dropout(0.25)(ctx, h));
  }
};

Model make_model(std::optional<Device> device) {
  return Model({.module = nn::AnyModule(SmallNet()),
                .loss = {losses::SparseCategoricalCrossentropy({.from_logits = true})},
                .metrics = {metrics::SparseCategoricalAccuracy()},
                .optimizer = optim::adam(1e-2),
                .device = device});
}

struct Data {
  Tensor x = random::normal(Key(5), {96, 8});
  Tensor y = random::randint(Key(6), {96}, 0, 3).astype(DType::i32);
};

// The largest |a - b| over every leaf of two trees of one structure, on the host.
double max_abs_diff(const Tree& a, const Tree& b) {
  REQUIRE(Tree::structure_difference(a, b).empty());
  double worst = 0.0;
  const auto la = a.leaves(), lb = b.leaves();
  for (std::size_t i = 0; i < la.size(); ++i) {
    const auto va = la[i].to(Device::cpu()).astype(DType::f64).to_vector<double>();
    const auto vb = lb[i].to(Device::cpu()).astype(DType::f64).to_vector<double>();
    REQUIRE(va.size() == vb.size());
    for (std::size_t j = 0; j < va.size(); ++j) worst = std::max(worst, std::abs(va[j] - vb[j]));
  }
  return worst;
}

History train(Model& model, const Data& d) {
  return model.fit({.x = d.x,
                    .y = d.y,
                    .batch_size = 32,
                    .epochs = 3,
                    .verbose = 0,
                    .validation_data = {{d.x, d.y}}});
}

}  // namespace

TEST_CASE("a CPU model device changes nothing") {
  const Data d;
  Model plain = make_model(std::nullopt), on_cpu = make_model(Device::cpu());
  const History hp = train(plain, d), hc = train(on_cpu, d);
  CHECK(hp.history.at("loss") == hc.history.at("loss"));
  CHECK(hp.history.at("val_sparse_categorical_accuracy") ==
        hc.history.at("val_sparse_categorical_accuracy"));
  CHECK(max_abs_diff(plain.states().net_params(), on_cpu.states().net_params()) == 0.0);
  CHECK(max_abs_diff(plain.predict({.x = d.x, .verbose = 0}),
                     on_cpu.predict({.x = d.x, .verbose = 0})) == 0.0);
}

TEST_CASE("a model on a GPU that is not there raises an Error and stays as it was" *
          doctest::skip(cuda_available())) {
  const Data d;
  Model model = make_model(Device::cuda());
  std::string message;
  try {
    train(model, d);
  } catch (const Error& e) {
    message = e.what();
  }
  CAPTURE(message);
  CHECK(message.find("cuda:0") != std::string::npos);
  CHECK_FALSE(model.initialized());
  CHECK(model.states().net_params().is_none());
}

TEST_CASE("cuda: a model on the GPU trains as on the CPU" * doctest::skip(!cuda_available())) {
  const Data d;
  Model cpu = make_model(Device::cpu()), gpu = make_model(Device::cuda());
  const History hc = train(cpu, d), hg = train(gpu, d);
  // Parameters, optimizer and metric states live on the GPU.
  for (const char* field : {"net_params", "optimizer_states", "metrics_states"})
    for (const Tensor& t : gpu.states()[field].leaves())
      if (t.numel() > 1) CHECK(t.device() == Device::cuda());
  // Same batches, same dropout masks (counter-based keys): the runs agree to f32 rounding.
  const auto& lc = hc.history.at("loss");
  const auto& lg = hg.history.at("loss");
  REQUIRE(lc.size() == lg.size());
  for (std::size_t i = 0; i < lc.size(); ++i) CHECK(lg[i] == doctest::Approx(lc[i]).epsilon(1e-4));
  CHECK(max_abs_diff(cpu.states().net_params(), gpu.states().net_params()) < 1e-4);
  const Tree pred = gpu.predict({.x = d.x, .verbose = 0});
  CHECK(max_abs_diff(cpu.predict({.x = d.x, .verbose = 0}), pred) < 1e-4);
}

TEST_CASE("cuda: out-of-range labels fail the GPU step with the loss's Error; nothing changes" *
          doctest::skip(!cuda_available())) {
  // On a GPU the label check is deferred (no sync between forward and backward) and run before
  // the donated optimizer update writes in place, or the test step's states are kept.
  const Data d;
  for (bool donate : {true, false}) {
    CAPTURE(donate);
    Model model({.module = nn::AnyModule(SmallNet()),
                 .loss = {losses::SparseCategoricalCrossentropy({.from_logits = true})},
                 .metrics = {metrics::SparseCategoricalAccuracy()},
                 .optimizer = optim::adam(1e-2),
                 .device = Device::cuda(),
                 .donate_states = donate});
    const Tensor x = d.x.slice(0, 8);
    REQUIRE(x.shape(0) == 8);
    model.train_on_batch(x, d.y.slice(0, 8));  // initialised, one good step
    const States before = model.states();
    // Copies on the host: with donation the step would write over the GPU buffers themselves.
    const auto on_host = [](const Tensor& t) { return t.to(Device::cpu()); };
    const Tree params_before = before.net_params().map(on_host);
    const Tree optimizer_before = before.optimizer_states().map(on_host);
    const Tensor bad =
        Tensor::from_vector(std::vector<std::int32_t>{0, 1, 2, 3, 0, 1, 2, 0}, Shape{8});
    for (int pass = 0; pass < 2; ++pass) {
      std::string message;
      try {
        if (pass == 0)
          model.train_on_batch(x, bad);
        else
          model.test_on_batch(x, bad);
      } catch (const Error& e) {
        message = e.what();
      }
      CAPTURE(message);
      CHECK(message.find("label values must be in [0, 3)") != std::string::npos);
      CHECK(message.find(", got 3") != std::string::npos);
      CHECK(max_abs_diff(model.states().net_params(), params_before) == 0.0);
      CHECK(max_abs_diff(model.states().optimizer_states(), optimizer_before) == 0.0);
    }
    // The model still trains.
    const Logs logs = model.train_on_batch(x, d.y.slice(0, 8));
    CHECK(std::isfinite(logs.at("loss")));
  }
}

TEST_CASE("cuda: PendingRead brings a device tensor's values back" *
          doctest::skip(!cuda_available())) {
  const Tensor t =
      arange(5, DType::i64).to(Device::cuda()) * scalar(3.0, DType::i64, Device::cuda());
  PendingRead read(t, "test");
  CHECK(read.values() == std::vector<std::int64_t>{0, 3, 6, 9, 12});
  CHECK(read.values() == std::vector<std::int64_t>{0, 3, 6, 9, 12});  // once is enough
  // A strided source is made dense first.
  const Tensor m = reshape(arange(6, DType::i64), {2, 3}).to(Device::cuda());
  CHECK(PendingRead(transpose(m), "test").values() == std::vector<std::int64_t>{0, 3, 1, 4, 2, 5});
  // int32 values land in half the bytes and are widened on the host, signs and extremes kept.
  const std::vector<std::int32_t> narrow = {-7, 2147483647, -2147483647 - 1, 0, 5};
  const Tensor n32 = Tensor::from_vector(narrow, Shape{5}).to(Device::cuda());
  CHECK(PendingRead(n32, "test").values() ==
        std::vector<std::int64_t>{-7, 2147483647, -2147483648LL, 0, 5});
}

TEST_CASE("cuda: a label range check reads [min, max] of int32 labels, no cast" *
          doctest::skip(!cuda_available())) {
  const Tensor labels =
      Tensor::from_vector(std::vector<std::int32_t>{3, 0, 9, 4, 1, 7}, Shape{2, 3})
          .to(Device::cuda());
  std::vector<std::int64_t> strided_range, dense_range;
  DeferredChecks scope;
  testing::KernelLog kernels;
  check_range_later(
      transpose(labels), 1, 9,
      [&](std::int64_t lo, std::int64_t hi) {
        strided_range = {lo, hi};
      },
      "test");
  check_range_later(
      labels, 0, 10,
      [&](std::int64_t lo, std::int64_t hi) {
        dense_range = {lo, hi};
      },
      "test");
  kernels.stop();
  scope.resolve();
  CHECK(strided_range == std::vector<std::int64_t>{0, 9});  // read through its strides
  CHECK(dense_range.empty());                               // in range: not called
  // Min and Max per check, into one vector: no cast, no stack.
  CHECK(kernels.total() == 4);
  CHECK(kernels.count(kernels::Op::Min) == 2);
  CHECK(kernels.count(kernels::Op::Max) == 2);
}
