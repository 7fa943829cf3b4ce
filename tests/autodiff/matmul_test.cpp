// matmul against a float64 triple loop (numpy semantics: 1-D promotion, batch broadcasting),
// for float32 and float64, transposed / strided / broadcast operands, errors, and gradients to
// second order (a gradient penalty).
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include <elegy/elegy.hpp>

#include "grad_check.hpp"

using namespace elegy;
using elegy::testing::check_gradients;
using elegy::testing::host_uniform;
using elegy::testing::transposed_input;
using elegy::testing::values;

namespace {

// numpy's matmul in float64 on the row-major values of a and b; also returns, per element,
// sum |a||b| (the scale of the rounding error).
struct Reference {
  Shape shape;
  std::vector<double> value, scale;
};

Reference reference_matmul(const Tensor& a, const Tensor& b) {
  Shape as = a.shape(), bs = b.shape();
  const bool a_vec = as.size() == 1, b_vec = bs.size() == 1;
  if (a_vec) as.insert(0, 1);
  if (b_vec) bs.push_back(1);
  const std::int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  const Shape ab(as.span().first(std::size_t(as.size() - 2)));
  const Shape bb(bs.span().first(std::size_t(bs.size() - 2)));
  const Shape batch = broadcast_shapes("reference", ab, bb);
  const std::vector<double> av = values(a), bv = values(b);
  // Offset of matrix number `i` of `batch` inside an operand with batch shape `own`.
  auto matrix_offset = [&](std::int64_t i, const Shape& own, std::int64_t matrix_size) {
    std::int64_t off = 0, stride = matrix_size;
    for (int d = batch.size() - 1; d >= 0; --d) {
      const std::int64_t idx = i % batch[d];
      i /= batch[d];
      const int od = d - (batch.size() - own.size());
      if (od < 0) continue;
      if (own[od] != 1) off += idx * stride;
      stride *= own[od];
    }
    return off;
  };
  Reference r;
  r.shape = batch;
  if (!a_vec) r.shape.push_back(m);
  if (!b_vec) r.shape.push_back(n);
  for (std::int64_t i = 0; i < batch.numel(); ++i) {
    const std::int64_t ao = matrix_offset(i, ab, m * k), bo = matrix_offset(i, bb, k * n);
    for (std::int64_t p = 0; p < m; ++p)
      for (std::int64_t q = 0; q < n; ++q) {
        double s = 0, scale = 0;
        for (std::int64_t t = 0; t < k; ++t) {
          const double x = av[std::size_t(ao + p * k + t)], y = bv[std::size_t(bo + t * n + q)];
          s += x * y;
          scale += std::abs(x * y);
        }
        r.value.push_back(s);
        r.scale.push_back(scale);
      }
  }
  return r;
}

void check_matmul(const Tensor& a, const Tensor& b) {
  CAPTURE(a.shape());
  CAPTURE(b.shape());
  CAPTURE(a.dtype());
  const Tensor c = matmul(a, b);
  const Reference r = reference_matmul(a, b);
  REQUIRE(c.shape() == r.shape);
  CHECK(c.dtype() == promote_types(a.dtype(), b.dtype()));
  const double eps = c.dtype() == DType::f32 ? 1e-6 : 1e-14;
  const std::vector<double> got = values(c);
  std::int64_t bad = 0;
  for (std::size_t i = 0; i < got.size(); ++i)
    bad += std::abs(got[i] - r.value[i]) > eps * (1 + r.scale[i]);
  CHECK(bad == 0);
}

Tensor rand(const Shape& shape, std::uint64_t seed, DType dtype) {
  return host_uniform(shape, seed).astype(dtype);
}

Tensor dot_with(const Tensor& y, std::uint64_t seed) {
  return matmul(ravel(y), ravel(host_uniform(y.shape(), seed)));
}

}  // namespace

TEST_CASE("matmul of matrices matches a float64 triple loop") {
  for (DType dt : {DType::f32, DType::f64}) {
    for (auto [m, k, n] : std::vector<std::array<std::int64_t, 3>>{
             {1, 1, 1}, {3, 5, 7}, {64, 784, 10}, {129, 257, 65}, {17, 16, 15}, {2, 1000, 3}}) {
      CAPTURE(m);
      CAPTURE(k);
      CAPTURE(n);
      check_matmul(rand({m, k}, 1, dt), rand({k, n}, 2, dt));
    }
  }
}

TEST_CASE("matmul cut into column or row blocks across threads matches the uncut product") {
  // Above 2^18 multiply-adds a product is cut into one block of C per pool thread: columns when
  // N > M, rows otherwise, at multiples of 16, and with any transpose flags on A and B.
  const int saved_threads = num_threads();
  for (const int threads : {1, 2, 3}) {
    CAPTURE(threads);
    set_num_threads(threads);
    for (DType dt : {DType::f32, DType::f64}) {
      for (auto [m, k, n] : std::vector<std::array<std::int64_t, 3>>{
               {70, 60, 150}, {150, 60, 70}, {33, 300, 47}, {128, 512, 512}}) {
        check_matmul(rand({m, k}, 3, dt), rand({k, n}, 4, dt));
        check_matmul(transpose(rand({k, m}, 5, dt)), transpose(rand({n, k}, 6, dt)));
        check_matmul(rand({m, k}, 7, dt), transpose(rand({n, k}, 8, dt)));
      }
    }
  }
  set_num_threads(saved_threads);
}

TEST_CASE("matmul handles 1-D operands as numpy does") {
  for (DType dt : {DType::f32, DType::f64}) {
    check_matmul(rand({5}, 3, dt), rand({5, 4}, 4, dt));       // [4]
    check_matmul(rand({4, 5}, 5, dt), rand({5}, 6, dt));       // [4]
    check_matmul(rand({17}, 7, dt), rand({17}, 8, dt));        // []
    check_matmul(rand({5}, 9, dt), rand({3, 5, 2}, 10, dt));   // [3,2]
    check_matmul(rand({3, 4, 5}, 11, dt), rand({5}, 12, dt));  // [3,4]
  }
  const Tensor v = Tensor::from_vector<double>({1, 2, 3});
  const Tensor d = matmul(v, v);
  CHECK(d.shape() == Shape{});
  CHECK(d.item<double>() == 14);
  // [[1,2],[3,4]] @ [1,1] = [3,7]; [1,1] @ [[1,2],[3,4]] = [4,6]
  const Tensor m = Tensor::from_vector<double>({1, 2, 3, 4}, {2, 2});
  const Tensor ones2 = Tensor::from_vector<double>({1, 1});
  CHECK(values(matmul(m, ones2)) == std::vector<double>{3, 7});
  CHECK(values(matmul(ones2, m)) == std::vector<double>{4, 6});
}

TEST_CASE("batched matmul broadcasts the batch dimensions") {
  for (DType dt : {DType::f32, DType::f64}) {
    check_matmul(rand({4, 3, 5}, 20, dt), rand({5, 2}, 21, dt));
    check_matmul(rand({3, 5}, 22, dt), rand({4, 5, 2}, 23, dt));
    check_matmul(rand({4, 3, 5}, 24, dt), rand({4, 5, 2}, 25, dt));
    check_matmul(rand({2, 1, 3, 4}, 26, dt), rand({5, 4, 6}, 27, dt));  // batch [2,5]
    check_matmul(rand({1, 3, 2, 4}, 28, dt), rand({2, 1, 4, 3}, 29, dt));
    check_matmul(rand({1000, 8, 8}, 30, dt), rand({1000, 8, 8}, 31, dt));  // parallel batches
    // A stack times one matrix folds into one GEMM when its batch and rows are one strided run.
    check_matmul(rand({2, 1, 3, 5}, 32, dt), rand({5, 2}, 33, dt));
    check_matmul(rand({4, 1, 5}, 34, dt), rand({5, 3}, 35, dt));
    check_matmul(slice(rand({4, 3, 5}, 36, dt), 0, 4, 2), rand({5, 2}, 37, dt));  // no fold
    check_matmul(slice(rand({3, 4, 5}, 38, dt), 0, 4, 2, 1), rand({5, 2}, 39, dt));
    check_matmul(broadcast_to(rand({3, 5}, 40, dt), {2, 3, 5}), rand({5, 2}, 41, dt));
  }
}

TEST_CASE("matmul with a short A (elegy's own kernel, no packing) matches a float64 loop") {
  // Up to 64 rows of A times a row-major B whose width is a multiple of two vectors (row tiles of
  // every height, odd K, strided A and B, on 1-3 threads; other widths go to OpenBLAS), and times
  // a transposed B of any width (dot-product tiles and their edges, K past a vector).
  const int saved_threads = num_threads();
  for (const int threads : {1, 2, 3}) {
    set_num_threads(threads);
    for (DType dt : {DType::f32, DType::f64}) {
      for (std::int64_t m : {1, 2, 5, 11, 12, 13, 24, 33, 64, 65}) {
        for (std::int64_t k : {1, 7, 300}) {
          for (std::int64_t n : {16, 32, 96, 512}) {
            CAPTURE(threads);
            CAPTURE(m);
            CAPTURE(k);
            CAPTURE(n);
            check_matmul(rand({m, k}, 70, dt), rand({k, n}, 71, dt));
            // B transposed (dx = dy Wᵀ): the dot-product kernel for K >= 256.
            check_matmul(rand({m, k}, 76, dt), transpose(rand({n + 1, k}, 77, dt)));
            // Row strides wider than the rows: a column slice of A and of B.
            check_matmul(slice(rand({m, k + 3}, 72, dt), 0, k, 1, 1),
                         slice(rand({k, n + 16}, 73, dt), 16, n + 16, 1, 1));
          }
        }
      }
    }
    // A batch of small products (each one inline on a pool thread).
    check_matmul(rand({6, 8, 40}, 74, DType::f32), rand({6, 40, 64}, 75, DType::f32));
  }
  set_num_threads(saved_threads);
}

TEST_CASE("matmul of a transposed A over a shallow K (dW = xᵀ dy) matches a float64 loop") {
  // Aᵀ B with A stored [K, M], K up to 64 and B's width a multiple of two vectors runs elegy's
  // row tiles (gemm_small_m's multiply_at) over blocks of rows: row tiles of every height, the
  // last block short, K of 1 and past a vector, A and B row strides wider than their rows, 1-3
  // threads; K = 65 and other widths stay with OpenBLAS.
  const int saved_threads = num_threads();
  for (const int threads : {1, 2, 3}) {
    set_num_threads(threads);
    for (DType dt : {DType::f32, DType::f64}) {
      for (std::int64_t m : {1, 11, 12, 13, 25, 100, 784}) {
        for (std::int64_t k : {1, 17, 32, 64, 65}) {
          for (std::int64_t n : {16, 32, 512}) {
            CAPTURE(threads);
            CAPTURE(m);
            CAPTURE(k);
            CAPTURE(n);
            check_matmul(transpose(rand({k, m}, 80, dt)), rand({k, n}, 81, dt));
            check_matmul(transpose(slice(rand({k, m + 5}, 82, dt), 2, m + 2, 1, 1)),
                         slice(rand({k, n + 32}, 83, dt), 0, n, 1, 1));
          }
        }
      }
    }
  }
  set_num_threads(saved_threads);
}

TEST_CASE("matmul reads transposed, strided and broadcast operands") {
  for (DType dt : {DType::f32, DType::f64}) {
    const Tensor a = rand({65, 33}, 40, dt), b = rand({65, 17}, 41, dt);
    // Transposed views go to BLAS as transpose flags.
    check_matmul(transpose(a), b);
    check_matmul(transpose(b), a);
    check_matmul(a, transpose(rand({9, 33}, 42, dt)));
    check_matmul(transpose(a), transpose(rand({9, 65}, 43, dt)));
    check_matmul(swapaxes(rand({3, 5, 4}, 44, dt), -1, -2), rand({3, 5, 2}, 45, dt));
    // Layouts BLAS cannot take directly: packed first.
    check_matmul(transpose(slice(a, -1, -100, -1)), b);          // negative row stride
    check_matmul(slice(a, 0, 33, 2, 1), rand({17, 4}, 46, dt));  // column stride 2
    check_matmul(broadcast_to(rand({1, 33}, 47, dt), {5, 33}), transpose(a));  // row stride 0
    check_matmul(rand({7, 65}, 48, dt), broadcast_to(rand({65, 1}, 49, dt), {65, 3}));
    // Rows and columns of one element.
    check_matmul(slice(a, 3, 4), transpose(slice(a, 0, 8)));
    check_matmul(slice(a, 0, 1, 1, 1), rand({1, 4}, 58, dt));  // K = 1
    check_matmul(transpose(a), slice(b, 0, 1, 1, 1));          // N = 1, strided column
  }
}

TEST_CASE("matmul of transposed views allocates only its output") {
  // The op layer passes views as they are (the kernel maps them to BLAS transpose flags).
  const Tensor a = rand({64, 48}, 59, DType::f32), b = rand({64, 32}, 60, DType::f32);
  const std::int64_t before = cpu_allocator().stats().num_allocs;
  const Tensor c = matmul(transpose(a), b);
  CHECK(cpu_allocator().stats().num_allocs - before == 1);
  check_matmul(transpose(a), b);
}

TEST_CASE("matmul promotes float32 with float64 and handles empty operands") {
  const Tensor c = matmul(rand({2, 3}, 50, DType::f32), rand({3, 2}, 51, DType::f64));
  CHECK(c.dtype() == DType::f64);
  check_matmul(rand({2, 3}, 50, DType::f32), rand({3, 2}, 51, DType::f64));
  const Tensor z = matmul(rand({3, 0}, 52, DType::f32), rand({0, 4}, 53, DType::f32));
  CHECK(z.shape() == Shape{3, 4});
  CHECK(values(z) == std::vector<double>(12, 0.0));
  CHECK(matmul(rand({0, 3}, 54, DType::f32), rand({3, 4}, 55, DType::f32)).shape() == Shape{0, 4});
  CHECK(matmul(rand({2, 0, 3}, 56, DType::f64), rand({3, 4}, 57, DType::f64)).shape() ==
        Shape{2, 0, 4});
}

TEST_CASE("matmul errors name the operands") {
  CHECK_THROWS_WITH_AS(
      matmul(zeros({64, 784}), zeros({512, 10})),
      doctest::Contains("matmul: inner dimensions differ: float32[64,784] x float32[512,10]"),
      Error);
  CHECK_THROWS_WITH_AS(
      matmul(zeros({3}), zeros({4})),
      doctest::Contains("matmul: inner dimensions differ: float32[3] x float32[4]"), Error);
  CHECK_THROWS_WITH_AS(
      matmul(zeros({2, 2}, DType::i32), zeros({2, 2})),
      doctest::Contains("matmul: only float32 and float64 operands are supported, got int32[2,2]"),
      Error);
  CHECK_THROWS_WITH_AS(matmul(scalar(1.0), zeros({2})),
                       doctest::Contains("matmul: operands must have at least one dimension"),
                       Error);
  CHECK_THROWS_WITH_AS(matmul(zeros({2, 3, 4}), zeros({3, 4, 5})),
                       doctest::Contains("matmul: shapes [2] and [3] cannot be broadcast"), Error);
  CHECK_THROWS_WITH_AS(matmul(Tensor(), zeros({2})), doctest::Contains("matmul: "), Error);
}

TEST_CASE("matmul gradients match finite differences") {
  auto mm = [](const std::vector<Tensor>& x) { return dot_with(matmul(x[0], x[1]), 60); };
  check_gradients(mm, {host_uniform({3, 4}, 61), host_uniform({4, 2}, 62)});
  check_gradients(mm, {transposed_input({3, 4}, 63), transposed_input({4, 5}, 64)});
  check_gradients(mm, {host_uniform({4}, 65), host_uniform({4, 3}, 66)});
  check_gradients(mm, {transposed_input({2, 4}, 67), host_uniform({4}, 68)});
  check_gradients(mm, {host_uniform({5}, 69), host_uniform({5}, 70)});
  check_gradients(mm, {host_uniform({2, 3, 4}, 71), host_uniform({2, 4, 2}, 72)});
  check_gradients(mm, {transposed_input({2, 3, 4}, 73), host_uniform({4, 2}, 74)});
  check_gradients(mm, {host_uniform({3, 1, 2, 3}, 75), host_uniform({3}, 76)});
}

TEST_CASE("matmul gradients over broadcast batch dimensions") {
  // The cotangent of an operand broadcast over batch dims is summed back by the tape (sum_to).
  auto mm = [](const std::vector<Tensor>& x) { return dot_with(matmul(x[0], x[1]), 80); };
  check_gradients(mm, {host_uniform({3, 4}, 81), host_uniform({2, 4, 2}, 82)});
  check_gradients(mm, {host_uniform({2, 1, 3, 4}, 83), host_uniform({5, 4, 2}, 84)});
  check_gradients(mm, {host_uniform({4}, 85), host_uniform({2, 4, 3}, 86)});
}

TEST_CASE("second derivatives through matmul: gradient penalty") {
  // Linear in w: d/dw <d/dx <x w, r1>, r2> = r2^T-weighted outer products; no fan-out.
  const Tensor x0 = host_uniform({3, 4}, 90);
  check_gradients(
      [&](const std::vector<Tensor>& w) {
        auto inner = [&](const Tensor& x) { return dot_with(matmul(x, w[0]), 91); };
        return dot_with(grad(inner, x0), 92);
      },
      {host_uniform({4, 2}, 93)});

  // The penalty of the brief: for vectors, d/dx (x . w) = w, so d/dw ||w||^2 = 2w.
  const Tensor w0 = Tensor::from_vector<double>({1, -2, 3});
  const Tensor dw = grad(
      [&](const Tensor& w) {
        const Tensor gx =
            grad([&](const Tensor& x) { return matmul(x, w); }, host_uniform({3}, 94));
        return matmul(gx, gx);
      },
      w0);
  CHECK(values(dw) == std::vector<double>{2, -4, 6});

  // A quadratic inner function: P(W) = || d/dx ||x W||^2 ||^2 checked numerically.
  check_gradients(
      [&](const std::vector<Tensor>& w) {
        auto inner = [&](const Tensor& x) {
          const Tensor y = ravel(matmul(x, w[0]));
          return matmul(y, y);
        };
        const Tensor gx = ravel(grad(inner, x0));
        return matmul(gx, gx);
      },
      {host_uniform({4, 2}, 95)}, 1e-6, 1e-5, 1e-5);
}
