// check_later and DeferredChecks on the CPU: checks run at once there (the deferral is for GPU
// tensors, tests/model/model_device_test.cpp), scopes nest, and an out-of-range label of the
// probability form of the sparse cross-entropy still fails a CPU Model step with nothing changed.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <elegy/elegy.hpp>

#include "kernel_log.hpp"

using namespace elegy;

TEST_CASE("check_later runs CPU checks at once, in a scope or not") {
  const Tensor t = Tensor::from_vector(std::vector<std::int64_t>{4, -2}, Shape{2});
  std::vector<std::int64_t> seen;
  auto record = [&](std::span<const std::int64_t> v) { seen.assign(v.begin(), v.end()); };
  check_later(t, record, "test");
  CHECK(seen == std::vector<std::int64_t>{4, -2});
  seen.clear();
  {
    DeferredChecks scope;
    check_later(t, record, "test");
    CHECK(seen == std::vector<std::int64_t>{4, -2});
    scope.resolve();  // nothing pending
  }
  DeferredChecks::resolve_current();  // no scope: nothing to do
  CHECK_THROWS_WITH_AS(
      check_later(
          t, [](std::span<const std::int64_t>) { fail("test", "bad values"); }, "test"),
      doctest::Contains("bad values"), Error);
  CHECK_THROWS_WITH_AS(PendingRead(t.astype(DType::f32), "reader"),
                       doctest::Contains("reader: PendingRead takes at most 32 int32 or int64"),
                       Error);
  const Tensor narrow =
      Tensor::from_vector(std::vector<std::int32_t>{-2147483647 - 1, 2147483647, 6}, Shape{3});
  CHECK(PendingRead(narrow, "reader").values() ==
        std::vector<std::int64_t>{-2147483648LL, 2147483647, 6});
}

TEST_CASE("check_range_later reads [min, max] of any integer labels, in two kernels") {
  const std::vector<std::int64_t> v = {3, 0, 9, 4, 1, 7};
  std::vector<std::int64_t> seen;
  auto on_bad = [&](std::int64_t lo, std::int64_t hi) { seen = {lo, hi}; };
  for (DType dt : {DType::i32, DType::i64, DType::u8}) {
    CAPTURE(dt);
    const Tensor labels = reshape(Tensor::from_vector(v, Shape{6}).astype(dt), {2, 3});
    seen.clear();
    check_range_later(transpose(labels), 0, 10, on_bad, "test");  // strided: read as it is
    CHECK(seen.empty());
    check_range_later(transpose(labels), 1, 9, on_bad, "test");
    CHECK(seen == std::vector<std::int64_t>{0, 9});
    seen.clear();
    testing::KernelLog kernels;
    check_range_later(labels, 1, 9, on_bad, "test");
    CHECK(seen == std::vector<std::int64_t>{0, 9});
    // Min and Max into one vector's two slots; narrower labels are first cast to int64.
    CHECK(kernels.total() == (dt == DType::u8 ? 3 : 2));
  }
  seen.clear();
  check_range_later(Tensor::empty(Shape{0}, DType::i32), 0, 1, on_bad, "test");  // nothing
  check_range_later(Tensor::from_vector(std::vector<std::int32_t>{-4}, Shape{}), 0, 10, on_bad,
                    "test");  // 0-d
  CHECK(seen == std::vector<std::int64_t>{-4, -4});
}

TEST_CASE("an out-of-range label fails a CPU step of the probability loss; nothing changes") {
  struct Net : nn::Module {
    Tensor call(nn::Context& ctx, const Tensor& x) override {
      return softmax(nn::Linear(3)(ctx, x));
    }
  };
  Model model({.module = nn::AnyModule(Net()),
               .loss = {losses::SparseCategoricalCrossentropy()},
               .optimizer = optim::adam(1e-2)});
  const Tensor x = random::normal(Key(1), {4, 5});
  model.train_on_batch(x, Tensor::from_vector(std::vector<std::int32_t>{0, 1, 2, 0}, Shape{4}));
  const std::vector<float> w =
      model.states().net_params()["linear"]["w"].tensor().to_vector<float>();
  const Tensor bad = Tensor::from_vector(std::vector<std::int32_t>{0, 5, 2, 0}, Shape{4});
  CHECK_THROWS_WITH_AS(model.train_on_batch(x, bad),
                       doctest::Contains("label values must be in [0, 3)"), Error);
  CHECK(model.states().net_params()["linear"]["w"].tensor().to_vector<float>() == w);
}

TEST_CASE("checks of meta tensors are skipped: a one-hot embedding model has a summary") {
  bool ran = false;
  check_later(
      Tensor::empty(Shape{2}, DType::i64, Device::meta()),
      [&](std::span<const std::int64_t>) { ran = true; }, "test");
  CHECK_FALSE(ran);
  struct Net : nn::Module {
    Tensor call(nn::Context& ctx, const Tensor& ids) override {
      const Tensor e =
          nn::Embedding(10, 4, {.lookup_style = nn::EmbedLookupStyle::one_hot})(ctx, ids);
      return nn::Linear(3)(ctx, reshape(e, {e.shape(0), -1}));
    }
  };
  Model model({.module = nn::AnyModule(Net())});
  const std::string table =
      model.summary(Tensor::from_vector(std::vector<std::int32_t>(10, 3), Shape{2, 5}), 2, false);
  CHECK(table.find("Embedding") != std::string::npos);
  // On the CPU the ids are checked as before.
  model.init_on_batch(Tensor::from_vector(std::vector<std::int32_t>(5, 3), Shape{1, 5}));
  CHECK_THROWS_WITH_AS(model.predict_on_batch(Tensor::from_vector(
                           std::vector<std::int32_t>{0, 1, 2, 3, 10}, Shape{1, 5})),
                       doctest::Contains("ids must be in [0, 10), got values in [0, 10]"), Error);
}
