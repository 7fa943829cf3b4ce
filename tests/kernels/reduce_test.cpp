// Reductions (sum, prod, max, min, logsumexp, argmax/argmin, any/all, sum_to) and
// softmax/log_softmax: values against float64 references computed here, over every kernel path
// (contiguous runs, outer-axis rows, strided, multi-pass, multi-threaded), plus the error cases.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <elegy/autodiff/kernel_call.hpp>
#include <elegy/core/views.hpp>
#include <elegy/elegy.hpp>

using namespace elegy;

namespace {

enum class Kind { Sum, Prod, Max, Min, LogSumExp };

constexpr double kInf = std::numeric_limits<double>::infinity();

std::vector<double> random_values(std::int64_t n, std::uint64_t seed, double lo = -1.0,
                                  double hi = 1.0) {
  std::vector<double> v(static_cast<std::size_t>(n));
  std::uint64_t s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  for (double& x : v) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    x = lo + (hi - lo) * double(s >> 11) / double(1ULL << 53);
  }
  return v;
}

// The values as T (so the float64 reference sees exactly what the kernel sees).
template <class T>
std::vector<double> rounded(const std::vector<double>& v) {
  std::vector<double> out;
  for (double x : v) out.push_back(double(T(x)));
  return out;
}

template <class T>
Tensor dense(const std::vector<double>& v, const Shape& shape) {
  std::vector<T> t;
  for (double x : v) t.push_back(T(x));
  return Tensor::from_vector(t, shape);
}

// A non-contiguous tensor (a transposed view) whose logical row-major values are `v`.
template <class T>
Tensor transposed(const std::vector<double>& v, const Shape& shape) {
  const int rank = shape.size();
  Shape reversed;
  for (int i = rank - 1; i >= 0; --i) reversed.push_back(shape[i]);
  std::vector<T> data(v.size());
  const Strides rs = contiguous_strides(reversed);
  for (std::int64_t flat = 0; flat < shape.numel(); ++flat) {
    std::int64_t rem = flat, pos = 0;
    for (int i = rank - 1; i >= 0; --i) {
      pos += (rem % shape[i]) * rs[rank - 1 - i];
      rem /= shape[i];
    }
    data[std::size_t(pos)] = T(v[std::size_t(flat)]);
  }
  std::vector<int> perm;
  for (int i = rank - 1; i >= 0; --i) perm.push_back(i);
  return views::permute(Tensor::from_vector(data, reversed), perm);
}

unsigned mask_of(std::initializer_list<int> axes, int rank) {
  unsigned m = 0;
  for (int a : axes) m |= 1u << (a < 0 ? a + rank : a);
  return axes.size() == 0 ? (1u << rank) - 1 : m;
}

// Float64 reduction of `x` (row-major, `shape`) over the dims in `mask`, keepdims layout.
std::vector<double> reference(const std::vector<double>& x, const Shape& shape, unsigned mask,
                              Kind k) {
  Shape keep = shape;
  for (int i = 0; i < shape.size(); ++i)
    if (mask & (1u << i)) keep[i] = 1;
  const Strides ks = contiguous_strides(keep);
  auto out_index = [&](std::int64_t flat) {
    std::int64_t idx = 0;
    for (int i = shape.size() - 1; i >= 0; --i) {
      const std::int64_t c = flat % shape[i];
      flat /= shape[i];
      if (!(mask & (1u << i))) idx += c * ks[i];
    }
    return std::size_t(idx);
  };
  const double init = k == Kind::Sum ? 0.0 : k == Kind::Prod ? 1.0 : k == Kind::Min ? kInf : -kInf;
  std::vector<double> out(std::size_t(keep.numel()), init);
  for (std::int64_t i = 0; i < shape.numel(); ++i) {
    double& o = out[out_index(i)];
    const double v = x[std::size_t(i)];
    switch (k) {
      case Kind::Sum:
        o += v;
        break;
      case Kind::Prod:
        o *= v;
        break;
      case Kind::Max:
      case Kind::LogSumExp:
        o = std::max(o, v);
        break;
      case Kind::Min:
        o = std::min(o, v);
        break;
    }
  }
  if (k == Kind::LogSumExp) {
    std::vector<double> s(out.size(), 0.0);
    for (std::int64_t i = 0; i < shape.numel(); ++i)
      s[out_index(i)] += std::exp(x[std::size_t(i)] - out[out_index(i)]);
    for (std::size_t j = 0; j < out.size(); ++j) out[j] += std::log(s[j]);
  }
  return out;
}

Tensor run(Kind k, const Tensor& x, const Axes& axes, bool keepdims) {
  switch (k) {
    case Kind::Sum:
      return sum(x, axes, keepdims);
    case Kind::Prod:
      return prod(x, axes, keepdims);
    case Kind::Max:
      return max(x, axes, keepdims);
    case Kind::Min:
      return min(x, axes, keepdims);
    case Kind::LogSumExp:
      break;
  }
  return logsumexp(x, axes, keepdims);
}

const char* name(Kind k) {
  const char* names[] = {"sum", "prod", "max", "min", "logsumexp"};
  return names[int(k)];
}

// Checks kind `k` of x (values v, shape) over `axes` against the reference, for dtype T.
template <class T>
void check_reduction(Kind k, const Tensor& x, const std::vector<double>& v, const Shape& shape,
                     std::initializer_list<int> axes, bool keepdims = false) {
  const unsigned mask = mask_of(axes, shape.size());
  const std::vector<double> want = reference(v, shape, mask, k);
  std::vector<double> abs_v;
  for (double a : v) abs_v.push_back(std::abs(a));
  const std::vector<double> scale = reference(abs_v, shape, mask, Kind::Sum);
  const Tensor got = run(k, x, axes.size() ? Axes(std::vector<int>(axes)) : Axes(), keepdims);
  Shape want_shape;
  for (int i = 0; i < shape.size(); ++i) {
    if (!(mask & (1u << i)))
      want_shape.push_back(shape[i]);
    else if (keepdims)
      want_shape.push_back(1);
  }
  INFO(name(k), " of ", describe(x), " over ",
       Shape(std::vector<std::int64_t>(axes.begin(), axes.end())), " keepdims ", keepdims);
  REQUIRE(got.shape() == want_shape);
  CHECK(got.dtype() == x.dtype());
  const std::vector<double> g = got.to_vector<double>();
  const double eps = std::is_same_v<T, float> ? 2e-6 : 1e-14;
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("output ", i, ": got ", g[i], " want ", want[i]);
    if (k == Kind::Sum)
      CHECK(std::abs(g[i] - want[i]) <= eps * (scale[i] + 1));
    else if (k == Kind::Max || k == Kind::Min)
      CHECK(g[i] == T(want[i]));
    else
      CHECK(std::abs(g[i] - want[i]) <= 4 * eps * (std::abs(want[i]) + 1));
  }
}

template <class T>
void check_all_kinds(const Shape& shape, std::initializer_list<int> axes, std::uint64_t seed) {
  const std::vector<double> v = rounded<T>(random_values(shape.numel(), seed));
  const std::vector<double> near_one = rounded<T>(random_values(shape.numel(), seed, 0.9, 1.1));
  for (bool keepdims : {false, true}) {
    for (Kind k : {Kind::Sum, Kind::Max, Kind::Min, Kind::LogSumExp}) {
      check_reduction<T>(k, dense<T>(v, shape), v, shape, axes, keepdims);
      if (shape.size() >= 2)
        check_reduction<T>(k, transposed<T>(v, shape), v, shape, axes, keepdims);
    }
    check_reduction<T>(Kind::Prod, dense<T>(near_one, shape), near_one, shape, axes, keepdims);
    if (shape.size() >= 2)
      check_reduction<T>(Kind::Prod, transposed<T>(near_one, shape), near_one, shape, axes,
                         keepdims);
  }
}

// Restores the thread count when a test changes it.
struct ThreadCount {
  int saved = num_threads();
  ~ThreadCount() { set_num_threads(saved); }
};

}  // namespace

TEST_CASE_TEMPLATE("reductions of 1-D tensors match float64 across SIMD widths and threading", T,
                   float, double) {
  for (std::int64_t n : {1, 15, 16, 17, 63, 64, 65, 1000, 1025, 100003}) {
    CAPTURE(n);
    check_all_kinds<T>(Shape{n}, {}, std::uint64_t(n));
    check_all_kinds<T>(Shape{n}, {0}, std::uint64_t(n) + 1);
  }
}

TEST_CASE_TEMPLATE("reductions of [37,53] over each axis, dense and transposed", T, float, double) {
  for (auto axes : {std::initializer_list<int>{0}, {1}, {-1}, {-2}, {0, 1}, {}}) {
    check_all_kinds<T>(Shape{37, 53}, axes, 7);
  }
}

TEST_CASE_TEMPLATE("reductions of 3-D tensors over middle axes and axis pairs", T, float, double) {
  const Shape shape{6, 35, 19};
  for (auto axes : {std::initializer_list<int>{1}, {0, 1}, {1, 2}, {0, 2}, {-1, -3}, {0}, {2}, {}})
    check_all_kinds<T>(shape, axes, 11);
  // A middle-axis reduction whose pieces run multi-threaded, and a strided (sliced) input.
  const Shape big{3, 40000, 2};
  const std::vector<double> v = rounded<T>(random_values(big.numel(), 5));
  for (Kind k : {Kind::Sum, Kind::Max, Kind::LogSumExp})
    check_reduction<T>(k, dense<T>(v, big), v, big, {1});
}

TEST_CASE_TEMPLATE("outer-axis reductions over many rows and wide rows", T, float, double) {
  // Many row pieces (multi-threaded), narrow rows, an odd width, and rows wider than one column
  // tile (4096), cut into several tiles and pieces.
  for (Shape shape :
       {Shape{4099, 300}, Shape{70001, 3}, Shape{200, 1000}, Shape{33, 17}, Shape{40, 9000}}) {
    const std::vector<double> v = rounded<T>(random_values(shape.numel(), 3));
    for (Kind k : {Kind::Sum, Kind::Max, Kind::Min, Kind::LogSumExp}) {
      check_reduction<T>(k, dense<T>(v, shape), v, shape, {0});
      check_reduction<T>(k, transposed<T>(v, shape), v, shape, {1});
    }
  }
}

TEST_CASE("a strided (sliced) input is reduced with its own strides") {
  const std::vector<double> v = random_values(40 * 30, 9);
  const Tensor x = dense<double>(v, Shape{40, 30});
  const Tensor every_other = views::slice(views::slice(x, 0, 1, 40, 2), 1, 0, 30, 3);  // [20,10]
  std::vector<double> sub;
  for (int i = 1; i < 40; i += 2)
    for (int j = 0; j < 30; j += 3) sub.push_back(v[std::size_t(i * 30 + j)]);
  for (Kind k : {Kind::Sum, Kind::Max, Kind::LogSumExp})
    for (auto axes : {std::initializer_list<int>{0}, {1}, {}})
      check_reduction<double>(k, every_other, sub, Shape{20, 10}, axes);
}

TEST_CASE("float32 sum of 16M elements is accurate and independent of the thread count") {
  const std::int64_t n = 1 << 24;
  std::vector<float> v(static_cast<std::size_t>(n));
  double want = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    v[std::size_t(i)] = 1.0f + float(i % 7) * 0.125f;  // exact in float32
    want += double(v[std::size_t(i)]);
  }
  const Tensor x = Tensor::from_vector(v);
  ThreadCount restore;
  set_num_threads(1);
  const float one_thread = sum(x).item<float>();
  set_num_threads(2);
  const float two_threads = sum(x).item<float>();
  CHECK(std::abs(double(one_thread) - want) / want < 1e-6);
  CHECK(one_thread == two_threads);
  // A [100003] sum and an outer-axis sum give bit-identical results on 1 and 2 threads too.
  const std::vector<double> r = random_values(100003, 1);
  const Tensor y = dense<float>(r, Shape{100003});
  const Tensor z = dense<float>(random_values(4099 * 300, 2), Shape{4099, 300});
  set_num_threads(1);
  const float y1 = sum(y).item<float>();
  const std::vector<float> z1 = sum(z, 0).to_vector<float>();
  set_num_threads(2);
  CHECK(sum(y).item<float>() == y1);
  CHECK(sum(z, 0).to_vector<float>() == z1);
}

TEST_CASE("integer and bool reductions keep exact values with numpy's dtypes") {
  const std::vector<std::int32_t> v{3, -7, 12, 5, 0, -2, 9, 4, -1, 8, 6, 2};
  const Tensor x = Tensor::from_vector(v, Shape{3, 4});
  const Tensor s = sum(x);
  CHECK(s.dtype() == DType::i32);
  CHECK(s.item<std::int32_t>() == 39);
  CHECK(sum(x, 0).to_vector<std::int32_t>() == std::vector<std::int32_t>{2, -1, 27, 11});
  CHECK(sum(x, 1).to_vector<std::int32_t>() == std::vector<std::int32_t>{13, 11, 15});
  CHECK(max(x, 1).to_vector<std::int32_t>() == std::vector<std::int32_t>{12, 9, 8});
  CHECK(min(x, 0).to_vector<std::int32_t>() == std::vector<std::int32_t>{-1, -7, 6, 2});
  CHECK(prod(x, 1).to_vector<std::int32_t>() == std::vector<std::int32_t>{-1260, 0, -96});

  // int32 sums wrap like numpy's; int64 holds them.
  const Tensor big = Tensor::from_vector(std::vector<std::int32_t>(1000, 1 << 22));
  CHECK(sum(big).item<std::int32_t>() == std::int32_t(std::uint32_t(1000u << 22)));
  const Tensor big64 =
      Tensor::from_vector(std::vector<std::int64_t>(100003, std::int64_t(1) << 40));
  CHECK(sum(big64).item<std::int64_t>() == 100003 * (std::int64_t(1) << 40));
  CHECK(max(big64).item<std::int64_t>() == std::int64_t(1) << 40);

  // uint8 and bool sum in int64.
  const Tensor bytes = Tensor::from_vector(std::vector<std::uint8_t>(1000, 200));
  CHECK(sum(bytes).dtype() == DType::i64);
  CHECK(sum(bytes).item<std::int64_t>() == 200000);
  CHECK(max(bytes).dtype() == DType::u8);
  std::vector<std::uint8_t> mixed(1001);
  for (std::size_t i = 0; i < mixed.size(); ++i) mixed[i] = std::uint8_t((i * 37) % 251);
  CHECK(max(Tensor::from_vector(mixed)).item<int>() == 250);
  CHECK(min(Tensor::from_vector(mixed)).item<int>() == 0);
  const Tensor flags = Tensor::from_vector(std::vector<std::uint8_t>{1, 0, 1, 1, 0, 1}, Shape{2, 3})
                           .astype(DType::bool_);
  CHECK(sum(flags).dtype() == DType::i64);
  CHECK(sum(flags).item<std::int64_t>() == 4);
  CHECK(sum(flags, 0).to_vector<std::int64_t>() == std::vector<std::int64_t>{2, 0, 2});
  CHECK(max(flags, 1).dtype() == DType::bool_);
  CHECK(min(flags, 0).to_vector<int>() == std::vector<int>{1, 0, 1});
  CHECK(max(flags, 1).to_vector<int>() == std::vector<int>{1, 1});
}

TEST_CASE("max and min propagate NaN; logsumexp handles infinities") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (std::int64_t n : {5, 1000, 100003}) {
    std::vector<double> v = random_values(n, 4);
    v[std::size_t(n / 2)] = nan;
    CHECK(std::isnan(max(dense<float>(v, Shape{n})).item<float>()));
    CHECK(std::isnan(min(dense<double>(v, Shape{n})).item<double>()));
    CHECK(std::isnan(logsumexp(dense<float>(v, Shape{n})).item<float>()));
  }
  // NaN in one column of an outer-axis reduction only poisons that column.
  std::vector<double> v = random_values(300 * 5, 6);
  v[150 * 5 + 2] = nan;
  const std::vector<double> m = max(dense<float>(v, Shape{300, 5}), 0).to_vector<double>();
  for (int j = 0; j < 5; ++j) CHECK(std::isnan(m[std::size_t(j)]) == (j == 2));

  CHECK(logsumexp(Tensor::from_vector(std::vector<double>{-kInf, -kInf})).item<double>() == -kInf);
  CHECK(logsumexp(Tensor::from_vector(std::vector<double>{1.0, kInf})).item<double>() == kInf);
  CHECK(logsumexp(Tensor::from_vector(std::vector<float>{1000.f, 1001.f})).item<float>() ==
        doctest::Approx(1001.3132616875182).epsilon(1e-6));
  CHECK(logsumexp(Tensor::from_vector(std::vector<double>{-kInf, 0.0})).item<double>() == 0.0);
}

TEST_CASE("empty reductions give the identity; max of an empty axis is an error") {
  const Tensor e = zeros(Shape{0, 3});
  CHECK(sum(e, 0).to_vector<float>() == std::vector<float>{0, 0, 0});
  CHECK(prod(e, 0).to_vector<float>() == std::vector<float>{1, 1, 1});
  CHECK(sum(e, 1).shape() == Shape{0});
  CHECK(max(e, 1).shape() == Shape{0});
  CHECK(logsumexp(e, 0).to_vector<float>() == std::vector<float>(3, -float(kInf)));
  CHECK(sum(e).item<float>() == 0.0f);
  CHECK_THROWS_WITH_AS(max(e, 0), doctest::Contains("max: cannot reduce float32[0,3] on cpu"),
                       Error);
  CHECK_THROWS_WITH_AS(min(e), doctest::Contains("min: cannot reduce"), Error);
  CHECK(any(e).item<bool>() == false);
  CHECK(all(e).item<bool>() == true);
}

TEST_CASE("a 0-d tensor reduces to itself") {
  const Tensor s = scalar(2.5f);
  CHECK(sum(s).item<float>() == 2.5f);
  CHECK(max(s).shape() == Shape{});
  CHECK(logsumexp(s).item<float>() == 2.5f);
  CHECK(argmax(s).item<std::int32_t>() == 0);
}

TEST_CASE("reduction axis errors name the op and the axis") {
  const Tensor x = zeros(Shape{2, 3});
  CHECK_THROWS_WITH_AS(
      sum(x, 2), doctest::Contains("sum: axis 2 is out of range for a tensor of rank 2"), Error);
  CHECK_THROWS_WITH_AS(max(x, -3), doctest::Contains("max: axis -3 is out of range"), Error);
  CHECK_THROWS_WITH_AS(sum(x, {0, -2}), doctest::Contains("sum: axis -2 is repeated"), Error);
  CHECK_THROWS_WITH_AS(logsumexp(x, {1, 1}), doctest::Contains("logsumexp: axis 1 is repeated"),
                       Error);
  CHECK_THROWS_WITH_AS(argmax(x, 5), doctest::Contains("argmax: axis 5 is out of range"), Error);
  CHECK_THROWS_WITH_AS(softmax(x, 2), doctest::Contains("softmax: axis 2 is out of range"), Error);
  CHECK_THROWS_WITH_AS(sum(Tensor()), doctest::Contains("sum: the input is an undefined tensor"),
                       Error);
}

TEST_CASE("argmax and argmin return the first extreme index as int32") {
  const Tensor x =
      Tensor::from_vector(std::vector<float>{1, 5, 5, -2, 0, -2, 3, 5, 1, 4, -2, 0}, Shape{3, 4});
  CHECK(argmax(x).dtype() == DType::i32);
  CHECK(argmax(x).item<std::int32_t>() == 1);  // ties: the first in flattened order
  CHECK(argmin(x).item<std::int32_t>() == 3);
  CHECK(argmax(x, 1).to_vector<std::int32_t>() == std::vector<std::int32_t>{1, 3, 1});
  CHECK(argmin(x, 1).to_vector<std::int32_t>() == std::vector<std::int32_t>{3, 1, 2});
  CHECK(argmax(x, 0).to_vector<std::int32_t>() == std::vector<std::int32_t>{0, 0, 0, 1});
  CHECK(argmin(x, -2).to_vector<std::int32_t>() == std::vector<std::int32_t>{1, 1, 2, 0});
  CHECK(argmax(x, 1, true).shape() == Shape{3, 1});

  // Long rows (the SIMD max then a scan), ties, NaN, and a transposed input.
  for (std::int64_t n : {100, 1000, 100003}) {
    std::vector<double> v = random_values(n, 8);
    v[std::size_t(n / 3)] = 2.0;
    v[std::size_t(n - 1)] = 2.0;
    v[std::size_t(n / 4)] = -2.0;
    v[std::size_t(n / 2)] = -2.0;
    CHECK(argmax(dense<float>(v, Shape{n})).item<std::int32_t>() == n / 3);
    CHECK(argmin(dense<double>(v, Shape{n})).item<std::int32_t>() == n / 4);
    v[std::size_t(n - 2)] = std::numeric_limits<double>::quiet_NaN();
    v[std::size_t(n - 1)] = std::numeric_limits<double>::quiet_NaN();
    CHECK(argmax(dense<float>(v, Shape{n})).item<std::int32_t>() == n - 2);
    CHECK(argmin(dense<double>(v, Shape{n})).item<std::int32_t>() == n - 2);
  }
  for (const Shape& shape : {Shape{37, 53}, Shape{3, 9000}}) {
    const std::vector<double> v = random_values(shape.numel(), 12);
    const std::int64_t cols = shape[1];
    for (int axis : {0, 1}) {
      for (const Tensor& t : {dense<float>(v, shape), transposed<float>(v, shape)}) {
        const std::vector<std::int32_t> got = argmax(t, axis).to_vector<std::int32_t>();
        const std::vector<std::int32_t> low = argmin(t, axis).to_vector<std::int32_t>();
        const std::int64_t other = shape[1 - axis];
        for (std::int64_t o = 0; o < other; ++o) {
          std::int64_t best = 0, worst = 0;
          auto at = [&](std::int64_t i) {
            return axis == 0 ? v[std::size_t(i * cols + o)] : v[std::size_t(o * cols + i)];
          };
          for (std::int64_t i = 1; i < shape[axis]; ++i) {
            if (float(at(i)) > float(at(best))) best = i;
            if (float(at(i)) < float(at(worst))) worst = i;
          }
          CHECK(got[std::size_t(o)] == best);
          CHECK(low[std::size_t(o)] == worst);
        }
      }
    }
  }
  // Integer and bool inputs.
  CHECK(argmax(Tensor::from_vector(std::vector<std::int64_t>{3, 9, 9, 1})).item<int>() == 1);
  CHECK(argmin(Tensor::from_vector(std::vector<std::uint8_t>{3, 9, 0, 0})).item<int>() == 2);
  CHECK(argmax(Tensor::from_vector(std::vector<std::uint8_t>{0, 0, 1, 1}).astype(DType::bool_))
            .item<int>() == 2);
}

TEST_CASE("argmax of an empty sequence is an error") {
  CHECK_THROWS_WITH_AS(argmax(zeros(Shape{0})),
                       doctest::Contains("argmax: attempt to get argmax of an empty sequence"),
                       Error);
  CHECK_THROWS_WITH_AS(argmin(zeros(Shape{3, 0}), 1),
                       doctest::Contains("argmin: attempt to get argmin of an empty sequence"),
                       Error);
}

TEST_CASE("any and all reduce truthiness") {
  const Tensor x = Tensor::from_vector(std::vector<float>{0, 0, 2, 0, 0, 0}, Shape{2, 3});
  CHECK(any(x).dtype() == DType::bool_);
  CHECK(any(x).item<bool>() == true);
  CHECK(all(x).item<bool>() == false);
  CHECK(any(x, 1).to_vector<int>() == std::vector<int>{1, 0});
  CHECK(all(ones(Shape{4, 1000}), 1, true).to_vector<int>() == std::vector<int>(4, 1));
  CHECK(any(zeros(Shape{100003}, DType::i32)).item<bool>() == false);
}

namespace {

// Float64 softmax / log_softmax of `v` (shape) along `axis`, row-major.
std::vector<double> softmax_reference(const std::vector<double>& v, const Shape& shape, int axis,
                                      bool log) {
  const unsigned mask = 1u << axis;
  const std::vector<double> lse = reference(v, shape, mask, Kind::LogSumExp);
  Shape keep = shape;
  keep[axis] = 1;
  const Strides ks = contiguous_strides(keep);
  std::vector<double> out(v.size());
  for (std::int64_t i = 0; i < shape.numel(); ++i) {
    std::int64_t flat = i, idx = 0;
    for (int d = shape.size() - 1; d >= 0; --d) {
      if (d != axis) idx += (flat % shape[d]) * ks[d];
      flat /= shape[d];
    }
    const double l = v[std::size_t(i)] - lse[std::size_t(idx)];
    out[std::size_t(i)] = log ? l : std::exp(l);
  }
  return out;
}

template <class T>
void check_softmax(const Tensor& x, const std::vector<double>& v, const Shape& shape, int axis) {
  for (bool log : {false, true}) {
    INFO((log ? "log_softmax" : "softmax"), " of ", describe(x), " along ", axis);
    const Tensor y = log ? log_softmax(x, axis) : softmax(x, axis);
    REQUIRE(y.shape() == shape);
    CHECK(y.dtype() == x.dtype());
    const std::vector<double> got = y.to_vector<double>();
    const std::vector<double> want =
        softmax_reference(v, shape, axis < 0 ? axis + shape.size() : axis, log);
    const double tol = std::is_same_v<T, float> ? 2e-6 : 1e-13;
    for (std::size_t i = 0; i < want.size(); ++i) {
      INFO("element ", i, ": got ", got[i], " want ", want[i]);
      CHECK(std::abs(got[i] - want[i]) <= tol * (1 + std::abs(want[i])));
    }
  }
}

}  // namespace

TEST_CASE_TEMPLATE("softmax and log_softmax match float64 along every axis", T, float, double) {
  for (Shape shape : {Shape{1}, Shape{17}, Shape{1000}, Shape{37, 53}, Shape{64, 1024},
                      Shape{5, 7, 300}, Shape{3000, 20}, Shape{3, 2100}}) {
    const std::vector<double> v = rounded<T>(random_values(shape.numel(), 21, -5.0, 5.0));
    for (int axis = 0; axis < shape.size(); ++axis) {
      check_softmax<T>(dense<T>(v, shape), v, shape, axis);
      if (shape.size() > 1) check_softmax<T>(transposed<T>(v, shape), v, shape, axis);
    }
    check_softmax<T>(dense<T>(v, shape), v, shape, -1);
  }
}

TEST_CASE("softmax rows sum to one, multi-threaded, with large inputs staying finite") {
  const Shape shape{512, 1000};
  const Tensor x = dense<float>(random_values(shape.numel(), 30, -30.0, 30.0), shape);
  const std::vector<double> sums = sum(softmax(x), 1).to_vector<double>();
  for (double s : sums) CHECK(s == doctest::Approx(1.0).epsilon(1e-5));
  const std::vector<double> col_sums = sum(softmax(x, 0), 0).to_vector<double>();
  for (double s : col_sums) CHECK(s == doctest::Approx(1.0).epsilon(1e-5));

  const Tensor big = Tensor::from_vector(std::vector<float>{1000.f, 1001.f});
  const std::vector<float> ls = log_softmax(big).to_vector<float>();
  CHECK(ls[0] == doctest::Approx(-1.3132616875182228).epsilon(1e-6));
  CHECK(ls[1] == doctest::Approx(-0.31326168751822286).epsilon(1e-6));
  const std::vector<float> sm = softmax(big).to_vector<float>();
  CHECK(sm[0] == doctest::Approx(0.2689414213699951).epsilon(1e-6));
  CHECK(sm[1] == doctest::Approx(0.7310585786300049).epsilon(1e-6));
  // -inf entries get probability 0; a NaN poisons its row only.
  std::vector<float> rows(2 * 40, 0.5f);
  rows[3] = -float(kInf);
  rows[40 + 7] = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> p = softmax(Tensor::from_vector(rows, Shape{2, 40})).to_vector<float>();
  CHECK(p[3] == 0.0f);
  CHECK(p[0] == doctest::Approx(1.0 / 39));
  CHECK(std::isnan(p[40]));
  // One element: softmax 1, log_softmax 0. Empty: an empty result.
  CHECK(softmax(Tensor::from_vector(std::vector<double>{3.0})).item<double>() == 1.0);
  CHECK(log_softmax(Tensor::from_vector(std::vector<double>{3.0})).item<double>() == 0.0);
  CHECK(softmax(zeros(Shape{0, 4})).shape() == Shape{0, 4});
  // Integer input computes in float32.
  CHECK(softmax(Tensor::from_vector(std::vector<std::int32_t>{1, 1})).to_vector<float>() ==
        std::vector<float>{0.5f, 0.5f});
}

TEST_CASE("sum_to reverses broadcasting") {
  const std::vector<double> v = random_values(2 * 3 * 4, 40);
  const Shape shape{2, 3, 4};
  const Tensor x = dense<double>(v, shape);
  struct Case {
    Shape to;
    unsigned mask;
  };
  for (const Case& c : {Case{Shape{3, 4}, 1u}, Case{Shape{1, 4}, 3u}, Case{Shape{4}, 3u},
                        Case{Shape{2, 1, 4}, 2u}, Case{Shape{2, 3, 1}, 4u}, Case{Shape{}, 7u},
                        Case{Shape{1, 1, 1}, 7u}, Case{Shape{3, 1}, 5u}}) {
    INFO("to ", c.to);
    const Tensor r = sum_to(x, c.to);
    REQUIRE(r.shape() == c.to);
    const std::vector<double> want = reference(v, shape, c.mask, Kind::Sum);
    const std::vector<double> got = r.to_vector<double>();
    for (std::size_t i = 0; i < want.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]));
  }
  CHECK(sum_to(x, shape).to_vector<double>() == v);
  CHECK_THROWS_WITH_AS(
      sum_to(x, Shape{3, 3}),
      doctest::Contains("sum_to: cannot sum float64[2,3,4] on cpu down to shape [3,3]"), Error);
  CHECK_THROWS_WITH_AS(sum_to(x, Shape{1, 2, 3, 4}), doctest::Contains("sum_to: cannot sum"),
                       Error);
}

TEST_CASE("mean and var match numpy, with integer inputs computed in float32") {
  const Tensor x = Tensor::from_vector(std::vector<std::int32_t>{1, 2, 3, 4, 5, 7}, Shape{2, 3});
  const Tensor m = mean(x);
  CHECK(m.dtype() == DType::f32);
  CHECK(m.item<float>() == doctest::Approx(22.0 / 6));
  CHECK(mean(x, 0).to_vector<float>() == std::vector<float>{2.5f, 3.5f, 5.0f});
  CHECK(mean(x, 1, true).shape() == Shape{2, 1});
  // numpy: var([[1,2,3],[4,5,7]]) = 35/9, ddof=1: 14/3, along axis 1: [2/3, 14/9].
  CHECK(var(x).item<float>() == doctest::Approx(35.0 / 9));
  CHECK(var(x, {}, false, 1).item<float>() == doctest::Approx(14.0 / 3));
  const std::vector<float> v1 = var(x, 1).to_vector<float>();
  CHECK(v1[0] == doctest::Approx(2.0 / 3));
  CHECK(v1[1] == doctest::Approx(14.0 / 9));
  const Shape shape{37, 53};
  const std::vector<double> v = random_values(shape.numel(), 50);
  for (int axis : {0, 1}) {
    const std::vector<double> got = var(transposed<double>(v, shape), axis).to_vector<double>();
    const std::vector<double> s = reference(v, shape, 1u << axis, Kind::Sum);
    std::vector<double> sq(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) sq[i] = v[i] * v[i];
    const std::vector<double> s2 = reference(sq, shape, 1u << axis, Kind::Sum);
    const double n = double(shape[axis]);
    for (std::size_t i = 0; i < got.size(); ++i)
      CHECK(got[i] == doctest::Approx(s2[i] / n - (s[i] / n) * (s[i] / n)).epsilon(1e-10));
  }
  // The mean of nothing is nan, as in numpy.
  CHECK(std::isnan(mean(zeros(Shape{0})).item<float>()));
}

TEST_CASE("the softmax kernel takes strided inputs directly (its scalar path)") {
  // The op densifies a strided input first; the kernel's own strided path is checked here.
  const Shape shape{37, 53};
  const std::vector<double> v = random_values(shape.numel(), 60, -4.0, 4.0);
  const Tensor x = transposed<double>(v, shape);
  for (int axis : {0, 1}) {
    for (bool log : {false, true}) {
      const Tensor out = Tensor::empty(shape, DType::f64);
      kernels::KernelArgs args;
      args.out = autodiff::buffer_view(out);
      args.in[0] = autodiff::buffer_view(x);
      args.num_inputs = 1;
      args.ints[0] = axis;
      kernels::run("softmax", log ? kernels::Op::LogSoftmax : kernels::Op::Softmax, DType::f64,
                   args);
      const std::vector<double> want = softmax_reference(v, shape, axis, log);
      const std::vector<double> got = out.to_vector<double>();
      for (std::size_t i = 0; i < want.size(); ++i)
        CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-12));
    }
  }
}
