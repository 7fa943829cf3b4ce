// softmax_cross_entropy_with_integer_labels (ops_xent.hpp): values against a float64
// logsumexp loop, the bits of the composed -take(log_softmax) on the CPU (NaN and infinite rows
// too), first derivatives against the closed form g * (softmax - one_hot) and finite
// differences, second derivatives (through the composed backward) against finite differences,
// and the errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <elegy/elegy.hpp>

#include "grad_check.hpp"
#include "kernel_log.hpp"

using namespace elegy;
using elegy::testing::check_gradients;
using elegy::testing::host_uniform;
using elegy::testing::values;

namespace {

// Labels [rows] in [0, k), deterministic.
Tensor labels_for(std::int64_t rows, std::int64_t k, DType dtype, std::uint64_t seed) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(rows));
  for (std::int64_t i = 0; i < rows; ++i) v[std::size_t(i)] = (i * 7 + std::int64_t(seed)) % k;
  return Tensor::from_vector(v, Shape{rows}).astype(dtype);
}

// Per row: log(sum exp(z)) - z[label], and the gradient rows g * (softmax - one_hot).
void reference(const std::vector<double>& z, const std::vector<double>& labels,
               const std::vector<double>& g, std::int64_t k, std::vector<double>& loss,
               std::vector<double>& dz) {
  const std::size_t rows = labels.size();
  loss.assign(rows, 0.0);
  dz.assign(rows * std::size_t(k), 0.0);
  for (std::size_t r = 0; r < rows; ++r) {
    const double* row = z.data() + r * std::size_t(k);
    const double m = *std::max_element(row, row + k);
    double s = 0.0;
    for (std::int64_t j = 0; j < k; ++j) s += std::exp(row[j] - m);
    const auto label = std::int64_t(labels[r]);
    loss[r] = m + std::log(s) - row[label];
    for (std::int64_t j = 0; j < k; ++j)
      dz[r * std::size_t(k) + std::size_t(j)] =
          g[r] * (std::exp(row[j] - m) / s - (j == label ? 1.0 : 0.0));
  }
}

void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol,
                 const char* what) {
  INFO(what);
  REQUIRE(got.size() == want.size());
  std::size_t bad = 0;
  for (std::size_t i = 0; i < got.size(); ++i)
    bad += !(std::abs(got[i] - want[i]) <= tol * (1.0 + std::abs(want[i])));
  CHECK(bad == 0);
}

void check_same_bits(const Tensor& a, const Tensor& b, const char* what) {
  INFO(what);
  const std::vector<double> va = values(a), vb = values(b);
  REQUIRE(va.size() == vb.size());
  std::size_t differ = 0;
  for (std::size_t i = 0; i < va.size(); ++i)
    differ += !(va[i] == vb[i] || (std::isnan(va[i]) && std::isnan(vb[i])));
  CHECK(differ == 0);
}

}  // namespace

TEST_CASE("softmax_cross_entropy_with_integer_labels: values and gradients against float64") {
  struct Case {
    Shape logits;
    double scale;
  };
  // 7 classes (under a vector), 37 (vectors and a tail), 1000 (the 4-way unrolled path); a
  // large scale makes exp underflow in most of a row.
  const std::vector<Case> cases = {{{5, 7}, 1.0}, {{2, 3, 37}, 4.0}, {{4, 1000}, 30.0}};
  std::uint64_t seed = 1;
  for (const Case& c : cases) {
    for (const DType dt : {DType::f64, DType::f32}) {
      for (const DType label_dtype : {DType::i32, DType::i64}) {
        CAPTURE(c.logits);
        CAPTURE(dt);
        const std::int64_t k = c.logits[c.logits.size() - 1];
        const Shape label_shape(c.logits.span().first(c.logits.size() - 1));
        const std::int64_t rows = label_shape.numel();
        const Tensor z = (host_uniform(c.logits, seed++) * c.scale).astype(dt);
        const Tensor y = reshape(labels_for(rows, k, label_dtype, seed++), label_shape);
        const Tensor r = host_uniform(label_shape, seed++);
        std::vector<double> loss, dz;
        reference(values(z), values(y), values(r), k, loss, dz);
        const double tol = dt == DType::f64 ? 1e-13 : 2e-6;
        const Tensor got = softmax_cross_entropy_with_integer_labels(z, y);
        REQUIRE(got.shape() == label_shape);
        CHECK(got.dtype() == dt);
        check_close(values(got), loss, tol, "loss");
        // The CPU kernel runs the log-softmax kernel's own rows: the same bits as composed.
        const Tensor composed =
            -reshape(take(reshape(log_softmax(z, -1), {rows * k}),
                          arange(rows, DType::i64) * scalar(double(k), DType::i64) +
                              reshape(y.astype(DType::i64), {rows}),
                          0),
                     label_shape);
        check_same_bits(got, composed, "against -take(log_softmax)");
        const Tensor grad = elegy::grad(
            [&](const Tensor& zz) {
              return sum(softmax_cross_entropy_with_integer_labels(zz, y) * r.astype(dt));
            },
            z);
        REQUIRE(grad.shape() == z.shape());
        check_close(values(grad), dz, dt == DType::f64 ? 1e-13 : 1e-6, "gradient");
      }
    }
  }
}

TEST_CASE(
    "softmax_cross_entropy_with_integer_labels: finite differences, first and second "
    "order") {
  const Tensor y = labels_for(4, 6, DType::i64, 3);
  const Tensor r = host_uniform({4}, 11);
  check_gradients(
      [&](const std::vector<Tensor>& v) {
        return sum(softmax_cross_entropy_with_integer_labels(v[0], y) * r);
      },
      {host_uniform({4, 6}, 12, -2.0, 2.0)});
  // The derivative of a gradient: its backward is recorded with ops (composed path).
  const Tensor w = host_uniform({4, 6}, 13);
  check_gradients(
      [&](const std::vector<Tensor>& v) {
        const Tensor g = elegy::grad(
            [&](const Tensor& z) {
              return sum(softmax_cross_entropy_with_integer_labels(z, y) * r);
            },
            v[0]);
        return sum(g * w);
      },
      {host_uniform({4, 6}, 14, -2.0, 2.0)});
}

TEST_CASE("softmax_cross_entropy_with_integer_labels: one row, one class, an empty batch") {
  for (const DType dt : {DType::f32, DType::f64}) {
    CAPTURE(dt);
    // Rank-1 logits with a scalar label.
    const Tensor z = host_uniform({5}, 21).astype(dt);
    const Tensor y = reshape(Tensor::from_vector(std::vector<std::int64_t>{3}, {1}), Shape{});
    std::vector<double> loss, dz;
    reference(values(z), {3.0}, {2.0}, 5, loss, dz);
    const Tensor got = softmax_cross_entropy_with_integer_labels(z, y);
    CHECK(got.shape() == Shape{});
    check_close(values(got), loss, dt == DType::f64 ? 1e-13 : 2e-6, "rank-1 loss");
    const Tensor g = elegy::grad(
        [&](const Tensor& zz) { return softmax_cross_entropy_with_integer_labels(zz, y) * 2.0; },
        z);
    check_close(values(g), dz, dt == DType::f64 ? 1e-13 : 1e-6, "rank-1 gradient");
    // One class: the loss and its gradient are 0 (u8 labels).
    const Tensor z1 = host_uniform({4, 1}, 22).astype(dt);
    const Tensor y1 = zeros({4}, DType::u8);
    CHECK(values(softmax_cross_entropy_with_integer_labels(z1, y1)) == std::vector<double>(4, 0.0));
    const Tensor g1 = elegy::grad(
        [&](const Tensor& zz) { return sum(softmax_cross_entropy_with_integer_labels(zz, y1)); },
        z1);
    CHECK(values(g1) == std::vector<double>(4, 0.0));
    // An empty batch differentiates to an empty gradient.
    const Tensor g0 = elegy::grad(
        [&](const Tensor& zz) {
          return sum(softmax_cross_entropy_with_integer_labels(zz, zeros({0}, DType::i32)));
        },
        zeros({0, 3}, dt));
    CHECK(g0.shape() == Shape{0, 3});
  }
}

TEST_CASE("softmax_cross_entropy_with_integer_labels: rows with NaN or infinities") {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor z =
      Tensor::from_vector(std::vector<double>{1, inf, 2,    0,    1, 2, -inf, 0,    1, nan,
                                              2, 3,   -inf, -inf, 5, 1, 0,    -inf, 0, 0},
                          {5, 4});
  const Tensor y = Tensor::from_vector(std::vector<std::int64_t>{1, 1, 0, 3, 1}, {5});
  const Tensor got = softmax_cross_entropy_with_integer_labels(z, y);
  const Tensor composed = -reshape(take(reshape(log_softmax(z, -1), {20}),
                                        arange(5, DType::i64) * scalar(4.0, DType::i64) + y, 0),
                                   {5});
  check_same_bits(got, composed, "IEEE rows");
  const std::vector<double> v = values(got);
  CHECK(std::isnan(v[0]));  // +inf in the row: inf - inf
  CHECK(v[1] == doctest::Approx(std::log(1 + std::exp(-1.0) + std::exp(-2.0))).epsilon(1e-12));
  CHECK(std::isnan(v[2]));  // a NaN in the row
  CHECK(v[3] == doctest::Approx(4.0 + std::log(1 + std::exp(-4.0))).epsilon(1e-12));
  CHECK(v[4] == inf);  // the label's logit is -inf
}

TEST_CASE("softmax_cross_entropy_with_integer_labels: errors name the op and the operands") {
  const Tensor z = zeros({3, 10});
  CHECK_THROWS_WITH_AS(softmax_cross_entropy_with_integer_labels(
                           z, Tensor::from_vector(std::vector<std::int64_t>{1, 10, 2}, {3})),
                       doctest::Contains("softmax_cross_entropy_with_integer_labels: label 10 at "
                                         "flat index 1 is outside [0, 10) for logits "
                                         "float32[3,10] on cpu"),
                       Error);
  CHECK_THROWS_WITH_AS(softmax_cross_entropy_with_integer_labels(
                           z, Tensor::from_vector(std::vector<std::int64_t>{1, -1, 2}, {3})),
                       doctest::Contains("label -1 at flat index 1"), Error);
  CHECK_THROWS_WITH_AS(softmax_cross_entropy_with_integer_labels(z, zeros({3})),
                       doctest::Contains("labels must be integer class indices, got float32[3]"),
                       Error);
  CHECK_THROWS_WITH_AS(
      softmax_cross_entropy_with_integer_labels(z, zeros({4}, DType::i64)),
      doctest::Contains("labels int64[4] on cpu must hold one class index per row of logits "
                        "float32[3,10]"),
      Error);
  CHECK_THROWS_WITH_AS(
      softmax_cross_entropy_with_integer_labels(zeros({3}, DType::i32), zeros({}, DType::i32)),
      doctest::Contains("logits must be float [..., num_classes], got int32[3]"), Error);
  // An empty batch is fine.
  CHECK(softmax_cross_entropy_with_integer_labels(zeros({0, 10}), zeros({0}, DType::i64)).shape() ==
        Shape{0});
}

TEST_CASE("softmax_cross_entropy_with_integer_labels: a mean's broadcast gradient, read in place") {
  // mean() hands the loss one value broadcast to every row (stride 0): the kernel reads it as
  // it is. The gradient equals the closed form with g = 1 / rows, and the same bits as a dense
  // g of that value; [rows] and [2, rows / 2] labels.
  for (DType dt : {DType::f32, DType::f64}) {
    CAPTURE(dt);
    const std::int64_t rows = 12, k = 7;
    const Tensor z = host_uniform({rows, k}, 31, -3.0, 3.0).astype(dt);
    const Tensor y = labels_for(rows, k, DType::i32, 5);
    std::vector<double> loss, dz;
    std::vector<double> labels;
    for (double v : values(y)) labels.push_back(v);
    reference(values(z), labels, std::vector<double>(rows, 1.0 / rows), k, loss, dz);
    elegy::testing::KernelLog copies;
    const Tensor by_mean = elegy::grad(
        [&](const Tensor& zz) { return mean(softmax_cross_entropy_with_integer_labels(zz, y)); },
        z);
    copies.stop();
    const int mean_copies = copies.count(kernels::Op::Copy);
    check_close(values(by_mean), dz, dt == DType::f64 ? 1e-13 : 1e-6, "mean's gradient");
    const Tensor weights = full({rows}, 1.0 / double(rows), dt);
    const Tensor by_dense = elegy::grad(
        [&](const Tensor& zz) {
          return sum(softmax_cross_entropy_with_integer_labels(zz, y) * weights);
        },
        z);
    check_same_bits(by_mean, by_dense, "stride-0 g against a dense g");
    CHECK(mean_copies == 0);  // the broadcast g is not copied out
    const Tensor z3 = reshape(z, {2, rows / 2, k});
    const Tensor y3 = reshape(y, {2, rows / 2});
    const Tensor by_mean3 = elegy::grad(
        [&](const Tensor& zz) { return mean(softmax_cross_entropy_with_integer_labels(zz, y3)); },
        z3);
    check_same_bits(reshape(by_mean3, {rows, k}), by_dense, "[2, rows / 2] labels");
  }
}
