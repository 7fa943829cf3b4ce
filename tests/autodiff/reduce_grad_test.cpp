// Backward rules of the reductions and softmaxes, checked against central finite differences in
// float64 (tests/grad_check.hpp) over several axis choices, keepdims, and transposed inputs;
// tie-splitting for max/min; and second derivatives (grad of grad).
#include <doctest/doctest.h>

#include <cmath>
#include <utility>
#include <vector>

#include "grad_check.hpp"

using namespace elegy;
using elegy::testing::check_gradients;
using elegy::testing::host_uniform;
using elegy::testing::transposed_input;

namespace {

// A scalar that depends on every element of y with a different weight, so the checked
// gradient is not the same for every position.
Tensor weighted(const Tensor& y, std::uint64_t seed) {
  return sum(y * host_uniform(y.shape(), seed, 0.5, 1.5));
}

using Reduce = Tensor (*)(const Tensor&, const Axes&, bool);

// Checks op over each axis choice, with and without keepdims, on a dense and a transposed input.
void check_reduction_gradients(Reduce op, const Shape& shape, double lo = -1.0, double hi = 1.0) {
  const std::vector<std::vector<int>> axis_choices = {{}, {0}, {-1}, {1}, {0, 2}, {1, 2}};
  int seed = 1;
  for (const std::vector<int>& axes : axis_choices) {
    for (bool keepdims : {false, true}) {
      CAPTURE(keepdims);
      INFO("axes ", Shape(std::vector<std::int64_t>(axes.begin(), axes.end())));
      auto f = [&](const std::vector<Tensor>& xs) {
        return weighted(op(xs[0], Axes(axes), keepdims), 100 + std::uint64_t(seed));
      };
      check_gradients(f, {host_uniform(shape, std::uint64_t(seed), lo, hi)});
      // transposed_input draws from [-1, 1): shift it into [lo, hi).
      const Tensor t =
          transposed_input(shape, std::uint64_t(seed) + 50) * ((hi - lo) / 2) + (hi + lo) / 2;
      check_gradients(f, {t});
      ++seed;
    }
  }
}

Tensor var0(const Tensor& x, const Axes& axes, bool keepdims) {
  return var(x, axes, keepdims, 0);
}
Tensor var1(const Tensor& x, const Axes& axes, bool keepdims) {
  return var(x, axes, keepdims, 1);
}

}  // namespace

TEST_CASE("sum and mean: gradients over every axis choice, dense and transposed") {
  check_reduction_gradients(&elegy::sum, Shape{3, 4, 5});
  check_reduction_gradients(&elegy::mean, Shape{3, 4, 5});
}

TEST_CASE("max and min: gradients without ties go to the extreme element") {
  // Distinct random values: no ties, and finite differences stay on one side of each kink.
  check_reduction_gradients(&elegy::max, Shape{3, 4, 5});
  check_reduction_gradients(&elegy::min, Shape{3, 4, 5});
}

TEST_CASE("max and min split the gradient equally among ties, as jax.numpy does") {
  const Tensor x = Tensor::from_vector(std::vector<double>{1, 3, 3, 2, 0, 0}, Shape{2, 3});
  CHECK(grad([](const Tensor& t) { return max(t); }, x).to_vector<double>() ==
        std::vector<double>{0, 0.5, 0.5, 0, 0, 0});
  CHECK(grad([](const Tensor& t) { return sum(min(t, 1)); }, x).to_vector<double>() ==
        std::vector<double>{1, 0, 0, 0, 0.5, 0.5});
}

TEST_CASE("prod: gradient out / x for nonzero inputs") {
  check_reduction_gradients(&elegy::prod, Shape{3, 4, 5}, 0.5, 1.5);
  check_reduction_gradients(&elegy::prod, Shape{3, 4, 5}, -1.5, -0.5);
}

TEST_CASE("var: gradients with ddof 0 and 1") {
  check_reduction_gradients(&var0, Shape{3, 4, 5});
  check_reduction_gradients(&var1, Shape{3, 4, 5});
}

TEST_CASE("logsumexp: gradient is softmax, over every axis choice") {
  check_reduction_gradients(&elegy::logsumexp, Shape{3, 4, 5}, -3.0, 3.0);
}

TEST_CASE("softmax and log_softmax: gradients along every axis, dense and transposed") {
  const Shape shape{3, 4, 5};
  for (int axis : {0, 1, 2, -1}) {
    CAPTURE(axis);
    for (bool log : {false, true}) {
      CAPTURE(log);
      auto f = [&](const std::vector<Tensor>& xs) {
        return weighted(log ? log_softmax(xs[0], axis) : softmax(xs[0], axis), 7);
      };
      check_gradients(f, {host_uniform(shape, 3, -2.0, 2.0)});
      check_gradients(f, {transposed_input(shape, 4) * 2.0});
    }
  }
}

TEST_CASE("sum_to: gradient broadcasts back") {
  const Shape shape{2, 3, 4};
  for (const Shape& to :
       {Shape{3, 4}, Shape{1, 4}, Shape{4}, Shape{2, 1, 4}, Shape{2, 3, 1}, Shape{}, Shape{3, 1}}) {
    INFO("to ", to);
    auto f = [&](const std::vector<Tensor>& xs) { return weighted(sum_to(xs[0], to), 11); };
    check_gradients(f, {host_uniform(shape, 5)});
    check_gradients(f, {transposed_input(shape, 6)});
  }
}

TEST_CASE("reductions feeding a broadcast: the walker sums cotangents back") {
  // x - mean(x, keepdims): the mean's cotangent comes back through a broadcast subtraction.
  auto f = [](const std::vector<Tensor>& xs) {
    const Tensor centered = xs[0] - mean(xs[0], 1, true);
    return weighted(centered * centered, 13) + logsumexp(xs[1]) * max(xs[0]);
  };
  check_gradients(f, {host_uniform(Shape{4, 6}, 8), host_uniform(Shape{5}, 9)});
}

TEST_CASE("second derivatives: grad of grad of logsumexp, softmax, log_softmax and max") {
  // Outer finite differences of an inner analytic gradient test the backward rules' own
  // backward rules.
  auto inner_grad = [](auto fn) {
    return [fn](const std::vector<Tensor>& xs) {
      const Tensor g = grad([&](const Tensor& t) { return fn(t); }, xs[0]);
      return weighted(g, 21);
    };
  };
  const Tensor x = host_uniform(Shape{3, 5}, 12, -2.0, 2.0);
  SUBCASE("logsumexp") {
    check_gradients(inner_grad([](const Tensor& t) { return logsumexp(t); }), {x});
  }
  SUBCASE("logsumexp over each axis, keepdims") {
    check_gradients(inner_grad([](const Tensor& t) {
                      return sum(logsumexp(t, 1, true) * logsumexp(t, 0, true));
                    }),
                    {x});
  }
  SUBCASE("softmax") {
    check_gradients(inner_grad([](const Tensor& t) { return weighted(softmax(t, 1), 22); }), {x});
  }
  SUBCASE("log_softmax") {
    check_gradients(inner_grad([](const Tensor& t) { return weighted(log_softmax(t, 0), 23); }),
                    {x});
  }
  SUBCASE("max") {
    check_gradients(inner_grad([](const Tensor& t) { return weighted(square(max(t, 1)), 24); }),
                    {x});
  }
  SUBCASE("sum") {
    check_gradients(inner_grad([](const Tensor& t) { return square(sum(t * t)); }), {x});
  }
  SUBCASE("prod") {
    check_gradients(inner_grad([](const Tensor& t) { return sum(prod(t, 0)); }),
                    {host_uniform(Shape{3, 5}, 13, 0.5, 1.5)});
  }
  SUBCASE("var") {
    check_gradients(inner_grad([](const Tensor& t) { return sum(var(t, 1)); }), {x});
  }

  // The Hessian of logsumexp at 0 in 2 dimensions: diag(p) - p p^T with p = [1/2, 1/2].
  const Tensor zero = zeros(Shape{2}, DType::f64);
  const Tensor h0 = grad(
      [](const Tensor& t) {
        return sum(grad([](const Tensor& u) { return logsumexp(u); }, t).slice(0, 1));
      },
      zero);
  CHECK(h0.to_vector<double>() == std::vector<double>{0.25, -0.25});
}

TEST_CASE("integer reductions carry no gradient; argmax and any are constants") {
  const Tensor x = host_uniform(Shape{4, 3}, 30);
  const Tensor g = grad(
      [](const Tensor& t) {
        const Tensor idx = argmax(t, 1);
        const Tensor hits = sum(any(t > 0.5, 1));
        return sum(t) + astype(sum(idx), DType::f64) * 0.0 + astype(hits, DType::f64);
      },
      x);
  CHECK(g.to_vector<double>() == std::vector<double>(12, 1.0));
}

TEST_CASE("sum and mean over nothing to add (0-d, or dims of size 1) run no kernel") {
  // x's values seen with the result's shape; gradients as for any reduction.
  const Tensor x0 = Tensor::from_vector<double>({-2.5}, Shape{});
  const Tensor x = Tensor::from_vector<double>({1.5, -3.0, 0.25}, {3, 1});
  const std::uint64_t before = kernels::kernels_run_by_this_thread();
  const Tensor s0 = sum(x0), m0 = mean(x0), s1 = sum(x, {1}), m1 = mean(x, {1}, true);
  CHECK(kernels::kernels_run_by_this_thread() == before);
  CHECK(s0.item<double>() == -2.5);
  CHECK(m0.item<double>() == -2.5);
  CHECK(s1.shape() == Shape{3});
  CHECK(s1.to_vector<double>() == std::vector<double>{1.5, -3.0, 0.25});
  CHECK(m1.shape() == Shape{3, 1});
  CHECK(m1.to_vector<double>() == std::vector<double>{1.5, -3.0, 0.25});
  // Integer sums still accumulate in int64 (a cast), and a real reduction still adds.
  CHECK(sum(Tensor::from_vector<std::uint8_t>({200}, Shape{})).dtype() == DType::i64);
  CHECK(sum(x).item<double>() == -1.25);
  const std::vector<std::pair<Shape, std::vector<int>>> cases = {
      {Shape{}, {}}, {Shape{4, 1}, {1}}, {Shape{1, 3, 1}, {0, 2}}, {Shape{1, 3, 1}, {-1}}};
  std::uint64_t seed = 7;
  for (const auto& [shape, axes] : cases) {
    CAPTURE(shape);
    for (Reduce op : {Reduce(sum), Reduce(mean)}) {
      for (bool keepdims : {false, true}) {
        auto f = [&](const std::vector<Tensor>& xs) {
          return weighted(op(xs[0], Axes(axes), keepdims), seed + 100);
        };
        check_gradients(f, {host_uniform(shape, ++seed, -1.0, 1.0)});
      }
    }
  }
}

TEST_CASE("mean is one ScaledSum kernel with the bits of sum(x) * (1 / n)") {
  // Every reduction path of the CPU kernel (runs, rows, two groups, strided), float32 and
  // float64, keepdims or not; an int32 input is averaged in float32; an empty one gives NaN.
  const std::vector<std::pair<Tensor, std::vector<int>>> cases = {
      {host_uniform({1000}, 1), {}},       {host_uniform({37, 29}, 2), {0}},
      {host_uniform({37, 29}, 3), {1}},    {host_uniform({3, 4, 5, 6}, 4), {0, 2}},
      {transposed_input({29, 37}, 5), {}}, {transposed_input({29, 37}, 6), {1}},
  };
  for (DType dt : {DType::f32, DType::f64}) {
    CAPTURE(dt);
    for (const auto& [x64, axes] : cases) {
      const Tensor x = x64.astype(dt);
      std::int64_t n = 1;
      for (int a : axes) n *= x.shape()[a];
      if (axes.empty()) n = x.numel();
      for (bool keepdims : {false, true}) {
        CAPTURE(keepdims);
        const std::uint64_t before = kernels::kernels_run_by_this_thread();
        const Tensor m = mean(x, Axes(axes), keepdims);
        CHECK(kernels::kernels_run_by_this_thread() == before + 1);
        const Tensor want = sum(x, Axes(axes), keepdims) * (1.0 / double(n));
        REQUIRE(m.shape() == want.shape());
        CHECK(m.dtype() == dt);
        const std::vector<double> got = m.to_vector<double>(), expected = want.to_vector<double>();
        CHECK(got == expected);
      }
    }
  }
  const Tensor ints = Tensor::from_vector(std::vector<std::int32_t>{1, 2, 4}, Shape{3});
  CHECK(mean(ints).dtype() == DType::f32);
  CHECK(mean(ints).item<float>() == float(7.0f * float(1.0 / 3.0)));
  CHECK(std::isnan(mean(Tensor::empty({0, 3}), {0}).to_vector<float>()[1]));
}

TEST_CASE("sum_of_squares with a scale: scale * the sum, its bits, and its gradient") {
  const std::vector<Tensor> xs = {host_uniform({7, 3}, 8).astype(DType::f32),
                                  host_uniform({5}, 9).astype(DType::f32)};
  for (const double scale : {1e-4, 0.5, 3.0}) {
    CAPTURE(scale);
    const std::uint64_t before = kernels::kernels_run_by_this_thread();
    const Tensor scaled = sum_of_squares(xs, scale);
    // One SumSquaresMany: the per-tensor sums added and scaled in the same kernel.
    CHECK(kernels::kernels_run_by_this_thread() == before + 1);
    CHECK(scaled.item<float>() == (sum_of_squares(xs) * scale).item<float>());
    // One tensor, and mixed dtypes (the narrower sum widened first).
    const std::vector<Tensor> one = {xs[0]};
    CHECK(sum_of_squares(one, scale).item<float>() == (sum_of_squares(one) * scale).item<float>());
    const std::vector<Tensor> mixed = {xs[0], host_uniform({4}, 10)};
    CHECK(sum_of_squares(mixed, scale).item<double>() ==
          (sum_of_squares(mixed) * scale).item<double>());
  }
  check_gradients(
      [](const std::vector<Tensor>& v) { return sum_of_squares(v, 0.75) + sum(v[0] * v[1]); },
      {host_uniform({3, 2}, 11), host_uniform({3, 2}, 12)});
}
