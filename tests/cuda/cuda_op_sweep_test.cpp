// The op set on every device: each public op runs on the CPU and on the GPU from the same random
// inputs (float32 and float64; broadcast, transposed and odd sizes around the SIMD and CUDA
// vector widths), and the two must agree — forward values, and the gradients of a random
// weighting of the output with respect to every float input. Uniform random numbers and dropout
// masks must agree exactly (counter-based keys); normals to an ulp (libm vs libdevice). Every case
// is skipped when no GPU is visible; the per-kernel CUDA tests beside this file check the kernels'
// edge cases (poisoned outputs, vector tails) directly.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <elegy/elegy.hpp>

#include "cuda/cuda_vs_cpu.hpp"
#include "grad_check.hpp"

using namespace elegy;

namespace {

const bool kNoGpu = !cuda_available();

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

// One op applied to float inputs of the given shapes drawn from [lo, hi); `grad` when the op is
// differentiable in them (outputs of other dtypes are compared as values only).
struct Case {
  std::string name;
  std::vector<Shape> shapes;
  Fn fn;
  double lo = -2.0, hi = 2.0;
  bool grad = true;
};

Tensor input(const Shape& s, std::uint64_t seed, double lo, double hi, DType dt, bool strided) {
  if (!strided || s.size() < 2) return testing::host_uniform(s, seed, lo, hi).astype(dt);
  // A transposed view: the same logical shape over a permuted buffer.
  Shape reversed;
  for (int i = s.size() - 1; i >= 0; --i) reversed.push_back(s[i]);
  return transpose(testing::host_uniform(reversed, seed, lo, hi).astype(dt));
}

// |got - want| <= tol * (1 + |want|) for every element, NaN matching NaN, one summary assertion
// (cuda_vs_cpu.hpp's check_matches on the host copies).
void check_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  REQUIRE_MESSAGE(got.shape() == want.shape(), what);
  cuda_test::check_matches(got.to(Device::cpu()).astype(DType::f64).to_vector<double>(),
                           want.to(Device::cpu()).astype(DType::f64).to_vector<double>(), tol, tol,
                           what);
}

// fn on both devices, values and gradients compared.
void sweep(const Case& c) {
  for (DType dt : {DType::f32, DType::f64}) {
    for (bool strided : {false, true}) {
      CAPTURE(c.name);
      CAPTURE(dt);
      CAPTURE(strided);
      const double tol = dt == DType::f32 ? 5e-5 : 1e-11;
      std::vector<Tensor> cpu, gpu;
      for (std::size_t i = 0; i < c.shapes.size(); ++i) {
        cpu.push_back(input(c.shapes[i], 100 + i, c.lo, c.hi, dt, strided));
        gpu.push_back(cpu.back().to(Device::cuda()));
      }
      const Tensor y_cpu = c.fn(cpu), y_gpu = c.fn(gpu);
      CHECK(y_gpu.device() == Device::cuda());
      CHECK(y_gpu.dtype() == y_cpu.dtype());
      check_close(y_gpu, y_cpu, tol, c.name + " forward");
      if (!c.grad || !is_floating(y_cpu.dtype())) continue;
      const Tensor r = testing::host_uniform(y_cpu.shape(), 7).astype(y_cpu.dtype());
      auto grads = [&](const std::vector<Tensor>& xs, Device d) {
        Tree::List leaves;
        for (const Tensor& x : xs) leaves.push_back(Tree(x));
        const Tensor rd = r.to(d);
        return grad(
            [&](const Tree& p) {
              std::vector<Tensor> v;
              for (const Tree& t : p.elements()) v.push_back(t.tensor());
              return sum(c.fn(v) * rd);
            },
            Tree::from_list(leaves));
      };
      const Tree g_cpu = grads(cpu, Device::cpu()), g_gpu = grads(gpu, Device::cuda());
      for (std::size_t i = 0; i < cpu.size(); ++i)
        check_close(g_gpu[int(i)].tensor(), g_cpu[int(i)].tensor(), 4 * tol,
                    c.name + " gradient of input " + std::to_string(i));
    }
  }
}

std::vector<Case> elementwise_cases() {
  const Shape s{3, 37};               // 111 elements: not a multiple of any vector width
  const Shape a{4, 1, 37}, b{5, 37};  // broadcasting both ways
  std::vector<Case> out = {
      {"neg", {s}, [](auto& x) { return neg(x[0]); }},
      {"abs", {s}, [](auto& x) { return abs(x[0]); }},
      {"exp", {s}, [](auto& x) { return exp(x[0]); }},
      {"log", {s}, [](auto& x) { return log(x[0]); }, 0.1, 3.0},
      {"log1p", {s}, [](auto& x) { return log1p(x[0]); }, -0.5, 3.0},
      {"sqrt", {s}, [](auto& x) { return sqrt(x[0]); }, 0.1, 3.0},
      {"rsqrt", {s}, [](auto& x) { return rsqrt(x[0]); }, 0.1, 3.0},
      {"square", {s}, [](auto& x) { return square(x[0]); }},
      {"tanh", {s}, [](auto& x) { return tanh(x[0]); }},
      {"sigmoid", {s}, [](auto& x) { return sigmoid(x[0]); }},
      {"relu", {s}, [](auto& x) { return relu(x[0]); }},
      {"gelu tanh", {s}, [](auto& x) { return gelu(x[0], true); }},
      {"gelu erf", {s}, [](auto& x) { return gelu(x[0], false); }},
      {"softplus", {s}, [](auto& x) { return softplus(x[0]); }},
      {"sign", {s}, [](auto& x) { return sign(x[0]); }, -2.0, 2.0, false},
      {"add", {a, b}, [](auto& x) { return x[0] + x[1]; }},
      {"sub", {a, b}, [](auto& x) { return x[0] - x[1]; }},
      {"mul", {a, b}, [](auto& x) { return x[0] * x[1]; }},
      {"div", {a, b}, [](auto& x) { return x[0] / x[1]; }, 0.5, 2.0},
      {"pow", {a, b}, [](auto& x) { return pow(x[0], x[1]); }, 0.5, 2.0},
      {"pow scalar", {s}, [](auto& x) { return pow(x[0], 3.0); }},
      {"maximum", {a, b}, [](auto& x) { return maximum(x[0], x[1]); }},
      {"minimum", {a, b}, [](auto& x) { return minimum(x[0], x[1]); }},
      {"where", {a, b, b}, [](auto& x) { return where(greater(x[0], x[1]), x[1], x[2]); }},
      {"comparisons",
       {a, b},
       [](auto& x) {
         Tensor n = equal(x[0], x[1]).astype(DType::f32) + not_equal(x[0], x[1]).astype(DType::f32);
         n = n + less(x[0], x[1]).astype(DType::f32) * 2.0 +
             less_equal(x[0], x[1]).astype(DType::f32) * 4.0;
         return n + greater(x[0], x[1]).astype(DType::f32) * 8.0 +
                greater_equal(x[0], x[1]).astype(DType::f32) * 16.0;
       },
       -2.0,
       2.0,
       false},
      {"logical",
       {a, b},
       [](auto& x) {
         const Tensor p = (x[0] > 0.0), q = (x[1] > 0.5);
         return logical_and(p, q).astype(DType::f32) + logical_or(p, q).astype(DType::f32) * 2.0 +
                logical_xor(p, q).astype(DType::f32) * 4.0 +
                logical_not(p).astype(DType::f32) * 8.0;
       },
       -2.0,
       2.0,
       false},
      {"cast round trip",
       {s},
       [](auto& x) { return x[0].astype(DType::f32).astype(x[0].dtype()); }},
      {"to int32", {s}, [](auto& x) { return (x[0] * 10.0).astype(DType::i32); }, -2.0, 2.0, false},
  };
  return out;
}

std::vector<Case> reduction_cases() {
  const Shape s{6, 33, 17};
  std::vector<Case> out;
  const std::vector<std::pair<std::string, Axes>> axes = {
      {"all", Axes()}, {"0", Axes(0)}, {"-1", Axes(-1)}, {"0,2", Axes({0, 2})}};
  for (const auto& [an, ax] : axes) {
    const Axes a = ax;
    out.push_back({"sum " + an, {s}, [a](auto& x) { return sum(x[0], a); }});
    out.push_back({"mean " + an, {s}, [a](auto& x) { return mean(x[0], a, true); }});
    out.push_back({"prod " + an, {s}, [a](auto& x) { return prod(x[0], a); }, 0.9, 1.1});
    out.push_back({"max " + an, {s}, [a](auto& x) { return max(x[0], a); }});
    out.push_back({"min " + an, {s}, [a](auto& x) { return min(x[0], a); }});
    out.push_back({"var " + an, {s}, [a](auto& x) { return var(x[0], a); }});
    out.push_back({"logsumexp " + an, {s}, [a](auto& x) { return logsumexp(x[0], a); }});
  }
  for (int axis : {0, 1, -1}) {
    const std::string n = std::to_string(axis);
    out.push_back(
        {"argmax " + n, {s}, [axis](auto& x) { return argmax(x[0], axis); }, -2.0, 2.0, false});
    out.push_back(
        {"argmin " + n, {s}, [axis](auto& x) { return argmin(x[0], axis); }, -2.0, 2.0, false});
    out.push_back({"softmax " + n, {s}, [axis](auto& x) { return softmax(x[0], axis); }});
    out.push_back({"log_softmax " + n, {s}, [axis](auto& x) { return log_softmax(x[0], axis); }});
  }
  out.push_back({"any/all",
                 {s},
                 [](auto& x) {
                   return any((x[0] > 1.9), -1).astype(DType::f32) +
                          all((x[0] > -1.99), -1).astype(DType::f32) * 2.0;
                 },
                 -2.0,
                 2.0,
                 false});
  return out;
}

std::vector<Case> structured_cases() {
  const ConvOptions same{.padding = {{1, 1}, {1, 1}}};
  const ConvOptions strided_groups{.strides = {2, 1}, .padding = {{0, 1}, {1, 1}}, .groups = 2};
  const PoolOptions pool{.window = {2, 3}, .strides = {2, 2}, .padding = {{0, 1}, {1, 1}}};
  return {
      {"matmul", {Shape{3, 17, 33}, Shape{33, 9}}, [](auto& x) { return matmul(x[0], x[1]); }},
      {"matmul vector", {Shape{33}, Shape{4, 33, 5}}, [](auto& x) { return matmul(x[0], x[1]); }},
      {"conv same",
       {Shape{2, 9, 7, 3}, Shape{3, 3, 3, 5}},
       [=](auto& x) { return conv(x[0], x[1], same); }},
      {"conv strided groups",
       {Shape{2, 8, 9, 4}, Shape{2, 3, 2, 6}},
       [=](auto& x) { return conv(x[0], x[1], strided_groups); }},
      {"conv_bias_act",
       {Shape{2, 9, 7, 3}, Shape{3, 3, 3, 5}, Shape{5}},
       [=](auto& x) { return conv_bias_act(x[0], x[1], x[2], same, FusedActivation::relu); }},
      {"conv_transpose",
       {Shape{2, 5, 4, 3}, Shape{3, 3, 3, 4}},
       [](auto& x) {
         return conv_transpose(x[0], x[1], {.strides = {2, 2}, .padding = {{1, 1}, {1, 0}}});
       }},
      {"bias_act",
       {Shape{7, 37}, Shape{37}},
       [](auto& x) { return bias_act(x[0], x[1], FusedActivation::relu); }},
      {"max_pool", {Shape{2, 9, 10, 3}}, [=](auto& x) { return max_pool(x[0], pool); }},
      {"avg_pool", {Shape{2, 9, 10, 3}}, [=](auto& x) { return avg_pool(x[0], pool); }},
      {"layer_norm",
       {Shape{6, 40}, Shape{40}, Shape{40}},
       [](auto& x) { return layer_norm(x[0], Axes(-1), x[1], x[2]); }},
      {"batch_norm_train",
       {Shape{12, 5, 7}, Shape{7}, Shape{7}},
       [](auto& x) {
         const BatchNormResult r = batch_norm_train(x[0], Axes({0, 1}), x[1], x[2]);
         return r.y + sum(r.mean) + sum(r.var);
       }},
      {"moments + normalize",
       {Shape{6, 40}},
       [](auto& x) {
         const Moments m = moments(x[0], Axes(0));
         return normalize(x[0], m.mean, m.var, Tensor(), Tensor(), 1e-5);
       }},
      {"dropout", {Shape{5, 67}}, [](auto& x) { return dropout(Key(9), 0.3, x[0]); }},
      {"shape ops",
       {Shape{4, 6, 5}, Shape{4, 6, 5}},
       [](auto& x) {
         const Tensor c = concatenate({x[0], x[1]}, 1);
         const Tensor s = stack({x[0], x[1]}, 2);
         const Tensor p = pad(slice(c, 1, 4, 2, 0), {{1, 0}, {0, 2}, {1, 1}}, 0.5);
         return sum(c) + sum(s * s) + sum(p * p) + sum(contiguous(swapaxes(x[0], 0, 2)));
       }},
      {"take",
       {Shape{7, 5}},
       [](auto& x) {
         const Tensor idx = Tensor::from_vector(std::vector<std::int32_t>{6, 0, 3, 3, 1});
         return take(x[0], idx.to(x[0].device()), 0);
       }},
      {"index_add",
       {Shape{7, 5}, Shape{4, 5}},
       [](auto& x) {
         const Tensor idx = Tensor::from_vector(std::vector<std::int32_t>{2, 0, 2, 6});
         return index_add(x[0], idx.to(x[0].device()), x[1], 0);
       }},
      {"sparse_categorical_crossentropy",
       {Shape{9, 10}},
       [](auto& x) {
         const Tensor y = Tensor::from_vector(std::vector<std::int32_t>{0, 9, 3, 3, 5, 1, 2, 8, 7});
         return losses::sparse_categorical_crossentropy(y.to(x[0].device()), x[0], true);
       }},
      {"softmax_cross_entropy_with_integer_labels, rows wider than a warp",
       {Shape{2, 3, 70}},
       [](auto& x) {
         const Tensor y =
             Tensor::from_vector(std::vector<std::int64_t>{0, 69, 31, 32, 5, 64}, Shape{2, 3});
         return softmax_cross_entropy_with_integer_labels(x[0], y.to(x[0].device()));
       }},
      {"softmax_cross_entropy_with_integer_labels, int32 labels read as they are",
       {Shape{5, 33}},
       [](auto& x) {
         const Tensor y = Tensor::from_vector(std::vector<std::int32_t>{32, 0, 17, 31, 1});
         return softmax_cross_entropy_with_integer_labels(x[0], y.to(x[0].device()));
       }},
  };
}

}  // namespace

TEST_CASE("cuda sweep: elementwise ops agree with the CPU" * doctest::skip(kNoGpu)) {
  for (const Case& c : elementwise_cases()) sweep(c);
}

TEST_CASE("cuda sweep: reductions and softmax agree with the CPU" * doctest::skip(kNoGpu)) {
  for (const Case& c : reduction_cases()) sweep(c);
}

TEST_CASE("cuda sweep: matmul, conv, pooling, norms, shape and index ops agree with the CPU" *
          doctest::skip(kNoGpu)) {
  for (const Case& c : structured_cases()) sweep(c);
}

TEST_CASE("cuda sweep: one_hot and random numbers are the same numbers (to an ulp)" *
          doctest::skip(kNoGpu)) {
  const Tensor labels = Tensor::from_vector(std::vector<std::int32_t>{0, 4, 2, 9, 9, 1});
  check_close(one_hot(labels.to(Device::cuda()), 10), one_hot(labels, 10), 0.0, "one_hot");
  const Key k(1234);
  const Shape s{1001};
  for (DType dt : {DType::f32, DType::f64}) {
    // Uniform bits are exact by construction; normal and truncated_normal go through log, sin,
    // cos and erfc, which CUDA's libdevice and glibc may round differently in the last place.
    const double ulps = dt == DType::f32 ? 2e-6 : 1e-13;
    check_close(random::uniform(k, s, dt, -1.0, 3.0, Device::cuda()),
                random::uniform(k, s, dt, -1.0, 3.0), 0.0, "uniform");
    check_close(random::normal(k, s, dt, Device::cuda()), random::normal(k, s, dt), ulps, "normal");
    check_close(random::truncated_normal(k, -1.5, 2.0, s, dt, Device::cuda()),
                random::truncated_normal(k, -1.5, 2.0, s, dt), ulps, "truncated_normal");
  }
  check_close(random::bernoulli(k, 0.3, s, Device::cuda()).astype(DType::f32),
              random::bernoulli(k, 0.3, s).astype(DType::f32), 0.0, "bernoulli");
}
