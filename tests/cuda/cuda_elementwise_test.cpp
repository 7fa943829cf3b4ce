// The CUDA backend's elementwise kernels against host references computed in the test: binary
// ops (dense sizes around the vector width, broadcasting, transposed and misaligned inputs),
// unary float ops, and poisoned outputs proving every element is written. Skipped (and reported
// as skipped) when no GPU is visible.
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>

#include "cuda/cuda_checks.hpp"

using namespace elegy;
using namespace elegy::cuda_test;
using kernels::Op;

namespace {

const bool kNoGpu = !cuda_available();

// Around the 4- and 2-lane vector widths, a block of 256 threads, and a size with a tail that
// needs more than one grid-stride pass.
constexpr std::int64_t kSizes[] = {1, 3, 4, 5, 1023, 1024, 1025, (1 << 20) + 3};

template <class T>
struct BinaryCase {
  const char* name;
  Op op;
  std::function<Tensor(const Tensor&, const Tensor&)> fn;
  std::function<T(T, T)> ref;
};

template <class T>
std::vector<BinaryCase<T>> binary_cases() {
  std::vector<BinaryCase<T>> cases = {
      {"add", Op::Add, [](const Tensor& a, const Tensor& b) { return add(a, b); },
       [](T a, T b) { return T(a + b); }},
      {"sub", Op::Sub, [](const Tensor& a, const Tensor& b) { return sub(a, b); },
       [](T a, T b) { return T(a - b); }},
      {"mul", Op::Mul, [](const Tensor& a, const Tensor& b) { return mul(a, b); },
       [](T a, T b) { return T(a * b); }},
  };
  if constexpr (std::is_floating_point_v<T>) {
    cases.push_back({"div", Op::Div, [](const Tensor& a, const Tensor& b) { return div(a, b); },
                     [](T a, T b) { return T(a / b); }});
    cases.push_back({"maximum", Op::Maximum,
                     [](const Tensor& a, const Tensor& b) { return maximum(a, b); },
                     [](T a, T b) { return std::max(a, b); }});
    cases.push_back({"minimum", Op::Minimum,
                     [](const Tensor& a, const Tensor& b) { return minimum(a, b); },
                     [](T a, T b) { return std::min(a, b); }});
  }
  return cases;
}

// IEEE add/sub/mul/div are correctly rounded on both sides; the slack only absorbs a host
// compiler that evaluates in wider precision.
template <class T>
constexpr double kBinaryTol = std::is_same_v<T, float>    ? 1e-6
                              : std::is_same_v<T, double> ? 1e-15
                                                          : 0.0;

template <class T>
std::vector<T> reference(const std::vector<T>& a, const std::vector<T>& b,
                         const std::function<T(T, T)>& f) {
  std::vector<T> out(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) out[i] = f(a[i], b[i]);
  return out;
}

template <class T>
void check_dense_sizes() {
  for (std::int64_t n : kSizes) {
    const std::vector<T> a = random_values<T>(n, 11, -100.0, 100.0);
    const std::vector<T> b = std::is_floating_point_v<T> ? nonzero_values<T>(n, 12)
                                                         : random_values<T>(n, 12, -100.0, 100.0);
    const Tensor da = Tensor::from_vector(a, kGpu), db = Tensor::from_vector(b, kGpu);
    for (const auto& c : binary_cases<T>()) {
      const std::string what =
          std::string(c.name) + " " + std::string(name(dtype_of<T>())) + " n=" + std::to_string(n);
      const Tensor out = c.fn(da, db);
      CHECK(out.device() == kGpu);
      const std::vector<T> want = reference(a, b, c.ref);
      check_close(out.template to_vector<T>(), want, kBinaryTol<T>, what);
      check_close(run_kernel(c.op, Shape{n}, da, db).template to_vector<T>(), want, kBinaryTol<T>,
                  what + " (poisoned output)");
    }
  }
}

// a (shape_a, viewed with strides_a) op b (shape_b) broadcast to `shape`, via the public op and
// via the kernel on a poisoned output.
template <class T>
void check_layout(const char* what, const Shape& shape, const Tensor& da, const std::vector<T>& a,
                  const Strides& bcast_a, const Tensor& db, const std::vector<T>& b,
                  const Strides& bcast_b, std::int64_t offset_a = 0) {
  const std::vector<T> ma = materialize(a, shape, bcast_a, offset_a);
  const std::vector<T> mb = materialize(b, shape, bcast_b);
  for (const auto& c : binary_cases<T>()) {
    const std::string label = std::string(what) + " " + c.name;
    const std::vector<T> want = reference(ma, mb, c.ref);
    const Tensor out = c.fn(da, db);
    CHECK(out.shape() == shape);
    check_close(out.template to_vector<T>(), want, kBinaryTol<T>, label);
    check_close(run_kernel(c.op, shape, da, db).template to_vector<T>(), want, kBinaryTol<T>,
                label + " (poisoned output)");
  }
}

template <class T>
void check_layouts() {
  const std::vector<T> a = random_values<T>(64 * 10, 21, -100.0, 100.0);
  const std::vector<T> b = std::is_floating_point_v<T> ? nonzero_values<T>(64 * 10, 22)
                                                       : random_values<T>(64 * 10, 22, 1.0, 9.0);
  const Tensor da = Tensor::from_vector(a, Shape{64, 10}, kGpu);
  const Tensor db = Tensor::from_vector(b, Shape{64, 10}, kGpu);
  const Tensor row = view(db, Shape{10}, Strides{1});         // b's first row, shape [10]
  const Tensor col = view(db, Shape{64, 1}, Strides{10, 1});  // b's first column, [64,1]
  const Tensor first_row = view(da, Shape{1, 10}, Strides{10, 1});
  check_layout<T>("[64,10]+[10]", Shape{64, 10}, da, a, Strides{10, 1}, row, b, Strides{0, 1});
  check_layout<T>("[64,1]+[1,10]", Shape{64, 10}, col, b, Strides{10, 0}, first_row, a,
                  Strides{0, 1});
  const Tensor scalar_b = view(db, Shape{}, Strides{});
  check_layout<T>("[64,10]+[]", Shape{64, 10}, da, a, Strides{10, 1}, scalar_b, b, Strides{0, 0});

  // Transposed operands: a^T and b^T are [10,64] views with strides (1, 10).
  const Tensor ta = view(da, Shape{10, 64}, Strides{1, 10});
  const Tensor tb = view(db, Shape{10, 64}, Strides{1, 10});
  const Tensor dense_b =
      Tensor::from_vector(materialize(b, Shape{10, 64}, Strides{1, 10}), Shape{10, 64}, kGpu);
  check_layout<T>("a^T+dense", Shape{10, 64}, ta, a, Strides{1, 10}, dense_b, b, Strides{1, 10});
  check_layout<T>("a^T+b^T", Shape{10, 64}, ta, a, Strides{1, 10}, tb, b, Strides{1, 10});

  // An input starting one element into its storage: dense but not 16-byte aligned.
  const Tensor shifted = view(da, Shape{639}, Strides{1}, 1);
  const Tensor other = view(db, Shape{639}, Strides{1});
  check_layout<T>("misaligned", Shape{639}, shifted, a, Strides{1}, other, b, Strides{1}, 1);
}

struct UnaryCase {
  const char* name;
  Op op;
  Tensor (*fn)(const Tensor&);
  double (*ref)(double);
  double lo, hi;
};

const UnaryCase kUnary[] = {
    {"neg", Op::Neg, [](const Tensor& x) { return neg(x); }, [](double x) { return -x; }, -4, 4},
    {"exp", Op::Exp, [](const Tensor& x) { return exp(x); }, [](double x) { return std::exp(x); },
     -4, 4},
    {"log", Op::Log, [](const Tensor& x) { return log(x); }, [](double x) { return std::log(x); },
     0.01, 4},
    {"relu", Op::Relu, [](const Tensor& x) { return relu(x); },
     [](double x) { return x > 0 ? x : 0.0; }, -4, 4},
    {"sqrt", Op::Sqrt, [](const Tensor& x) { return sqrt(x); },
     [](double x) { return std::sqrt(x); }, 0.01, 4},
    {"tanh", Op::Tanh, [](const Tensor& x) { return tanh(x); },
     [](double x) { return std::tanh(x); }, -4, 4},
    {"sigmoid", Op::Sigmoid, [](const Tensor& x) { return sigmoid(x); },
     [](double x) { return 1.0 / (1.0 + std::exp(-x)); }, -4, 4},
};

template <class T>
void check_unary() {
  // CUDA's float math is within a few ulp; double within one or two.
  const double tol = std::is_same_v<T, float> ? 4e-6 : 1e-14;
  for (const auto& c : kUnary) {
    for (std::int64_t n :
         {std::int64_t(1), std::int64_t(5), std::int64_t(1025), std::int64_t((1 << 20) + 3)}) {
      const std::string what =
          std::string(c.name) + " " + std::string(name(dtype_of<T>())) + " n=" + std::to_string(n);
      const std::vector<T> x = random_values<T>(n, 31, c.lo, c.hi);
      std::vector<T> want(x.size());
      for (std::size_t i = 0; i < x.size(); ++i) want[i] = T(c.ref(double(x[i])));
      const Tensor dx = Tensor::from_vector(x, kGpu);
      check_close(c.fn(dx).template to_vector<T>(), want, tol, what, 1e-30);
      check_close(run_kernel(c.op, Shape{n}, dx).template to_vector<T>(), want, tol,
                  what + " (poisoned output)", 1e-30);
    }
    // Transposed input: the strided path.
    const std::vector<T> x = random_values<T>(37 * 29, 32, c.lo, c.hi);
    const Tensor xt =
        view(Tensor::from_vector(x, Shape{37, 29}, kGpu), Shape{29, 37}, Strides{1, 29});
    std::vector<T> want = materialize(x, Shape{29, 37}, Strides{1, 29});
    for (auto& w : want) w = T(c.ref(double(w)));
    check_close(c.fn(xt).template to_vector<T>(), want, tol, std::string(c.name) + " transposed",
                1e-30);
  }
}

}  // namespace

TEST_CASE("cuda: binary ops on dense inputs of many sizes" * doctest::skip(kNoGpu)) {
  check_dense_sizes<float>();
  check_dense_sizes<double>();
  check_dense_sizes<std::int32_t>();
  check_dense_sizes<std::int64_t>();
}

TEST_CASE("cuda: binary ops with broadcast, transposed and misaligned inputs" *
          doctest::skip(kNoGpu)) {
  check_layouts<float>();
  check_layouts<double>();
  check_layouts<std::int32_t>();
  check_layouts<std::int64_t>();
}

TEST_CASE("cuda: maximum and minimum propagate NaN" * doctest::skip(kNoGpu)) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor a = Tensor::from_vector(std::vector<float>{nan, 1, nan, 3, 5}, kGpu);
  const Tensor b = Tensor::from_vector(std::vector<float>{2, nan, nan, 4, -5}, kGpu);
  for (const Tensor& out : {maximum(a, b), minimum(a, b)}) {
    const std::vector<float> got = out.to_vector<float>();
    CHECK(std::isnan(got[0]));
    CHECK(std::isnan(got[1]));
    CHECK(std::isnan(got[2]));
  }
  CHECK(maximum(a, b).to_vector<float>()[3] == 4.0f);
  CHECK(minimum(a, b).to_vector<float>()[4] == -5.0f);
}

TEST_CASE("cuda: unary float ops" * doctest::skip(kNoGpu)) {
  check_unary<float>();
  check_unary<double>();
}
