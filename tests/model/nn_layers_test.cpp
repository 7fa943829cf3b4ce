// The layers built on the conv, pool, normalisation, dropout and attention ops: output shapes
// for each padding/stride, parameter shapes, train vs eval behaviour, moving averages, masks,
// and gradients through whole layers by finite differences.
#include <doctest/doctest.h>

#include <cmath>

#include <elegy/elegy.hpp>

#include "../grad_check.hpp"

using namespace elegy;
using namespace elegy::testing;

namespace {

nn::Context init_ctx(std::uint64_t seed = 0) {
  return nn::Context(Tree(), Tree(), RngSeq(seed), {.initializing = true});
}
nn::Context apply_ctx(const nn::Context& from, bool training, std::uint64_t seed = 1) {
  return nn::Context(from.params(), from.states(), RngSeq(seed), {.training = training});
}

}  // namespace

TEST_CASE("nn::Conv2D/Conv1D: shapes for same/valid padding, stride, dilation and groups") {
  nn::Context ctx = init_ctx();
  const Tensor x = ones({2, 9, 7, 4});
  CHECK(nn::Conv2D(8, 3)(ctx, x).shape() == Shape{2, 9, 7, 8});
  CHECK(ctx.params()["conv2_d/w"].tensor().shape() == Shape{3, 3, 4, 8});
  CHECK(ctx.params()["conv2_d/b"].tensor().shape() == Shape{8});
  CHECK(nn::Conv2D(8, 3, {.padding = Padding::valid})(ctx, x).shape() == Shape{2, 7, 5, 8});
  CHECK(nn::Conv2D(8, 3, {.stride = {2}})(ctx, x).shape() == Shape{2, 5, 4, 8});
  CHECK(nn::Conv2D(8, {3, 1}, {.stride = {1, 2}, .padding = Padding::valid})(ctx, x).shape() ==
        Shape{2, 7, 4, 8});
  CHECK(nn::Conv2D(6, 3, {.rate = {2}, .padding = Padding::valid})(ctx, x).shape() ==
        Shape{2, 5, 3, 6});
  nn::Context g = init_ctx();
  CHECK(nn::Conv2D(8, 3, {.groups = 2})(g, x).shape() == Shape{2, 9, 7, 8});
  CHECK(g.params()["conv2_d/w"].tensor().shape() == Shape{3, 3, 2, 8});
  nn::Context one = init_ctx();
  CHECK(nn::Conv1D(5, 3)(one, ones({2, 10, 3})).shape() == Shape{2, 10, 5});
  CHECK(one.params()["conv1_d/w"].tensor().shape() == Shape{3, 3, 5});
  // Bad input names the module and what it expected.
  CHECK_THROWS_WITH_AS(nn::Conv2D(8, 3)(ctx, ones({9, 7, 4})),
                       doctest::Contains("expects [N, H, W, C] (channels last)"), Error);
  CHECK_THROWS_WITH_AS(nn::Conv2D(8, 3, {.groups = 3})(ctx, x),
                       doctest::Contains("must be a multiple of groups"), Error);
}

TEST_CASE("nn::Conv2D equals the conv op with its own parameters (+ bias)") {
  nn::Context ctx = init_ctx(3);
  const Tensor x = host_uniform({2, 5, 5, 3}, 4).astype(DType::f32);
  const Tensor y = nn::Conv2D(4, 3, {.b_init = initializers::constant(0.5)})(ctx, x);
  ConvOptions op;
  op.padding = {{1, 1}, {1, 1}};
  const Tensor ref = conv(x, ctx.params()["conv2_d/w"].tensor(), op) + 0.5;
  const std::vector<double> a = values(y), b = values(ref);
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i] == doctest::Approx(b[i]).epsilon(1e-6));
}

TEST_CASE("nn::ConvTranspose2D upsamples to input * stride with same padding") {
  nn::Context ctx = init_ctx();
  CHECK(nn::ConvTranspose2D(3, 3, {.stride = {2}})(ctx, ones({1, 4, 5, 6})).shape() ==
        Shape{1, 8, 10, 3});
  CHECK(ctx.params()["conv_transpose2_d/w"].tensor().shape() == Shape{3, 3, 6, 3});
  CHECK(nn::ConvTranspose2D(3, 3, {.stride = {2}, .padding = Padding::valid})(ctx, ones({1, 4, 5, 6}))
            .shape() == Shape{1, 9, 11, 3});
}

TEST_CASE("nn pooling: window/stride/padding shapes and global pooling values") {
  nn::Context ctx = init_ctx();
  const Tensor x = reshape(arange(0.0, 2.0 * 4 * 4 * 3, 1.0), {2, 4, 4, 3});
  CHECK(nn::MaxPool(2)(ctx, x).shape() == Shape{2, 2, 2, 3});
  CHECK(nn::AvgPool(3, {.strides = {1}, .padding = Padding::same})(ctx, x).shape() ==
        Shape{2, 4, 4, 3});
  CHECK(nn::MaxPool(3, {.strides = {2}})(ctx, x).shape() == Shape{2, 1, 1, 3});
  // Max of the first 2x2 window of channel 0: elements (0,0),(0,1),(1,0),(1,1) -> 0,3,12,15.
  CHECK(nn::MaxPool(2)(ctx, x).to_vector<float>()[0] == 15.0f);
  CHECK(nn::AvgPool(2)(ctx, x).to_vector<float>()[0] == 7.5f);
  const Tensor gap = nn::GlobalAvgPool()(ctx, x);
  CHECK(gap.shape() == Shape{2, 3});
  CHECK(gap.to_vector<float>()[0] == doctest::Approx(22.5));  // mean of 0, 3, ..., 45
  CHECK(nn::GlobalMaxPool(true)(ctx, x).shape() == Shape{2, 1, 1, 3});
  CHECK_THROWS_WITH_AS(nn::MaxPool(2)(ctx, ones({4, 4})), doctest::Contains("channels last"), Error);
}

TEST_CASE("nn::BatchNorm: batch statistics in training, debiased moving averages in eval") {
  const Tensor x = host_uniform({16, 3}, 5, 1.0, 3.0).astype(DType::f32);
  nn::Context init = init_ctx();
  nn::BatchNorm bn;
  bn(init, x);
  CHECK(init.params()["batch_norm/scale"].tensor().shape() == Shape{1, 3});
  CHECK(init.states()["batch_norm/mean"].tensor().shape() == Shape{1, 3});
  // Initializing does not move the averages.
  CHECK(values(init.states()["batch_norm/counter"].tensor()) == std::vector<double>{0.0});
  nn::Context train = apply_ctx(init, true);
  const Tensor y = bn(train, x);
  // Normalised with the batch's own statistics: zero mean, unit (biased) variance per channel.
  const std::vector<double> m = values(mean(y, 0)), v = values(var(y, 0));
  for (int c = 0; c < 3; ++c) {
    CHECK(m[std::size_t(c)] == doctest::Approx(0.0).epsilon(1e-5).scale(1));
    CHECK(v[std::size_t(c)] == doctest::Approx(1.0).epsilon(1e-3));
  }
  // After one step the debiased averages equal the batch statistics exactly.
  const std::vector<double> avg = values(train.states()["batch_norm/mean"].tensor());
  const std::vector<double> batch_mean = values(mean(x, 0));
  for (int c = 0; c < 3; ++c) CHECK(avg[std::size_t(c)] == doctest::Approx(batch_mean[std::size_t(c)]).epsilon(1e-5));
  // Evaluation uses the averages: the same batch normalises to the same values.
  nn::Context eval = apply_ctx(train, false);
  const std::vector<double> ye = values(bn(eval, x)), yt = values(y);
  for (std::size_t i = 0; i < ye.size(); ++i) CHECK(ye[i] == doctest::Approx(yt[i]).epsilon(1e-3));
  CHECK(values(eval.states()["batch_norm/counter"].tensor()) == std::vector<double>{1.0});
}

TEST_CASE("nn::LayerNorm normalises each example over the last axis") {
  nn::Context ctx = init_ctx();
  const Tensor x = host_uniform({4, 6}, 8, -2.0, 5.0).astype(DType::f32);
  const Tensor y = nn::LayerNorm()(ctx, x);
  CHECK(ctx.params()["layer_norm/scale"].tensor().shape() == Shape{6});
  const std::vector<double> m = values(mean(y, -1)), v = values(var(y, -1));
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(std::abs(m[i]) < 1e-5);
    CHECK(v[i] == doctest::Approx(1.0).epsilon(1e-3));
  }
}

TEST_CASE("nn::Dropout: on in training (reproducible from the key), off in evaluation") {
  const Tensor x = ones({1000});
  nn::Context a(Tree(), Tree(), RngSeq(3), {.training = true});
  nn::Context b(Tree(), Tree(), RngSeq(3), {.training = true});
  const std::vector<double> ya = values(nn::Dropout(0.25)(a, x));
  CHECK(ya == values(nn::Dropout(0.25)(b, x)));
  int kept = 0;
  for (double v : ya) {
    CHECK((v == 0.0 || v == doctest::Approx(1.0 / 0.75)));
    kept += v != 0.0;
  }
  CHECK(kept > 700);
  CHECK(kept < 800);
  nn::Context eval(Tree(), Tree(), RngSeq(3), {.training = false});
  CHECK(values(nn::Dropout(0.25)(eval, x)) == values(x));
}

TEST_CASE("nn::MultiHeadAttention: shapes, parameters, masking and gradients") {
  nn::Context ctx = init_ctx(4);
  nn::MultiHeadAttention mha(4, 2);
  const Tensor q = host_uniform({2, 3, 5}, 1).astype(DType::f32);
  const Tensor kv = host_uniform({2, 6, 7}, 2).astype(DType::f32);
  const Tensor out = mha(ctx, q, kv);
  CHECK(out.shape() == Shape{2, 3, 5});
  CHECK(ctx.params()["multi_head_attention/query_kernel"].tensor().shape() == Shape{5, 2, 4});
  CHECK(ctx.params()["multi_head_attention/key_kernel"].tensor().shape() == Shape{7, 2, 4});
  CHECK(ctx.params()["multi_head_attention/projection_kernel"].tensor().shape() == Shape{2, 4, 5});
  // Masking all but the first key makes the output independent of the other keys' values.
  Tensor mask = zeros({2, 3, 6}, DType::bool_);
  mask = where(arange(6, DType::i32) == 0, ones({2, 3, 6}, DType::bool_), mask);
  nn::Context c1 = apply_ctx(ctx, false), c2 = apply_ctx(ctx, false);
  const Tensor kv2 = where(reshape(arange(6, DType::i32), {1, 6, 1}) == 0, kv, kv * 3.0);
  const std::vector<double> o1 = values(mha(c1, q, kv, std::nullopt, mask));
  const std::vector<double> o2 = values(mha(c2, q, kv2, std::nullopt, mask));
  for (std::size_t i = 0; i < o1.size(); ++i) CHECK(o1[i] == doctest::Approx(o2[i]).epsilon(1e-5));

  // dot_product_attention against a hand computation: one query, two keys.
  const Tensor qq = Tensor::from_vector<double>({1.0, 0.0}, {1, 2});
  const Tensor kk = Tensor::from_vector<double>({1.0, 0.0, 0.0, 1.0}, {2, 2});
  const Tensor vv = Tensor::from_vector<double>({10.0, 20.0}, {2, 1});
  const double w0 = std::exp(1.0 / std::sqrt(2.0)), w1 = 1.0;
  CHECK(dot_product_attention(qq, kk, vv).item<double>() ==
        doctest::Approx((10.0 * w0 + 20.0 * w1) / (w0 + w1)));
  // Gradients through attention by finite differences (float64).
  check_gradients(
      [](const std::vector<Tensor>& in) {
        return sum(square(dot_product_attention(in[0], in[1], in[2])));
      },
      {host_uniform({2, 3, 4}, 11), host_uniform({2, 5, 4}, 12), host_uniform({2, 5, 2}, 13)});
}

TEST_CASE("a CNN of these layers trains through Model: loss falls, BatchNorm states move") {
  struct TinyCNN : nn::Module {
    Tensor call(nn::Context& ctx, const Tensor& x) override {
      Tensor h = nn::Conv2D(4, 3)(ctx, x);
      h = nn::relu(ctx, nn::BatchNorm()(ctx, h));
      h = nn::MaxPool(2)(ctx, h);
      h = nn::Dropout(0.1)(ctx, nn::Flatten()(ctx, h));
      return nn::Linear(2)(ctx, h);
    }
  };
  // Class = whether the image's left half is brighter than its right half.
  const Tensor x = random::uniform(Key(1), {64, 6, 6, 1});
  const Tensor left = sum(slice(x, 0, 3, 1, 2), {1, 2, 3}), right = sum(slice(x, 3, 6, 1, 2), {1, 2, 3});
  const Tensor y = astype(left > right, DType::i32);
  Model model({.module = TinyCNN(),
               .loss = {losses::SparseCategoricalCrossentropy({.from_logits = true})},
               .optimizer = optim::adam(1e-2)});
  const History h = model.fit({.x = x, .y = y, .batch_size = 16, .epochs = 15, .verbose = 0});
  CHECK(h.history.at("loss").back() < 0.5f * h.history.at("loss").front());
  CHECK(model.states().net_states()["batch_norm/counter"].tensor().item<float>() == 60.0f);
  // predict runs in evaluation mode: deterministic despite the dropout.
  const std::vector<double> p1 = values(model.predict({.x = x}).tensor());
  CHECK(p1 == values(model.predict({.x = x}).tensor()));
}
