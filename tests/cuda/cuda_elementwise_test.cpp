// The CUDA backend's elementwise kernels against host references computed in the test: binary
// ops (dense sizes around the vector width, broadcasting, transposed and misaligned inputs),
// unary float ops, and poisoned outputs proving every element is written. Then every unary,
// binary, comparison, logical and where kernel against the CPU kernel on the same inputs, for
// every dtype the CPU registers, with IEEE special values mixed in. Skipped (and reported as
// skipped) when no GPU is visible.
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <utility>

#include "cuda/cuda_checks.hpp"
#include "cuda/cuda_vs_cpu.hpp"

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

// ================================================ every elementwise kernel against the CPU's

namespace {

struct LayoutCase {
  std::string name;
  Shape out;
  std::vector<OperandLayout> operands;  // broadcast to `out`
};

// Dense sizes around the 16-byte vector widths (16 bytes, 4 floats, 2 doubles) and the block
// size, then broadcasting, transposed, misaligned and every-other-column operands.
std::vector<LayoutCase> binary_layouts() {
  std::vector<LayoutCase> cases;
  for (std::int64_t n : {1, 3, 4, 5, 15, 16, 17, 255, 256, 257, 65537}) {
    const OperandLayout dense{Shape{n}, Strides{1}};
    cases.push_back({"dense n=" + std::to_string(n), Shape{n}, {dense, dense}});
  }
  const OperandLayout m64x10{Shape{64, 10}, Strides{10, 1}};
  const OperandLayout transposed{Shape{10, 64}, Strides{1, 10}};
  const OperandLayout scalar{Shape{}, Strides{}};
  cases.push_back({"[64,10] op [10]", Shape{64, 10}, {m64x10, {Shape{10}, Strides{1}}}});
  cases.push_back({"[64,1] op [1,10]",
                   Shape{64, 10},
                   {{Shape{64, 1}, Strides{1, 1}}, {Shape{1, 10}, Strides{10, 1}}}});
  cases.push_back({"[64,10] op []", Shape{64, 10}, {m64x10, scalar}});
  cases.push_back({"[] op [64,10]", Shape{64, 10}, {scalar, m64x10}});
  cases.push_back({"a^T op b^T", Shape{10, 64}, {transposed, transposed}});
  cases.push_back({"a^T op dense", Shape{10, 64}, {transposed, {Shape{10, 64}, Strides{64, 1}}}});
  cases.push_back(
      {"misaligned", Shape{639}, {{Shape{639}, Strides{1}, 1}, {Shape{639}, Strides{1}, 3}}});
  cases.push_back({"[5,1,33] op [7,1]",
                   Shape{5, 7, 33},
                   {{Shape{5, 1, 33}, Strides{33, 33, 1}}, {Shape{7, 1}, Strides{1, 1}}}});
  cases.push_back({"every other column",
                   Shape{37, 29},
                   {{Shape{37, 29}, Strides{58, 2}}, {Shape{37, 29}, Strides{29, 1}}}});
  // Rows of whole 16-byte packs for every dtype (the row kernel, map_rows_vec): a row vector,
  // a column vector, rows of a wider matrix, and a row vector one element off alignment (the
  // strided kernel again).
  const OperandLayout m33x64{Shape{33, 64}, Strides{64, 1}};
  cases.push_back({"[33,64] op [64]", Shape{33, 64}, {m33x64, {Shape{64}, Strides{1}}}});
  cases.push_back({"[33,64] op [33,1]", Shape{33, 64}, {m33x64, {Shape{33, 1}, Strides{1, 1}}}});
  cases.push_back({"[9,48] of [9,80] op [48]",
                   Shape{9, 48},
                   {{Shape{9, 48}, Strides{80, 1}}, {Shape{48}, Strides{1}}}});
  cases.push_back(
      {"[33,64] op misaligned [64]", Shape{33, 64}, {m33x64, {Shape{64}, Strides{1}, 1}}});
  return cases;
}

struct OpCase {
  const char* name;
  Op op;
  Values a = Values::general, b = Values::general;
  std::int64_t mode = 0;  // ints[0] (gelu: 1 = tanh approximation)
};

std::string label(const OpCase& c, DType dtype, const std::string& layout) {
  return std::string(c.name) + (c.op == Op::Gelu ? (c.mode ? "(tanh)" : "(erf)") : "") + " " +
         std::string(name(dtype)) + " " + layout;
}

// `c` on every layout with `arity` operands of `dtype`, GPU against CPU; Out is the output's
// storage type. rtol == 0: bit-identical.
template <class T, class Out>
void check_vs_cpu(const OpCase& c, DType dtype, DType out_dtype, int arity, double rtol,
                  double atol) {
  std::uint32_t seed = 100;
  for (const LayoutCase& lc : binary_layouts()) {
    std::vector<Pair> in;
    for (int k = 0; k < arity; ++k)
      in.push_back(make_operand<T>(dtype, lc.operands[std::size_t(k)], seed++, k ? c.b : c.a));
    Call call;
    call.op = c.op;
    call.key = dtype;
    call.ints[0] = c.mode;
    const Outputs o = run_both(call, lc.out, out_dtype, in, &lc.out);
    compare_outputs<Out>(o, rtol, atol, label(c, dtype, lc.name));
  }
}

const OpCase kFloatUnary[] = {
    {"neg", Op::Neg},
    {"abs", Op::Abs},
    {"exp", Op::Exp},
    {"log", Op::Log},
    {"log1p", Op::Log1p},
    {"sqrt", Op::Sqrt},
    {"rsqrt", Op::Rsqrt},
    {"square", Op::Square},
    {"tanh", Op::Tanh},
    {"sigmoid", Op::Sigmoid},
    {"relu", Op::Relu},
    {"gelu", Op::Gelu, {}, {}, 0},
    {"gelu", Op::Gelu, {}, {}, 1},
    {"softplus", Op::Softplus},
    {"sign", Op::Sign},
};

// Both sides' transcendentals are within a few ulp (Highway's contrib math on the CPU, CUDA's
// libdevice here), so float results agree to ~8 ulp; the composite ones (gelu, softplus,
// sigmoid) round a few more times. Exact ops (neg, abs, sqrt, rsqrt, square, relu, sign) are
// IEEE-rounded on both and compared bit for bit.
template <class T>
double unary_tolerance(Op op) {
  constexpr bool kF32 = std::is_same_v<T, float>;
  switch (op) {
    case Op::Neg:
    case Op::Abs:
    case Op::Sqrt:
    case Op::Rsqrt:
    case Op::Square:
    case Op::Relu:
    case Op::Sign:
      return 0.0;
    case Op::Gelu:
    case Op::Softplus:
    case Op::Sigmoid:
      return kF32 ? 1e-5 : 1e-13;
    default:
      return kF32 ? 4e-6 : 1e-14;
  }
}

template <class T>
void check_float_unary_vs_cpu() {
  const double atol = std::is_same_v<T, float> ? 1e-30 : 1e-300;  // subnormal results
  for (const OpCase& c : kFloatUnary) {
    const double rtol = unary_tolerance<T>(c.op);
    check_vs_cpu<T, T>(c, dtype_of<T>(), dtype_of<T>(), 1, rtol, rtol == 0 ? 0.0 : atol);
  }
}

template <class T>
void check_integer_unary_vs_cpu() {
  const OpCase cases[] = {{"neg", Op::Neg},
                          {"abs", Op::Abs},
                          {"sign", Op::Sign},
                          {"square", Op::Square},
                          {"relu", Op::Relu}};
  for (const OpCase& c : cases) check_vs_cpu<T, T>(c, dtype_of<T>(), dtype_of<T>(), 1, 0.0, 0.0);
}

const OpCase kComparisons[] = {
    {"equal", Op::Equal, Values::small_ints, Values::small_ints},
    {"not_equal", Op::NotEqual, Values::small_ints, Values::small_ints},
    {"less", Op::Less, Values::small_ints, Values::small_ints},
    {"less_equal", Op::LessEqual, Values::small_ints, Values::small_ints},
    {"greater", Op::Greater, Values::small_ints, Values::small_ints},
    {"greater_equal", Op::GreaterEqual, Values::small_ints, Values::small_ints},
};

// T is the storage type of `dtype` (uint8_t for bool).
template <class T>
void check_comparisons_vs_cpu(DType dtype) {
  for (const OpCase& c : kComparisons)
    check_vs_cpu<T, std::uint8_t>(c, dtype, DType::bool_, 2, 0.0, 0.0);
}

template <class T>
void check_float_binary_vs_cpu() {
  // IEEE arithmetic, NaN-propagating maximum/minimum: bit for bit.
  const OpCase exact[] = {{"add", Op::Add},
                          {"sub", Op::Sub},
                          {"mul", Op::Mul},
                          {"div", Op::Div},
                          {"maximum", Op::Maximum},
                          {"minimum", Op::Minimum},
                          {"divide_no_nan", Op::DivNoNan}};
  for (const OpCase& c : exact) check_vs_cpu<T, T>(c, dtype_of<T>(), dtype_of<T>(), 2, 0.0, 0.0);
  // pow: C's special cases on both sides; the finite results within a few ulp (subnormal ones,
  // such as (1e-30)^1.5 in float32, within an absolute floor).
  constexpr bool kF32 = std::is_same_v<T, float>;
  const OpCase pow_case{"pow", Op::Pow, Values::pow_base, Values::pow_exponent};
  check_vs_cpu<T, T>(pow_case, dtype_of<T>(), dtype_of<T>(), 2, kF32 ? 4e-6 : 1e-14,
                     kF32 ? 1e-30 : 1e-300);
  check_comparisons_vs_cpu<T>(dtype_of<T>());
}

template <class T>
void check_integer_binary_vs_cpu() {
  const OpCase cases[] = {
      {"add", Op::Add},         {"sub", Op::Sub},
      {"mul", Op::Mul},         {"maximum", Op::Maximum},
      {"minimum", Op::Minimum}, {"pow", Op::Pow, Values::pow_base, Values::pow_exponent}};
  for (const OpCase& c : cases) check_vs_cpu<T, T>(c, dtype_of<T>(), dtype_of<T>(), 2, 0.0, 0.0);
  check_comparisons_vs_cpu<T>(dtype_of<T>());
}

void check_bool_binary_vs_cpu() {
  const OpCase cases[] = {{"add", Op::Add},
                          {"mul", Op::Mul},
                          {"maximum", Op::Maximum},
                          {"minimum", Op::Minimum},
                          {"logical_and", Op::LogicalAnd},
                          {"logical_or", Op::LogicalOr},
                          {"logical_xor", Op::LogicalXor}};
  for (const OpCase& c : cases)
    check_vs_cpu<std::uint8_t, std::uint8_t>(c, DType::bool_, DType::bool_, 2, 0.0, 0.0);
  check_comparisons_vs_cpu<std::uint8_t>(DType::bool_);
}

// where(cond, a, b) with the condition, a and b each laid out its own way.
std::vector<LayoutCase> where_layouts() {
  std::vector<LayoutCase> cases;
  for (std::int64_t n : {1, 5, 16, 17, 257, 65537}) {
    const OperandLayout dense{Shape{n}, Strides{1}};
    cases.push_back({"dense n=" + std::to_string(n), Shape{n}, {dense, dense, dense}});
  }
  const OperandLayout m64x10{Shape{64, 10}, Strides{10, 1}};
  cases.push_back({"cond [64,1], a [10], b []",
                   Shape{64, 10},
                   {{Shape{64, 1}, Strides{1, 1}}, {Shape{10}, Strides{1}}, {Shape{}, Strides{}}}});
  cases.push_back(
      {"cond [], a [64,10], b [64,10]", Shape{64, 10}, {{Shape{}, Strides{}}, m64x10, m64x10}});
  cases.push_back({"cond^T, a^T, b dense",
                   Shape{10, 64},
                   {{Shape{10, 64}, Strides{1, 10}},
                    {Shape{10, 64}, Strides{1, 10}},
                    {Shape{10, 64}, Strides{64, 1}}}});
  cases.push_back(
      {"misaligned",
       Shape{639},
       {{Shape{639}, Strides{1}, 1}, {Shape{639}, Strides{1}, 2}, {Shape{639}, Strides{1}, 3}}});
  cases.push_back({"[5,1,33] cond, [7,1] a, [5,7,33] b",
                   Shape{5, 7, 33},
                   {{Shape{5, 1, 33}, Strides{33, 33, 1}},
                    {Shape{7, 1}, Strides{1, 1}},
                    {Shape{5, 7, 33}, Strides{231, 33, 1}}}});
  return cases;
}

// T is the storage type of `dtype` (uint8_t for bool).
template <class T>
void check_where_vs_cpu(DType dtype) {
  std::uint32_t seed = 500;
  for (const LayoutCase& lc : where_layouts()) {
    const std::vector<Pair> in = {
        make_operand<std::uint8_t>(DType::bool_, lc.operands[0], seed, Values::general),
        make_operand<T>(dtype, lc.operands[1], seed + 1, Values::general),
        make_operand<T>(dtype, lc.operands[2], seed + 2, Values::general)};
    seed += 3;
    Call call;
    call.op = Op::Where;
    call.key = dtype;
    const Outputs o = run_both(call, lc.out, dtype, in, &lc.out);
    compare_outputs<T>(o, 0.0, 0.0, "where " + std::string(name(dtype)) + " " + lc.name);
  }
}

// mul_add(a, b, c) over where's layouts (three inputs each laid out its own way), IEEE specials
// included: the product rounded before the add on both devices, so bit for bit.
template <class T>
void check_mul_add_vs_cpu() {
  std::uint32_t seed = 700;
  for (const LayoutCase& lc : where_layouts()) {
    std::vector<Pair> in;
    for (int k = 0; k < 3; ++k)
      in.push_back(
          make_operand<T>(dtype_of<T>(), lc.operands[std::size_t(k)], seed++, Values::general));
    Call call;
    call.op = Op::MulAdd;
    call.key = dtype_of<T>();
    const Outputs o = run_both(call, lc.out, dtype_of<T>(), in, &lc.out);
    compare_outputs<T>(o, 0.0, 0.0, "mul_add " + std::string(name(dtype_of<T>())) + " " + lc.name);
  }
}

}  // namespace

TEST_CASE("cuda: mul_add matches the CPU bit for bit for every layout" * doctest::skip(kNoGpu)) {
  check_mul_add_vs_cpu<float>();
  check_mul_add_vs_cpu<double>();
}

TEST_CASE("cuda: float unary kernels match the CPU's, special values included" *
          doctest::skip(kNoGpu)) {
  check_float_unary_vs_cpu<float>();
  check_float_unary_vs_cpu<double>();
}

TEST_CASE("cuda: integer unary kernels and logical_not match the CPU's bit for bit" *
          doctest::skip(kNoGpu)) {
  check_integer_unary_vs_cpu<std::int32_t>();
  check_integer_unary_vs_cpu<std::int64_t>();
  check_integer_unary_vs_cpu<std::uint8_t>();
  check_vs_cpu<std::uint8_t, std::uint8_t>({"logical_not", Op::LogicalNot}, DType::bool_,
                                           DType::bool_, 1, 0.0, 0.0);
}

TEST_CASE("cuda: float binary kernels, pow and comparisons match the CPU's" *
          doctest::skip(kNoGpu)) {
  check_float_binary_vs_cpu<float>();
  check_float_binary_vs_cpu<double>();
}

TEST_CASE("cuda: integer and bool binary kernels match the CPU's bit for bit" *
          doctest::skip(kNoGpu)) {
  check_integer_binary_vs_cpu<std::int32_t>();
  check_integer_binary_vs_cpu<std::int64_t>();
  check_integer_binary_vs_cpu<std::uint8_t>();
  check_bool_binary_vs_cpu();
}

TEST_CASE("cuda: where matches the CPU for every dtype and layout" * doctest::skip(kNoGpu)) {
  check_where_vs_cpu<float>(DType::f32);
  check_where_vs_cpu<double>(DType::f64);
  check_where_vs_cpu<std::int32_t>(DType::i32);
  check_where_vs_cpu<std::int64_t>(DType::i64);
  check_where_vs_cpu<std::uint8_t>(DType::u8);
  check_where_vs_cpu<std::uint8_t>(DType::bool_);
}

TEST_CASE("cuda: hand-computed values of the new elementwise ops" * doctest::skip(kNoGpu)) {
  const float inf = std::numeric_limits<float>::infinity();
  const Tensor x =
      Tensor::from_vector(std::vector<float>{-2.0f, -0.0f, 0.0f, 1.0f, 4.0f, inf}, kGpu);
  const std::vector<float> sign_x = sign(x).to_vector<float>();
  CHECK(sign_x == std::vector<float>{-1, -0.0f, 0, 1, 1, 1});
  CHECK(std::signbit(sign_x[1]));
  CHECK(abs(x).to_vector<float>() == std::vector<float>{2, 0, 0, 1, 4, inf});
  CHECK(square(x).to_vector<float>() == std::vector<float>{4, 0, 0, 1, 16, inf});
  const std::vector<float> r = rsqrt(x).to_vector<float>();
  CHECK(std::isnan(r[0]));
  CHECK(r[4] == 0.5f);
  CHECK(r[5] == 0.0f);
  // softplus(0) = log 2; gelu(1) = Phi(1) = 0.8413447460685429 (exact form).
  const Tensor zero_one = Tensor::from_vector(std::vector<double>{0.0, 1.0}, kGpu);
  CHECK(softplus(zero_one).to_vector<double>()[0] == doctest::Approx(std::log(2.0)).epsilon(1e-15));
  CHECK(gelu(zero_one, false).to_vector<double>()[1] ==
        doctest::Approx(0.8413447460685429).epsilon(1e-14));
  const Tensor base = Tensor::from_vector(std::vector<std::int32_t>{2, -3, 7, -1, 5}, kGpu);
  const Tensor expo = Tensor::from_vector(std::vector<std::int32_t>{10, 3, 0, -3, -1}, kGpu);
  CHECK(pow(base, expo).to_vector<std::int32_t>() ==
        std::vector<std::int32_t>{1024, -27, 1, -1, 0});
  const std::vector<std::uint8_t> less_bytes = bool_bytes(less(base, expo));
  CHECK(less_bytes == std::vector<std::uint8_t>{1, 1, 0, 0, 0});
}

TEST_CASE("cuda: running_means_step (RunningMeans) has the CPU's bits" * doctest::skip(kNoGpu)) {
  // The loss logs' running means: the product rounded before the add, the count's add and the
  // division as their own kernels round them, on both devices; a log without a value; more
  // logs than one launch's table (96).
  std::map<std::string, Tensor> first, second;
  for (int i = 0; i < 130; ++i) {
    const std::string name = "log" + std::to_string(i);
    first[name] = scalar(0.1 * i + 1.0 / 3.0);
    if (i % 5 != 0) second[name] = scalar(-2.7 * i + 1e-3);
  }
  Tree cpu = metrics::running_means_init(first);
  Tree gpu = cpu.map([](const Tensor& t) { return t.to(kGpu); });
  const auto to_gpu = [](const std::map<std::string, Tensor>& m) {
    std::map<std::string, Tensor> out;
    for (const auto& [k, v] : m) out[k] = v.to(kGpu);
    return out;
  };
  for (const auto& [values, weight] :
       {std::pair{first, 64.0}, std::pair{second, 0.3}, std::pair{first, 7.0}}) {
    auto [cpu_state, cpu_means] = metrics::running_means_step(cpu, values, weight);
    auto [gpu_state, gpu_means] = metrics::running_means_step(gpu, to_gpu(values), weight);
    for (const auto& [name, mean] : cpu_means) {
      CAPTURE(name);
      CHECK(gpu_means.at(name).to(Device::cpu()).item<float>() == mean.item<float>());
      CHECK(gpu_state["totals"][name].tensor().to(Device::cpu()).item<float>() ==
            cpu_state["totals"][name].tensor().item<float>());
    }
    CHECK(gpu_state["count"].tensor().to(Device::cpu()).item<float>() ==
          cpu_state["count"].tensor().item<float>());
    cpu = cpu_state;
    gpu = gpu_state;
  }
}

TEST_CASE("cuda: the tape's one MulAddMany has each parameter's own mul_add bits" *
          doctest::skip(kNoGpu)) {
  // More parameters than one launch's table (48), sizes around the block and pack widths, one
  // starting 4 bytes off 16-byte alignment, an empty one.
  std::vector<Tensor> ps, ws;
  for (int k = 0; k < 60; ++k) {
    const std::int64_t n = k == 7 ? 0 : (std::int64_t(k) * 7919) % 9000 + k % 5;
    const Tensor whole = random::normal(Key(300 + k), {n + 1}).to(kGpu);
    ps.push_back(k == 11 ? whole.slice(1, n + 1) : whole.slice(0, n));
    ws.push_back(random::normal(Key(400 + k), {n}).to(kGpu));
  }
  const double l2 = 2e-3;
  Tree::Map m;
  for (std::size_t k = 0; k < ps.size(); ++k) m["p" + std::to_string(100 + k)] = ps[k];
  const auto [loss, grads] = value_and_grad(
      [&](const Tree& t) {
        const std::vector<Tensor> l = t.leaves();
        Tensor data = sum(l[0] * ws[0]);
        for (std::size_t k = 1; k < l.size(); ++k) data = data + sum(l[k] * ws[k]);
        return data + l2 * sum_of_squares(l);
      },
      Tree::from_map(m));
  const Tensor scale = scalar(2.0 * l2, DType::f32).to(kGpu);
  const std::vector<Tensor> got = grads.leaves();
  for (std::size_t k = 0; k < ps.size(); ++k) {
    CAPTURE(k);
    CHECK(got[k].to(Device::cpu()).to_vector<float>() ==
          mul_add(ps[k], scale, ws[k]).to(Device::cpu()).to_vector<float>());
  }
}
