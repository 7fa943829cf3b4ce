// nn::Context and nn::Module: names unique per scope, parameters created once and fetched by
// path, shape checks on apply, states, keys, aux losses/metrics and summary rows.
#include <doctest/doctest.h>

#include <elegy/elegy.hpp>

#include "../grad_check.hpp"

using namespace elegy;
using namespace elegy::testing;

namespace {

nn::Context init_context(std::uint64_t seed = 0) {
  return nn::Context(Tree(), Tree(), RngSeq(seed), {.initializing = true});
}

nn::Context apply_context(const nn::Context& from, bool training = true) {
  return nn::Context(from.params(), from.states(), RngSeq(1), {.training = training});
}

struct TwoLayers : nn::Module {
  Tensor call(nn::Context& ctx, const Tensor& x) override {
    return nn::Linear(3)(ctx, nn::relu(ctx, nn::Linear(4)(ctx, x)));
  }
};

struct Outer : nn::Module {
  using nn::Module::Module;
  Tensor call(nn::Context& ctx, const Tensor& x) override {
    return TwoLayers()(ctx, TwoLayers()(ctx, x));
  }
};

std::vector<std::string> paths(const Tree& t) {
  std::vector<std::string> out;
  for (const auto& [p, leaf] : t.flatten_with_paths()) out.push_back(p);
  return out;
}

}  // namespace

TEST_CASE("nn: scope names are unique among siblings and nest") {
  nn::Context ctx = init_context();
  const Tensor y = Outer()(ctx, ones({2, 5}));
  CHECK(y.shape() == Shape{2, 3});
  CHECK(paths(ctx.params()) ==
        std::vector<std::string>{"outer/two_layers/linear/b", "outer/two_layers/linear/w",
                                 "outer/two_layers/linear_1/b", "outer/two_layers/linear_1/w",
                                 "outer/two_layers_1/linear/b", "outer/two_layers_1/linear/w",
                                 "outer/two_layers_1/linear_1/b", "outer/two_layers_1/linear_1/w"});
  // Shapes inferred from the inputs: 5 -> 4 -> 3 -> 4 -> 3.
  CHECK(ctx.params()["outer/two_layers/linear/w"].tensor().shape() == Shape{5, 4});
  CHECK(ctx.params()["outer/two_layers_1/linear/w"].tensor().shape() == Shape{3, 4});
  // An explicit name replaces the type's.
  nn::Context named = init_context();
  Outer("encoder")(named, ones({1, 5}));
  CHECK(named.params().contains("encoder/two_layers/linear/w"));
  CHECK(nn::snake_case("MultiHeadAttention") == "multi_head_attention");
  CHECK(nn::snake_case("MLP") == "mlp");
  CHECK(nn::snake_case("Conv2D") == "conv2_d");
  CHECK(nn::snake_case("HTTPServer") == "http_server");
}

TEST_CASE("nn: a root module has no scope; applying reuses the parameters") {
  nn::Context init = init_context(7);
  const Tensor x = host_uniform({3, 5}, 11).astype(DType::f32);
  const Tree y0 = TwoLayers().call_root(init, x);
  CHECK(init.params().contains("linear/w"));
  CHECK(init.params().contains("linear_1/b"));
  nn::Context apply = apply_context(init);
  const Tree y1 = TwoLayers().call_root(apply, x);
  CHECK(values(y1.tensor()) == values(y0.tensor()));
  // Applying creates nothing: the same tree comes back.
  CHECK(paths(apply.params()) == paths(init.params()));
}

TEST_CASE("nn::Linear computes x @ w + b with hand-checked numbers") {
  nn::Context ctx = init_context();
  nn::Linear layer(2,
                   {.w_init = initializers::constant(0.5), .b_init = initializers::constant(1.0)});
  const Tensor x = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  // Row sums 6 and 15, times 0.5, plus 1.
  CHECK(values(layer(ctx, x)) == std::vector<double>{4.0, 4.0, 8.5, 8.5});
  nn::Context no_bias = init_context();
  nn::Linear(2, {.with_bias = false})(no_bias, x);
  CHECK_FALSE(no_bias.params().contains("linear/b"));
  // Default w_init: truncated normal with stddev 1/sqrt(fan_in) (|w| <= 2 stddev).
  nn::Context big = init_context(3);
  const Tensor w = (nn::Linear(64)(big, ones({1, 400})), big.params()["linear/w"].tensor());
  double max_abs = 0, sum_sq = 0;
  for (double v : values(w)) max_abs = std::max(max_abs, std::abs(v)), sum_sq += v * v;
  CHECK(max_abs <= 2.0 / 20.0 + 1e-6);
  const double stddev = std::sqrt(sum_sq / double(w.numel()));
  CHECK(stddev == doctest::Approx(0.87962566 / 20.0).epsilon(0.03));
}

TEST_CASE("nn: applying with inputs of another size fails with the path and both shapes") {
  nn::Context init = init_context();
  TwoLayers().call_root(init, ones({2, 5}));
  nn::Context apply = apply_context(init);
  CHECK_THROWS_WITH_AS(TwoLayers().call_root(apply, ones({2, 6})),
                       doctest::Contains("Linear at 'linear': param 'linear/w' has shape [5,4] "
                                         "but this call needs [6,4]"),
                       Error);
  // A parameter that was never created.
  nn::Context empty(Tree(), Tree(), RngSeq(0), {});
  CHECK_THROWS_WITH_AS(TwoLayers().call_root(empty, ones({2, 5})),
                       doctest::Contains("param 'linear/w' is not in net_params"), Error);
  // Wrong rank and dtype.
  nn::Context c = init_context();
  CHECK_THROWS_WITH_AS(nn::Linear(3)(c, scalar(1.0)), doctest::Contains("rank >= 1"), Error);
  CHECK_THROWS_WITH_AS(nn::Linear(3)(c, ones({2, 2}, DType::i32)),
                       doctest::Contains("needs float inputs"), Error);
}

TEST_CASE("nn::Context states, set_state, keys, aux losses and metrics") {
  struct Counter : nn::Module {
    Tensor call(nn::Context& ctx, const Tensor& x) override {
      const Tensor n = ctx.state("n", Shape{}, initializers::zeros());
      ctx.set_state("n", n + 1.0);
      ctx.add_loss("penalty", sum(x));
      ctx.add_loss("penalty", scalar(1.0));  // same name: summed
      ctx.add_loss("total_loss", scalar(2.0));
      ctx.add_metric("x_mean", mean(x));
      ctx.add_metric("x_mean", mean(x) * 2.0);  // same name: made unique
      return x;
    }
  };
  nn::Context init = init_context();
  Counter()(init, ones({2}));
  // Initializing does not count as a step.
  CHECK(init.states()["counter/n"].tensor().item<float>() == 0.0f);
  nn::Context apply = apply_context(init);
  Counter()(apply, ones({2}));
  CHECK(apply.states()["counter/n"].tensor().item<float>() == 1.0f);
  CHECK(apply.params().is_none());
  CHECK(apply.losses().at("penalty_loss").item<float>() == 3.0f);
  CHECK(apply.losses().at("total_loss").item<float>() == 2.0f);
  CHECK(apply.metrics().at("x_mean").item<float>() == 1.0f);
  CHECK(apply.metrics().at("x_mean_1").item<float>() == 2.0f);
  // Keys come from the sequence: two draws differ, the same seed repeats them.
  nn::Context a = init_context(5), b = init_context(5);
  const Key k1 = a.next_key(), k2 = a.next_key();
  CHECK_FALSE(k1 == k2);
  CHECK(b.next_key() == k1);
  nn::Context no_rng(Tree(), Tree(), std::nullopt, {});
  CHECK_THROWS_WITH_AS(no_rng.next_key(), doctest::Contains("no random sequence"), Error);
  CHECK_THROWS_WITH_AS(apply.set_state("missing", scalar(1.0)),
                       doctest::Contains("which state() never created"), Error);
}

TEST_CASE("nn: summary rows in call order, modules after their children, functions unscoped") {
  nn::Context ctx = init_context();
  TwoLayers().call_root(ctx, ones({2, 5}));
  const auto& rows = ctx.summaries();
  REQUIRE(rows.size() == 4);
  CHECK(rows[0].path == "linear");
  CHECK(rows[0].module_type_name == "Linear");
  CHECK(rows[1].path == "relu");
  CHECK(rows[1].module_type_name == "");
  CHECK(rows[2].path == "linear_1");
  CHECK(rows[3].path == "");
  CHECK(rows[3].module_type_name == "TwoLayers");
  CHECK(rows[3].output_value.tensor().shape() == Shape{2, 3});
}

TEST_CASE("nn::Sequential, Flatten, Reshape and MLP") {
  nn::Context ctx = init_context();
  nn::Sequential seq({nn::Flatten(), nn::Linear(6), nn::relu, nn::Linear(2)});
  const Tensor y = seq(ctx, ones({3, 2, 4}));
  CHECK(y.shape() == Shape{3, 2});
  CHECK(ctx.params()["sequential/linear/w"].tensor().shape() == Shape{8, 6});
  CHECK(ctx.params()["sequential/linear_1/w"].tensor().shape() == Shape{6, 2});
  CHECK(nn::Reshape(Shape{2, -1})(ctx, ones({3, 8})).shape() == Shape{3, 2, 4});
  CHECK(nn::Flatten(2)(ctx, ones({3, 2, 4, 5})).shape() == Shape{3, 2, 20});

  nn::Context m = init_context();
  const Tensor out = nn::MLP({5, 4, 3})(m, ones({2, 7}));
  CHECK(out.shape() == Shape{2, 3});
  CHECK(paths(m.params()) == std::vector<std::string>{"mlp/linear/b", "mlp/linear/w",
                                                      "mlp/linear_1/b", "mlp/linear_1/w",
                                                      "mlp/linear_2/b", "mlp/linear_2/w"});
  // activate_final: the output passes through the activation (relu: no negatives).
  nn::Context f = init_context(9);
  const Tensor pos =
      nn::MLP({4}, {.activate_final = true})(f, host_uniform({8, 3}, 2).astype(DType::f32));
  for (double v : values(pos)) CHECK(v >= 0.0);
}

TEST_CASE("nn::Embedding gathers rows; one-hot lookup agrees; bad ids fail") {
  const Tensor table = Tensor::from_vector<float>({0, 1, 10, 11, 20, 21}, {3, 2});
  nn::Context ctx = init_context();
  const Tensor ids = Tensor::from_vector<std::int32_t>({2, 0, 2}, {3});
  CHECK(values(nn::Embedding(table)(ctx, ids)) == std::vector<double>{20, 21, 0, 1, 20, 21});
  nn::Context c2 = init_context();
  CHECK(values(nn::Embedding(table, {.lookup_style = nn::EmbedLookupStyle::one_hot})(c2, ids)) ==
        std::vector<double>{20, 21, 0, 1, 20, 21});
  nn::Context c3 = init_context();
  CHECK_THROWS_AS((nn::Embedding(table)(c3, Tensor::from_vector<std::int32_t>({3}, {1}))), Error);
  nn::Context c4 = init_context();
  CHECK_THROWS_WITH_AS(nn::Embedding(table, {.lookup_style = nn::EmbedLookupStyle::one_hot})(
                           c4, Tensor::from_vector<std::int32_t>({-1}, {1})),
                       doctest::Contains("ids must be in [0, 3)"), Error);
  CHECK_THROWS_WITH_AS(nn::Embedding(3, 2)(c4, ones({2})), doctest::Contains("integer ids"), Error);
}

TEST_CASE("activations match their formulas and differentiate") {
  const Tensor x = Tensor::from_vector<double>({-3.0, -0.5, 0.0, 0.7, 4.0}, {5});
  const std::vector<double> xs = values(x);
  auto each = [&](const Tensor& y, auto f) {
    const std::vector<double> got = values(y);
    for (std::size_t i = 0; i < xs.size(); ++i) CHECK(got[i] == doctest::Approx(f(xs[i])));
  };
  each(elu(x), [](double v) { return v > 0 ? v : std::exp(v) - 1; });
  each(leaky_relu(x, 0.1), [](double v) { return v >= 0 ? v : 0.1 * v; });
  each(selu(x), [](double v) {
    return 1.0507009873554805 * (v > 0 ? v : 1.6732632423543772 * (std::exp(v) - 1));
  });
  each(silu(x), [](double v) { return v / (1 + std::exp(-v)); });
  each(relu6(x * 2.0), [](double v) { return std::min(std::max(2 * v, 0.0), 6.0); });
  each(hard_sigmoid(x), [](double v) { return std::min(std::max(v + 3, 0.0), 6.0) / 6; });
  each(log_sigmoid(x), [](double v) { return -std::log1p(std::exp(-v)); });
  each(softsign(x), [](double v) { return v / (1 + std::abs(v)); });
  each(mish(x), [](double v) { return v * std::tanh(std::log1p(std::exp(v))); });
  each(celu(x, 2.0),
       [](double v) { return std::max(v, 0.0) + 2.0 * (std::exp(std::min(v, 0.0) / 2.0) - 1); });
  // Large inputs of either sign: finite gradients (exp only ever sees min(x, 0), so the
  // unselected branch of `where` cannot overflow into 0 * inf).
  const Tensor big = Tensor::from_vector<double>({-800.0, 800.0}, {2});
  const Tensor g = grad([](const Tensor& t) { return sum(elu(t) + selu(t)); }, big);
  for (double v : values(g)) CHECK(std::isfinite(v));
  const Tensor xd = Tensor::from_vector<double>({-1.3, -0.2, 0.4, 1.9}, {4});
  for (auto* f :
       {+[](const Tensor& t) { return elu(t); }, +[](const Tensor& t) { return selu(t); },
        +[](const Tensor& t) { return silu(t); }, +[](const Tensor& t) { return mish(t); },
        +[](const Tensor& t) { return log_sigmoid(t); },
        +[](const Tensor& t) { return softsign(t); }}) {
    check_gradients([f](const std::vector<Tensor>& in) { return sum(f(in[0])); }, {xd});
  }
}
