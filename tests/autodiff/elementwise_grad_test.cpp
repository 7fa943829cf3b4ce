// Backward rules of the elementwise ops against central finite differences (tests/grad_check.hpp),
// on dense, transposed and broadcast float64 inputs; second derivatives through grad(grad(f));
// and the conventions at kinks (relu, abs, maximum ties, pow at 0) that match JAX.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <vector>

#include <elegy/elegy.hpp>

#include "grad_check.hpp"

using namespace elegy;
using elegy::testing::check_gradients;
using elegy::testing::host_uniform;

namespace {

using Fn = std::function<Tensor(const Tensor&)>;
using Fn2 = std::function<Tensor(const Tensor&, const Tensor&)>;

// sum(f(x) * w) with fixed random weights w, so every element gets a different cotangent.
Tensor weighted_total(const Tensor& y, std::uint64_t seed) {
  return sum(y * host_uniform(y.shape(), seed, 0.5, 1.5));
}

// A non-contiguous float64 tensor of `shape` (a transposed view) with values in [lo, hi).
Tensor transposed(const Shape& shape, std::uint64_t seed, double lo, double hi) {
  const Tensor t = transpose(host_uniform(Shape{shape[1], shape[0]}, seed, lo, hi));
  REQUIRE_FALSE(t.is_contiguous());
  return t;
}

void check_unary_grad(const char* name, const Fn& f, double lo, double hi) {
  INFO(name);
  auto loss = [&](const std::vector<Tensor>& xs) { return weighted_total(f(xs[0]), 99); };
  check_gradients(loss, {host_uniform(Shape{3, 5}, 1, lo, hi)});
  // A transposed view: rules must read the strided input, the walker must return its shape.
  check_gradients(loss, {transposed(Shape{4, 3}, 2, lo, hi)});
}

void check_binary_grad(const char* name, const Fn2& f, double lo_a, double hi_a, double lo_b,
                       double hi_b) {
  INFO(name);
  auto loss = [&](const std::vector<Tensor>& xs) { return weighted_total(f(xs[0], xs[1]), 98); };
  // Same shapes, a row broadcast, an outer product, a 0-d operand, and a transposed operand.
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{3, 4}, {3, 4}}, {{3, 4}, {4}}, {{3, 1}, {1, 4}}, {{}, {2, 3}}, {{2, 3}, {}}};
  std::uint64_t seed = 10;
  for (const auto& [sa, sb] : shapes) {
    INFO("shapes ", sa, " and ", sb);
    check_gradients(loss,
                    {host_uniform(sa, seed++, lo_a, hi_a), host_uniform(sb, seed++, lo_b, hi_b)});
  }
  check_gradients(
      loss, {transposed(Shape{3, 4}, 20, lo_a, hi_a), host_uniform(Shape{4}, 21, lo_b, hi_b)});
}

// grad(grad(f)) at x (a 0-d float64) against central differences of grad(f).
void check_second_derivative(const char* name, const Fn& f, double x) {
  INFO(name, " at ", x);
  const Fn df = [&](const Tensor& t) { return grad(f, t); };
  const Tensor x0 = Tensor::from_vector(std::vector<double>{x}, Shape{});
  const double analytic = grad(df, x0).item<double>();
  const double h = 1e-5;
  const double numeric = (df(x0 + h).item<double>() - df(x0 - h).item<double>()) / (2 * h);
  CHECK(analytic == doctest::Approx(numeric).epsilon(1e-6).scale(1.0));
}

Tensor num(double v) {
  return Tensor::from_vector(std::vector<double>{v}, Shape{});
}
Tensor vec(std::vector<double> v) {
  return Tensor::from_vector(v);
}

}  // namespace

TEST_CASE("unary backward rules match finite differences") {
  check_unary_grad(
      "neg", [](const Tensor& x) { return -x; }, -2, 2);
  check_unary_grad(
      "abs", [](const Tensor& x) { return abs(x); }, -2, 2);
  check_unary_grad(
      "exp", [](const Tensor& x) { return exp(x); }, -2, 2);
  check_unary_grad(
      "log", [](const Tensor& x) { return log(x); }, 0.2, 3);
  check_unary_grad(
      "log1p", [](const Tensor& x) { return log1p(x); }, -0.8, 3);
  check_unary_grad(
      "sqrt", [](const Tensor& x) { return sqrt(x); }, 0.2, 3);
  check_unary_grad(
      "rsqrt", [](const Tensor& x) { return rsqrt(x); }, 0.2, 3);
  check_unary_grad(
      "square", [](const Tensor& x) { return square(x); }, -2, 2);
  check_unary_grad(
      "tanh", [](const Tensor& x) { return tanh(x); }, -3, 3);
  check_unary_grad(
      "sigmoid", [](const Tensor& x) { return sigmoid(x); }, -5, 5);
  check_unary_grad(
      "relu", [](const Tensor& x) { return relu(x); }, -2, 2);
  check_unary_grad(
      "gelu (tanh)", [](const Tensor& x) { return gelu(x); }, -4, 4);
  check_unary_grad(
      "gelu (erf)", [](const Tensor& x) { return gelu(x, false); }, -4, 4);
  check_unary_grad(
      "softplus", [](const Tensor& x) { return softplus(x); }, -6, 6);
  check_unary_grad(
      "clip", [](const Tensor& x) { return clip(x, -0.5, 0.7); }, -2, 2);
  check_unary_grad(
      "pow(x, 3.0)", [](const Tensor& x) { return pow(x, 3.0); }, -2, 2);
  check_unary_grad(
      "pow(x, 2.0)", [](const Tensor& x) { return pow(x, 2.0); }, -2, 2);
  check_unary_grad(
      "pow(x, -1.5)", [](const Tensor& x) { return pow(x, -1.5); }, 0.3, 2);
  check_unary_grad(
      "x + 2", [](const Tensor& x) { return x + 2.0; }, -2, 2);
  check_unary_grad(
      "3 - x", [](const Tensor& x) { return 3.0 - x; }, -2, 2);
  check_unary_grad(
      "x * 2.5", [](const Tensor& x) { return x * 2.5; }, -2, 2);
  check_unary_grad(
      "x / 4", [](const Tensor& x) { return x / 4.0; }, -2, 2);
  check_unary_grad(
      "1 / x", [](const Tensor& x) { return 1.0 / x; }, 0.5, 2);
  check_unary_grad(
      "maximum(x, 0.1)", [](const Tensor& x) { return maximum(x, 0.1); }, -2, 2);
  check_unary_grad(
      "minimum(x, 0.1)", [](const Tensor& x) { return minimum(x, 0.1); }, -2, 2);
  check_unary_grad(
      "where(x > 0, x, -x * x)", [](const Tensor& x) { return where(x > 0.0, x, -x * x); }, -2, 2);
  check_unary_grad(
      "where(x < 0, 1, exp(x))", [](const Tensor& x) { return where(x < 0.0, 1.0, exp(x)); }, -2,
      2);
  check_unary_grad(
      "a composition", [](const Tensor& x) { return tanh(x) * sigmoid(x) / (1.0 + square(x)); }, -2,
      2);
}

TEST_CASE("binary backward rules match finite differences, broadcast and transposed") {
  check_binary_grad(
      "add", [](const Tensor& a, const Tensor& b) { return a + b; }, -2, 2, -2, 2);
  check_binary_grad(
      "sub", [](const Tensor& a, const Tensor& b) { return a - b; }, -2, 2, -2, 2);
  check_binary_grad(
      "mul", [](const Tensor& a, const Tensor& b) { return a * b; }, -2, 2, -2, 2);
  check_binary_grad(
      "div", [](const Tensor& a, const Tensor& b) { return a / b; }, -2, 2, 0.5, 2);
  check_binary_grad(
      "divide_no_nan", [](const Tensor& a, const Tensor& b) { return divide_no_nan(a, b); }, -2, 2,
      0.5, 2);
  check_binary_grad(
      "pow", [](const Tensor& a, const Tensor& b) { return pow(a, b); }, 0.3, 2, -2, 2);
  // Disjoint ranges, so no ties: b wins maximum, a wins minimum.
  check_binary_grad(
      "maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); }, -2, -1, 1, 2);
  check_binary_grad(
      "maximum (mixed)", [](const Tensor& a, const Tensor& b) { return maximum(a, b * 0.999); }, -2,
      2, -2, 2);
  check_binary_grad(
      "minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); }, -2, 2, -2, 2);
  check_binary_grad(
      "where",
      [](const Tensor& a, const Tensor& b) {
        const Shape shape = broadcast_shapes("test", a.shape(), b.shape());
        return where(host_uniform(shape, 5) > 0.0, a, b);
      },
      -2, 2, -2, 2);
}

TEST_CASE("mixed-dtype operands: gradients come back in each input's dtype") {
  // float32 * float64: the float32 input is cast up on the tape and its cotangent cast back.
  const Tensor x32 = Tensor::from_vector(std::vector<float>{1.5f, -2.0f});
  const Tensor w = vec({3, 4});
  const Tensor g32 = grad([&](const Tensor& x) { return sum(x * w); }, x32);
  CHECK(g32.dtype() == DType::f32);
  CHECK(g32.to_vector<float>() == std::vector<float>{3, 4});
  // An integer operand has no gradient and does not stop the float one.
  const Tensor ints = Tensor::from_vector(std::vector<std::int32_t>{2, 5});
  const Tensor gx = grad([&](const Tensor& x) { return sum(x * ints + ints / x); }, vec({1, 2}));
  CHECK(gx.to_vector<double>()[0] == doctest::Approx(2 - 2.0 / 1));
  CHECK(gx.to_vector<double>()[1] == doctest::Approx(5 - 5.0 / 4));
  // astype float64 -> float32 -> float64 passes the cotangent through.
  const Tensor ga =
      grad([](const Tensor& x) { return sum(astype(astype(x, DType::f32), DType::f64) * 2.0); },
           vec({0.1, 0.2}));
  CHECK(ga.to_vector<double>() == std::vector<double>{2, 2});
}

TEST_CASE("gradients at kinks follow JAX's conventions") {
  // relu'(0) = 0 (also at -0, and at NaN: JAX's where(x > 0, g, 0)), abs'(0) = 0, sign' = 0.
  CHECK(grad([](const Tensor& x) { return sum(relu(x)); }, vec({-1, 0, 2})).to_vector<double>() ==
        std::vector<double>{0, 0, 1});
  for (const DType dt : {DType::f32, DType::f64}) {
    const Tensor x = vec({-0.0, std::nan(""), 3, -2}).astype(dt);
    CHECK(grad([](const Tensor& v) { return sum(relu(v) * 2.0); }, x).to_vector<double>() ==
          std::vector<double>{0, 0, 2, 0});
  }
  CHECK(grad([](const Tensor& x) { return sum(abs(x)); }, vec({-1, 0, 2})).to_vector<double>() ==
        std::vector<double>{-1, 0, 1});
  CHECK(grad([](const Tensor& x) { return sum(sign(x) * x); }, vec({-3, 2})).to_vector<double>() ==
        std::vector<double>{-1, 1});
  // Ties in maximum / minimum split the cotangent evenly.
  const Tensor y = vec({1, 1, 3});
  CHECK(grad([&](const Tensor& x) { return sum(maximum(x, y)); }, vec({1, 2, 2}))
            .to_vector<double>() == std::vector<double>{0.5, 1, 0});
  CHECK(grad([&](const Tensor& x) { return sum(minimum(x, y)); }, vec({1, 2, 2}))
            .to_vector<double>() == std::vector<double>{0.5, 0, 1});
  // clip passes the cotangent only strictly inside the interval.
  CHECK(grad([](const Tensor& x) { return sum(clip(x, 0, 1)); }, vec({-1, 0.5, 2}))
            .to_vector<double>() == std::vector<double>{0, 1, 0});
  // d/db a^b at a == 0 is 0 (not NaN); d/da a^0 at a == 0 is 0.
  const Tensor gb = grad([](const Tensor& b) { return sum(pow(vec({0, 2}), b)); }, vec({2, 3}));
  CHECK(gb.to_vector<double>()[0] == 0);
  CHECK(gb.to_vector<double>()[1] == doctest::Approx(8 * std::log(2.0)));
  CHECK(grad([](const Tensor& a) { return sum(pow(a, vec({0}))); }, vec({0})).to_vector<double>() ==
        std::vector<double>{0});
  // The exact GELU's derivative at 0 is Phi(0) = 1/2 (no 0/0 on the tape).
  CHECK(grad([](const Tensor& x) { return sum(gelu(x, false)); }, vec({0})).item<double>() == 0.5);
  CHECK(grad([](const Tensor& x) { return sum(gelu(x)); }, vec({0})).item<double>() == 0.5);
}

TEST_CASE("stop_gradient, comparisons and where's condition carry no gradient") {
  const Tensor g = grad(
      [](const Tensor& x) {
        const Tensor mask = x > 0.0;  // bool: no tape entry
        return sum(where(mask, x * stop_gradient(x), 0.0) + sign(x));
      },
      vec({-2, 3}));
  CHECK(g.to_vector<double>() == std::vector<double>{0, 3});
}

TEST_CASE("nothing is recorded outside value_and_grad") {
  const Tensor x = vec({1, 2});
  CHECK((x * x + exp(x)).node() == nullptr);
  CHECK((x > 1.0).node() == nullptr);
}

TEST_CASE("second derivatives through grad(grad(f))") {
  // d2/dx2 x^3 = 6x: at 2, 12.
  const auto f = [](const Tensor& x) { return x * x * x; };
  CHECK(grad(grad(f))(num(2)).item<double>() == doctest::Approx(12));
  // Every differentiable op's rule is itself differentiable.
  check_second_derivative(
      "exp", [](const Tensor& x) { return exp(x); }, 0.7);
  check_second_derivative(
      "log", [](const Tensor& x) { return log(x); }, 1.3);
  check_second_derivative(
      "log1p", [](const Tensor& x) { return log1p(x); }, 0.4);
  check_second_derivative(
      "sqrt", [](const Tensor& x) { return sqrt(x); }, 1.7);
  check_second_derivative(
      "rsqrt", [](const Tensor& x) { return rsqrt(x); }, 1.7);
  check_second_derivative(
      "square", [](const Tensor& x) { return square(x); }, -0.6);
  check_second_derivative(
      "tanh", [](const Tensor& x) { return tanh(x); }, 0.6);
  check_second_derivative(
      "sigmoid", [](const Tensor& x) { return sigmoid(x); }, -0.8);
  check_second_derivative(
      "softplus", [](const Tensor& x) { return softplus(x); }, 0.9);
  check_second_derivative(
      "gelu (tanh)", [](const Tensor& x) { return gelu(x); }, -0.7);
  check_second_derivative(
      "gelu (erf)", [](const Tensor& x) { return gelu(x, false); }, 1.1);
  check_second_derivative(
      "abs * x", [](const Tensor& x) { return abs(x) * x; }, -1.2);
  check_second_derivative(
      "relu * x", [](const Tensor& x) { return relu(x) * x; }, 0.8);
  check_second_derivative(
      "div", [](const Tensor& x) { return (x + 1.0) / (x * x + 2.0); }, 0.3);
  check_second_derivative(
      "pow base", [](const Tensor& x) { return pow(x, num(2.5)); }, 1.4);
  check_second_derivative(
      "pow exponent", [](const Tensor& x) { return pow(num(1.8), x); }, 0.9);
  check_second_derivative(
      "maximum", [](const Tensor& x) { return maximum(x * x, x + 1.0); }, 0.2);
  check_second_derivative(
      "minimum", [](const Tensor& x) { return minimum(x * x, x + 1.0); }, 0.2);
  check_second_derivative(
      "where", [](const Tensor& x) { return where(x > 0.0, x * x * x, -x); }, 0.5);
}

TEST_CASE("divide_no_nan: a / b, and 0 (gradient 0 too) where b == 0") {
  const Tensor a = Tensor::from_vector(std::vector<float>{3, 0, INFINITY, NAN, -6}, Shape{5});
  const Tensor b = Tensor::from_vector(std::vector<float>{2, 0, 0, 0, -4}, Shape{5});
  CHECK(divide_no_nan(a, b).to_vector<float>() == std::vector<float>{1.5f, 0, 0, 0, 1.5f});
  // Integers divide in float, as div; a scalar divisor broadcasts.
  const Tensor ints = Tensor::from_vector(std::vector<std::int32_t>{1, 2}, Shape{2});
  CHECK(divide_no_nan(ints, Tensor::from_vector(std::vector<std::int32_t>{0}, Shape{})).dtype() ==
        DType::f32);
  CHECK(divide_no_nan(ints, Tensor::from_vector(std::vector<std::int32_t>{4}, Shape{}))
            .to_vector<float>() == std::vector<float>{0.25f, 0.5f});
  const Tensor x = Tensor::from_vector(std::vector<double>{3, 5}, Shape{2});
  const Tensor y = Tensor::from_vector(std::vector<double>{2, 0}, Shape{2});
  const auto [v, g] = value_and_grad([&](const Tensor& t) { return sum(divide_no_nan(t, y)); }, x);
  CHECK(g.to_vector<double>() == std::vector<double>{0.5, 0.0});
  const auto [v2, gy] =
      value_and_grad([&](const Tensor& t) { return sum(divide_no_nan(x, t)); }, y);
  CHECK(gy.to_vector<double>() == std::vector<double>{-0.75, 0.0});
}
