// Shape ops: views share storage and read the right elements; copies (concatenate, stack, pad)
// hold hand-computed values for every dtype; errors name the op and the shapes; every op's
// gradient matches finite differences, also on non-contiguous inputs and to second order.
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

// A scalar loss that uses only shape ops and matmul: <y, r> with a fixed random r.
Tensor dot_with(const Tensor& y, std::uint64_t seed) {
  return matmul(ravel(y), ravel(host_uniform(y.shape(), seed)));
}
bool shares_storage(const Tensor& a, const Tensor& b) {
  return a.storage() == b.storage();
}

}  // namespace

TEST_CASE("reshape is a view of a dense tensor and infers -1") {
  const Tensor x = iota({2, 3, 4});
  const Tensor y = reshape(x, {4, -1});
  CHECK(y.shape() == Shape{4, 6});
  CHECK(shares_storage(x, y));
  CHECK(values(y) == values(x));
  CHECK(reshape(x, {-1}).shape() == Shape{24});
  CHECK(reshape(iota({}), {1, 1}).shape() == Shape{1, 1});
  CHECK(reshape(iota({0, 3}), {3, -1, 2}).shape() == Shape{3, 0, 2});
}

TEST_CASE("reshape of a strided tensor copies in row-major order") {
  const Tensor x = transpose(iota({2, 3}));  // [[0,3],[1,4],[2,5]]
  const Tensor y = reshape(x, {6});
  CHECK_FALSE(shares_storage(x, y));
  CHECK(values(y) == std::vector<double>{0, 3, 1, 4, 2, 5});
}

TEST_CASE("reshape errors name the sizes") {
  const Tensor x = iota({2, 3});
  CHECK_THROWS_WITH_AS(reshape(x, {4}), doctest::Contains("reshape: cannot reshape [2,3]"), Error);
  CHECK_THROWS_WITH_AS(reshape(x, {-1, -1}), doctest::Contains("reshape: more than one -1"), Error);
  CHECK_THROWS_WITH_AS(reshape(x, {4, -1}), doctest::Contains("reshape: cannot reshape"), Error);
  CHECK_THROWS_WITH_AS(reshape(Tensor(), {1}), doctest::Contains("reshape: "), Error);
}

TEST_CASE("transpose, swapaxes and moveaxis permute axes without copying") {
  const Tensor x = iota({2, 3, 4});
  const Tensor t = transpose(x);
  CHECK(t.shape() == Shape{4, 3, 2});
  CHECK(t.strides() == Strides{1, 4, 12});
  CHECK(shares_storage(x, t));
  // t[i][j][k] = x[k][j][i] = 12k + 4j + i
  const std::vector<double> tv = values(t);
  CHECK(tv[0 * 6 + 1 * 2 + 1] == 12 * 1 + 4 * 1 + 0);
  CHECK(tv[3 * 6 + 2 * 2 + 1] == 12 * 1 + 4 * 2 + 3);

  const Tensor p = transpose(x, {1, -1, 0});
  CHECK(p.shape() == Shape{3, 4, 2});
  CHECK(values(p)[1 * 8 + 2 * 2 + 1] == 12 * 1 + 4 * 1 + 2);

  const Tensor s = swapaxes(x, 0, -1);
  CHECK(s.shape() == Shape{4, 3, 2});
  CHECK(values(s) == tv);
  CHECK(shares_storage(x, s));

  const Tensor m = moveaxis(x, 0, -1);  // [3,4,2]: m[j][k][i] = x[i][j][k]
  CHECK(m.shape() == Shape{3, 4, 2});
  CHECK(values(m)[2 * 8 + 3 * 2 + 1] == 12 * 1 + 4 * 2 + 3);
  const Tensor m2 = moveaxis(x, 2, 0);  // [4,2,3]
  CHECK(m2.shape() == Shape{4, 2, 3});
  CHECK(values(m2)[3 * 6 + 1 * 3 + 2] == 12 * 1 + 4 * 2 + 3);
  CHECK(shares_storage(x, m2));

  CHECK(transpose(iota({})).shape() == Shape{});
}

TEST_CASE("transpose errors") {
  const Tensor x = iota({2, 3});
  CHECK_THROWS_WITH_AS(transpose(x, {0}), doctest::Contains("transpose: permutation of 1 axes"),
                       Error);
  CHECK_THROWS_WITH_AS(transpose(x, {1, 1}), doctest::Contains("transpose: axis 1 repeated"),
                       Error);
  CHECK_THROWS_WITH_AS(transpose(x, {0, 2}), doctest::Contains("transpose: "), Error);
  CHECK_THROWS_WITH_AS(swapaxes(x, 0, 2), doctest::Contains("swapaxes: "), Error);
  CHECK_THROWS_WITH_AS(moveaxis(x, -3, 0), doctest::Contains("moveaxis: "), Error);
}

TEST_CASE("expand_dims and squeeze") {
  const Tensor x = iota({2, 3});
  CHECK(expand_dims(x, 0).shape() == Shape{1, 2, 3});
  CHECK(expand_dims(x, 1).shape() == Shape{2, 1, 3});
  CHECK(expand_dims(x, -1).shape() == Shape{2, 3, 1});
  CHECK(shares_storage(x, expand_dims(x, 1)));
  CHECK(values(expand_dims(x, 1)) == values(x));

  const Tensor y = iota({1, 2, 1, 3, 1});
  CHECK(squeeze(y).shape() == Shape{2, 3});
  CHECK(squeeze(y, {0, -1}).shape() == Shape{2, 1, 3});
  CHECK(squeeze(y, 2).shape() == Shape{1, 2, 3, 1});
  CHECK(shares_storage(y, squeeze(y)));
  CHECK(values(squeeze(y)) == values(y));
  CHECK_THROWS_WITH_AS(squeeze(y, 1),
                       doctest::Contains("squeeze: cannot squeeze axis 1 of shape [1,2,1,3,1]"),
                       Error);
  CHECK_THROWS_WITH_AS(expand_dims(x, 3), doctest::Contains("expand_dims: "), Error);
}

TEST_CASE("broadcast_to expands with stride 0") {
  const Tensor x = iota({3, 1});
  const Tensor b = broadcast_to(x, {2, 3, 4});
  CHECK(b.shape() == Shape{2, 3, 4});
  CHECK(b.strides() == Strides{0, 1, 0});
  CHECK(shares_storage(x, b));
  const std::vector<double> v = values(b);
  CHECK(v[0] == 0);
  CHECK(v[5] == 1);
  CHECK(v[12 + 11] == 2);
  CHECK_THROWS_WITH_AS(broadcast_to(iota({3}), {4}),
                       doctest::Contains("broadcast_to: cannot broadcast [3] to [4]"), Error);
}

TEST_CASE("slice follows Python semantics, negative steps included") {
  const Tensor x = iota({10});
  CHECK(values(slice(x, 2, 7)) == std::vector<double>{2, 3, 4, 5, 6});
  CHECK(values(slice(x, 1, 9, 3)) == std::vector<double>{1, 4, 7});
  CHECK(values(slice(x, -3, 100)) == std::vector<double>{7, 8, 9});
  CHECK(values(slice(x, 8, 2, -2)) == std::vector<double>{8, 6, 4});
  CHECK(values(slice(x, -1, -11, -1)) == std::vector<double>{9, 8, 7, 6, 5, 4, 3, 2, 1, 0});
  CHECK(values(slice(x, 9, -100, -4)) == std::vector<double>{9, 5, 1});
  CHECK(slice(x, 5, 2).numel() == 0);
  CHECK(shares_storage(x, slice(x, 8, 2, -2)));
  CHECK(values(x.slice(3, 5)) == std::vector<double>{3, 4});

  const Tensor m = iota({3, 4});
  const Tensor c = slice(m, 3, 0, -2, 1);  // columns 3, 1
  CHECK(c.shape() == Shape{3, 2});
  CHECK(values(c) == std::vector<double>{3, 1, 7, 5, 11, 9});
  CHECK(values(slice(m, -1, 0, -1, 0)) == std::vector<double>{8, 9, 10, 11, 4, 5, 6, 7});

  CHECK_THROWS_WITH_AS(slice(x, 0, 5, 0), doctest::Contains("slice: step must not be zero"), Error);
  CHECK_THROWS_WITH_AS(slice(m, 0, 1, 1, 2), doctest::Contains("slice: "), Error);
}

TEST_CASE("ravel, flatten and contiguous") {
  const Tensor x = iota({2, 3, 4});
  CHECK(ravel(x).shape() == Shape{24});
  CHECK(ravel(iota({})).shape() == Shape{1});
  CHECK(flatten(x).shape() == Shape{2, 12});
  CHECK(flatten(x, 0).shape() == Shape{24});
  CHECK(flatten(x, 2).shape() == Shape{2, 3, 4});
  CHECK(flatten(x, 5).shape() == Shape{2, 3, 4});
  CHECK(shares_storage(x, flatten(x)));

  const Tensor c = contiguous(x);
  CHECK(shares_storage(x, c));
  const Tensor t = transpose(x, {2, 0, 1});
  const Tensor tc = contiguous(t);
  CHECK(tc.is_contiguous());
  CHECK_FALSE(shares_storage(t, tc));
  CHECK(values(tc) == values(t));
  CHECK(values(ravel(t)) == values(t));
}

TEST_CASE("concatenate along every axis, for every dtype") {
  const Tensor a = iota({2, 2});  // [[0,1],[2,3]]
  const Tensor b = Tensor::from_vector<double>({10, 11}, {2, 1});
  for (DType dt : {DType::f32, DType::f64, DType::i32, DType::i64, DType::u8}) {
    CAPTURE(dt);
    const Tensor r = concatenate({a.astype(dt), b.astype(dt)}, 1);
    CHECK(r.dtype() == dt);
    CHECK(r.shape() == Shape{2, 3});
    CHECK(values(r) == std::vector<double>{0, 1, 10, 2, 3, 11});
    const Tensor r0 = concatenate({a.astype(dt), transpose(b).astype(dt), a.astype(dt)}, -2);
    CHECK(r0.shape() == Shape{5, 2});
    CHECK(values(r0) == std::vector<double>{0, 1, 2, 3, 10, 11, 0, 1, 2, 3});
  }
  const Tensor t = Tensor::from_vector<std::uint8_t>({1, 0}).astype(DType::bool_);
  const Tensor f = Tensor::from_vector<std::uint8_t>({0}).astype(DType::bool_);
  const Tensor tb = concatenate({t, f, t});
  CHECK(tb.dtype() == DType::bool_);
  CHECK(values(tb) == std::vector<double>{1, 0, 0, 1, 0});
  // Non-contiguous and empty parts.
  const Tensor s = concatenate({transpose(a), iota({0, 2}), slice(a, -1, -3, -1)}, 0);
  CHECK(values(s) == std::vector<double>{0, 2, 1, 3, 2, 3, 0, 1});
}

TEST_CASE("concatenate and pad at sizes around SIMD widths and above the threading threshold") {
  for (std::int64_t n : {1, 15, 16, 17, 1000, 100003}) {
    CAPTURE(n);
    const Tensor a = iota({n}, DType::f32);
    const Tensor b = iota({17}, DType::f32);
    std::vector<double> expected = values(a);
    const std::vector<double> bv = values(b);
    expected.insert(expected.end(), bv.begin(), bv.end());
    CHECK(values(concatenate({a, b})) == expected);
    // Two columns side by side: strided destinations.
    const Tensor m = concatenate({reshape(a, {n, 1}), reshape(a, {n, 1})}, 1);
    const std::vector<double> mv = values(m);
    bool ok = true;
    for (std::int64_t i = 0; i < n; ++i)
      ok &= mv[std::size_t(2 * i)] == double(i) && mv[std::size_t(2 * i + 1)] == double(i);
    CHECK(ok);
    const std::vector<double> p = values(pad(a, {{2, 3}}, -1.0));
    CHECK(p.size() == std::size_t(n + 5));
    CHECK(p[0] == -1);
    CHECK(p[2] == 0);
    CHECK(p[std::size_t(n + 1)] == double(n - 1));
    CHECK(p[std::size_t(n + 4)] == -1);
  }
}

TEST_CASE("concatenate promotes dtypes and reports mismatches") {
  const Tensor i = Tensor::from_vector<std::int32_t>({1, 2});
  const Tensor f = Tensor::from_vector<float>({0.5f});
  const Tensor r = concatenate({i, f});
  CHECK(r.dtype() == DType::f32);
  CHECK(values(r) == std::vector<double>{1, 2, 0.5});
  CHECK(concatenate({f, Tensor::from_vector<double>({2.0})}).dtype() == DType::f64);

  CHECK_THROWS_WITH_AS(concatenate({iota({2, 3}), iota({2, 4})}, 0),
                       doctest::Contains("concatenate: shapes must match except along axis 0, "
                                         "got float64[2,3] on cpu, float64[2,4] on cpu"),
                       Error);
  CHECK_THROWS_WITH_AS(concatenate({iota({2, 3}), iota({3})}),
                       doctest::Contains("concatenate: shapes must match"), Error);
  CHECK_THROWS_WITH_AS(concatenate(std::vector<Tensor>{}),
                       doctest::Contains("concatenate: needs at least one tensor"), Error);
  CHECK_THROWS_WITH_AS(concatenate({iota({}), iota({})}),
                       doctest::Contains("concatenate: cannot concatenate 0-d"), Error);
  CHECK_THROWS_WITH_AS(concatenate({iota({2}), iota({2})}, 1), doctest::Contains("concatenate: "),
                       Error);
}

TEST_CASE("stack inserts a new axis") {
  const Tensor a = iota({2, 3});
  const Tensor b = Tensor::from_vector<double>({100, 101, 102, 103, 104, 105}, {2, 3});
  const Tensor s0 = stack({a, b});
  CHECK(s0.shape() == Shape{2, 2, 3});
  CHECK(values(s0) == std::vector<double>{0, 1, 2, 3, 4, 5, 100, 101, 102, 103, 104, 105});
  const Tensor s2 = stack({a, b}, -1);
  CHECK(s2.shape() == Shape{2, 3, 2});
  CHECK(values(s2) == std::vector<double>{0, 100, 1, 101, 2, 102, 3, 103, 4, 104, 5, 105});
  const Tensor s1 = stack({a.astype(DType::i32), b.astype(DType::i32), a.astype(DType::i32)}, 1);
  CHECK(s1.shape() == Shape{2, 3, 3});
  CHECK(s1.dtype() == DType::i32);
  CHECK(values(s1)[3 + 1] == 101);
  CHECK(values(stack({iota({}), iota({})})) == std::vector<double>{0, 0});
  CHECK_THROWS_WITH_AS(stack({a, iota({3, 2})}),
                       doctest::Contains("stack: all tensors must have the same shape"), Error);
  CHECK_THROWS_WITH_AS(stack(std::vector<Tensor>{}), doctest::Contains("stack: "), Error);
}

TEST_CASE("pad fills the border with a constant") {
  const Tensor x = Tensor::from_vector<double>({1, 2, 3, 4}, {2, 2});
  for (DType dt : {DType::f32, DType::f64, DType::i32, DType::i64, DType::u8}) {
    CAPTURE(dt);
    const Tensor p = pad(x.astype(dt), {{1, 0}, {0, 2}}, 7);
    CHECK(p.dtype() == dt);
    CHECK(p.shape() == Shape{3, 4});
    CHECK(values(p) == std::vector<double>{7, 7, 7, 7, 1, 2, 7, 7, 3, 4, 7, 7});
  }
  const Tensor b = Tensor::from_vector<std::uint8_t>({1}).astype(DType::bool_);
  CHECK(values(pad(b, {{1, 1}})) == std::vector<double>{0, 1, 0});
  CHECK(values(pad(b, {{0, 2}}, 1.0)) == std::vector<double>{1, 1, 1});
  // A strided input and a zero-width pad.
  CHECK(values(pad(transpose(x), {{0, 0}, {1, 1}})) == std::vector<double>{0, 1, 3, 0, 0, 2, 4, 0});
  CHECK_THROWS_WITH_AS(pad(x, {{1, 1}}),
                       doctest::Contains("pad: got 1 (before, after) pairs for float64[2,2]"),
                       Error);
  CHECK_THROWS_WITH_AS(pad(x, {{1, 1}, {-1, 0}}), doctest::Contains("pad: widths must be >= 0"),
                       Error);
}

// ---- gradients (finite differences in float64) ----

TEST_CASE("gradients of the view ops") {
  check_gradients(
      [](const auto& x) {
        return dot_with(reshape(x[0], {3, -1}), 1);
      },
      {host_uniform({2, 6}, 10)});
  check_gradients(
      [](const auto& x) {
        return dot_with(reshape(x[0], {6, 2}), 2);
      },
      {transposed_input({4, 3}, 11)});
  check_gradients([](const auto& x) { return dot_with(transpose(x[0]), 3); },
                  {host_uniform({2, 3, 4}, 12)});
  check_gradients(
      [](const auto& x) {
        return dot_with(transpose(x[0], {1, 2, 0}), 4);
      },
      {transposed_input({2, 3, 4}, 13)});
  check_gradients([](const auto& x) { return dot_with(swapaxes(x[0], 0, 2), 5); },
                  {host_uniform({2, 3, 4}, 14)});
  check_gradients([](const auto& x) { return dot_with(moveaxis(x[0], 2, 0), 6); },
                  {transposed_input({2, 3, 4}, 15)});
  check_gradients([](const auto& x) { return dot_with(expand_dims(x[0], 1), 7); },
                  {host_uniform({3, 2}, 16)});
  check_gradients([](const auto& x) { return dot_with(squeeze(x[0]), 8); },
                  {host_uniform({1, 3, 1, 2}, 17)});
  check_gradients([](const auto& x) { return dot_with(squeeze(x[0], {-1}), 8); },
                  {transposed_input({1, 3, 1}, 17)});
  check_gradients([](const auto& x) { return dot_with(ravel(x[0]), 9); },
                  {transposed_input({3, 5}, 18)});
  check_gradients([](const auto& x) { return dot_with(flatten(x[0]), 9); },
                  {host_uniform({2, 3, 2}, 18)});
  check_gradients([](const auto& x) { return dot_with(contiguous(x[0]), 19); },
                  {transposed_input({3, 4}, 19)});
}

TEST_CASE("gradients of slice, negative steps and non-contiguous inputs included") {
  check_gradients([](const auto& x) { return dot_with(slice(x[0], 1, 4), 20); },
                  {host_uniform({5, 2}, 20)});
  check_gradients([](const auto& x) { return dot_with(slice(x[0], -1, 0, -2, 1), 21); },
                  {host_uniform({3, 6}, 21)});
  check_gradients([](const auto& x) { return dot_with(slice(x[0], 4, -100, -3, 0), 22); },
                  {transposed_input({7, 3}, 22)});
  // A slice of a slice.
  check_gradients(
      [](const auto& x) { return dot_with(slice(slice(x[0], 1, 6, 2, 0), 2, 0, -1, 1), 23); },
      {host_uniform({7, 3}, 23)});
}

TEST_CASE("gradients of concatenate, stack and pad") {
  check_gradients(
      [](const auto& x) {
        return dot_with(concatenate({x[0], x[1], x[2]}, 1), 30);
      },
      {host_uniform({2, 3}, 30), transposed_input({2, 1}, 31), host_uniform({2, 4}, 32)});
  check_gradients(
      [](const auto& x) {
        return dot_with(concatenate({x[0], x[1]}, 0), 33);
      },
      {transposed_input({3, 2}, 33), host_uniform({1, 2}, 34)});
  check_gradients(
      [](const auto& x) {
        return dot_with(stack({x[0], x[1]}, 1), 35);
      },
      {host_uniform({2, 3}, 35), transposed_input({2, 3}, 36)});
  check_gradients(
      [](const auto& x) {
        return dot_with(pad(x[0], {{1, 2}, {0, 3}}, 5.0), 37);
      },
      {transposed_input({2, 3}, 37)});
  // Only one operand traced: the other is a constant.
  const Tensor constant = host_uniform({2, 2}, 38);
  check_gradients(
      [&](const auto& x) {
        return dot_with(concatenate({constant, x[0]}, 1), 39);
      },
      {host_uniform({2, 3}, 39)});
}

TEST_CASE("gradients of mixed-dtype concatenate flow back in each input's dtype") {
  const Tensor a = Tensor::from_vector<float>({1, 2});
  const Tensor b = Tensor::from_vector<double>({3});
  auto [value, grads] = value_and_grad(
      [](const Tree& p) {
        const Tensor c = concatenate({p["a"].tensor(), p["b"].tensor()});
        return matmul(c, Tensor::from_vector<double>({10, 20, 30}));
      },
      Tree{{"a", a}, {"b", b}});
  CHECK(value.item<double>() == doctest::Approx(10 + 40 + 90));
  CHECK(grads["a"].tensor().dtype() == DType::f32);
  CHECK(values(grads["a"].tensor()) == std::vector<double>{10, 20});
  CHECK(values(grads["b"].tensor()) == std::vector<double>{30});
}

TEST_CASE("broadcast_to gradient sums over the expanded axes") {
  // Needs sum_to (ops_reduce) in the tape walker.
  check_gradients(
      [](const auto& x) {
        return dot_with(broadcast_to(x[0], {2, 3, 4}), 40);
      },
      {host_uniform({3, 1}, 40)});
  check_gradients(
      [](const auto& x) {
        return dot_with(broadcast_to(x[0], {4, 3}), 41);
      },
      {transposed_input({1, 3}, 41)});
}

TEST_CASE("second derivatives through slice, pad, concatenate and reshape") {
  // g(x) = <grad_x f(x), r> for a quadratic f built from shape ops: its gradient is
  // checked against finite differences of the (analytic) first gradient.
  auto quadratic = [](const Tensor& x) {
    const Tensor p = pad(slice(x, 3, -100, -1), {{1, 0}});
    const Tensor q = reshape(concatenate({x, p}), {-1});
    return matmul(q, slice(q, -1, -100, -1));  // <q, reversed q>
  };
  check_gradients(
      [&](const auto& x) { return matmul(grad(quadratic, x[0]), host_uniform({4}, 50)); },
      {host_uniform({4}, 51)});
}
