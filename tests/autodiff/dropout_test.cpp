// dropout: the mask is random::bernoulli's for the same key, the kept fraction on 1M elements,
// kept values scaled exactly (x / keep_prob), the same mask on 1 and 2 threads and for strided
// inputs, the backward pass g * mask / keep_prob, the edge rates and the errors.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include <elegy/autodiff/kernel_call.hpp>

#include "core/thread_count.hpp"
#include "grad_check.hpp"
#include "rng_kernel_args.hpp"

using namespace elegy;
using elegy::testing::host_uniform;
using elegy::testing::values;

TEST_CASE("dropout: keeps 1 - rate of 1M elements and scales the kept ones exactly") {
  const Shape shape{1000, 1000};
  const Key key(42);
  for (double rate : {0.1, 0.5, 0.9}) {
    CAPTURE(rate);
    for (DType t : {DType::f32, DType::f64}) {
      const Tensor x = (host_uniform(shape, 1, 0.5, 1.5)).astype(t);
      const std::vector<double> xv = values(x), yv = values(dropout(key, rate, x));
      const std::vector<std::uint8_t> keep =
          random::bernoulli(key, 1.0 - rate, shape).to_vector<std::uint8_t>();
      std::int64_t kept = 0, wrong = 0;
      for (std::size_t i = 0; i < xv.size(); ++i) {
        double want = 0.0;
        if (keep[i]) {
          ++kept;
          // Haiku's x / keep_rate in x's dtype.
          want = t == DType::f32 ? double(float(xv[i]) / float(1.0 - rate)) : xv[i] / (1.0 - rate);
        }
        wrong += yv[i] != want;
      }
      CHECK(wrong == 0);
      // Binomial(1e6, 1 - rate): 5 standard deviations.
      const double n = double(shape.numel()), sd = std::sqrt(n * rate * (1 - rate));
      CHECK(std::abs(double(kept) - n * (1 - rate)) < 5 * sd);
    }
  }
}

TEST_CASE("dropout: the same key gives the same mask on 1 and 2 threads and for strided inputs") {
  elegy::testing::ThreadCountGuard guard;
  const Tensor x = host_uniform(Shape{300, 700}, 2);
  set_num_threads(1);
  const std::vector<double> one = values(dropout(Key(7), 0.3, x));
  set_num_threads(2);
  CHECK(values(dropout(Key(7), 0.3, x)) == one);
  CHECK(values(dropout(Key(8), 0.3, x)) != one);
  // A transposed view: the mask follows the logical (row-major) index, not the storage.
  const Tensor xt = transpose(host_uniform(Shape{700, 300}, 3));
  CHECK(values(dropout(Key(7), 0.3, xt)) == values(dropout(Key(7), 0.3, xt.contiguous())));
}

TEST_CASE("dropout: the gradient is g * mask / keep_prob, and grad of grad works") {
  const Shape shape{17, 33};
  const Tensor x = host_uniform(shape, 4);
  const Tensor w = host_uniform(shape, 5);
  const Key key(9);
  const Tensor gx = grad([&](const Tensor& t) { return sum(dropout(key, 0.25, t) * w); }, x);
  const std::vector<std::uint8_t> keep =
      random::bernoulli(key, 0.75, shape).to_vector<std::uint8_t>();
  const std::vector<double> wv = values(w), gv = values(gx);
  for (std::size_t i = 0; i < wv.size(); ++i) CHECK(gv[i] == (keep[i] ? wv[i] / 0.75 : 0.0));
  elegy::testing::check_gradients(
      [&](const std::vector<Tensor>& xs) {
        const Tensor inner =
            grad([&](const Tensor& t) { return sum(square(dropout(key, 0.25, t))); }, xs[0]);
        return sum(inner * w);
      },
      {x});
}

TEST_CASE("dropout: rate 0 returns x, rate 1 zeros, empty inputs stay empty") {
  const Tensor x = host_uniform(Shape{5, 3}, 6);
  CHECK(values(dropout(Key(1), 0.0, x)) == values(x));
  CHECK(values(dropout(Key(1), 1.0, x)) == std::vector<double>(15, 0.0));
  CHECK(values(grad([](const Tensor& t) { return sum(dropout(Key(1), 1.0, t)); }, x)) ==
        std::vector<double>(15, 0.0));
  CHECK(dropout(Key(1), 0.5, zeros(Shape{0, 4})).shape() == Shape{0, 4});
}

TEST_CASE("dropout: errors for a bad rate or input") {
  const Tensor x = zeros(Shape{2, 3});
  CHECK_THROWS_WITH_AS(dropout(Key(1), 1.5, x),
                       doctest::Contains("dropout: rate must be in [0, 1], got 1.5 (for "
                                         "float32[2,3] on cpu)"),
                       elegy::Error);
  CHECK_THROWS_WITH_AS(dropout(Key(1), -0.1, x), doctest::Contains("got -0.1"), elegy::Error);
  CHECK_THROWS_WITH_AS(dropout(Key(1), std::nan(""), x), doctest::Contains("rate must be in"),
                       elegy::Error);
  CHECK_THROWS_WITH_AS(dropout(Key(1), 0.5, zeros(Shape{2}, DType::i32)),
                       doctest::Contains("dropout: expected a float32 or float64 input"),
                       elegy::Error);
  CHECK_THROWS_WITH_AS(dropout(Key(1), 0.5, Tensor()), doctest::Contains("dropout: the input"),
                       elegy::Error);
}

TEST_CASE("RNG kernels read their key from key_words when it is set (a replay's key table)") {
  // A replayed step hands its draws to the RNG kernels through memory (KernelArgs::key_words),
  // so a CUDA graph can hold them; the numbers must be those of the key passed by value.
  const Key key(77);
  const std::uint32_t words[2] = {key.words()[0], key.words()[1]};
  const Tensor x = host_uniform(Shape{1001}, 3).astype(DType::f32);
  for (const kernels::Op op : {kernels::Op::Dropout, kernels::Op::RandomNormal}) {
    CAPTURE(kernels::op_name(op));
    const auto run = [&](bool through_memory) {
      const Tensor out = Tensor::empty(x.shape());
      kernels::KernelArgs args = testing::rng_kernel_args(op, x, out);
      if (through_memory) {
        args.key_words = words;  // and a wrong key by value, which must not be used
        args.key[0] = 1;
        args.key[1] = 2;
      } else {
        args.key[0] = words[0];
        args.key[1] = words[1];
      }
      kernels::run("test", op, DType::f32, args);
      return out.to_vector<float>();
    };
    CHECK(run(true) == run(false));
  }
  CHECK(dropout(key, 0.4, x).to_vector<float>() != dropout(Key(78), 0.4, x).to_vector<float>());
}
