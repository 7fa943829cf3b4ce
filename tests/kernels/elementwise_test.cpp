// Elementwise forward values: every unary and binary op against references computed here (long
// double for transcendentals, the same IEEE operation in T for arithmetic), over sizes around the
// SIMD widths and one that runs multi-threaded; IEEE special values; broadcast, transposed,
// sliced and stride-0 operands; integer and bool kernels; dtype promotion and weak typing; and
// the errors each op raises.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include <elegy/core/views.hpp>
#include <elegy/elegy.hpp>

using namespace elegy;

namespace {

// 1, 15, 16, 17 straddle the 8/16-lane vectors; 1000 is the per-op-overhead size; 100003 is odd
// and large enough to be split over the thread pool.
constexpr std::int64_t kSizes[] = {1, 15, 16, 17, 1000, 100003};

// n deterministic values uniform in [lo, hi).
std::vector<double> uniform(std::int64_t n, double lo, double hi, std::uint64_t seed) {
  std::vector<double> v(static_cast<std::size_t>(n));
  std::uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;
  for (double& x : v) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    x = lo + (hi - lo) * double(s >> 11) / double(1ULL << 53);
  }
  return v;
}

template <class T>
Tensor tensor_of(const std::vector<double>& v, const Shape& shape) {
  std::vector<T> t(v.begin(), v.end());
  return Tensor::from_vector(t, shape);
}
template <class T>
Tensor tensor_of(const std::vector<double>& v) {
  return tensor_of<T>(v, Shape{std::int64_t(v.size())});
}

Tensor bools(const std::vector<int>& v, const Shape& shape) {
  std::vector<std::uint8_t> bytes(v.begin(), v.end());
  return Tensor::from_vector(bytes, shape).astype(DType::bool_);
}
Tensor bools(const std::vector<int>& v) {
  return bools(v, Shape{std::int64_t(v.size())});
}
std::vector<int> bool_values(const Tensor& t) {
  REQUIRE(t.dtype() == DType::bool_);
  const std::vector<std::uint8_t> b = t.astype(DType::u8).to_vector<std::uint8_t>();
  return {b.begin(), b.end()};
}

// Distance of `got` from the exact value `ref` in units of T's spacing at ref (0 when got is
// ref correctly rounded or equal; NaN and infinities must match exactly).
template <class T>
double ulp_error(T got, long double ref, double floor = 0) {
  if (std::isnan(ref)) return std::isnan(got) ? 0.0 : HUGE_VAL;
  const T rounded = T(ref);
  if (std::isinf(rounded) || std::isnan(got) || std::isinf(got))
    return got == rounded ? 0.0 : HUGE_VAL;
  if (got == rounded) return 0.0;
  const T mag = std::max(std::abs(rounded), T(floor));
  const long double spacing =
      (long double)std::nextafter(mag, std::numeric_limits<T>::infinity()) - mag;
  return double(std::abs((long double)got - ref) / spacing);
}

template <class T>
std::string type_name() {
  return std::is_same_v<T, float> ? "float32" : "float64";
}

struct UnaryCase {
  const char* name;
  std::function<Tensor(const Tensor&)> op;
  std::function<long double(long double)> ref;
  double lo32, hi32, lo64, hi64;  // input range per precision
  double max_ulp32, max_ulp64;
  bool log_spaced = false;  // inputs are exp(uniform(lo, hi))
  // Errors are measured in ULPs of max(|f(x)|, floor). A floor above 0 is for functions that are
  // ill-conditioned where they are small: gelu(x) for x << 0 is ~e^(-x^2/2), whose relative
  // condition number is ~x^2, so one rounding inside (x^2, x/sqrt(2)) moves it by ~x^2 ULPs in
  // any implementation working in the input's precision (JAX's included).
  double floor = 0;
};

const long double kSqrt2OverPi = 0.797884560802865355879892119868763737L;

std::vector<UnaryCase> unary_cases() {
  using LD = long double;
  return {
      {"neg", [](const Tensor& x) { return -x; }, [](LD x) { return -x; }, -10, 10, -10, 10, 0, 0},
      {"abs", [](const Tensor& x) { return abs(x); }, [](LD x) { return std::fabs(x); }, -10, 10,
       -10, 10, 0, 0},
      {"exp", [](const Tensor& x) { return exp(x); }, [](LD x) { return std::exp(x); }, -100, 88,
       -740, 709, 1, 1},
      {"log", [](const Tensor& x) { return log(x); }, [](LD x) { return std::log(x); }, -80, 80,
       -700, 700, 2, 2, true},
      {"log near 1", [](const Tensor& x) { return log(x); }, [](LD x) { return std::log(x); }, 0.5,
       2, 0.5, 2, 2, 2},
      {"log1p", [](const Tensor& x) { return log1p(x); }, [](LD x) { return std::log1p(x); },
       -0.999, 100, -0.999, 100, 3, 3},
      {"sqrt", [](const Tensor& x) { return sqrt(x); }, [](LD x) { return std::sqrt(x); }, 0, 1e4,
       0, 1e4, 0.5, 0.5},
      {"rsqrt", [](const Tensor& x) { return rsqrt(x); }, [](LD x) { return 1 / std::sqrt(x); },
       1e-4, 1e4, 1e-4, 1e4, 2, 2},
      {"square", [](const Tensor& x) { return square(x); }, [](LD x) { return x * x; }, -100, 100,
       -100, 100, 0.5, 0.5},
      {"tanh", [](const Tensor& x) { return tanh(x); }, [](LD x) { return std::tanh(x); }, -20, 20,
       -20, 20, 4, 4},
      {"tanh near 0", [](const Tensor& x) { return tanh(x); }, [](LD x) { return std::tanh(x); },
       -0.1, 0.1, -0.1, 0.1, 4, 4},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); },
       [](LD x) { return 1 / (1 + std::exp(-x)); }, -80, 80, -700, 700, 4, 4},
      {"relu", [](const Tensor& x) { return relu(x); }, [](LD x) { return x < 0 ? 0 : x; }, -10, 10,
       -10, 10, 0, 0},
      {"gelu (tanh)", [](const Tensor& x) { return gelu(x); },
       [](LD x) {
         const LD z = kSqrt2OverPi * (x + 0.044715L * x * x * x);
         return x / (1 + std::exp(-2 * z));
       },
       -10, 10, -10, 10, 8, 8, false, 0.1},
      {"gelu (erf)", [](const Tensor& x) { return gelu(x, false); },
       [](LD x) { return x / 2 * std::erfc(-x / std::sqrt(2.0L)); }, -10, 10, -10, 10, 1, 8, false,
       0.1},
      {"softplus", [](const Tensor& x) { return softplus(x); },
       [](LD x) { return std::log1p(std::exp(x)); }, -80, 80, -700, 700, 4, 4},
      {"sign", [](const Tensor& x) { return sign(x); }, [](LD x) { return LD((x > 0) - (x < 0)); },
       -3, 3, -3, 3, 0, 0},
  };
}

template <class T>
void check_unary(const UnaryCase& c, const Tensor& x, const Tensor& y) {
  REQUIRE(y.dtype() == dtype_of<T>());
  REQUIRE(y.shape() == x.shape());
  const std::vector<T> in = x.to_vector<T>(), out = y.to_vector<T>();
  double worst = 0;
  std::size_t worst_i = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const double e = ulp_error<T>(out[i], c.ref((long double)in[i]), c.floor);
    if (e > worst) worst = e, worst_i = i;
  }
  const double bound = std::is_same_v<T, float> ? c.max_ulp32 : c.max_ulp64;
  INFO(std::string(c.name), " ", type_name<T>(), " n=", in.size(), ": worst ", worst,
       " ULP at x=", in[worst_i], " (got ", out[worst_i], ")");
  CHECK(worst <= bound);
}

}  // namespace

TEST_CASE_TEMPLATE("unary float ops match long double references within a few ULP", T, float,
                   double) {
  for (const UnaryCase& c : unary_cases()) {
    const bool f32 = std::is_same_v<T, float>;
    for (std::int64_t n : kSizes) {
      std::vector<double> v = uniform(n, f32 ? c.lo32 : c.lo64, f32 ? c.hi32 : c.hi64, n);
      if (c.log_spaced)
        for (double& x : v) x = std::exp(x);
      const Tensor x = tensor_of<T>(v);
      check_unary<T>(c, x, c.op(x));
    }
  }
}

TEST_CASE_TEMPLATE("unary ops honour strided and stride-0 inputs", T, float, double) {
  for (const UnaryCase& c : unary_cases()) {
    if (c.log_spaced) continue;
    const bool f32 = std::is_same_v<T, float>;
    const double lo = f32 ? c.lo32 : c.lo64, hi = f32 ? c.hi32 : c.hi64;
    // A transposed [37, 29] view (inner stride 29) and a step-3 slice.
    const Tensor dense = tensor_of<T>(uniform(29 * 37, lo, hi, 7), Shape{29, 37});
    const int perm[] = {1, 0};
    const Tensor transposed = views::permute(dense, perm);
    check_unary<T>(c, transposed, c.op(transposed));
    const Tensor sliced = views::slice(dense, 1, 1, 37, 3);
    check_unary<T>(c, sliced, c.op(sliced));
    // One value broadcast (stride 0) to [5, 300].
    const Tensor one = tensor_of<T>({(lo + hi) / 3}, Shape{1});
    const Tensor broadcast = views::broadcast_to(one, Shape{5, 300});
    check_unary<T>(c, broadcast, c.op(broadcast));
  }
}

TEST_CASE_TEMPLATE("unary ops give IEEE results at the edges", T, float, double) {
  using L = std::numeric_limits<T>;
  const T inf = L::infinity(), nan = L::quiet_NaN();
  const Tensor x = Tensor::from_vector(std::vector<T>{-inf, -1000, -1, -0.0, 0, L::denorm_min(),
                                                      L::min(), 1, 1000, L::max(), inf, nan});
  const std::vector<T> in = x.to_vector<T>();
  auto expect = [&](const char* name, const Tensor& y, long double (*ref)(long double)) {
    const std::vector<T> out = y.to_vector<T>();
    for (std::size_t i = 0; i < in.size(); ++i) {
      INFO(name, "(", in[i], ") = ", out[i], ", expected ", T(ref(in[i])));
      CHECK(ulp_error<T>(out[i], ref(in[i])) <= 4);
    }
  };
  expect("exp", exp(x), [](long double v) { return std::exp(v); });
  expect("log", log(x), [](long double v) { return std::log(v); });
  expect("log1p", log1p(x), [](long double v) { return std::log1p(v); });
  expect("sqrt", sqrt(x), [](long double v) { return std::sqrt(v); });
  expect("tanh", tanh(x), [](long double v) { return std::tanh(v); });
  expect("sigmoid", sigmoid(x), [](long double v) {
    return std::isnan(v) ? v : v >= 0 ? 1 / (1 + std::exp(-v)) : std::exp(v) / (1 + std::exp(v));
  });
  expect("softplus", softplus(x), [](long double v) {
    return std::isnan(v) ? v : std::log1p(std::exp(-std::fabs(v))) + (v > 0 ? v : 0);
  });
  expect("relu", relu(x), [](long double v) { return v < 0 ? 0.0L : v; });
  expect("abs", abs(x), [](long double v) { return std::fabs(v); });
  expect("sign", sign(x), [](long double v) {
    return std::isnan(v) ? v : v > 0 ? 1.0L : v < 0 ? -1.0L : v;
  });
  // Signed zeros and tiny results keep their meaning.
  CHECK(std::signbit(sign(x).to_vector<T>()[3]));
  CHECK(exp(tensor_of<T>({-1e6})).template item<T>() == 0);
  CHECK(std::isinf(exp(tensor_of<T>({1e6})).template item<T>()));
  CHECK(log(tensor_of<T>({0.0})).template item<T>() == -inf);
  CHECK(log1p(tensor_of<T>({-1.0})).template item<T>() == -inf);
  CHECK(std::isnan(log1p(tensor_of<T>({-2.0})).template item<T>()));
  CHECK(rsqrt(tensor_of<T>({0.0})).template item<T>() == inf);
  CHECK(std::isnan(rsqrt(tensor_of<T>({-1.0})).template item<T>()));
}

TEST_CASE_TEMPLATE("float arithmetic equals the same IEEE operation in T", T, float, double) {
  struct Case {
    const char* name;
    std::function<Tensor(const Tensor&, const Tensor&)> op;
    std::function<T(T, T)> ref;
  };
  const std::vector<Case> cases = {
      {"add", [](const Tensor& a, const Tensor& b) { return a + b; },
       [](T a, T b) { return a + b; }},
      {"sub", [](const Tensor& a, const Tensor& b) { return a - b; },
       [](T a, T b) { return a - b; }},
      {"mul", [](const Tensor& a, const Tensor& b) { return a * b; },
       [](T a, T b) { return a * b; }},
      {"div", [](const Tensor& a, const Tensor& b) { return a / b; },
       [](T a, T b) { return a / b; }},
      {"pow", [](const Tensor& a, const Tensor& b) { return pow(abs(a), b); },
       [](T a, T b) { return T(std::pow(std::abs(a), b)); }},
      {"maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); },
       [](T a, T b) { return a > b ? a : b; }},
      {"minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); },
       [](T a, T b) { return a < b ? a : b; }},
  };
  for (const Case& c : cases) {
    for (std::int64_t n : kSizes) {
      const std::vector<double> va = uniform(n, -4, 4, 2 * n), vb = uniform(n, 0.5, 3, 2 * n + 1);
      const Tensor a = tensor_of<T>(va), b = tensor_of<T>(vb);
      const std::vector<T> ta = a.to_vector<T>(), tb = b.to_vector<T>();
      // dense (op) dense, dense (op) 0-d scalar, 0-d scalar (op) dense
      const Tensor s = tensor_of<T>({1.75}, Shape{});
      const std::vector<T> dd = c.op(a, b).template to_vector<T>(),
                           ds = c.op(a, s).template to_vector<T>(),
                           sd = c.op(s, b).template to_vector<T>();
      REQUIRE(dd.size() == ta.size());
      int wrong = 0;
      for (std::size_t i = 0; i < ta.size(); ++i) {
        wrong += dd[i] != c.ref(ta[i], tb[i]);
        wrong += ds[i] != c.ref(ta[i], T(1.75));
        wrong += sd[i] != c.ref(T(1.75), tb[i]);
      }
      INFO(std::string(c.name), " ", type_name<T>(), " n=", n);
      CHECK(wrong == 0);
    }
  }
}

TEST_CASE_TEMPLATE("maximum and minimum propagate NaN from either side", T, float, double) {
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const Tensor a = Tensor::from_vector(std::vector<T>{nan, 1, nan, 2, -1});
  const Tensor b = Tensor::from_vector(std::vector<T>{1, nan, nan, 3, -2});
  for (const Tensor& r : {maximum(a, b), minimum(a, b)}) {
    const std::vector<T> v = r.to_vector<T>();
    CHECK(std::isnan(v[0]));
    CHECK(std::isnan(v[1]));
    CHECK(std::isnan(v[2]));
  }
  CHECK(maximum(a, b).to_vector<T>()[3] == 3);
  CHECK(minimum(a, b).to_vector<T>()[4] == -2);
  CHECK(std::isnan(relu(tensor_of<T>({double(nan)})).template item<T>()));
}

TEST_CASE("pow follows std::pow at its special cases") {
  const double inf = HUGE_VAL;
  const std::vector<double> base = {-2, -2, -8, 0, 0, 0, 2, 1, -inf, inf, 4};
  const std::vector<double> expo = {3, 2, 1.0 / 3, 0, 2, -1, -inf, std::nan(""), 3, -1, 0.5};
  const std::vector<double> got =
      pow(tensor_of<double>(base), tensor_of<double>(expo)).to_vector<double>();
  for (std::size_t i = 0; i < base.size(); ++i) {
    const double want = std::pow(base[i], expo[i]);
    INFO("pow(", base[i], ", ", expo[i], ") = ", got[i], ", expected ", want);
    CHECK(((std::isnan(want) && std::isnan(got[i])) || got[i] == want));
  }
  // x ** 2.0 and x ** 0.5 with a number exponent.
  CHECK(pow(tensor_of<float>({-3}), 2.0).item<float>() == 9.0f);
  CHECK(pow(tensor_of<float>({2.25}), 0.5).item<float>() == 1.5f);
}

TEST_CASE("broadcasting: rows, columns, scalars and 0-d tensors") {
  // [64, 10] + [10]: a bias added to every row.
  const std::vector<double> va = uniform(640, -1, 1, 1), vb = uniform(10, -1, 1, 2);
  const Tensor y = tensor_of<float>(va, Shape{64, 10}) + tensor_of<float>(vb);
  REQUIRE(y.shape() == Shape{64, 10});
  const std::vector<float> out = y.to_vector<float>();
  int wrong = 0;
  for (int r = 0; r < 64; ++r)
    for (int c = 0; c < 10; ++c) wrong += out[r * 10 + c] != float(va[r * 10 + c]) + float(vb[c]);
  CHECK(wrong == 0);

  // [3, 1] * [1, 4]: an outer product.
  const Tensor outer = tensor_of<double>({1, 2, 3}, Shape{3, 1}) *
                       tensor_of<double>({1, 10, 100, 1000}, Shape{1, 4});
  CHECK(outer.shape() == Shape{3, 4});
  CHECK(outer.to_vector<double>() ==
        std::vector<double>{1, 10, 100, 1000, 2, 20, 200, 2000, 3, 30, 300, 3000});

  // [2, 3] - [2, 1] and a lower-rank operand on the left.
  const Tensor m = tensor_of<double>({1, 2, 3, 4, 5, 6}, Shape{2, 3});
  CHECK((m - tensor_of<double>({1, 4}, Shape{2, 1})).to_vector<double>() ==
        std::vector<double>{0, 1, 2, 0, 1, 2});
  CHECK((tensor_of<double>({10, 20, 30}) - m).to_vector<double>() ==
        std::vector<double>{9, 18, 27, 6, 15, 24});

  // 0-d with 0-d stays 0-d; a number broadcasts.
  const Tensor s = tensor_of<double>({2}, Shape{}) * tensor_of<double>({3}, Shape{});
  CHECK(s.shape() == Shape{});
  CHECK(s.item<double>() == 6);
  CHECK((2.0 * m + 1.0).to_vector<double>() == std::vector<double>{3, 5, 7, 9, 11, 13});
  CHECK((1.0 - m).to_vector<double>() == std::vector<double>{0, -1, -2, -3, -4, -5});
  CHECK((12.0 / m).to_vector<double>() == std::vector<double>{12, 6, 4, 3, 2.4, 2});

  // An empty dimension gives an empty result.
  CHECK((Tensor::empty(Shape{0, 3}, DType::f32) + tensor_of<float>({1, 2, 3})).shape() ==
        Shape{0, 3});
}

TEST_CASE("broadcast and strided operands split over threads give exact results") {
  // [1000, 300] + [300] is 300K elements: chunk boundaries fall inside rows.
  const std::vector<double> va = uniform(300000, -1, 1, 3), vb = uniform(300, -1, 1, 4);
  const std::vector<float> out =
      (tensor_of<float>(va, Shape{1000, 300}) * tensor_of<float>(vb)).to_vector<float>();
  int wrong = 0;
  for (int r = 0; r < 1000; ++r)
    for (int c = 0; c < 300; ++c)
      wrong += out[r * 300 + c] != float(va[r * 300 + c]) * float(vb[c]);
  CHECK(wrong == 0);

  // A transposed [400, 300] view plus a dense one, and a column broadcast.
  const Tensor t = tensor_of<double>(va, Shape{1000, 300});
  const int perm[] = {1, 0};
  const Tensor tt = views::permute(t, perm);  // [300, 1000], inner stride 300
  const Tensor col = tensor_of<double>(vb, Shape{300, 1});
  const std::vector<double> sum_tc = (tt - col).to_vector<double>();
  const std::vector<double> dense_tt = tt.contiguous().to_vector<double>();
  wrong = 0;
  for (int r = 0; r < 300; ++r)
    for (int c = 0; c < 1000; ++c) wrong += sum_tc[r * 1000 + c] != dense_tt[r * 1000 + c] - vb[r];
  CHECK(wrong == 0);
  // Both operands transposed: coalesced into one strided run.
  const std::vector<double> tt2 = (tt + tt).to_vector<double>();
  wrong = 0;
  for (std::size_t i = 0; i < tt2.size(); ++i) wrong += tt2[i] != 2 * dense_tt[i];
  CHECK(wrong == 0);
}

TEST_CASE("rank-3 broadcasting walks every row, within and across threads") {
  // [A, B, C] with a [B, 1] column and a [C] row; the large case splits over threads with chunk
  // boundaries inside rows and inside the middle dimension.
  for (const auto& [A, B, C] :
       {std::array<std::int64_t, 3>{3, 5, 7}, std::array<std::int64_t, 3>{50, 70, 31}}) {
    INFO("shape [", A, ",", B, ",", C, "]");
    const std::vector<double> vx = uniform(A * B * C, -1, 1, 11), vc = uniform(B, -1, 1, 12),
                              vr = uniform(C, -1, 1, 13);
    const Tensor x = tensor_of<float>(vx, Shape{A, B, C});
    const Tensor column = tensor_of<float>(vc, Shape{B, 1});
    const Tensor row = tensor_of<float>(vr, Shape{C});
    const std::vector<float> y = (x * column + row).to_vector<float>();
    const std::vector<int> mask = bool_values(x > column);
    const std::vector<float> picked = where(x > column, row, column).to_vector<float>();
    int wrong = 0;
    for (std::int64_t i = 0; i < A; ++i)
      for (std::int64_t j = 0; j < B; ++j)
        for (std::int64_t k = 0; k < C; ++k) {
          const std::int64_t at = (i * B + j) * C + k;
          const float xv = float(vx[at]), cv = float(vc[j]), rv = float(vr[k]);
          wrong += y[at] != xv * cv + rv;
          wrong += mask[at] != (xv > cv);
          wrong += picked[at] != (xv > cv ? rv : cv);
        }
    CHECK(wrong == 0);
  }
}

TEST_CASE("results do not depend on the thread count") {
  const Tensor x = tensor_of<float>(uniform(200003, -5, 5, 9));
  const int before = num_threads();
  set_num_threads(1);
  const std::vector<float> one = (exp(x) * x + sigmoid(x)).to_vector<float>();
  set_num_threads(std::max(before, 2));
  const std::vector<float> many = (exp(x) * x + sigmoid(x)).to_vector<float>();
  set_num_threads(before);
  CHECK(one == many);
}

TEST_CASE_TEMPLATE("integer kernels wrap like numpy", T, std::int32_t, std::int64_t) {
  using L = std::numeric_limits<T>;
  const Tensor a = Tensor::from_vector(std::vector<T>{L::max(), L::min(), -7, 0, 5});
  const Tensor b = Tensor::from_vector(std::vector<T>{1, -1, 2, 3, -5});
  CHECK((a + b).to_vector<T>() == std::vector<T>{L::min(), L::max(), -5, 3, 0});
  CHECK((a - b).to_vector<T>() == std::vector<T>{T(L::max() - 1), T(L::min() + 1), -9, -3, 10});
  CHECK((a * b).to_vector<T>() == std::vector<T>{L::max(), L::min(), -14, 0, -25});
  CHECK((-a).to_vector<T>() == std::vector<T>{T(L::min() + 1), L::min(), 7, 0, -5});
  CHECK(abs(b).to_vector<T>() == std::vector<T>{1, 1, 2, 3, 5});
  CHECK(sign(a).to_vector<T>() == std::vector<T>{1, -1, -1, 0, 1});
  CHECK(square(b).to_vector<T>() == std::vector<T>{1, 1, 4, 9, 25});
  CHECK(relu(a).to_vector<T>() == std::vector<T>{L::max(), 0, 0, 0, 5});
  CHECK(maximum(a, b).to_vector<T>() == std::vector<T>{L::max(), -1, 2, 3, 5});
  CHECK(minimum(a, b).to_vector<T>() == std::vector<T>{1, L::min(), -7, 0, -5});
  const Tensor base = Tensor::from_vector(std::vector<T>{2, -3, 2, 1, -1, -1, 5, 0});
  const Tensor expo = Tensor::from_vector(std::vector<T>{10, 3, -1, -5, -3, -2, 0, 0});
  CHECK(pow(base, expo).to_vector<T>() == std::vector<T>{1024, -27, 0, 1, -1, 1, 1, 1});
  CHECK(pow(base, expo).dtype() == dtype_of<T>());
  // Over many elements (vectorised and threaded paths).
  std::vector<T> big(100003);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = T(i % 1000) - 500;
  const Tensor x = Tensor::from_vector(big);
  const std::vector<T> y = (x * x - x).to_vector<T>();
  int wrong = 0;
  for (std::size_t i = 0; i < big.size(); ++i) wrong += y[i] != big[i] * big[i] - big[i];
  CHECK(wrong == 0);
}

TEST_CASE("uint8 arithmetic wraps modulo 256") {
  const Tensor a = Tensor::from_vector(std::vector<std::uint8_t>{250, 3, 16, 0});
  const Tensor b = Tensor::from_vector(std::vector<std::uint8_t>{10, 5, 16, 1});
  CHECK((a + b).to_vector<std::uint8_t>() == std::vector<std::uint8_t>{4, 8, 32, 1});
  CHECK((a - b).to_vector<std::uint8_t>() == std::vector<std::uint8_t>{240, 254, 0, 255});
  CHECK((a * b).to_vector<std::uint8_t>() == std::vector<std::uint8_t>{196, 15, 0, 0});
  CHECK((-b).to_vector<std::uint8_t>() == std::vector<std::uint8_t>{246, 251, 240, 255});
  CHECK(abs(a).to_vector<std::uint8_t>() == std::vector<std::uint8_t>{250, 3, 16, 0});
  CHECK(sign(a).to_vector<std::uint8_t>() == std::vector<std::uint8_t>{1, 1, 1, 0});
  CHECK(maximum(a, b).to_vector<std::uint8_t>() == std::vector<std::uint8_t>{250, 5, 16, 1});
  CHECK(pow(b, a - a + 2).to_vector<std::uint8_t>() == std::vector<std::uint8_t>{100, 25, 0, 1});
}

TEST_CASE_TEMPLATE("comparisons give bool for every dtype", T, float, double, std::int32_t,
                   std::int64_t, std::uint8_t) {
  const Tensor a = Tensor::from_vector(std::vector<T>{1, 2, 3, 4, 5, 6}, Shape{2, 3});
  const Tensor b = Tensor::from_vector(std::vector<T>{2, 2, 5});  // broadcast along rows
  CHECK(bool_values(a == b) == std::vector<int>{0, 1, 0, 0, 0, 0});
  CHECK(bool_values(a != b) == std::vector<int>{1, 0, 1, 1, 1, 1});
  CHECK(bool_values(a < b) == std::vector<int>{1, 0, 1, 0, 0, 0});
  CHECK(bool_values(a <= b) == std::vector<int>{1, 1, 1, 0, 0, 0});
  CHECK(bool_values(a > b) == std::vector<int>{0, 0, 0, 1, 1, 1});
  CHECK(bool_values(a >= b) == std::vector<int>{0, 1, 0, 1, 1, 1});
  CHECK((a > b).dtype() == DType::bool_);
  CHECK((a > b).shape() == Shape{2, 3});
  CHECK(bool_values(a >= 4.0) == std::vector<int>{0, 0, 0, 1, 1, 1});
  CHECK(bool_values(equal(a, a)) == std::vector<int>(6, 1));
  // Over many elements.
  std::vector<T> big(100003);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = T(i % 7);
  const std::vector<int> lt = bool_values(Tensor::from_vector(big) < 3.0);
  int wrong = 0;
  for (std::size_t i = 0; i < big.size(); ++i) wrong += lt[i] != (big[i] < 3);
  CHECK(wrong == 0);
}

TEST_CASE_TEMPLATE("float comparisons with NaN are false except !=", T, float, double) {
  // 67 elements: whole vectors at every width (the SIMD compare) and a tail (the scalar one).
  // Highway 1.0's Ne is an ordered compare on x86, false for NaN: != must not use it.
  const T nan = std::numeric_limits<T>::quiet_NaN(), inf = std::numeric_limits<T>::infinity();
  const std::vector<T> pool_a{nan, 1, nan, -0.0, inf, 2, -inf, nan, 0.0, 3};
  const std::vector<T> pool_b{1, nan, nan, 0.0, inf, 2, nan, -inf, -0.0, 4};
  std::vector<T> va(67), vb(67);
  for (std::size_t i = 0; i < va.size(); ++i) {
    va[i] = pool_a[i % pool_a.size()];
    vb[i] = pool_b[(i + i / pool_b.size()) % pool_b.size()];
  }
  const Tensor a = Tensor::from_vector(va), b = Tensor::from_vector(vb);
  const std::vector<int> eq = bool_values(a == b), ne = bool_values(a != b),
                         lt = bool_values(a < b), le = bool_values(a <= b), gt = bool_values(a > b),
                         ge = bool_values(a >= b);
  int wrong = 0;
  for (std::size_t i = 0; i < va.size(); ++i) {
    wrong += eq[i] != (va[i] == vb[i]);
    wrong += ne[i] != (va[i] != vb[i]);
    wrong += lt[i] != (va[i] < vb[i]);
    wrong += le[i] != (va[i] <= vb[i]);
    wrong += gt[i] != (va[i] > vb[i]);
    wrong += ge[i] != (va[i] >= vb[i]);
  }
  CHECK(wrong == 0);
  const Tensor x = tensor_of<T>({std::nan(""), 1});
  const Tensor y = tensor_of<T>({1, std::nan("")});
  CHECK(bool_values(x == y) == std::vector<int>{0, 0});
  CHECK(bool_values(x != y) == std::vector<int>{1, 1});
  std::vector<int> self_ne;  // x != x exactly where x is NaN
  for (T v : va) self_ne.push_back(std::isnan(v) ? 1 : 0);
  CHECK(bool_values(not_equal(a, a)) == self_ne);
}

TEST_CASE("logical ops and bool arithmetic") {
  const Tensor p = bools({1, 1, 0, 0}), q = bools({1, 0, 1, 0});
  CHECK(bool_values(p & q) == std::vector<int>{1, 0, 0, 0});
  CHECK(bool_values(p | q) == std::vector<int>{1, 1, 1, 0});
  CHECK(bool_values(p ^ q) == std::vector<int>{0, 1, 1, 0});
  CHECK(bool_values(!p) == std::vector<int>{0, 0, 1, 1});
  CHECK(bool_values(logical_and(p, bools({1}, Shape{}))) == std::vector<int>{1, 1, 0, 0});
  // numpy's bool arithmetic: + is or, * is and; comparisons order false < true.
  CHECK(bool_values(p + q) == std::vector<int>{1, 1, 1, 0});
  CHECK(bool_values(p * q) == std::vector<int>{1, 0, 0, 0});
  CHECK(bool_values(maximum(p, q)) == std::vector<int>{1, 1, 1, 0});
  CHECK(bool_values(p > q) == std::vector<int>{0, 1, 0, 0});
  CHECK(bool_values(p == q) == std::vector<int>{1, 0, 0, 1});
  CHECK(bool_values(p == 1.0) == std::vector<int>{1, 1, 0, 0});
  // Strided bool operands (a transposed [2, 2]).
  const int perm[] = {1, 0};
  const Tensor m = views::permute(bools({1, 0, 1, 1}, Shape{2, 2}), perm);  // [[1,1],[0,1]]
  CHECK(bool_values(!m) == std::vector<int>{0, 0, 1, 0});
  CHECK(bool_values(m ^ bools({1, 0}, Shape{2})) == std::vector<int>{0, 1, 1, 1});
}

TEST_CASE_TEMPLATE("where selects per element with three-way broadcasting", T, float, double,
                   std::int32_t, std::int64_t, std::uint8_t) {
  const Tensor cond = bools({1, 0, 1}, Shape{3, 1});
  const Tensor a = Tensor::from_vector(std::vector<T>{1, 2, 3, 4}, Shape{1, 4});
  const Tensor b = Tensor::from_vector(std::vector<T>{9}, Shape{});
  const Tensor y = where(cond, a, b);
  CHECK(y.shape() == Shape{3, 4});
  CHECK(y.dtype() == dtype_of<T>());
  CHECK(y.to_vector<T>() == std::vector<T>{1, 2, 3, 4, 9, 9, 9, 9, 1, 2, 3, 4});
  CHECK(where(cond, b, a).to_vector<T>() == std::vector<T>{9, 9, 9, 9, 1, 2, 3, 4, 9, 9, 9, 9});
  CHECK(where(cond, a, 7.0).to_vector<T>() == std::vector<T>{1, 2, 3, 4, 7, 7, 7, 7, 1, 2, 3, 4});
  CHECK(where(cond, 7.0, a).to_vector<T>() == std::vector<T>{7, 7, 7, 7, 1, 2, 3, 4, 7, 7, 7, 7});
  // Large dense operands.
  std::vector<T> big(100003);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = T(i % 100);
  const Tensor x = Tensor::from_vector(big);
  const std::vector<T> r = where(x > 50.0, x, 0.0).to_vector<T>();
  int wrong = 0;
  for (std::size_t i = 0; i < big.size(); ++i) wrong += r[i] != (big[i] > 50 ? big[i] : T(0));
  CHECK(wrong == 0);
}

TEST_CASE("where on bool values, and clip") {
  CHECK(bool_values(where(bools({1, 0}), bools({0, 0}), bools({1, 1}))) == std::vector<int>{0, 1});
  const Tensor x = tensor_of<double>({-3, -1, 0, 0.5, 2, 7});
  CHECK(clip(x, -1, 1).to_vector<double>() == std::vector<double>{-1, -1, 0, 0.5, 1, 1});
  CHECK(clip(Tensor::from_vector(std::vector<std::int32_t>{-5, 3, 9}), 0, 5)
            .to_vector<std::int32_t>() == std::vector<std::int32_t>{0, 3, 5});
}

TEST_CASE("dtype promotion follows bool < uint8 < int32 < int64 < float32 < float64") {
  const Tensor b = bools({1, 0});
  const Tensor u8 = Tensor::from_vector(std::vector<std::uint8_t>{200, 3});
  const Tensor i32 = Tensor::from_vector(std::vector<std::int32_t>{-1, 7});
  const Tensor i64 = Tensor::from_vector(std::vector<std::int64_t>{5, 6});
  const Tensor f32 = tensor_of<float>({0.5, 1.5});
  const Tensor f64 = tensor_of<double>({0.25, 2});
  CHECK((b + u8).dtype() == DType::u8);
  CHECK((b + u8).to_vector<int>() == std::vector<int>{201, 3});
  CHECK((u8 + i32).dtype() == DType::i32);
  CHECK((u8 + i32).to_vector<int>() == std::vector<int>{199, 10});
  CHECK((i32 * i64).dtype() == DType::i64);
  CHECK((i64 + f32).dtype() == DType::f32);
  CHECK((i64 + f32).to_vector<float>() == std::vector<float>{5.5f, 7.5f});
  CHECK((f32 + f64).dtype() == DType::f64);
  CHECK((f32 - f64).to_vector<double>() == std::vector<double>{0.25, -0.5});
  CHECK(maximum(i32, f32).dtype() == DType::f32);
  CHECK(where(bools({1, 0}), i32, f64).dtype() == DType::f64);
  CHECK((i32 < f32).to_vector<int>() == std::vector<int>{1, 0});
  // True division: integers give float32.
  const Tensor q = Tensor::from_vector(std::vector<std::int32_t>{7, -7, 1}) /
                   Tensor::from_vector(std::vector<std::int32_t>{2, 2, 3});
  CHECK(q.dtype() == DType::f32);
  CHECK(q.to_vector<float>() == std::vector<float>{3.5f, -3.5f, 1.0f / 3.0f});
  CHECK((u8 / 2.0).dtype() == DType::f32);
  // Transcendentals of integers compute in float32.
  CHECK(exp(i32).dtype() == DType::f32);
  CHECK(sqrt(Tensor::from_vector(std::vector<std::int64_t>{16})).item<float>() == 4.0f);
  CHECK(sigmoid(b).dtype() == DType::f32);
}

TEST_CASE("numbers are weakly typed") {
  const Tensor f32 = tensor_of<float>({1, 2});
  const Tensor i32 = Tensor::from_vector(std::vector<std::int32_t>{1, 2});
  const Tensor u8 = Tensor::from_vector(std::vector<std::uint8_t>{1, 2});
  CHECK((f32 * 2.0).dtype() == DType::f32);
  CHECK((f32 + 0.1).to_vector<float>() == std::vector<float>{1.0f + 0.1f, 2.0f + 0.1f});
  CHECK((tensor_of<double>({1}) * 2.0).dtype() == DType::f64);
  CHECK((i32 * 2.0).dtype() == DType::i32);  // an integral number keeps the integer dtype
  CHECK((i32 * 2.5).dtype() == DType::f32);  // a fractional one gives float32
  CHECK((i32 * 2.5).to_vector<float>() == std::vector<float>{2.5f, 5.0f});
  CHECK((u8 + 255.0).to_vector<std::uint8_t>() == std::vector<std::uint8_t>{0, 1});
  CHECK((bools({1, 0}) + 1.0).dtype() == DType::i32);
  CHECK((bools({1, 0}) + 1.0).to_vector<int>() == std::vector<int>{2, 1});
  CHECK(scalar_like(f32, 3.0).shape() == Shape{});
  CHECK(scalar_like(u8, 0.5).dtype() == DType::f32);
  CHECK(scalar_like(i32, HUGE_VAL).dtype() == DType::f32);
  CHECK(pow(i32, 2.0).dtype() == DType::i32);
  CHECK(pow(i32, 0.5).dtype() == DType::f32);
  CHECK(maximum(i32, 1.5).to_vector<float>() == std::vector<float>{1.5f, 2.0f});
  // Comparisons with a number stay exact: int32 values beyond float32's 24 bits.
  const Tensor big = Tensor::from_vector(std::vector<std::int32_t>{16777217, 16777216});
  CHECK(bool_values(big > 16777216.5) == std::vector<int>{1, 0});
  CHECK(bool_values(big == 16777217.0) == std::vector<int>{1, 0});
  CHECK(bool_values(u8 < 300.0) == std::vector<int>{1, 1});
  CHECK(bool_values(u8 > -1.0) == std::vector<int>{1, 1});
  // Float tensors compare against the number rounded to their dtype (JAX).
  CHECK(bool_values(tensor_of<float>({0.1}) == 0.1) == std::vector<int>{1});
}

TEST_CASE("ops run on 0-d tensors and keep the result 0-d") {
  const Tensor x = tensor_of<double>({0.5}, Shape{});
  CHECK(exp(x).shape() == Shape{});
  CHECK(exp(x).item<double>() == doctest::Approx(std::exp(0.5)).epsilon(1e-15));
  CHECK((x > 0.0).shape() == Shape{});
  CHECK(where(x > 0.0, x, 1.0).item<double>() == 0.5);
}

TEST_CASE("elementwise errors name the op and the operands") {
  const Tensor a = tensor_of<float>({1, 2, 3});
  const Tensor b = tensor_of<float>({1, 2, 3, 4});
  CHECK_THROWS_WITH_AS(a + b, doctest::Contains("add: shapes [3] and [4] cannot be broadcast"),
                       Error);
  CHECK_THROWS_WITH_AS(a * Tensor::empty(Shape{2, 4}),
                       doctest::Contains("mul: shapes [3] and [2,4]"), Error);
  CHECK_THROWS_WITH_AS(where(bools({1, 0}), a, a), doctest::Contains("where: shapes [2] and [3]"),
                       Error);
  CHECK_THROWS_WITH_AS(a - Tensor(),
                       doctest::Contains("sub: the second operand is an undefined tensor"), Error);
  CHECK_THROWS_WITH_AS(exp(Tensor()), doctest::Contains("exp: the input is an undefined tensor"),
                       Error);
  CHECK_THROWS_WITH_AS(
      logical_and(a, bools({1, 0, 1})),
      doctest::Contains("logical_and: expected a bool tensor, got float32[3] on cpu"), Error);
  CHECK_THROWS_WITH_AS(!a, doctest::Contains("logical_not: expected a bool tensor, got float32[3]"),
                       Error);
  CHECK_THROWS_WITH_AS(
      where(a, a, a),
      doctest::Contains("where: the condition must be a bool tensor, got float32[3]"), Error);
  CHECK_THROWS_WITH_AS(bools({1}) - bools({0}), doctest::Contains("sub: subtracting bool tensors"),
                       Error);
  CHECK_THROWS_WITH_AS(-bools({1}),
                       doctest::Contains("neg: expected a numeric tensor, got bool[1]"), Error);
  CHECK_THROWS_WITH_AS(pow(bools({1}), bools({1})), doctest::Contains("pow: not defined for bool"),
                       Error);
  const Tensor u8 = Tensor::from_vector(std::vector<std::uint8_t>{1});
  CHECK_THROWS_WITH_AS(
      u8 + 300.0,
      doctest::Contains("scalar_like: the number 300 does not fit the dtype of uint8[1]"), Error);
  CHECK_THROWS_WITH_AS(Tensor::from_vector(std::vector<std::int32_t>{1}) - 1e10,
                       doctest::Contains("does not fit the dtype of int32[1]"), Error);
}
