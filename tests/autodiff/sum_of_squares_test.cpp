// sum_of_squares: values against float64 loops, its one-node backward against finite
// differences (and its own backward, grad of grad), mixed dtypes, untraced inputs, and errors.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include <elegy/autodiff/kernel_call.hpp>

#include "grad_check.hpp"

using namespace elegy;
using elegy::testing::check_gradients;
using elegy::testing::host_uniform;
using elegy::testing::transposed_input;

TEST_CASE("sum_of_squares adds every element squared over all its tensors") {
  const Tensor a = host_uniform(Shape{7, 3}, 1, -2.0, 2.0), b = host_uniform(Shape{5}, 2);
  const Tensor c = transposed_input(Shape{4, 6}, 3);
  double want = 0.0;
  for (const Tensor& t : {a, b, c})
    for (double v : t.to_vector<double>()) want += v * v;
  const Tensor got = sum_of_squares(std::vector<Tensor>{a, b, c});
  CHECK(got.ndim() == 0);
  CHECK(got.dtype() == DType::f64);
  CHECK(got.item<double>() == doctest::Approx(want).epsilon(1e-14));

  // Hand-computed: 1 + 4 + 9 + 16 = 30 (float32 in, float32 out); one tensor alone.
  const Tensor small = Tensor::from_vector(std::vector<float>{1, -2, 3}, Shape{3});
  const Tensor four = Tensor::from_vector(std::vector<float>{4}, Shape{1});
  CHECK(sum_of_squares(std::vector<Tensor>{small, four}).item<float>() == 30.0f);
  CHECK(sum_of_squares(std::vector<Tensor>{small}).dtype() == DType::f32);
  CHECK(sum_of_squares(std::vector<Tensor>{small}).item<float>() == 14.0f);

  // float32 with float64: the sum is float64 (each tensor summed in its own dtype).
  const Tensor mixed = sum_of_squares(std::vector<Tensor>{small, b});
  CHECK(mixed.dtype() == DType::f64);
  double want_mixed = 14.0;
  for (double v : b.to_vector<double>()) want_mixed += v * v;
  CHECK(mixed.item<double>() == doctest::Approx(want_mixed).epsilon(1e-14));
}

TEST_CASE("sum_of_squares over many pieces: float64 reference, any thread count, empty") {
  // 100,003 elements: four pieces of the kernel's 32,768 and a ragged tail, summed in parallel.
  const Tensor big = host_uniform(Shape{100003}, 7, -3.0, 3.0).astype(DType::f32);
  double want = 0.0;
  for (double v : big.to_vector<double>()) want += v * v;
  const int threads = num_threads();
  set_num_threads(1);
  const float one = sum_of_squares(std::vector<Tensor>{big}).item<float>();
  set_num_threads(2);
  const float two = sum_of_squares(std::vector<Tensor>{big}).item<float>();
  set_num_threads(threads);
  CHECK(one == two);  // the pieces and their combining order depend on the size alone
  CHECK(double(one) == doctest::Approx(want).epsilon(1e-6));
  const Tensor empty = Tensor::empty(Shape{0, 3});
  CHECK(sum_of_squares(std::vector<Tensor>{empty, big.slice(0, 2)}).item<float>() ==
        doctest::Approx(std::pow(big.to_vector<double>()[0], 2) +
                        std::pow(big.to_vector<double>()[1], 2))
            .epsilon(1e-6));
  CHECK(sum_of_squares(std::vector<Tensor>{empty}).item<float>() == 0.0f);
}

TEST_CASE("sum_of_squares of a tree is one kernel with the bits of a SumSquares per tensor") {
  // The one SumSquaresMany kernel keeps each tensor's pieces and their pairwise combine, then
  // adds the per-tensor sums as a Sum of their vector would and scales the total as a Mul
  // would: the bits of the composition it replaced, at any thread count.
  std::vector<Tensor> xs;
  for (const std::int64_t n : {300, 70000, 0, 1, 32768, 5, 100003})
    xs.push_back(host_uniform(Shape{n}, std::uint64_t(n + 20), -2.0, 2.0).astype(DType::f32));
  xs.push_back(transpose(host_uniform(Shape{40, 30}, 27).astype(DType::f32)));  // strided
  std::vector<Tensor> per_tensor;
  double want = 0.0;
  for (const Tensor& x : xs) {
    per_tensor.push_back(sum_of_squares(std::vector<Tensor>{x}));
    for (double v : x.to_vector<double>()) want += v * v;
  }
  const int threads = num_threads();
  for (const int t : {1, 2}) {
    set_num_threads(t);
    for (const double scale : {1.0, 0.25, 1e-3}) {
      CAPTURE(t);
      CAPTURE(scale);
      const std::uint64_t before = kernels::kernels_run_by_this_thread();
      const float got = sum_of_squares(xs, scale).item<float>();
      CHECK(kernels::kernels_run_by_this_thread() == before + 1 + 1);  // (+ the strided copy)
      CHECK(got == (sum(stack(per_tensor)) * scale).item<float>());
      CHECK(double(got) == doctest::Approx(want * scale).epsilon(1e-6));
    }
  }
  set_num_threads(threads);
  // A lone tensor's sum is the SumSquares kernel's.
  const Tensor lone = xs[1];
  const Tensor single = Tensor::empty(Shape{1});
  kernels::run("test", kernels::Op::SumSquares, DType::f32,
               autodiff::reduction_into_slot(lone, single, 0));
  CHECK(sum_of_squares(std::vector<Tensor>{lone}).item<float>() == single.item<float>());
}

TEST_CASE("sum_of_squares' gradient is 2 g x per tensor, grad of grad included") {
  const Tensor a = host_uniform(Shape{3, 4}, 4), b = transposed_input(Shape{2, 5}, 5);
  const Tensor c = host_uniform(Shape{}, 6);
  check_gradients([](const std::vector<Tensor>& xs) { return 3.0 * sum_of_squares(xs); },
                  {a, b, c});
  // Through another op that uses the same tensor (the tape adds both cotangents).
  check_gradients(
      [](const std::vector<Tensor>& xs) { return sum_of_squares(xs) * sum(xs[0] * xs[1]); },
      {host_uniform(Shape{4}, 7), host_uniform(Shape{4}, 8)});
  // Second derivatives: the backward is made of ops that record.
  check_gradients(
      [](const std::vector<Tensor>& xs) {
        const Tensor g = grad(
            [](const Tensor& t) {
              return sum_of_squares(std::vector{t, t});
            },
            xs[0]);
        return sum(g * g * xs[0]);
      },
      {host_uniform(Shape{2, 3}, 9)});
}

TEST_CASE("sum_of_squares differentiates only the tensors being traced") {
  const Tensor constant = host_uniform(Shape{3}, 10);
  const Tensor x = host_uniform(Shape{2, 2}, 11);
  const Tensor g = grad(
      [&](const Tensor& t) {
        return sum_of_squares(std::vector{constant, t});
      },
      x);
  const std::vector<double> xv = x.to_vector<double>(), gv = g.to_vector<double>();
  REQUIRE(gv.size() == xv.size());
  for (std::size_t i = 0; i < xv.size(); ++i) CHECK(gv[i] == doctest::Approx(2.0 * xv[i]));
}

TEST_CASE("sum_of_squares rejects no tensors, integer tensors and mixed devices") {
  CHECK_THROWS_WITH_AS(sum_of_squares(std::vector<Tensor>{}),
                       doctest::Contains("sum_of_squares: needs at least one tensor"), Error);
  const Tensor f = host_uniform(Shape{2}, 12);
  const Tensor i = Tensor::from_vector(std::vector<std::int32_t>{1, 2}, Shape{2});
  CHECK_THROWS_WITH_AS(sum_of_squares(std::vector<Tensor>{f, i}),
                       doctest::Contains("tensor 1 is int32"), Error);
  CHECK_THROWS_WITH_AS(sum_of_squares(std::vector<Tensor>{f, f.to(Device::meta())}),
                       doctest::Contains("sum_of_squares"), Error);
}
