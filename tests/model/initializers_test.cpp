// Initializers: exact values for the constant ones, moments and bounds for the random ones
// (100k draws), Haiku's fan rules, and orthogonality.
#include <doctest/doctest.h>

#include <cmath>

#include <elegy/elegy.hpp>

#include "../grad_check.hpp"

using namespace elegy;
using namespace elegy::testing;
namespace init = elegy::initializers;

namespace {

struct SampleStats {
  double mean = 0, stddev = 0, max_abs = 0;
};

SampleStats moments_of(const Tensor& t) {
  const std::vector<double> v = values(t);
  SampleStats m;
  for (double x : v) m.mean += x, m.max_abs = std::max(m.max_abs, std::abs(x));
  m.mean /= double(v.size());
  for (double x : v) m.stddev += (x - m.mean) * (x - m.mean);
  m.stddev = std::sqrt(m.stddev / double(v.size()));
  return m;
}

Tensor draw(const init::Initializer& f, const Shape& shape, DType dtype = DType::f32) {
  return f(Key(42), shape, dtype, Device::cpu());
}

}  // namespace

TEST_CASE("initializers: constant, zeros, ones keep shape and dtype") {
  const Tensor c = draw(init::constant(2.5), {2, 3}, DType::f64);
  CHECK(c.dtype() == DType::f64);
  CHECK(values(c) == std::vector<double>(6, 2.5));
  CHECK(values(draw(init::zeros(), {4})) == std::vector<double>(4, 0.0));
  CHECK(values(draw(init::ones(), {1, 2})) == std::vector<double>(2, 1.0));
}

TEST_CASE("initializers: Haiku's fans") {
  CHECK(init::compute_fans({784, 300}).fan_in == 784);
  CHECK(init::compute_fans({784, 300}).fan_out == 300);
  // Conv kernel [3, 3, 16, 32]: receptive field 9.
  CHECK(init::compute_fans({3, 3, 16, 32}).fan_in == 144);
  CHECK(init::compute_fans({3, 3, 16, 32}).fan_out == 288);
  CHECK(init::compute_fans({7}).fan_in == 7);
}

TEST_CASE("initializers: random distributions have their moments and bounds") {
  const Shape shape{400, 250};  // 100k draws: stddev of a mean ~ 0.003
  const SampleStats u = moments_of(draw(init::uniform(-2.0, 4.0), shape));
  CHECK(u.mean == doctest::Approx(1.0).epsilon(0.02));
  CHECK(u.stddev == doctest::Approx(6.0 / std::sqrt(12.0)).epsilon(0.01));
  CHECK(u.max_abs <= 4.0);
  const SampleStats n = moments_of(draw(init::normal(0.5, 3.0), shape));
  CHECK(n.mean == doctest::Approx(3.0).epsilon(0.01));
  CHECK(n.stddev == doctest::Approx(0.5).epsilon(0.01));
  const SampleStats t = moments_of(draw(init::truncated_normal(0.5), shape));
  CHECK(std::abs(t.mean) < 0.01);
  CHECK(t.stddev == doctest::Approx(0.5 * 0.87962566).epsilon(0.01));
  CHECK(t.max_abs <= 1.0 + 1e-6);
  // The same key gives the same numbers; dtypes are honoured.
  CHECK(values(draw(init::normal(), {5})) == values(draw(init::normal(), {5})));
  CHECK(draw(init::normal(), {5}, DType::f64).dtype() == DType::f64);
  CHECK_THROWS_WITH_AS(draw(init::normal(), {5}, DType::i32), doctest::Contains("floating"), Error);
}

TEST_CASE("initializers: variance scaling gives variance scale / fan for each mode") {
  const Shape shape{500, 200};  // fan_in 500, fan_out 200, fan_avg 350
  struct Case {
    init::Initializer f;
    double variance;
  };
  const Case cases[] = {
      {init::variance_scaling(1.0), 1.0 / 500},
      {init::variance_scaling(2.0, init::FanMode::fan_out, init::Distribution::normal), 2.0 / 200},
      {init::glorot_uniform(), 1.0 / 350},
      {init::glorot_normal(), 1.0 / 350},
      {init::he_uniform(), 2.0 / 500},
      {init::he_normal(), 2.0 / 500},
      {init::lecun_uniform(), 1.0 / 500},
      {init::lecun_normal(), 1.0 / 500},
  };
  for (const Case& c : cases) {
    const SampleStats m = moments_of(draw(c.f, shape));
    CHECK(m.stddev * m.stddev == doctest::Approx(c.variance).epsilon(0.02));
  }
  // glorot_uniform's bound: sqrt(6 / (fan_in + fan_out)).
  CHECK(moments_of(draw(init::glorot_uniform(), shape)).max_abs <= std::sqrt(6.0 / 700.0));
}

TEST_CASE("initializers: orthogonal gives orthonormal columns (or rows) times the scale") {
  for (const Shape& shape : {Shape{6, 4}, Shape{3, 5}, Shape{2, 2, 3}}) {
    const Tensor q = draw(init::orthogonal(2.0), shape, DType::f64);
    const std::int64_t cols = shape[shape.size() - 1], rows = q.numel() / cols;
    const Tensor m = reshape(q, {rows, cols});
    // The smaller Gram matrix is 4 I.
    const Tensor gram = rows >= cols ? matmul(transpose(m), m) : matmul(m, transpose(m));
    const std::vector<double> g = values(gram);
    const std::int64_t k = std::min(rows, cols);
    for (std::int64_t i = 0; i < k; ++i)
      for (std::int64_t j = 0; j < k; ++j)
        CHECK(g[std::size_t(i * k + j)] == doctest::Approx(i == j ? 4.0 : 0.0).epsilon(1e-9));
  }
}
