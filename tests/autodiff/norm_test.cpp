// moments, normalize, layer_norm and batch_norm_train: forward values against float64
// references computed here, gradients (x, scale, offset, and through batch statistics) by
// finite differences on odd row lengths, broadcast parameters and transposed inputs, grad of
// grad (the composed backward path), the fused kernels against the composed ops on
// CNN/transformer-sized inputs on 1 and 2 threads, and argument errors.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "core/thread_count.hpp"
#include "grad_check.hpp"

using namespace elegy;
using elegy::testing::check_gradients;
using elegy::testing::host_uniform;
using elegy::testing::transposed_input;
using elegy::testing::values;

namespace {

// Float64 statistics of x over `axes` (normalised, any order), in keepdims row-major order.
struct RefMoments {
  std::vector<double> mean, var;
  Shape stat_shape;
};

std::int64_t stat_index(std::int64_t flat, const Shape& shape, const Shape& stat_shape) {
  std::int64_t index = 0, stride = 1;
  for (int d = shape.size() - 1; d >= 0; --d) {
    const std::int64_t coord = flat % shape[d];
    flat /= shape[d];
    if (stat_shape[d] != 1) index += coord * stride;
    stride *= stat_shape[d];
  }
  return index;
}

RefMoments reference_moments(const std::vector<double>& x, const Shape& shape,
                             const std::vector<int>& axes) {
  RefMoments r;
  r.stat_shape = shape;
  for (int a : axes) r.stat_shape[a < 0 ? a + shape.size() : a] = 1;
  const std::size_t groups = std::size_t(r.stat_shape.numel());
  const double count = double(shape.numel()) / double(groups);
  r.mean.assign(groups, 0.0);
  r.var.assign(groups, 0.0);
  for (std::int64_t i = 0; i < shape.numel(); ++i)
    r.mean[std::size_t(stat_index(i, shape, r.stat_shape))] += x[std::size_t(i)] / count;
  for (std::int64_t i = 0; i < shape.numel(); ++i) {
    const std::size_t g = std::size_t(stat_index(i, shape, r.stat_shape));
    r.var[g] += (x[std::size_t(i)] - r.mean[g]) * (x[std::size_t(i)] - r.mean[g]) / count;
  }
  return r;
}

// y = (x - mean) / sqrt(var + eps) * scale + offset with scale/offset given as full x-shaped
// vectors (empty = none).
std::vector<double> reference_norm(const std::vector<double>& x, const Shape& shape,
                                   const std::vector<int>& axes, const std::vector<double>& scale,
                                   const std::vector<double>& offset, double eps) {
  const RefMoments m = reference_moments(x, shape, axes);
  std::vector<double> y(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::size_t g = std::size_t(stat_index(std::int64_t(i), shape, m.stat_shape));
    y[i] = (x[i] - m.mean[g]) / std::sqrt(m.var[g] + eps);
    if (!scale.empty()) y[i] *= scale[i];
    if (!offset.empty()) y[i] += offset[i];
  }
  return y;
}

void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  REQUIRE(got.size() == want.size());
  std::size_t bad = 0, first = 0;
  for (std::size_t i = 0; i < got.size(); ++i)
    if (!(std::abs(got[i] - want[i]) <= tol * (1 + std::abs(want[i]))) && bad++ == 0) first = i;
  INFO(bad, " of ", got.size(), " differ; first at ", first, ": ", got[first], " vs ", want[first]);
  CHECK(bad == 0);
}

std::vector<double> full_values(const Tensor& p, const Shape& shape) {
  return p.defined() ? values(broadcast_to(p, shape)) : std::vector<double>{};
}

// A scalar that weighs every element differently.
Tensor weighted(const Tensor& y, std::uint64_t seed) {
  return sum(y * host_uniform(y.shape(), seed, 0.5, 1.5));
}

struct AxesCase {
  Shape shape;
  std::vector<int> axes;
};

}  // namespace

TEST_CASE("moments: mean and biased variance match float64 references over any axes") {
  const std::vector<AxesCase> cases = {
      {{3, 1}, {-1}},      {{4, 7}, {-1}},  {{2, 17}, {1}},   {{3, 1000}, {-1}},
      {{5, 4, 3}, {0, 1}}, {{6, 5}, {0}},   {{3, 4, 5}, {1}}, {{3, 4, 5}, {0, 2}},
      {{2, 3, 4}, {}},     {{100003}, {0}}, {{1, 1}, {0, 1}},
  };
  int seed = 1;
  for (const AxesCase& c : cases) {
    CAPTURE(c.shape);
    // Values far from 0 with a small spread: a one-pass E[x^2] - E[x]^2 would lose the variance.
    const Tensor x = host_uniform(c.shape, std::uint64_t(seed++), 1000.0, 1001.0);
    std::vector<int> axes = c.axes;
    if (axes.empty())
      for (int i = 0; i < c.shape.size(); ++i) axes.push_back(i);
    const RefMoments r = reference_moments(values(x), c.shape, axes);
    for (DType t : {DType::f64, DType::f32}) {
      const Moments m = moments(x.astype(t), Axes(c.axes));
      CHECK(m.mean.shape() == r.stat_shape);
      CHECK(m.var.shape() == r.stat_shape);
      check_close(values(m.mean), r.mean, t == DType::f64 ? 1e-14 : 1e-6);
      // float32 inputs near 1000 carry 6e-5 of rounding each, so the variance's error is
      // about that over a spread of 1/12.
      check_close(values(m.var), r.var, t == DType::f64 ? 1e-9 : 2e-3);
    }
  }
  // A transposed input.
  const Tensor xt = transposed_input(Shape{4, 6, 3}, 9);
  const RefMoments r = reference_moments(values(xt), Shape{4, 6, 3}, {0, 1});
  const Moments m = moments(xt, {0, 1});
  check_close(values(m.mean), r.mean, 1e-14);
  check_close(values(m.var), r.var, 1e-14);
}

TEST_CASE("moments: gradients flow through the mean and the variance") {
  for (const AxesCase& c : std::vector<AxesCase>{
           {{3, 7}, {-1}}, {{5, 3}, {0}}, {{2, 3, 4}, {0, 2}}, {{2, 3, 4}, {}}, {{3, 1}, {1}}}) {
    CAPTURE(c.shape);
    auto f = [&](const std::vector<Tensor>& xs) {
      const Moments m = moments(xs[0], Axes(c.axes));
      return weighted(m.mean, 1) + weighted(m.var, 2);
    };
    check_gradients(f, {host_uniform(c.shape, 3)});
    check_gradients(f, {transposed_input(c.shape, 4)});
    // Second derivatives: the variance's rule reads the mean with its dependence on x.
    auto g = [&](const std::vector<Tensor>& xs) {
      const Tensor gx =
          grad([&](const Tensor& t) { return weighted(moments(t, Axes(c.axes)).var, 5); }, xs[0]);
      return weighted(gx, 6);
    };
    check_gradients(g, {host_uniform(c.shape, 7)});
  }
}

TEST_CASE("normalize: values and gradients in x, mean, var, scale and offset") {
  const Shape shape{4, 5};
  const Tensor x = host_uniform(shape, 1);
  const Tensor mean = host_uniform(Shape{1, 5}, 2);
  const Tensor var = host_uniform(Shape{1, 5}, 3, 0.5, 2.0);
  const Tensor scale = host_uniform(Shape{5}, 4);
  const Tensor offset = host_uniform(Shape{4, 1}, 5);
  const Tensor y = normalize(x, mean, var, scale, offset, 1e-3);
  const std::vector<double> xv = values(x), mv = full_values(mean, shape),
                            vv = full_values(var, shape), sv = full_values(scale, shape),
                            ov = full_values(offset, shape);
  std::vector<double> want(xv.size());
  for (std::size_t i = 0; i < xv.size(); ++i)
    want[i] = (xv[i] - mv[i]) / std::sqrt(vv[i] + 1e-3) * sv[i] + ov[i];
  check_close(values(y), want, 1e-14);
  check_gradients(
      [](const std::vector<Tensor>& xs) {
        return weighted(normalize(xs[0], xs[1], xs[2], xs[3], xs[4], 1e-3), 6);
      },
      {x, mean, var, scale, offset});
  // Without scale and offset.
  check_gradients(
      [](const std::vector<Tensor>& xs) {
        return weighted(normalize(xs[0], xs[1], xs[2], Tensor(), Tensor(), 1e-3), 7);
      },
      {transposed_input(shape, 8), mean, var});
}

TEST_CASE("normalize: per-channel statistics (the one-pass path) in every argument") {
  // Statistics and parameters that vary only along the last axis, as BatchNorm's inference
  // uses them; a 0-d variance and a [C] scale broadcast as well.
  const Shape shape{3, 2, 7};
  const Tensor mean = host_uniform(Shape{1, 1, 7}, 11);
  const Tensor var = host_uniform(Shape{}, 12, 0.5, 2.0);
  const Tensor scale = host_uniform(Shape{7}, 13);
  const Tensor offset = host_uniform(Shape{1, 7}, 14);
  for (const Tensor& x : {host_uniform(shape, 15), transposed_input(shape, 16)}) {
    const std::vector<double> xv = values(x), mv = full_values(mean, shape),
                              vv = full_values(var, shape), sv = full_values(scale, shape),
                              ov = full_values(offset, shape);
    std::vector<double> want(xv.size());
    for (std::size_t i = 0; i < xv.size(); ++i)
      want[i] = (xv[i] - mv[i]) / std::sqrt(vv[i] + 1e-3) * sv[i] + ov[i];
    check_close(values(normalize(x, mean, var, scale, offset, 1e-3)), want, 1e-14);
    check_close(
        values(normalize(x.astype(DType::f32), mean.astype(DType::f32), var.astype(DType::f32),
                         scale.astype(DType::f32), offset.astype(DType::f32), 1e-3)),
        want, 1e-5);
    check_gradients(
        [](const std::vector<Tensor>& xs) {
          return weighted(normalize(xs[0], xs[1], xs[2], xs[3], xs[4], 1e-3), 17);
        },
        {x, mean, var, scale, offset});
  }
}

TEST_CASE("layer_norm: forward values on odd row lengths, f32 and f64, any parameters") {
  int seed = 10;
  for (std::int64_t K : {1, 7, 16, 17, 1000}) {
    CAPTURE(K);
    const Shape shape{5, K};
    const Tensor x = host_uniform(shape, std::uint64_t(seed++), -3.0, 5.0);
    const Tensor scale = host_uniform(Shape{K}, std::uint64_t(seed++));
    const Tensor offset = host_uniform(Shape{1, K}, std::uint64_t(seed++));
    for (DType t : {DType::f64, DType::f32}) {
      const double tol = t == DType::f64 ? 1e-12 : 2e-5;
      const Tensor xt = x.astype(t), st = scale.astype(t), ot = offset.astype(t);
      check_close(values(layer_norm(xt, -1, st, ot)),
                  reference_norm(values(xt), shape, {-1}, full_values(st, shape),
                                 full_values(ot, shape), 1e-5),
                  tol);
      check_close(values(layer_norm(xt, -1, Tensor(), Tensor(), 0.1)),
                  reference_norm(values(xt), shape, {-1}, {}, {}, 0.1), tol);
      check_close(values(layer_norm(xt, -1, st, Tensor())),
                  reference_norm(values(xt), shape, {-1}, full_values(st, shape), {}, 1e-5), tol);
    }
  }
  // Two trailing axes, a transposed input, a scalar-like [1] scale.
  const Shape shape{3, 4, 5};
  const Tensor xt = transposed_input(shape, 20);
  const Tensor s1 = host_uniform(Shape{1}, 21);
  check_close(values(layer_norm(xt, {1, 2}, s1, Tensor())),
              reference_norm(values(xt), shape, {1, 2}, full_values(s1, shape), {}, 1e-5), 1e-12);
  // Statistics over a leading axis (transposed into rows by the op).
  const Tensor s0 = host_uniform(Shape{3, 1, 1}, 22);
  check_close(
      values(layer_norm(xt, 0, s0, s0)),
      reference_norm(values(xt), shape, {0}, full_values(s0, shape), full_values(s0, shape), 1e-5),
      1e-12);
  // A scale varying across rows takes the composed path: same values.
  const Tensor srow = host_uniform(Shape{3, 4, 1}, 23);
  check_close(values(layer_norm(xt, -1, srow, Tensor())),
              reference_norm(values(xt), shape, {-1}, full_values(srow, shape), {}, 1e-5), 1e-12);
}

TEST_CASE("layer_norm: gradients in x, scale and offset by finite differences") {
  int seed = 30;
  for (std::int64_t K : {1, 7, 17}) {
    CAPTURE(K);
    const Shape shape{3, K};
    auto f = [&](const std::vector<Tensor>& xs) {
      return weighted(layer_norm(xs[0], -1, xs[1], xs[2], 1e-3), 99);
    };
    check_gradients(f, {host_uniform(shape, std::uint64_t(seed++)),
                        host_uniform(Shape{K}, std::uint64_t(seed++)),
                        host_uniform(Shape{1, K}, std::uint64_t(seed++))});
    check_gradients(f, {transposed_input(shape, std::uint64_t(seed++)),
                        host_uniform(Shape{1}, std::uint64_t(seed++)),
                        host_uniform(Shape{K}, std::uint64_t(seed++))});
  }
  // A row of 1000: x only (each element's finite difference re-runs the whole op).
  check_gradients(
      [](const std::vector<Tensor>& xs) {
        return weighted(layer_norm(xs[0], -1, Tensor(), Tensor()), 98);
      },
      {host_uniform(Shape{1, 1000}, 40)});
  // Several trailing axes, a leading axis, no parameters, parameters varying across rows.
  const Shape shape{2, 3, 4};
  check_gradients(
      [](const std::vector<Tensor>& xs) {
        return weighted(layer_norm(xs[0], {1, 2}, xs[1], Tensor()), 97);
      },
      {host_uniform(shape, 41), host_uniform(Shape{3, 1}, 42)});
  check_gradients(
      [](const std::vector<Tensor>& xs) {
        return weighted(layer_norm(xs[0], 0, Tensor(), xs[1]), 96);
      },
      {transposed_input(shape, 43), host_uniform(Shape{1, 3, 4}, 44)});
  check_gradients(
      [](const std::vector<Tensor>& xs) {
        return weighted(layer_norm(xs[0], -1, xs[1], xs[2]), 95);
      },
      {host_uniform(shape, 45), host_uniform(Shape{3, 1}, 46), host_uniform(Shape{3, 4}, 47)});
}

TEST_CASE("layer_norm and batch_norm_train: second derivatives (the composed backward)") {
  const Shape shape{4, 3, 5};
  const Tensor scale = host_uniform(Shape{5}, 50);
  for (bool layer : {true, false}) {
    CAPTURE(layer);
    auto f = [&](const std::vector<Tensor>& xs) {
      const Tensor gx = grad(
          [&](const Tensor& t) {
            const Tensor y = layer ? layer_norm(t, -1, xs[1], Tensor(), 1e-2)
                                   : batch_norm_train(t, {0, 1}, xs[1], Tensor(), 1e-2).y;
            return weighted(y * y * y, 51);
          },
          xs[0]);
      return weighted(gx, 52);
    };
    check_gradients(f, {host_uniform(shape, 53), scale}, 1e-6, 1e-5, 1e-4);
  }
}

TEST_CASE("batch_norm_train: values and batch statistics, channels last and first") {
  const std::vector<AxesCase> cases = {
      {{4, 3, 5, 7}, {0, 1, 2}}, {{9, 17}, {0}}, {{1, 1}, {0}}, {{3, 4, 2, 2}, {0, 2, 3}}};
  int seed = 60;
  for (const AxesCase& c : cases) {
    CAPTURE(c.shape);
    Shape pshape = c.shape;
    for (int a : c.axes) pshape[a] = 1;
    const Tensor x = host_uniform(c.shape, std::uint64_t(seed++), -2.0, 4.0);
    const Tensor scale = host_uniform(pshape, std::uint64_t(seed++));
    const Tensor offset = host_uniform(pshape, std::uint64_t(seed++));
    const RefMoments r = reference_moments(values(x), c.shape, c.axes);
    for (DType t : {DType::f64, DType::f32}) {
      const double tol = t == DType::f64 ? 1e-12 : 2e-5;
      const BatchNormResult bn =
          batch_norm_train(x.astype(t), Axes(c.axes), scale.astype(t), offset.astype(t), 1e-3);
      CHECK(bn.mean.shape() == pshape);
      CHECK(bn.var.shape() == pshape);
      check_close(values(bn.mean), r.mean, tol);
      check_close(values(bn.var), r.var, tol);
      check_close(values(bn.y),
                  reference_norm(values(x.astype(t)), c.shape, c.axes,
                                 full_values(scale.astype(t), c.shape),
                                 full_values(offset.astype(t), c.shape), 1e-3),
                  tol * 10);
    }
  }
}

TEST_CASE("batch_norm_train: gradients in x, scale and offset, also through mean and var") {
  const std::vector<AxesCase> cases = {
      {{3, 2, 2, 5}, {0, 1, 2}}, {{7, 3}, {0}}, {{2, 3, 2}, {0, 2}}, {{5, 1}, {0}}};
  int seed = 70;
  for (const AxesCase& c : cases) {
    CAPTURE(c.shape);
    Shape pshape = c.shape;
    for (int a : c.axes) pshape[a] = 1;
    auto f = [&](const std::vector<Tensor>& xs) {
      const BatchNormResult bn = batch_norm_train(xs[0], Axes(c.axes), xs[1], xs[2], 1e-3);
      return weighted(bn.y, 1) + weighted(bn.mean, 2) + weighted(bn.var, 3);
    };
    check_gradients(f, {host_uniform(c.shape, std::uint64_t(seed++)),
                        host_uniform(pshape, std::uint64_t(seed++)),
                        host_uniform(pshape, std::uint64_t(seed++))});
    // Transposed x, [C]-shaped (rank-reduced) parameters when the channels are last.
    Shape last{pshape[pshape.size() - 1]};
    const bool channels_last = c.axes.back() != c.shape.size() - 1;
    check_gradients(f, {transposed_input(c.shape, std::uint64_t(seed++)),
                        host_uniform(channels_last ? last : pshape, std::uint64_t(seed++)),
                        Tensor(host_uniform(pshape, std::uint64_t(seed++)))});
  }
  // Without parameters, and with a scale that varies along a reduced axis (composed path).
  check_gradients(
      [](const std::vector<Tensor>& xs) {
        return weighted(batch_norm_train(xs[0], 0, Tensor(), Tensor()).y, 4);
      },
      {host_uniform(Shape{6, 4}, 80)});
  check_gradients(
      [](const std::vector<Tensor>& xs) {
        return weighted(batch_norm_train(xs[0], 0, xs[1], Tensor()).y, 5);
      },
      {host_uniform(Shape{6, 4}, 81), host_uniform(Shape{6, 1}, 82)});
}

TEST_CASE(
    "layer_norm and batch_norm_train: fused kernels match the composed ops at size, 1 and 2 "
    "threads") {
  elegy::testing::ThreadCountGuard guard;
  struct Big {
    bool layer;
    Shape shape;
    Axes axes;
    Shape pshape;
  };
  const std::vector<Big> bigs = {{true, {512, 512}, -1, {512}},
                                 {false, {64, 28, 28, 32}, {0, 1, 2}, {32}}};
  for (const Big& b : bigs) {
    CAPTURE(b.shape);
    const Tensor x = host_uniform(b.shape, 90, -1.0, 3.0);
    const Tensor w = host_uniform(b.shape, 91);
    const Tensor scale = host_uniform(b.pshape, 92), offset = host_uniform(b.pshape, 93);
    // The composed form: moments + normalize, each op with its own rule.
    auto composed = [&](const Tree& p) {
      const Moments m = moments(p[0].tensor(), b.axes);
      return sum(normalize(p[0].tensor(), m.mean, m.var, p[1].tensor(), p[2].tensor(), 1e-5) * w);
    };
    auto fused = [&](const Tree& p) {
      const Tensor y =
          b.layer ? layer_norm(p[0].tensor(), b.axes, p[1].tensor(), p[2].tensor())
                  : batch_norm_train(p[0].tensor(), b.axes, p[1].tensor(), p[2].tensor()).y;
      return sum(y * w);
    };
    for (DType t : {DType::f64, DType::f32}) {
      const Tree params =
          Tree::from_list({Tree(x.astype(t)), Tree(scale.astype(t)), Tree(offset.astype(t))});
      const auto [want_value, want] = value_and_grad(composed, params);
      std::vector<std::vector<double>> first;
      for (int threads : {1, 2}) {
        set_num_threads(threads);
        const auto [value, got] = value_and_grad(fused, params);
        const double tol = t == DType::f64 ? 1e-10 : 2e-4;
        CHECK(value.item<double>() == doctest::Approx(want_value.item<double>()).epsilon(tol));
        for (int k = 0; k < 3; ++k) {
          check_close(values(got[k].tensor()), values(want[k].tensor()), tol);
          if (threads == 1)
            first.push_back(values(got[k].tensor()));
          else
            CHECK(values(got[k].tensor()) == first[std::size_t(k)]);  // bitwise equal
        }
      }
    }
  }
}

TEST_CASE("normalisation: errors name the op, the shapes and what was expected") {
  const Tensor x = zeros(Shape{4, 5});
  CHECK_THROWS_WITH_AS(layer_norm(x, -1, zeros(Shape{4}), Tensor()),
                       doctest::Contains("layer_norm: scale float32[4] on cpu does not broadcast "
                                         "to the shape of x float32[4,5] on cpu"),
                       elegy::Error);
  CHECK_THROWS_WITH_AS(batch_norm_train(x, 0, Tensor(), zeros(Shape{2, 4, 5})),
                       doctest::Contains("batch_norm_train: offset float32[2,4,5]"), elegy::Error);
  CHECK_THROWS_WITH_AS(normalize(x, zeros(Shape{3}), ones(Shape{5}), Tensor(), Tensor(), 1e-5),
                       doctest::Contains("normalize: mean float32[3]"), elegy::Error);
  CHECK_THROWS_WITH_AS(layer_norm(x, -1, zeros(Shape{5}, DType::f64), Tensor()),
                       doctest::Contains("different dtypes"), elegy::Error);
  CHECK_THROWS_WITH_AS(moments(x, 2), doctest::Contains("moments"), elegy::Error);
  CHECK_THROWS_WITH_AS(moments(x, {1, -1}), doctest::Contains("repeated"), elegy::Error);
  CHECK_THROWS_WITH_AS(moments(zeros(Shape{3}, DType::i32), 0),
                       doctest::Contains("moments: expected a float32 or float64 input"),
                       elegy::Error);
  CHECK_THROWS_WITH_AS(layer_norm(Tensor(), -1, Tensor(), Tensor()),
                       doctest::Contains("layer_norm: the input is an undefined tensor"),
                       elegy::Error);
}
