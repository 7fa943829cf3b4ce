// jax.random-style distributions: determinism (per key, per thread count, per shape), the
// documented word layout, statistics of large samples, and argument errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <vector>

#include <elegy/autodiff/node.hpp>
#include <elegy/core/random_dist.hpp>
#include <elegy/core/views.hpp>
#include <elegy/elegy.hpp>

#include "core/thread_count.hpp"
#include "grad_check.hpp"

using namespace elegy;
using elegy::testing::ThreadCountGuard;

namespace {

constexpr std::int64_t kMillion = 1 << 20;

struct SampleMoments {
  double mean = 0, var = 0, min = INFINITY, max = -INFINITY;
};

SampleMoments moments(const std::vector<double>& v) {
  SampleMoments m;
  for (double x : v) {
    m.mean += x;
    m.min = std::min(m.min, x);
    m.max = std::max(m.max, x);
  }
  m.mean /= double(v.size());
  for (double x : v) m.var += (x - m.mean) * (x - m.mean);
  m.var /= double(v.size());
  return m;
}

double pdf(double x) {
  return std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI);
}
double cdf(double x) {
  return 0.5 * std::erfc(-x / std::sqrt(2.0));
}

// Bitwise equality of two tensors' host copies.
bool same_bits(const Tensor& a, const Tensor& b) {
  if (!(a.shape() == b.shape()) || a.dtype() != b.dtype()) return false;
  const Tensor ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.raw_data(), cb.raw_data(), ca.nbytes()) == 0;
}

}  // namespace

TEST_CASE("the same key gives the same numbers, another key other numbers") {
  const Key key(1234);
  const auto [k1, k2] = split(key);
  const Shape shape{37, 29};
  CHECK(same_bits(random::uniform(key, shape), random::uniform(key, shape)));
  CHECK(same_bits(random::normal(key, shape, DType::f64), random::normal(key, shape, DType::f64)));
  CHECK(same_bits(random::randint(key, shape, -5, 5), random::randint(key, shape, -5, 5)));
  CHECK(same_bits(random::bernoulli(key, 0.5, shape), random::bernoulli(key, 0.5, shape)));
  CHECK(same_bits(random::truncated_normal(key, -1, 1, shape),
                  random::truncated_normal(key, -1, 1, shape)));
  CHECK(same_bits(random::permutation(key, 100), random::permutation(key, 100)));

  // Split keys give unrelated streams: no element agrees.
  const std::vector<float> a = random::uniform(k1, Shape{10000}).to_vector<float>();
  const std::vector<float> b = random::uniform(k2, Shape{10000}).to_vector<float>();
  const std::vector<float> p = random::uniform(key, Shape{10000}).to_vector<float>();
  int equal_ab = 0, equal_ap = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    equal_ab += a[i] == b[i];
    equal_ap += a[i] == p[i];
  }
  CHECK(equal_ab <= 2);  // a coincidence has probability 2^-24 per element
  CHECK(equal_ap <= 2);
  CHECK_FALSE(
      same_bits(random::normal(fold_in(key, 1), shape), random::normal(fold_in(key, 2), shape)));
}

TEST_CASE("element i depends only on (key, i): shapes and prefixes agree") {
  const Key key(99);
  for (DType dtype : {DType::f32, DType::f64}) {
    CAPTURE(dtype);
    const std::vector<double> small = random::uniform(key, Shape{7}, dtype).to_vector<double>();
    const std::vector<double> big = random::uniform(key, Shape{3, 5}, dtype).to_vector<double>();
    CHECK(std::equal(small.begin(), small.end(), big.begin()));
    const std::vector<double> n1 = random::normal(key, Shape{5}, dtype).to_vector<double>();
    const std::vector<double> n2 = random::normal(key, Shape{1001}, dtype).to_vector<double>();
    CHECK(std::equal(n1.begin(), n1.end(), n2.begin()));
    const std::vector<double> t1 =
        random::truncated_normal(key, -2, 2, Shape{3}, dtype).to_vector<double>();
    const std::vector<double> t2 =
        random::truncated_normal(key, -2, 2, Shape{2, 2}, dtype).to_vector<double>();
    CHECK(std::equal(t1.begin(), t1.end(), t2.begin()));
  }
  const std::vector<std::int64_t> r1 =
      random::randint(key, Shape{3}, 0, 1000).to_vector<std::int64_t>();
  const std::vector<std::int64_t> r2 =
      random::randint(key, Shape{9}, 0, 1000, DType::i64).to_vector<std::int64_t>();
  CHECK(std::equal(r1.begin(), r1.end(), r2.begin()));
}

TEST_CASE("uniform and randint follow the documented Philox word layout") {
  const Key key = Key::from_words(0xdeadbeefu, 0x12345678u);
  const std::uint32_t* k = key.words().data();
  const std::vector<float> f = random::uniform(key, Shape{9}).to_vector<float>();
  for (std::uint64_t i = 0; i < 9; ++i) CHECK(f[i] == rng::unit_float(Philox::word(k, i)));
  const std::vector<double> d =
      random::uniform(key, Shape{5}, DType::f64, -1.0, 3.0).to_vector<double>();
  for (std::uint64_t i = 0; i < 5; ++i) {
    const double u =
        rng::unit_double(rng::join_words(Philox::word(k, 2 * i), Philox::word(k, 2 * i + 1)));
    CHECK(d[i] == -1.0 + 4.0 * u);
  }
  const std::vector<std::int64_t> r =
      random::randint(key, Shape{5}, -10, 20, DType::i64).to_vector<std::int64_t>();
  for (std::uint64_t i = 0; i < 5; ++i) {
    const std::uint64_t bits = rng::join_words(Philox::word(k, 2 * i), Philox::word(k, 2 * i + 1));
    CHECK(r[i] == rng::bounded_int(bits, -10, 30));
  }
  // Normal f32 pairs words (2j, 2j+1) through Box-Muller.
  const std::vector<float> z = random::normal(key, Shape{4}).to_vector<float>();
  float z0, z1;
  rng::normal_pair_f32(Philox::word(k, 2), Philox::word(k, 3), z0, z1);
  CHECK(z[2] == z0);
  CHECK(z[3] == z1);
}

TEST_CASE("results are bit-identical for any thread count") {
  ThreadCountGuard guard;
  const Key key(2024);
  const Shape shape{kMillion + 3};  // odd: the last Philox block is partial
  auto draw = [&] {
    return std::vector<Tensor>{random::uniform(key, shape),
                               random::uniform(key, shape, DType::f64, -3.0, 5.0),
                               random::normal(key, shape),
                               random::normal(key, shape, DType::f64),
                               random::truncated_normal(key, -2.0, 2.0, shape),
                               random::randint(key, shape, -100, 100),
                               random::bernoulli(key, 0.25, shape),
                               random::permutation(key, 100003)};
  };
  set_num_threads(1);
  const std::vector<Tensor> one = draw();
  set_num_threads(2);
  const std::vector<Tensor> two = draw();
  set_num_threads(3);
  const std::vector<Tensor> three = draw();
  for (std::size_t i = 0; i < one.size(); ++i) {
    CAPTURE(i);
    CHECK(same_bits(one[i], two[i]));
    CHECK(same_bits(one[i], three[i]));
  }
}

TEST_CASE("uniform: range and moments of a million samples") {
  const Key key(1);
  for (DType dtype : {DType::f32, DType::f64}) {
    CAPTURE(dtype);
    const Tensor u = random::uniform(key, Shape{1024, 1024}, dtype);
    CHECK(u.dtype() == dtype);
    CHECK(u.shape() == Shape{1024, 1024});
    const SampleMoments m = moments(u.to_vector<double>());
    // Standard error of the mean: 0.289 / 1024 = 0.00028.
    CHECK(std::abs(m.mean - 0.5) < 0.002);
    CHECK(std::abs(m.var - 1.0 / 12) < 0.001);
    CHECK(m.min >= 0.0);
    CHECK(m.max < 1.0);
    CHECK(m.min < 1e-5);
    CHECK(m.max > 1 - 1e-5);

    const SampleMoments s =
        moments(random::uniform(key, Shape{kMillion}, dtype, -2.0, 3.0).to_vector<double>());
    CHECK(std::abs(s.mean - 0.5) < 0.01);
    CHECK(std::abs(s.var - 25.0 / 12) < 0.01);
    CHECK(s.min >= -2.0);
    CHECK(s.max < 3.0);
  }
  // A range narrower than float32's spacing allows: values must still stay below maxval.
  const std::vector<float> narrow =
      random::uniform(key, Shape{100000}, DType::f32, 1e6, 1e6 + 0.5).to_vector<float>();
  const auto [nmin, nmax] = std::minmax_element(narrow.begin(), narrow.end());
  CHECK(*nmin >= 1e6f);
  CHECK(double(*nmax) < 1e6 + 0.5);
  CHECK(double(*nmax) == 1e6 + 0.4375);  // the largest float32 below the bound is reached
  // Empty and 0-d tensors.
  CHECK(random::uniform(key, Shape{0, 3}).numel() == 0);
  const double s = random::uniform(key, Shape{}, DType::f64).item<double>();
  CHECK(s >= 0.0);
  CHECK(s < 1.0);
}

TEST_CASE("normal: moments, the one-sigma fraction and tails") {
  const Key key(2);
  for (DType dtype : {DType::f32, DType::f64}) {
    CAPTURE(dtype);
    const std::vector<double> v = random::normal(key, Shape{kMillion}, dtype).to_vector<double>();
    const SampleMoments m = moments(v);
    CHECK(std::abs(m.mean) < 0.005);  // standard error 0.001
    CHECK(std::abs(std::sqrt(m.var) - 1.0) < 0.005);
    std::int64_t within_one = 0, beyond_three = 0;
    double fourth = 0;
    for (double x : v) {
      within_one += std::abs(x) < 1.0;
      beyond_three += std::abs(x) > 3.0;
      fourth += x * x * x * x;
    }
    const double n = double(v.size());
    CHECK(std::abs(double(within_one) / n - 0.682689) < 0.003);
    CHECK(std::abs(double(beyond_three) / n - 0.0026998) < 0.0005);
    CHECK(std::abs(fourth / n - 3.0) < 0.05);  // kurtosis of a normal
    CHECK(std::all_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); }));
  }
}

TEST_CASE("truncated_normal stays inside its bounds with the right moments") {
  const Key key(3);
  struct Case {
    double lo, hi;
  };
  for (DType dtype : {DType::f32, DType::f64}) {
    for (Case c : {Case{-2, 2}, Case{0.5, 3}, Case{-1, 10}, Case{5, 6}, Case{-0.1, 0.1}}) {
      CAPTURE(dtype);
      CAPTURE(c.lo);
      CAPTURE(c.hi);
      const std::vector<double> v =
          random::truncated_normal(key, c.lo, c.hi, Shape{1 << 18}, dtype).to_vector<double>();
      const SampleMoments m = moments(v);
      CHECK(m.min >= c.lo);
      CHECK(m.max <= c.hi);
      const double z = cdf(c.hi) - cdf(c.lo);
      const double mean = (pdf(c.lo) - pdf(c.hi)) / z;
      const double var = 1 + (c.lo * pdf(c.lo) - c.hi * pdf(c.hi)) / z - mean * mean;
      CHECK(std::abs(m.mean - mean) < 5 * std::sqrt(var / double(v.size())) + 1e-6);
      CHECK(m.var == doctest::Approx(var).epsilon(0.02));
    }
  }
}

TEST_CASE("bernoulli frequencies") {
  const Key key(4);
  const Tensor b = random::bernoulli(key, 0.3, Shape{1024, 1024});
  CHECK(b.dtype() == DType::bool_);
  const std::vector<std::uint8_t> v = b.to_vector<std::uint8_t>();
  const double freq = double(std::count(v.begin(), v.end(), 1)) / double(v.size());
  CHECK(std::abs(freq - 0.3) < 0.003);  // standard error 0.00045
  CHECK(std::all_of(v.begin(), v.end(), [](std::uint8_t x) { return x <= 1; }));
  const std::vector<std::uint8_t> never =
      random::bernoulli(key, 0.0, Shape{10000}).to_vector<std::uint8_t>();
  CHECK(std::count(never.begin(), never.end(), 1) == 0);
  const std::vector<std::uint8_t> always =
      random::bernoulli(key, 1.0, Shape{10000}).to_vector<std::uint8_t>();
  CHECK(std::count(always.begin(), always.end(), 1) == 10000);
}

TEST_CASE("randint covers its range uniformly") {
  const Key key(5);
  const Tensor r = random::randint(key, Shape{kMillion}, -3, 7);
  CHECK(r.dtype() == DType::i32);
  const std::vector<std::int32_t> v = r.to_vector<std::int32_t>();
  const auto [vmin, vmax] = std::minmax_element(v.begin(), v.end());
  REQUIRE(*vmin == -3);
  REQUIRE(*vmax == 6);
  std::vector<std::int64_t> counts(10, 0);
  for (std::int32_t x : v) ++counts[std::size_t(x + 3)];
  for (std::int64_t c : counts) CHECK(std::abs(double(c) / double(kMillion) - 0.1) < 0.003);

  // The widest ranges: all of int64 (but the top value), all of int32, all of uint8.
  const std::int64_t lo = std::numeric_limits<std::int64_t>::min();
  const std::int64_t hi = std::numeric_limits<std::int64_t>::max();
  const std::vector<std::int64_t> wide =
      random::randint(key, Shape{10000}, lo, hi, DType::i64).to_vector<std::int64_t>();
  const auto [wmin, wmax] = std::minmax_element(wide.begin(), wide.end());
  CHECK(*wmin < lo / 2);  // both halves are reached
  CHECK(*wmax > hi / 2);
  const std::vector<std::int64_t> i32 =
      random::randint(key, Shape{10000}, std::numeric_limits<std::int32_t>::min(),
                      std::int64_t(std::numeric_limits<std::int32_t>::max()) + 1)
          .to_vector<std::int64_t>();
  CHECK(*std::min_element(i32.begin(), i32.end()) < -1000000000);
  const std::vector<std::int32_t> bytes =
      random::randint(key, Shape{100000}, 0, 256, DType::u8).to_vector<std::int32_t>();
  std::vector<int> seen(256, 0);
  for (std::int32_t x : bytes) ++seen[std::size_t(x)];
  CHECK(std::count(seen.begin(), seen.end(), 0) == 0);
  // A one-value range.
  const std::vector<std::int32_t> one =
      random::randint(key, Shape{100}, 41, 42).to_vector<std::int32_t>();
  CHECK(std::all_of(one.begin(), one.end(), [](std::int32_t x) { return x == 41; }));
}

TEST_CASE("permutation(n) is a permutation of 0..n-1") {
  const Key key(6);
  for (std::int64_t n : {0, 1, 2, 17, 1000, 100003}) {
    CAPTURE(n);
    const Tensor p = random::permutation(key, n);
    CHECK(p.dtype() == DType::i32);
    CHECK(p.shape() == Shape{n});
    std::vector<std::int32_t> v = p.to_vector<std::int32_t>();
    const std::vector<std::int32_t> original = v;
    std::sort(v.begin(), v.end());
    std::vector<std::int32_t> iota(static_cast<std::size_t>(n));
    std::iota(iota.begin(), iota.end(), 0);
    CHECK(v == iota);
    if (n >= 17) {
      CHECK(original != iota);  // shuffled (identity has probability 1/n!)
      CHECK_FALSE(same_bits(p, random::permutation(split(key).first, n)));
    }
  }
  // Every position receives every value about equally often over many keys.
  std::vector<std::vector<int>> counts(5, std::vector<int>(5, 0));
  for (std::uint32_t i = 0; i < 5000; ++i) {
    const std::vector<std::int32_t> v =
        random::permutation(fold_in(key, i), 5).to_vector<std::int32_t>();
    for (std::size_t pos = 0; pos < 5; ++pos) ++counts[pos][std::size_t(v[pos])];
  }
  for (const auto& row : counts)
    for (int c : row) CHECK(std::abs(c - 1000) < 150);  // binomial sd 28
}

TEST_CASE("permutation(x) shuffles the first axis in the order of permutation(n)") {
  const Key key(7);
  std::vector<float> data(12 * 5);
  std::iota(data.begin(), data.end(), 0.0f);
  const Tensor x = Tensor::from_vector(data, Shape{12, 5});
  const std::vector<std::int32_t> order = random::permutation(key, 12).to_vector<std::int32_t>();
  auto check_rows = [&](const Tensor& shuffled, const Tensor& source) {
    CHECK(shuffled.shape() == source.shape());
    const std::vector<float> got = shuffled.to_vector<float>();
    const std::vector<float> src = source.to_vector<float>();
    const std::size_t row = std::size_t(source.numel() / source.shape(0));
    for (std::size_t r = 0; r < std::size_t(source.shape(0)); ++r)
      for (std::size_t c = 0; c < row; ++c)
        CHECK(got[r * row + c] == src[std::size_t(order[r]) * row + c]);
  };
  check_rows(random::permutation(key, x), x);
  // A strided input (the transpose of a [5, 12] tensor) goes through the per-row copy path.
  int perm[] = {1, 0};
  const Tensor xt = views::permute(Tensor::from_vector(data, Shape{5, 12}), perm);
  CHECK_FALSE(xt.is_contiguous());
  check_rows(random::permutation(key, xt), xt);
  // Integer and 1-D inputs.
  const Tensor ints =
      Tensor::from_vector(std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  check_rows(random::permutation(key, ints), ints);
  CHECK_THROWS_WITH_AS(
      random::permutation(key, Tensor::from_vector(std::vector<float>{1}, Shape{})),
      doctest::Contains("permutation: expected a tensor with at least one axis, "
                        "got float32[] on cpu"),
      Error);
  CHECK_THROWS_WITH_AS(random::permutation(key, Tensor()),
                       doctest::Contains("permutation: the input is an undefined tensor"), Error);
}

TEST_CASE("permutation(x) records a backward rule that un-shuffles the cotangent") {
  const Key key(8);
  std::vector<double> data(6 * 2);
  std::iota(data.begin(), data.end(), 0.0);
  const Tensor x = Tensor::from_vector(data, Shape{6, 2});
  const std::vector<std::int32_t> order = random::permutation(key, 6).to_vector<std::int32_t>();
  autodiff::TapeScope scope;
  const Tensor v = autodiff::make_variable(x);
  const Tensor y = random::permutation(key, v);
  REQUIRE(y.node() != nullptr);
  CHECK(std::string(y.node()->op) == "permutation");
  // Cotangent g: row r of x receives the row of g that x's row r was moved to.
  std::vector<double> gdata(12);
  std::iota(gdata.begin(), gdata.end(), 100.0);
  const Tensor g = Tensor::from_vector(gdata, Shape{6, 2});
  const autodiff::Cotangents cots = y.node()->vjp(g, Tensor());
  REQUIRE(cots.size() == 1);
  REQUIRE(!cots[0].scaled());
  const std::vector<double> gx = cots[0].value.to_vector<double>();
  for (std::size_t r = 0; r < 6; ++r)
    for (std::size_t c = 0; c < 2; ++c)
      CHECK(gx[std::size_t(order[r]) * 2 + c] == gdata[r * 2 + c]);
  // Outside a tape nothing records.
}

TEST_CASE("permutation(x) gradients match finite differences, grad of grad included") {
  const Key key(11);
  const Tensor w = elegy::testing::host_uniform(Shape{5, 3}, 12);
  auto f = [&](const std::vector<Tensor>& xs) { return sum(random::permutation(key, xs[0]) * w); };
  elegy::testing::check_gradients(f, {elegy::testing::host_uniform(Shape{5, 3}, 13)});
  elegy::testing::check_gradients(f, {elegy::testing::transposed_input(Shape{5, 3}, 14)});
  // d/dx sum(perm(x)^2 * w) = 2 * unperm(w) * x, whose own gradient (of its sum) is 2 * unperm(w).
  auto inner = [&](const Tensor& x) {
    return sum(random::permutation(key, x) * random::permutation(key, x) * w);
  };
  const Tensor x = elegy::testing::host_uniform(Shape{5, 3}, 15);
  const Tensor second = grad([&](const Tensor& v) { return sum(grad(inner)(v)); })(x);
  const std::vector<std::int32_t> order = random::permutation(key, 5).to_vector<std::int32_t>();
  const std::vector<double> wv = w.to_vector<double>(), got = second.to_vector<double>();
  for (std::size_t r = 0; r < 5; ++r)
    for (std::size_t c = 0; c < 3; ++c)
      CHECK(got[std::size_t(order[r]) * 3 + c] == doctest::Approx(2 * wv[r * 3 + c]));
}

TEST_CASE("random tensors can be requested on any device and match the CPU's") {
  const Key key(9);
  if (cuda_available()) {
    const Tensor gpu = random::normal(key, Shape{1000}, DType::f32, Device::cuda());
    CHECK(gpu.device() == Device::cuda());
    CHECK(same_bits(gpu.to(Device::cpu()), random::normal(key, Shape{1000})));
    const Tensor p = random::permutation(
        key, random::uniform(key, Shape{10, 3}, DType::f32, 0, 1, Device::cuda()));
    CHECK(p.device() == Device::cuda());
    CHECK(same_bits(p.to(Device::cpu()),
                    random::permutation(key, random::uniform(key, Shape{10, 3}))));
  } else {
    CHECK_THROWS_AS(random::uniform(key, Shape{4}, DType::f32, 0, 1, Device::cuda()), Error);
  }
}

TEST_CASE("argument errors name the op and the offending value") {
  const Key key(10);
  CHECK_THROWS_WITH_AS(random::uniform(key, Shape{3}, DType::i32),
                       doctest::Contains("uniform: dtype must be float32 or float64, got int32"),
                       Error);
  CHECK_THROWS_WITH_AS(
      random::uniform(key, Shape{3}, DType::f32, 1.0, 1.0),
      doctest::Contains("uniform: expected finite bounds with minval < maxval, got [1, 1)"), Error);
  CHECK_THROWS_WITH_AS(random::uniform(key, Shape{3}, DType::f32, 0.0, INFINITY),
                       doctest::Contains("uniform: expected finite bounds"), Error);
  CHECK_THROWS_WITH_AS(random::uniform(key, Shape{3, -1}),
                       doctest::Contains("uniform: negative dimension in shape [3,-1]"), Error);
  CHECK_THROWS_WITH_AS(random::normal(key, Shape{3}, DType::bool_),
                       doctest::Contains("normal: dtype must be float32 or float64, got bool"),
                       Error);
  CHECK_THROWS_WITH_AS(random::truncated_normal(key, 2.0, -2.0, Shape{3}),
                       doctest::Contains("truncated_normal: expected lower < upper, got [2, -2]"),
                       Error);
  CHECK_THROWS_WITH_AS(
      random::truncated_normal(key, -2.0, 2.0, Shape{3}, DType::i64),
      doctest::Contains("truncated_normal: dtype must be float32 or float64, got int64"), Error);
  CHECK_THROWS_WITH_AS(random::bernoulli(key, 1.5, Shape{3}),
                       doctest::Contains("bernoulli: probability p must be in [0, 1], got 1.5"),
                       Error);
  CHECK_THROWS_WITH_AS(random::bernoulli(key, -0.1, Shape{3}), doctest::Contains("got -0.1"),
                       Error);
  CHECK_THROWS_WITH_AS(random::bernoulli(key, NAN, Shape{3}), doctest::Contains("bernoulli:"),
                       Error);
  CHECK_THROWS_WITH_AS(random::randint(key, Shape{3}, 5, 5),
                       doctest::Contains("randint: expected minval < maxval, got [5, 5)"), Error);
  CHECK_THROWS_WITH_AS(
      random::randint(key, Shape{3}, 0, 10, DType::f32),
      doctest::Contains("randint: dtype must be int32, int64 or uint8, got float32"), Error);
  CHECK_THROWS_WITH_AS(
      random::randint(key, Shape{3}, 0, std::int64_t(1) << 40),
      doctest::Contains("randint: the range [0, 1099511627776) does not fit int32"), Error);
  CHECK_THROWS_WITH_AS(random::randint(key, Shape{3}, -1, 10, DType::u8),
                       doctest::Contains("does not fit uint8"), Error);
  CHECK_THROWS_WITH_AS(random::permutation(key, -1),
                       doctest::Contains("permutation: n must be in [0, 2^31), got -1"), Error);
}
