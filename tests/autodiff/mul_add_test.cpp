// mul_add(a, b, c) = a * b + c: bit for bit the composed form over broadcast and strided
// operands, its fallbacks and errors, its gradients (grad of grad included); and the tape's use
// of it, folding sum_of_squares' 2 g x into a parameter's other gradient in one kernel.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "grad_check.hpp"
#include "kernel_log.hpp"

using namespace elegy;
using elegy::testing::check_gradients;
using elegy::testing::host_uniform;
using elegy::testing::KernelLog;
using elegy::testing::transposed_input;
using elegy::testing::values;

namespace {

void check_same_bits(const Tensor& got, const Tensor& want, const std::string& what) {
  INFO(what);
  REQUIRE(got.shape() == want.shape());
  REQUIRE(got.dtype() == want.dtype());
  const Tensor g = got.contiguous(), w = want.contiguous();
  CHECK(std::memcmp(g.raw_data(), w.raw_data(), std::size_t(g.nbytes())) == 0);
}

}  // namespace

TEST_CASE("mul_add is a * b + c bit for bit, broadcast and strided, in one kernel") {
  // Hand-computed: [1, 2, 3] * 2 + [0.5, -1, 4] = [2.5, 3, 10].
  const Tensor a = Tensor::from_vector(std::vector<float>{1, 2, 3}, Shape{3});
  const Tensor c = Tensor::from_vector(std::vector<float>{0.5f, -1, 4}, Shape{3});
  const Tensor two = Tensor::from_vector(std::vector<float>{2}, Shape{});
  CHECK(mul_add(a, two, c).to_vector<float>() == std::vector<float>{2.5f, 3, 10});

  struct Case {
    const char* name;
    Tensor a, b, c;
  };
  for (DType dt : {DType::f32, DType::f64}) {
    CAPTURE(dt);
    // Sizes around the SIMD widths (16 floats) and the CPU's 32K-element thread grain.
    const std::vector<Case> cases = {
        {"dense n=1", host_uniform({1}, 1), host_uniform({1}, 2), host_uniform({1}, 3)},
        {"dense n=17", host_uniform({17}, 4), host_uniform({17}, 5), host_uniform({17}, 6)},
        {"a * scalar + c, n=70001", host_uniform({70001}, 7), host_uniform({}, 8),
         host_uniform({70001}, 9)},
        {"a^T * [10] + [64,1]", transposed_input({64, 10}, 10), host_uniform({10}, 11),
         host_uniform({64, 1}, 12)},
        {"[5,1,33] * [7,1] + []", host_uniform({5, 1, 33}, 13), host_uniform({7, 1}, 14),
         host_uniform({}, 15)},
        {"scalar * scalar + c^T", host_uniform({}, 16), host_uniform({}, 17),
         transposed_input({9, 31}, 18)},
    };
    for (const Case& k : cases) {
      const Tensor x = k.a.astype(dt), y = k.b.astype(dt), z = k.c.astype(dt);
      KernelLog ops;
      const Tensor fused = mul_add(x, y, z);
      ops.stop();
      CHECK(ops.count(kernels::Op::MulAdd) == 1);
      check_same_bits(fused, x * y + z, std::string(k.name) + " against a * b + c");
    }
  }
  // Nothing to compute: an empty result runs no kernel.
  KernelLog ops;
  CHECK(mul_add(Tensor::empty({0, 3}), host_uniform({3}, 1), host_uniform({1, 3}, 2)).shape() ==
        Shape{0, 3});
  CHECK(ops.count(kernels::Op::MulAdd) == 0);
}

TEST_CASE("mul_add of integers or mixed dtypes is the composed form, with its promotions") {
  const Tensor a = Tensor::from_vector(std::vector<std::int32_t>{2147483647, -3, 4}, Shape{3});
  const Tensor b = Tensor::from_vector(std::vector<std::int32_t>{2}, Shape{});
  const Tensor c = Tensor::from_vector(std::vector<std::int32_t>{3, 1, -16}, Shape{3});
  const Tensor i = mul_add(a, b, c);
  CHECK(i.dtype() == DType::i32);
  // 2147483647 * 2 wraps to -2, + 3 = 1 (as numpy and XLA wrap).
  CHECK(i.to_vector<std::int32_t>() == std::vector<std::int32_t>{1, -5, -8});
  const Tensor m = mul_add(a.astype(DType::f32), b.astype(DType::f64), c.astype(DType::f32));
  CHECK(m.dtype() == DType::f64);
  CHECK(values(m) == std::vector<double>{2.0 * 2147483648.0 + 3.0, -5.0, -8.0});
}

TEST_CASE("mul_add rejects undefined operands and shapes that do not broadcast") {
  const Tensor x = host_uniform({3, 4}, 1);
  CHECK_THROWS_WITH_AS(mul_add(Tensor(), x, x), doctest::Contains("mul_add"), Error);
  CHECK_THROWS_WITH_AS(mul_add(x, x, Tensor()), doctest::Contains("third operand"), Error);
  CHECK_THROWS_WITH_AS(mul_add(x, host_uniform({3}, 2), x), doctest::Contains("mul_add"), Error);
  CHECK_THROWS_WITH_AS(mul_add(x, x, host_uniform({5, 1}, 3)), doctest::Contains("[5,1]"), Error);
}

TEST_CASE("mul_add's gradients match finite differences, broadcast and grad of grad") {
  check_gradients(
      [](const std::vector<Tensor>& xs) { return sum(mul_add(xs[0], xs[1], xs[2]) * xs[0]); },
      {host_uniform({4, 3}, 1), host_uniform({3}, 2), host_uniform({4, 1}, 3)});
  check_gradients(
      [](const std::vector<Tensor>& xs) { return sum(square(mul_add(xs[0], xs[1], xs[2]))); },
      {transposed_input({2, 5}, 4), host_uniform({}, 5), transposed_input({2, 5}, 6)});
  // Second derivatives: the backward is made of ops that record.
  check_gradients(
      [](const std::vector<Tensor>& xs) {
        const Tensor g =
            grad([&](const Tensor& t) { return sum(mul_add(t, t, xs[1]) * t); }, xs[0]);
        return sum(g * g);
      },
      {host_uniform({5}, 7), host_uniform({5}, 8)});
}

TEST_CASE("the tape folds sum_of_squares' 2 g x into the parameter's other gradient") {
  // loss = sum(x * w) + l2 * Σx²: dx = w + (2 l2) x, as one MulAdd over x and no Add of x's
  // size; the same bits as forming the product then adding (the order of an IEEE add does not
  // matter).
  for (DType dt : {DType::f32, DType::f64}) {
    CAPTURE(dt);
    const double l2 = 1e-3;
    const Tensor x = host_uniform({300, 7}, 21).astype(dt), w = host_uniform({300, 7}, 22);
    const Tensor wt = w.astype(dt);
    KernelLog ops;
    const Tensor dx = grad(
        [&](const Tensor& p) { return sum(p * wt) + l2 * sum_of_squares(std::vector<Tensor>{p}); },
        x);
    ops.stop();
    CHECK(ops.count(kernels::Op::MulAdd) == 1);
    CHECK(ops.largest(kernels::Op::Add) < x.numel());
    // 2 * (l2 in dt): doubling is exact, so this is the rule's 2g bit for bit.
    const Tensor scale = Tensor::from_vector(std::vector<double>{2.0 * l2}, Shape{}).astype(dt);
    check_same_bits(dx, x * scale + wt, "the unfused product plus w");

    // Only the product: no other cotangent to fold it into.
    const Tensor alone =
        grad([&](const Tensor& p) { return l2 * sum_of_squares(std::vector<Tensor>{p}); }, x);
    check_same_bits(alone, x * scale, "the product alone");

    // Two products and a plain cotangent on one parameter: w + 2 (l2 + 3 l2) x.
    const Tensor twice = grad(
        [&](const Tensor& p) {
          return sum(p * wt) + l2 * sum_of_squares(std::vector<Tensor>{p}) +
                 (3.0 * l2) * sum_of_squares(std::vector<Tensor>{p});
        },
        x);
    const std::vector<double> xv = values(x), wv = values(wt), got = values(twice);
    const double tol = dt == DType::f64 ? 1e-15 : 1e-6;
    for (std::size_t i = 0; i < xv.size(); i += 97)
      CHECK(got[i] == doctest::Approx(wv[i] + 8.0 * l2 * xv[i]).epsilon(tol));
  }
}

TEST_CASE("a folded L2 gradient keeps the parameter's dtype and matches finite differences") {
  // The fold goes through broadcasting and dtype rules untouched: a float32 parameter in a
  // float64 loss still gets its gradient as float32, finite differences agree.
  check_gradients(
      [](const std::vector<Tensor>& xs) {
        return sum(xs[0] * xs[1]) + 0.25 * sum_of_squares(std::vector<Tensor>{xs[0], xs[1]}) +
               sum(exp(xs[1]));
      },
      {host_uniform({6, 2}, 31), host_uniform({6, 2}, 32)});
  const Tensor p32 = host_uniform({8}, 33).astype(DType::f32);
  const Tensor g = grad(
      [&](const Tensor& p) {
        return sum(p.astype(DType::f64) * 3.0) + 0.5 * sum_of_squares(std::vector<Tensor>{p});
      },
      p32);
  CHECK(g.dtype() == DType::f32);
  const std::vector<double> pv = values(p32), gv = values(g);
  for (std::size_t i = 0; i < pv.size(); ++i)
    CHECK(gv[i] == doctest::Approx(3.0 + pv[i]).epsilon(1e-6));
}

TEST_CASE("the products held back for several parameters fold in one MulAddMany, same bits") {
  // loss = Σ_k sum(p_k * w_k) + l2 Σ_k Σ p_k²: every parameter's gradient is w_k + (2 l2) p_k,
  // folded for all of them by one kernel, bit for bit what each parameter's own fold gives.
  for (DType dt : {DType::f32, DType::f64}) {
    CAPTURE(dt);
    const double l2 = 3e-3;
    std::vector<Tensor> ps, ws;
    for (const Shape& s : {Shape{300, 7}, Shape{7}, Shape{5, 0}, Shape{1}, Shape{33, 3}}) {
      ps.push_back(host_uniform(s, std::uint64_t(40 + ps.size())).astype(dt));
      ws.push_back(host_uniform(s, std::uint64_t(60 + ws.size())).astype(dt));
    }
    const auto loss_of = [&](const Tree& p) {
      const std::vector<Tensor> leaves = p.leaves();
      Tensor data = sum(leaves[0] * ws[0]);
      for (std::size_t k = 1; k < leaves.size(); ++k) data = data + sum(leaves[k] * ws[k]);
      return data + l2 * sum_of_squares(leaves);
    };
    Tree::Map m;
    for (std::size_t k = 0; k < ps.size(); ++k) m["p" + std::to_string(k)] = ps[k];
    const Tree params = Tree::from_map(m);
    KernelLog ops;
    const auto [loss, grads] = value_and_grad(loss_of, params);
    ops.stop();
    CHECK(ops.count(kernels::Op::MulAddMany) == 1);
    CHECK(ops.count(kernels::Op::MulAdd) == 0);
    const Tensor scale = Tensor::from_vector(std::vector<double>{2.0 * l2}, Shape{}).astype(dt);
    const std::vector<Tensor> got = grads.leaves();
    for (std::size_t k = 0; k < ps.size(); ++k) {
      CAPTURE(k);
      check_same_bits(got[k], mul_add(ps[k], scale, ws[k]), "this parameter's own mul_add");
      check_same_bits(got[k], ps[k] * scale + ws[k], "the unfused product plus w");
    }
  }
  // Second derivatives need the fold on the tape: mul_add per parameter, not the list kernel.
  check_gradients(
      [](const std::vector<Tensor>& xs) {
        const Tensor g = grad(
                             [&](const Tree& t) {
                               const std::vector<Tensor> l = t.leaves();
                               return sum(l[0] * l[1]) + 0.5 * sum_of_squares(l);
                             },
                             Tree::from_map({{"a", xs[0]}, {"b", xs[1]}}))
                             .leaves()[0];
        return sum(g * g);
      },
      {host_uniform({4}, 71), host_uniform({4}, 72)});
}
