// max_pool and avg_pool: forward values against a float64 reference written here (padding as
// -inf / not counted), hand-computed cases (ties, "SAME" averaging at the edges), gradients by
// finite differences (strided, padded, overlapping windows, transposed inputs), second
// derivatives through the backward ops, a multi-threaded CNN-sized case, and argument errors.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/thread_count.hpp"
#include "grad_check.hpp"

using namespace elegy;
using elegy::testing::check_gradients;
using elegy::testing::host_uniform;
using elegy::testing::transposed_input;
using elegy::testing::values;

namespace {

// A float64 reference pooling of dense x [N, *spatial, C] (1 to 3 spatial dims): each output
// visits its window on the padded grid and skips cells outside x. Also returns, per output, the
// flat index of the first maximum (max) and the number of real cells (avg).
struct Reference {
  std::vector<double> y;
  std::vector<std::int64_t> argmax;
  std::vector<double> count;
  Shape shape;
};

Reference reference_pool(const std::vector<double>& x, const Shape& xs, const PoolOptions& o,
                         bool is_max) {
  const int S = xs.size() - 2;
  std::vector<std::int64_t> in(3, 1), win(3, 1), st(3, 1), lo(3, 0), out(3, 1);
  Reference r;
  r.shape = xs;
  for (int d = 0; d < S; ++d) {
    in[d] = xs[d + 1];
    win[d] = o.window[d];
    st[d] = o.strides.empty() ? o.window[d] : o.strides[d];
    const auto pad = o.padding.empty() ? std::pair<std::int64_t, std::int64_t>{0, 0} : o.padding[d];
    lo[d] = pad.first;
    out[d] = (in[d] + pad.first + pad.second - win[d]) / st[d] + 1;
    r.shape[d + 1] = out[d];
  }
  const std::int64_t N = xs[0], C = xs.back();
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t a = 0; a < out[0]; ++a)
      for (std::int64_t b = 0; b < out[1]; ++b)
        for (std::int64_t e = 0; e < out[2]; ++e)
          for (std::int64_t c = 0; c < C; ++c) {
            double best = -std::numeric_limits<double>::infinity(), total = 0, cells = 0;
            std::int64_t at = -1;
            for (std::int64_t i = 0; i < win[0]; ++i)
              for (std::int64_t j = 0; j < win[1]; ++j)
                for (std::int64_t k = 0; k < win[2]; ++k) {
                  const std::int64_t p0 = a * st[0] - lo[0] + i, p1 = b * st[1] - lo[1] + j,
                                     p2 = e * st[2] - lo[2] + k;
                  if (p0 < 0 || p0 >= in[0] || p1 < 0 || p1 >= in[1] || p2 < 0 || p2 >= in[2])
                    continue;
                  const std::int64_t flat = (((n * in[0] + p0) * in[1] + p1) * in[2] + p2) * C + c;
                  const double v = x[std::size_t(flat)];
                  if (at < 0 || v > best) {
                    best = v;
                    at = flat;
                  }
                  total += v;
                  cells += 1;
                }
            r.y.push_back(is_max ? best : total / cells);
            r.argmax.push_back(at);
            r.count.push_back(cells);
          }
  return r;
}

// d sum(pool(x) * w) / dx from the reference: w to the argmax (max) or w / count over the
// window (avg, recomputed by visiting windows again).
std::vector<double> reference_grad(const Reference& r, const std::vector<double>& w,
                                   std::int64_t x_numel) {
  std::vector<double> gx(std::size_t(x_numel), 0.0);
  for (std::size_t i = 0; i < w.size(); ++i) gx[std::size_t(r.argmax[i])] += w[i];
  return gx;
}

void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  REQUIRE(got.size() == want.size());
  std::size_t bad = 0, first = 0;
  for (std::size_t i = 0; i < got.size(); ++i)
    if (!(std::abs(got[i] - want[i]) <= tol * (1 + std::abs(want[i]))) && bad++ == 0) first = i;
  INFO(bad, " of ", got.size(), " differ; first at ", first, ": ", got[first], " vs ", want[first]);
  CHECK(bad == 0);
}

struct Case {
  Shape shape;
  PoolOptions options;
};

std::vector<Case> cases() {
  return {
      {{2, 7, 3}, {{2}, {}, {}}},                           // 1-D, VALID, stride = window
      {{1, 9, 1}, {{3}, {2}, {{1, 2}}}},                    // 1-D, overlapping, padded
      {{2, 5, 6, 3}, {{2, 2}, {}, {}}},                     // 2-D, the CNN's 2x2 pool
      {{1, 7, 5, 17}, {{3, 3}, {2, 1}, {{1, 1}, {0, 2}}}},  // 2-D, odd channels, SAME-like
      {{2, 4, 5, 3, 2}, {{2, 3, 2}, {1, 2, 2}, {{0, 1}, {1, 1}, {1, 0}}}},  // 3-D
      {{3, 1, 1, 16}, {{1, 1}, {}, {}}},                                    // identity window
  };
}

}  // namespace

TEST_CASE("max_pool and avg_pool: forward values match a float64 reference, f32 and f64") {
  int seed = 1;
  for (const Case& c : cases()) {
    CAPTURE(c.shape);
    const Tensor x = host_uniform(c.shape, std::uint64_t(seed++));
    for (bool is_max : {true, false}) {
      const Reference r = reference_pool(values(x), c.shape, c.options, is_max);
      for (DType t : {DType::f64, DType::f32}) {
        const Tensor y =
            is_max ? max_pool(x.astype(t), c.options) : avg_pool(x.astype(t), c.options);
        CHECK(y.shape() == r.shape);
        CHECK(y.dtype() == t);
        check_close(values(y), r.y, t == DType::f64 ? 1e-15 : 1e-6);
      }
    }
  }
}

TEST_CASE("max_pool and avg_pool read strided (transposed) inputs") {
  const Shape shape{3, 5, 4, 6};
  const Tensor xt = transposed_input(shape, 7);
  REQUIRE(!xt.is_contiguous());
  const PoolOptions o{{2, 3}, {1, 1}, {{1, 0}, {1, 1}}};
  for (bool is_max : {true, false}) {
    const Reference r = reference_pool(values(xt), shape, o, is_max);
    check_close(values(is_max ? max_pool(xt, o) : avg_pool(xt, o)), r.y, 1e-15);
  }
}

TEST_CASE("max_pool and avg_pool: hand-computed values, padding never wins and is not counted") {
  // [1, 5, 1]: 1 -2 3 -4 5, window 2, stride 2, padding (1, 0): windows {pad,1} {-2,3} {-4,5}.
  const Tensor x = Tensor::from_vector(std::vector<double>{1, -2, 3, -4, 5}, Shape{1, 5, 1});
  const PoolOptions o{{2}, {2}, {{1, 0}}};
  CHECK(values(max_pool(x, o)) == std::vector<double>{1, 3, 5});
  CHECK(values(avg_pool(x, o)) == std::vector<double>{1, 0.5, 0.5});
  // All-negative windows next to padding: the max is the real value, not a padded 0.
  const Tensor neg = Tensor::from_vector(std::vector<double>{-3, -1}, Shape{1, 2, 1});
  CHECK(values(max_pool(neg, {{2}, {1}, {{1, 1}}})) == std::vector<double>{-3, -1, -1});
  CHECK(values(avg_pool(neg, {{2}, {1}, {{1, 1}}})) == std::vector<double>{-3, -2, -1});
  // 2-D [1, 3, 3, 1] "SAME" 3x3 average: corners average 4 cells, edges 6, the centre 9.
  const Tensor g =
      Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9}, Shape{1, 3, 3, 1});
  CHECK(values(avg_pool(g, {{3, 3}, {1, 1}, {{1, 1}, {1, 1}}})) ==
        std::vector<double>{3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7});
  // Channels pool independently.
  const Tensor ch = Tensor::from_vector(std::vector<double>{1, 10, 4, 20, 3, 30}, Shape{1, 3, 2});
  CHECK(values(max_pool(ch, {{3}})) == std::vector<double>{4, 30});
}

TEST_CASE("max_pool: the gradient goes to the first maximum of each window on ties") {
  // Windows of 2 with stride 1 over 2 2 1 2: maxima at (0|1)->0, (1|2)->1, (2|3)->3.
  const Tensor x = Tensor::from_vector(std::vector<double>{2, 2, 1, 2}, Shape{1, 4, 1});
  const Tensor gx = grad([](const Tensor& t) { return sum(max_pool(t, {{2}, {1}, {}})); }, x);
  CHECK(values(gx) == std::vector<double>{1, 1, 0, 1});
  // 2-D ties in row-major window order: the top-left of four equal values.
  const Tensor flat = ones(Shape{1, 2, 2, 1}, DType::f64);
  CHECK(values(grad(
            [](const Tensor& t) {
              return sum(max_pool(t, {{2, 2}}));
            },
            flat)) == std::vector<double>{1, 0, 0, 0});
}

TEST_CASE("max_pool and avg_pool: gradients by finite differences") {
  int seed = 20;
  for (const Case& c : cases()) {
    CAPTURE(c.shape);
    for (bool is_max : {true, false}) {
      const Shape y_shape = max_pool(zeros(c.shape, DType::f64), c.options).shape();
      const Tensor w = host_uniform(y_shape, std::uint64_t(seed++), 0.5, 1.5);
      auto f = [&](const std::vector<Tensor>& xs) {
        return sum((is_max ? max_pool(xs[0], c.options) : avg_pool(xs[0], c.options)) * w);
      };
      // Distinct values 0.1 apart at least in expectation: finite differences stay on one side
      // of every max's kink.
      check_gradients(f, {host_uniform(c.shape, std::uint64_t(seed++))});
      check_gradients(f, {transposed_input(c.shape, std::uint64_t(seed++))});
    }
  }
}

TEST_CASE("max_pool and avg_pool: second derivatives through the backward ops") {
  // d/dx of grad(sum(pool(x)^2)) exercises the backward ops' own rules (take at the argmax,
  // avg_pool itself).
  const Shape shape{2, 5, 4, 3};
  const PoolOptions o{{2, 2}, {1, 2}, {{1, 0}, {0, 1}}};
  for (bool is_max : {true, false}) {
    const Tensor w = host_uniform(shape, 31, 0.5, 1.5);
    auto f = [&](const std::vector<Tensor>& xs) {
      const Tensor gx = grad(
          [&](const Tensor& t) {
            const Tensor y = is_max ? max_pool(t, o) : avg_pool(t, o);
            return sum(y * y);
          },
          xs[0]);
      return sum(gx * w);
    };
    check_gradients(f, {host_uniform(shape, 32)});
  }
}

TEST_CASE("max_pool and avg_pool: the CNN's [64,28,28,32] 2x2 pool on 1 and 2 threads") {
  elegy::testing::ThreadCountGuard guard;
  const Shape shape{64, 28, 28, 32};
  const Tensor x = host_uniform(shape, 41);
  const PoolOptions o{{2, 2}};
  for (bool is_max : {true, false}) {
    const Reference r = reference_pool(values(x), shape, o, is_max);
    const Tensor w = host_uniform(r.shape, 42);
    std::vector<double> want_grad;
    if (is_max) {
      want_grad = reference_grad(r, values(w), shape.numel());
    } else {
      // Non-overlapping 2x2 windows of 4 real cells: each input gets w / 4 of its window.
      want_grad.resize(std::size_t(shape.numel()));
      const std::vector<double> wv = values(w);
      for (std::int64_t n = 0; n < 64; ++n)
        for (std::int64_t h = 0; h < 28; ++h)
          for (std::int64_t v = 0; v < 28; ++v)
            for (std::int64_t c = 0; c < 32; ++c)
              want_grad[std::size_t(((n * 28 + h) * 28 + v) * 32 + c)] =
                  wv[std::size_t(((n * 14 + h / 2) * 14 + v / 2) * 32 + c)] / 4;
    }
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      for (DType t : {DType::f32, DType::f64}) {
        auto [y, gx] = value_and_grad(
            [&](const Tensor& xi) {
              const Tensor yi = is_max ? max_pool(xi, o) : avg_pool(xi, o);
              return sum(yi * w.astype(t));
            },
            x.astype(t));
        const double tol = t == DType::f64 ? 1e-12 : 1e-5;
        check_close(values(is_max ? max_pool(x.astype(t), o) : avg_pool(x.astype(t), o)), r.y, tol);
        check_close(values(gx), want_grad, tol);
      }
    }
  }
}

TEST_CASE("max_pool and avg_pool: empty batches give empty results") {
  const Tensor x = zeros(Shape{0, 4, 4, 3});
  CHECK(max_pool(x, {{2, 2}}).shape() == Shape{0, 2, 2, 3});
  CHECK(avg_pool(x, {{2, 2}}).shape() == Shape{0, 2, 2, 3});
}

TEST_CASE("max_pool and avg_pool: errors name the op, the shapes and what was expected") {
  const Tensor x = zeros(Shape{2, 4, 4, 3});
  CHECK_THROWS_WITH_AS(max_pool(zeros(Shape{4, 3}), {{2}}),
                       doctest::Contains("max_pool: expected x of shape [N, *spatial, C]"),
                       elegy::Error);
  CHECK_THROWS_WITH_AS(avg_pool(zeros(Shape{4, 3}), {{2}}), doctest::Contains("float32[4,3]"),
                       elegy::Error);
  CHECK_THROWS_WITH_AS(max_pool(zeros(Shape{1, 2, 2, 2, 2, 2}), {{1, 1, 1, 1}}),
                       doctest::Contains("1 to 3 spatial dims"), elegy::Error);
  CHECK_THROWS_WITH_AS(max_pool(x, {{2}}),
                       doctest::Contains("window [2] has 1 entries, expected one per spatial dim"),
                       elegy::Error);
  CHECK_THROWS_WITH_AS(avg_pool(x, {{5, 2}}),
                       doctest::Contains("avg_pool: window [5,2] is larger than the padded input "
                                         "along spatial dim 0 (4 cells) of float32[2,4,4,3]"),
                       elegy::Error);
  CHECK_NOTHROW(avg_pool(x, {{5, 2}, {}, {{1, 0}, {0, 0}}}));
  CHECK_THROWS_WITH_AS(max_pool(x, {{2, 2}, {2, 0}}), doctest::Contains("must be positive"),
                       elegy::Error);
  CHECK_THROWS_WITH_AS(max_pool(x, {{2, 2}, {}, {{2, 0}, {0, 0}}}),
                       doctest::Contains("smaller than the window"), elegy::Error);
  CHECK_THROWS_WITH_AS(max_pool(x, {{2, 2}, {1}}), doctest::Contains("strides [1] has 1 entries"),
                       elegy::Error);
  CHECK_THROWS_WITH_AS(max_pool(zeros(Shape{1, 4, 1}, DType::i32), {{2}}),
                       doctest::Contains("expected a float32 or float64 input"), elegy::Error);
  CHECK_THROWS_WITH_AS(max_pool(Tensor(), {{2}}),
                       doctest::Contains("max_pool: the input is an undefined tensor"),
                       elegy::Error);
}
