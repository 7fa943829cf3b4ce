// The tape itself: value_and_grad over trees, fan-out, has_aux, stop_gradient, NoGrad, nesting
// (grad of grad, gradient penalties) and its errors. Values are hand-computed.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include <elegy/elegy.hpp>

#include "grad_check.hpp"

using namespace elegy;
using elegy::testing::values;

namespace {
Tensor vec(std::vector<double> v) {
  return Tensor::from_vector(v);
}
Tensor num(double v) {
  return Tensor::from_vector(std::vector<double>{v}, Shape{});
}
}  // namespace

TEST_CASE("value_and_grad returns gradients shaped like a nested parameter tree") {
  Tree params{{"mlp", Tree{{"linear", Tree{{"w", vec({1, 2})}, {"b", num(3)}}}}},
              {"scale", num(2)}};
  // f = scale * (sum(w * w) + b) = 2 * (1 + 4 + 3) = 16
  auto [value, grads] = value_and_grad(
      [](const Tree& p) {
        const Tensor w = p["mlp/linear/w"];
        return p["scale"].tensor() * (sum(w * w) + p["mlp/linear/b"].tensor());
      },
      params);
  CHECK(value.item<double>() == doctest::Approx(16));
  CHECK(values(grads["mlp/linear/w"]) == std::vector<double>{4, 8});  // 2 * 2w
  CHECK(grads["mlp/linear/b"].tensor().item<double>() == doctest::Approx(2));
  CHECK(grads["scale"].tensor().item<double>() == doctest::Approx(8));
  CHECK(Tree::structure_difference(params, grads).empty());
  // Leaving the outermost call, results carry no tape history.
  CHECK(value.node() == nullptr);
  CHECK(grads["scale"].tensor().node() == nullptr);
}

TEST_CASE("fan-out accumulates: d/dx (x*x + x) = 2x + 1") {
  const Tensor dx = grad([](const Tensor& x) { return sum(x * x + x); }, vec({-1, 0, 2.5}));
  CHECK(values(dx) == std::vector<double>{-1, 1, 6});
}

TEST_CASE("a parameter the function ignores gets a zero gradient of its shape") {
  Tree params{{"used", vec({1, 2})}, {"unused", zeros({2, 3}, DType::f64)}};
  auto [value, grads] =
      value_and_grad([](const Tree& p) { return sum(p["used"].tensor()); }, params);
  CHECK(grads["unused"].tensor().shape() == Shape{2, 3});
  CHECK(values(grads["unused"]) == std::vector<double>(6, 0.0));
}

TEST_CASE("has_aux passes the auxiliary value through") {
  auto r = value_and_grad(
      [](const Tensor& x) {
        Tensor loss = sum(square(x));
        return std::pair<Tensor, Tree>{loss, Tree{{"mean", mean(x)}}};
      },
      vec({1, 3}));
  CHECK(r.value.item<double>() == doctest::Approx(10));
  CHECK(r.aux["mean"].tensor().item<double>() == doctest::Approx(2));
  CHECK(values(r.grads) == std::vector<double>{2, 6});
  CHECK(r.aux["mean"].tensor().node() == nullptr);
}

TEST_CASE("stop_gradient and NoGrad cut the tape") {
  const Tensor x0 = vec({2, 3});
  // d/dx (x * stop_gradient(x)) = stop_gradient(x) = x
  CHECK(values(grad([](const Tensor& x) { return sum(x * stop_gradient(x)); }, x0)) ==
        std::vector<double>{2, 3});
  CHECK(values(grad(
            [](const Tensor& x) {
              Tensor constant;
              {
                NoGrad no_grad;
                constant = x * 10.0;
              }
              return sum(x * constant);
            },
            x0)) == std::vector<double>{20, 30});
}

TEST_CASE("grad of grad: d2/dx2 x^3 = 6x and d3/dx3 = 6") {
  auto f = [](const Tensor& x) { return sum(x * x * x); };
  CHECK(grad(grad(f))(num(2.0)).item<double>() == doctest::Approx(12));
  CHECK(grad(grad(grad(f)))(num(-1.5)).item<double>() == doctest::Approx(6));
  // Through a nonlinearity: d2/dx2 exp(2x) = 4 exp(2x)
  auto g = [](const Tensor& x) { return sum(exp(x * 2.0)); };
  CHECK(grad(grad(g))(num(0.3)).item<double>() == doctest::Approx(4 * std::exp(0.6)));
}

TEST_CASE("gradient penalty: d/dw ||d/dx f(x, w)||^2") {
  // f(x, w) = sum(tanh(x * w)); df/dx = w * (1 - tanh^2(x w)); penalty P(w) = sum((df/dx)^2).
  const Tensor x = vec({0.5, -1.0});
  auto penalty = [&](const Tensor& w) {
    const Tensor dfdx = grad([&](const Tensor& xx) { return sum(tanh(xx * w)); }, x);
    return sum(square(dfdx));
  };
  const double w0 = 0.7;
  const Tensor dp = grad(penalty, vec({w0, w0}));
  // Central differences of the scalar P(w) per coordinate, in float64.
  for (int i = 0; i < 2; ++i) {
    auto p_at = [&](double delta) {
      std::vector<double> w{w0, w0};
      w[std::size_t(i)] += delta;
      return penalty(vec(w)).item<double>();
    };
    const double numeric = (p_at(1e-6) - p_at(-1e-6)) / 2e-6;
    CHECK(values(dp)[std::size_t(i)] == doctest::Approx(numeric).epsilon(1e-6));
  }
}

TEST_CASE("the issue's example runs as written") {
  Tensor x = random::uniform(Key(42), {64, 784});
  Tensor w = zeros({784, 10});
  Tensor logits = matmul(x, w) + ones({10});
  Tensor y = random::randint(Key(1), {64}, 0, 10);
  Tensor labels = one_hot(y, 10);
  Tensor loss = mean(-sum(labels * log_softmax(logits, -1), -1));
  CHECK(loss.item<float>() == doctest::Approx(std::log(10.0)).epsilon(1e-5));
  // All logits are equal, so argmax picks class 0 (the first maximum): accuracy = share of 0s.
  Tensor acc = mean(astype(argmax(logits, -1) == y, DType::f32));
  const std::vector<int> label_values = y.to_vector<int>();
  const double zeros_share = double(std::count(label_values.begin(), label_values.end(), 0)) / 64.0;
  CHECK(acc.item<float>() == doctest::Approx(zeros_share));
  Tensor t = Tensor::from_vector(std::vector<float>{1, 0, -1}, {3, 1});
  Tensor x3 = slice(x, 0, 3);
  auto [value, grads] =
      value_and_grad([&](const Tree& p) { return mean(square(matmul(x3, p["w"].tensor()) - t)); },
                     Tree{{"w", zeros({784, 1})}});
  CHECK(value.item<float>() == doctest::Approx(2.0 / 3.0));
  // d/dw mean((x w - t)^2) at w = 0 = -2/3 * x^T t
  const std::vector<float> gw = grads["w"].tensor().to_vector<float>();
  const std::vector<float> xs = x3.to_vector<float>();
  for (int j = 0; j < 784; j += 97) {
    const double expected =
        -2.0 / 3.0 * (xs[std::size_t(j)] * 1 + xs[std::size_t(2 * 784 + j)] * -1);
    CHECK(gw[std::size_t(j)] == doctest::Approx(expected).epsilon(1e-5));
  }
}

TEST_CASE("value_and_grad errors name the problem") {
  CHECK_THROWS_WITH_AS(grad([](const Tensor& x) { return x * 2.0; }, vec({1, 2})),
                       doctest::Contains("must return a scalar float tensor"), Error);
  CHECK_THROWS_WITH_AS(
      grad([](const Tensor& x) { return sum(x); }, Tensor::from_vector(std::vector<int>{1, 2})),
      doctest::Contains("only float32/float64 parameters"), Error);
}
