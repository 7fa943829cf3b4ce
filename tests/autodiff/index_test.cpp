// Indexing ops: one_hot, take and index_add against hand-computed values and host references,
// bounds errors, determinism of repeated-index accumulation, and gradients to second order.
#include <doctest/doctest.h>

#include <cstdint>
#include <numeric>
#include <vector>

#include <elegy/elegy.hpp>

#include "grad_check.hpp"

using namespace elegy;
using elegy::testing::check_gradients;
using elegy::testing::host_uniform;
using elegy::testing::iota;
using elegy::testing::transposed_input;
using elegy::testing::values;

namespace {

Tensor ints(std::vector<std::int32_t> v, const Shape& shape) {
  return Tensor::from_vector(v, shape);
}
Tensor ints(std::vector<std::int32_t> v) {
  return Tensor::from_vector(v);
}
Tensor dot_with(const Tensor& y, std::uint64_t seed) {
  return matmul(ravel(y), ravel(host_uniform(y.shape(), seed)));
}

}  // namespace

TEST_CASE("one_hot for int32, int64 and uint8 labels; out-of-range labels give zero rows") {
  const std::vector<double> expected{0, 1, 0, 0,   //
                                     0, 0, 0, 1,   //
                                     0, 0, 0, 0,   // 4: out of range
                                     1, 0, 0, 0,   //
                                     0, 0, 0, 0};  // -1: out of range
  const Tensor l32 = ints({1, 3, 4, 0, -1});
  const Tensor r = one_hot(l32, 4);
  CHECK(r.dtype() == DType::f32);
  CHECK(r.shape() == Shape{5, 4});
  CHECK(values(r) == expected);
  CHECK(values(one_hot(l32.astype(DType::i64), 4, DType::f64)) == expected);
  const Tensor l8 = Tensor::from_vector<std::uint8_t>({2, 200}, {2, 1});
  const Tensor r8 = one_hot(l8, 3, DType::i32);
  CHECK(r8.dtype() == DType::i32);
  CHECK(r8.shape() == Shape{2, 1, 3});
  CHECK(values(r8) == std::vector<double>{0, 0, 1, 0, 0, 0});
  // Strided labels and a 0-d label.
  const Tensor l2 = transpose(ints({0, 1, 2, 0}, {2, 2}));  // [[0,2],[1,0]]
  CHECK(values(one_hot(l2, 3)) == std::vector<double>{1, 0, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0});
  CHECK(values(one_hot(Tensor::from_vector<std::int64_t>({2}, Shape{}), 3, DType::bool_)) ==
        std::vector<double>{0, 0, 1});
  CHECK(one_hot(l32, 0).shape() == Shape{5, 0});
}

TEST_CASE("one_hot on many labels (multi-threaded) matches a host reference") {
  const std::int64_t n = 20000, depth = 10;
  std::vector<std::int64_t> labels(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) labels[std::size_t(i)] = (i * 7919) % 11;  // 10: zero row
  const std::vector<float> got = one_hot(Tensor::from_vector(labels), depth).to_vector<float>();
  bool ok = true;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < depth; ++j)
      ok &= got[std::size_t(i * depth + j)] == (labels[std::size_t(i)] == j ? 1.0f : 0.0f);
  CHECK(ok);
}

TEST_CASE("one_hot errors") {
  CHECK_THROWS_WITH_AS(
      one_hot(iota({3}), 4),
      doctest::Contains("one_hot: labels must be an integer tensor, got float64[3]"), Error);
  CHECK_THROWS_WITH_AS(one_hot(ints({1}), -1), doctest::Contains("one_hot: depth must be >= 0"),
                       Error);
}

TEST_CASE("take along axis 0, 1 and -1 with 1-D and 2-D indices") {
  const Tensor x = iota({3, 4});  // x[i][j] = 4i + j
  const Tensor r0 = take(x, ints({2, 0, 2}));
  CHECK(r0.shape() == Shape{3, 4});
  CHECK(values(r0) == std::vector<double>{8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11});

  const Tensor idx2 = ints({3, 0, 1, -1}, {2, 2});
  const Tensor r1 = take(x, idx2, 1);
  CHECK(r1.shape() == Shape{3, 2, 2});
  CHECK(values(r1) == std::vector<double>{3, 0, 1, 3, 7, 4, 5, 7, 11, 8, 9, 11});
  CHECK(values(take(x, idx2, -1)) == values(r1));

  const Tensor r2 =
      take(x, ints({2, 0, 1, -1}, {2, 2}).astype(DType::i64), 0);  // negative index -1 -> row 2
  CHECK(r2.shape() == Shape{2, 2, 4});
  CHECK(values(r2)[3 * 4 + 1] == 9);

  // 3-D data along the middle axis, non-contiguous data, strided indices.
  const Tensor y = iota({2, 3, 2});  // y[a][b][c] = 6a + 2b + c
  CHECK(values(take(y, ints({2, 2, 0}), 1)) ==
        std::vector<double>{4, 5, 4, 5, 0, 1, 10, 11, 10, 11, 6, 7});
  const Tensor xt = transpose(x);  // [4,3], xt[j][i] = 4i + j
  CHECK(values(take(xt, ints({1, 3}))) == std::vector<double>{1, 5, 9, 3, 7, 11});
  CHECK(values(take(xt, ints({2}), 1)) == std::vector<double>{8, 9, 10, 11});
  const Tensor strided = slice(ints({0, 9, 2, 9, 1}), 0, 5, 2);  // [0, 2, 1]
  CHECK(values(take(iota({4}), strided)) == std::vector<double>{0, 2, 1});
  CHECK(take(x, ints({}, {0})).shape() == Shape{0, 4});
  CHECK(take(x, Tensor::from_vector<std::int32_t>({1}, Shape{}), 1).shape() == Shape{3});
}

TEST_CASE("take works for every dtype") {
  const Tensor idx = ints({2, 0});
  for (DType dt : {DType::f32, DType::f64, DType::i32, DType::i64, DType::u8}) {
    CAPTURE(dt);
    const Tensor r = take(iota({3, 2}).astype(dt), idx);
    CHECK(r.dtype() == dt);
    CHECK(values(r) == std::vector<double>{4, 5, 0, 1});
  }
  const Tensor b = Tensor::from_vector<std::uint8_t>({0, 1, 1}).astype(DType::bool_);
  CHECK(values(take(b, idx)) == std::vector<double>{1, 0});
}

TEST_CASE("take on a large table (multi-threaded) matches a host reference") {
  const std::int64_t rows = 2000, cols = 65, n = 6001;
  const Tensor table = host_uniform({rows, cols}, 3).astype(DType::f32);
  std::vector<std::int32_t> idx(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) idx[std::size_t(i)] = std::int32_t((i * 104729) % rows);
  const std::vector<float> t = table.to_vector<float>();
  const std::vector<float> got = take(table, Tensor::from_vector(idx)).to_vector<float>();
  bool ok = true;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < cols; ++j)
      ok &= got[std::size_t(i * cols + j)] == t[std::size_t(idx[std::size_t(i)] * cols + j)];
  CHECK(ok);
  // The same gather from the transposed layout (element-wise inner path).
  const Tensor tt = transpose(contiguous(transpose(table)));
  CHECK(take(tt, Tensor::from_vector(idx)).to_vector<float>() == got);
}

TEST_CASE("take errors name the op, the index and the axis size") {
  const Tensor x = iota({4, 3});
  CHECK_THROWS_WITH_AS(take(x, ints({1, 4})),
                       doctest::Contains("take: index 4 is out of range for axis 0 of size 4"),
                       Error);
  CHECK_THROWS_WITH_AS(take(x, ints({-4}), 1),
                       doctest::Contains("take: index -4 is out of range for axis 1 of size 3"),
                       Error);
  CHECK_THROWS_WITH_AS(take(x, iota({2})),
                       doctest::Contains("take: indices must be an integer tensor"), Error);
  CHECK_THROWS_WITH_AS(take(x, ints({0}), 2), doctest::Contains("take: "), Error);
  CHECK_THROWS_WITH_AS(take(iota({}), ints({0})), doctest::Contains("take: cannot index the 0-d"),
                       Error);
}

TEST_CASE("index_add accumulates repeated indices") {
  const Tensor x = iota({4});  // [0,1,2,3]
  const Tensor r = index_add(x, ints({1, 3, 1, 1}), Tensor::from_vector<double>({10, 20, 30, 40}));
  CHECK(values(r) == std::vector<double>{0, 81, 2, 23});
  CHECK(values(x) == std::vector<double>{0, 1, 2, 3});  // x untouched

  // Along axis 1 of a matrix, 2-D indices, broadcast updates, negative index.
  const Tensor m = iota({2, 3});  // [[0,1,2],[3,4,5]]
  // Updates [2,2] broadcast to the expected [2 (rows), 2, 2 (index shape)]: every row gets
  // col0 += 1 + 3 + 4, col2 += 2.
  const Tensor upd = Tensor::from_vector<double>({1, 2, 3, 4}, {2, 2});
  const Tensor rm = index_add(m, ints({0, -1, 0, 0}, {2, 2}), upd, 1);
  CHECK(values(rm) == std::vector<double>{8, 1, 4, 11, 4, 7});
  CHECK(values(index_add(m, ints({0, -1, 0, 0}, {2, 2}), broadcast_to(upd, {2, 2, 2}), 1)) ==
        values(rm));
  const Tensor rb = index_add(m, ints({2}), Tensor::from_vector<double>({100}), 1);
  CHECK(values(rb) == std::vector<double>{0, 1, 102, 3, 4, 105});

  // Integer data; float updates are cast to x's dtype (as x.at[i].add in JAX).
  const Tensor ri = index_add(ints({1, 1}), ints({0, 0}), ints({5, 6}));
  CHECK(ri.dtype() == DType::i32);
  CHECK(values(ri) == std::vector<double>{12, 1});
  CHECK(index_add(iota({2}, DType::f32), ints({1}), iota({1})).dtype() == DType::f32);
}

TEST_CASE("index_add with many repeated indices is exact and deterministic") {
  // Integer-valued float updates: any summation order gives the exact total, so this checks
  // coverage; a second float run checks bit-identical results across thread counts.
  const std::int64_t n = 50000, rows = 37, cols = 3;
  std::vector<std::int32_t> idx(static_cast<std::size_t>(n));
  std::vector<double> upd(static_cast<std::size_t>(n * cols));
  std::vector<double> expected(static_cast<std::size_t>(rows * cols), 0.0);
  for (std::int64_t i = 0; i < n; ++i) {
    idx[std::size_t(i)] = std::int32_t((i * 31) % rows);
    for (std::int64_t j = 0; j < cols; ++j) {
      upd[std::size_t(i * cols + j)] = double((i + j) % 5);
      expected[std::size_t(idx[std::size_t(i)] * cols + j)] += double((i + j) % 5);
    }
  }
  const Tensor indices = Tensor::from_vector(idx);
  const Tensor r =
      index_add(zeros({rows, cols}, DType::f64), indices, Tensor::from_vector(upd, {n, cols}));
  CHECK(values(r) == expected);

  const Tensor noisy = host_uniform({n, cols}, 9).astype(DType::f32);
  const int saved = num_threads();
  const std::vector<float> a = index_add(zeros({rows, cols}), indices, noisy).to_vector<float>();
  set_num_threads(1);
  const std::vector<float> b = index_add(zeros({rows, cols}), indices, noisy).to_vector<float>();
  set_num_threads(saved);
  CHECK(a == b);
}

TEST_CASE("index_add along a later axis with many outer slices (split across threads)") {
  const std::int64_t rows = 1000, cols = 5, n = 40;
  std::vector<std::int32_t> idx(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) idx[std::size_t(i)] = std::int32_t((i * 3) % cols);
  const Tensor upd = host_uniform({rows, n}, 11);
  const std::vector<double> u = values(upd);
  std::vector<double> expected(static_cast<std::size_t>(rows * cols), 1.0);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t i = 0; i < n; ++i)
      expected[std::size_t(r * cols + idx[std::size_t(i)])] += u[std::size_t(r * n + i)];
  const Tensor got = index_add(ones({rows, cols}, DType::f64), Tensor::from_vector(idx), upd, 1);
  // The same order of additions as the reference: bit-identical.
  CHECK(values(got) == expected);
}

TEST_CASE("index_add errors") {
  const Tensor x = iota({3, 2});
  CHECK_THROWS_WITH_AS(index_add(x, ints({3}), iota({1, 2})),
                       doctest::Contains("index_add: index 3 is out of range for axis 0 of size 3"),
                       Error);
  CHECK_THROWS_WITH_AS(index_add(x, ints({0, 1}), iota({3, 2})), doctest::Contains("index_add: "),
                       Error);
  CHECK_THROWS_WITH_AS(index_add(x, ints({0, 1}), iota({2, 3})), doctest::Contains("index_add: "),
                       Error);
  CHECK_THROWS_WITH_AS(index_add(x, iota({1}), iota({1, 2})),
                       doctest::Contains("index_add: indices must be an integer tensor"), Error);
}

TEST_CASE("gradients of take and index_add") {
  const Tensor idx = ints({2, 0, 2, 1, 2}, {5});
  const Tensor idx2 = ints({1, 1, 0, 2}, {2, 2});
  check_gradients([&](const auto& x) { return dot_with(take(x[0], idx), 60); },
                  {host_uniform({3, 4}, 60)});
  check_gradients([&](const auto& x) { return dot_with(take(x[0], idx2, 1), 61); },
                  {transposed_input({2, 3, 2}, 61)});
  check_gradients([&](const auto& x) { return dot_with(take(x[0], idx2, -1), 62); },
                  {host_uniform({4, 3}, 62)});
  check_gradients([&](const auto& x) { return dot_with(index_add(x[0], idx, x[1]), 63); },
                  {host_uniform({3, 2}, 63), transposed_input({5, 2}, 64)});
  check_gradients([&](const auto& x) { return dot_with(index_add(x[0], idx2, x[1], 1), 65); },
                  {transposed_input({2, 3}, 65), host_uniform({2, 2, 2}, 66)});
}

TEST_CASE("second derivatives through take and index_add") {
  // f(x) = <take(x, i), take(x, j)> is quadratic; check d/dx <grad f(x), r>.
  const Tensor i = ints({0, 2, 2, 1}), j = ints({1, 1, 0, 2});
  auto f = [&](const Tensor& x) { return matmul(take(x, i), take(x, j)); };
  check_gradients([&](const auto& x) { return matmul(grad(f, x[0]), host_uniform({3}, 70)); },
                  {host_uniform({3}, 71)});
  // Linear in w through index_add's backward: d/dw <d/du <index_add(0, i, u) , w>, r>.
  check_gradients(
      [&](const auto& w) {
        auto inner = [&](const Tensor& u) {
          return matmul(index_add(zeros({3}, DType::f64), i, u), w[0]);
        };
        return matmul(grad(inner, host_uniform({4}, 72)), host_uniform({4}, 73));
      },
      {host_uniform({3}, 74)});
}
