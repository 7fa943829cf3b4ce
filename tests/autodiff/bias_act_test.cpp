// The fused layer epilogues (ops_bias_act.hpp, conv_bias_act in ops_conv.hpp) against the
// unfused ops they replace: the same bits forward, the same gradients (finite differences and
// the unfused path's gradients, to rounding), second derivatives through relu_backward, and the
// modules' `activation` option.
#include <doctest/doctest.h>

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

// |a - b| <= tol * (1 + |b|) elementwise, NaN equal to NaN; tol = 0: the same bits (values).
void check_close(const Tensor& a, const Tensor& b, double tol, const char* what) {
  INFO(what);
  REQUIRE(a.shape() == b.shape());
  REQUIRE(a.dtype() == b.dtype());
  const std::vector<double> va = values(a), vb = values(b);
  std::int64_t differ = 0;
  for (std::size_t i = 0; i < va.size(); ++i)
    differ += !(std::abs(va[i] - vb[i]) <= tol * (1.0 + std::abs(vb[i])) || va[i] == vb[i] ||
                (std::isnan(va[i]) && std::isnan(vb[i])));
  CHECK(differ == 0);
}
void check_same_bits(const Tensor& a, const Tensor& b, const char* what) {
  check_close(a, b, 0.0, what);
}

Tensor weighted_sum(const Tensor& y, std::uint64_t seed) {
  return sum(y * host_uniform(y.shape(), seed).astype(y.dtype()));
}

}  // namespace

TEST_CASE("bias_act equals the unfused add and relu bit for bit") {
  // Lane counts around the SIMD widths (4, 8, 16 lanes) and a tensor over several pool tasks.
  for (DType dt : {DType::f32, DType::f64}) {
    for (const Shape& s : {Shape{7}, Shape{5, 33}, Shape{2, 3, 4, 17}, Shape{300, 256}}) {
      CAPTURE(s);
      CAPTURE(dt);
      const Tensor y = host_uniform(s, 1).astype(dt),
                   b = host_uniform({s[s.size() - 1]}, 2).astype(dt);
      check_same_bits(bias_act(y, b, FusedActivation::relu), relu(y + b), "bias + relu");
      check_same_bits(bias_act(y, b, FusedActivation::none), y + b, "bias only");
      check_same_bits(bias_act(y, Tensor(), FusedActivation::relu), relu(y), "relu only");
    }
  }
  // Strided input, and relu's edge values: -0 and NaN pass as relu passes them, +0 stays.
  const Tensor t = transposed_input({6, 9}, 3);
  const Tensor b = host_uniform({9}, 4);
  check_same_bits(bias_act(t, b, FusedActivation::relu), relu(t + b), "transposed");
  const Tensor edge =
      Tensor::from_vector(std::vector<float>{-0.0f, 0.0f, NAN, -1.0f, 2.0f}, Shape{1, 5});
  const Tensor out = bias_act(edge, Tensor(), FusedActivation::relu);
  check_same_bits(out, relu(edge), "edge values");
  CHECK(std::signbit(values(out)[0]) == std::signbit(values(relu(edge))[0]));
}

TEST_CASE("bias_act gradients match finite differences and the unfused ops") {
  for (FusedActivation act : {FusedActivation::none, FusedActivation::relu}) {
    CAPTURE(int(act));
    // y + b away from relu's kink at 0 by at least 0.05, so the central differences are exact.
    std::vector<double> yv = values(host_uniform({4, 6}, 10));
    for (double& v : yv) v = v < 0 ? v - 0.1 : v + 0.1;
    const Tensor y = Tensor::from_vector(yv, Shape{4, 6});
    const Tensor b = host_uniform({6}, 11, -0.05, 0.05);
    check_gradients(
        [&](const std::vector<Tensor>& v) { return weighted_sum(bias_act(v[0], v[1], act), 12); },
        {y, b});
    // The same gradients as relu(y + b) / (y + b), bit for bit.
    auto fused = [&](const Tree& p) {
      return weighted_sum(bias_act(p["y"].tensor(), p["b"].tensor(), act), 12);
    };
    auto unfused = [&](const Tree& p) {
      const Tensor z = p["y"].tensor() + p["b"].tensor();
      return weighted_sum(act == FusedActivation::relu ? relu(z) : z, 12);
    };
    const Tree params{{"y", host_uniform({5, 7}, 13)}, {"b", host_uniform({7}, 14)}};
    const Tree gf = grad(fused, params), gu = grad(unfused, params);
    check_same_bits(gf["y"].tensor(), gu["y"].tensor(), "dy");
    check_same_bits(gf["b"].tensor(), gu["b"].tensor(), "db");
  }
}

TEST_CASE("second derivatives flow through relu_backward") {
  // d/dy of sum(s * dL/dy) where dL/dy = relu_backward(g(y), out): relu_backward is linear in
  // g, so with g = y * y the second derivative is 2 y s where out > 0, else 0.
  const Tensor y = Tensor::from_vector(std::vector<double>{-1.5, -0.5, 0.25, 0.75, 2.0}, Shape{5});
  const Tensor s = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5}, Shape{5});
  auto inner = [&](const Tensor& v) {
    const Tensor out = bias_act(v, Tensor(), FusedActivation::relu);
    return sum(relu_backward(v * v, out) * s);
  };
  const Tensor got = grad(inner, y);
  CHECK(values(got) == std::vector<double>{0, 0, 2 * 0.25 * 3, 2 * 0.75 * 4, 2 * 2.0 * 5});
  check_gradients([&](const std::vector<Tensor>& v) { return inner(v[0]); }, {y});
  // A gradient penalty through the fused op, against the unfused composition.
  const Tensor b = host_uniform({3}, 20);
  auto penalty = [&](bool fused) {
    return [&, fused](const Tensor& yy) {
      const Tensor g = grad(
          [&](const Tensor& v) {
            const Tensor z = fused ? bias_act(v, b, FusedActivation::relu) : relu(v + b);
            return sum(z * z * z);
          },
          yy);
      return sum(g * g);
    };
  };
  const Tensor y2 = host_uniform({4, 3}, 21);
  check_same_bits(grad(penalty(true), y2), grad(penalty(false), y2), "gradient penalty");
}

TEST_CASE("conv_bias_act equals conv, bias add and relu, on every path and thread count") {
  struct Case {
    const char* name;
    Shape x, w;
    ConvOptions options;
  };
  const std::vector<Case> cases = {
      // several column chunks per thread (5 x 32 x 32 rows)
      {"3x3 same", {5, 32, 32, 16}, {3, 3, 16, 8}, {.padding = {{1, 1}, {1, 1}}}},
      {"1 channel stride 2", {3, 29, 31, 1}, {3, 3, 1, 5}, {.strides = {2, 2}}},
      {"pointwise", {2, 6, 7, 4}, {1, 1, 4, 6}, {}},
      {"groups", {2, 9, 9, 6}, {3, 3, 2, 9}, {.groups = 3}},
  };
  const int saved_threads = num_threads();
  for (const int threads : {1, 3}) {
    set_num_threads(threads);
    for (DType dt : {DType::f32, DType::f64}) {
      for (const Case& c : cases) {
        INFO("case: ", c.name);
        CAPTURE(dt);
        CAPTURE(threads);
        const Tensor x = host_uniform(c.x, 30).astype(dt), w = host_uniform(c.w, 31).astype(dt);
        const Tensor b = host_uniform({c.w[c.w.size() - 1]}, 32).astype(dt);
        const Tensor plain = conv(x, w, c.options);
        check_same_bits(conv_bias_act(x, w, b, c.options, FusedActivation::relu), relu(plain + b),
                        "bias + relu");
        check_same_bits(conv_bias_act(x, w, b, c.options, FusedActivation::none), plain + b,
                        "bias");
        check_same_bits(conv_bias_act(x, w, Tensor(), c.options, FusedActivation::relu),
                        relu(plain), "relu");
        // Gradients of all three operands equal the unfused ones, to rounding: where the
        // direct kernels apply (stride 1, one group) the fused backward sums the filter and
        // bias gradients image by image in one sweep, in its own order.
        auto loss = [&](bool fused) {
          return [&, fused](const Tree& p) {
            const Tensor &xx = p["x"].tensor(), &ww = p["w"].tensor(), &bb = p["b"].tensor();
            const Tensor y = fused ? conv_bias_act(xx, ww, bb, c.options, FusedActivation::relu)
                                   : relu(conv(xx, ww, c.options) + bb);
            return weighted_sum(y, 33);
          };
        };
        const Tree params{{"x", x}, {"w", w}, {"b", b}};
        const Tree gf = grad(loss(true), params), gu = grad(loss(false), params);
        const double tol = dt == DType::f32 ? 2e-6 : 1e-14;
        for (const char* k : {"x", "w", "b"}) check_close(gf[k].tensor(), gu[k].tensor(), tol, k);
      }
    }
  }
  set_num_threads(saved_threads);
  // Finite differences through the fused op (float64, a small case).
  const ConvOptions o{.padding = {{1, 1}, {0, 1}}};
  check_gradients(
      [&](const std::vector<Tensor>& v) {
        return weighted_sum(conv_bias_act(v[0], v[1], v[2], o, FusedActivation::none), 34);
      },
      {host_uniform({2, 5, 4, 3}, 35), host_uniform({3, 2, 3, 4}, 36), host_uniform({4}, 37)});
}

TEST_CASE("bias_act and conv_bias_act reject a bias that does not fit") {
  const Tensor y = zeros({4, 6}, DType::f32);
  CHECK_THROWS_WITH_AS(bias_act(y, zeros({5}, DType::f32)), doctest::Contains("bias_act"), Error);
  CHECK_THROWS_WITH_AS(bias_act(y, zeros({6}, DType::f64)), doctest::Contains("bias float64[6]"),
                       Error);
  CHECK_THROWS_WITH_AS(bias_act(zeros({4, 6}, DType::i32), Tensor()),
                       doctest::Contains("float32 or float64"), Error);
  const Tensor x = zeros({1, 5, 5, 2}, DType::f32), w = zeros({3, 3, 2, 4}, DType::f32);
  CHECK_THROWS_WITH_AS(conv_bias_act(x, w, zeros({3}, DType::f32), {}, FusedActivation::relu),
                       doctest::Contains("conv_bias_act"), Error);
  CHECK_THROWS_WITH_AS(relu_backward(zeros({2}, DType::f32), zeros({3}, DType::f32)),
                       doctest::Contains("relu_backward"), Error);
}

TEST_CASE("Linear and Conv2D with activation = relu equal relu of the plain module") {
  struct Net : nn::Module {
    bool fused;
    explicit Net(bool f) : fused(f) {}
    Tensor call(nn::Context& ctx, const Tensor& x) override {
      const FusedActivation act = fused ? FusedActivation::relu : FusedActivation::none;
      auto maybe_relu = [&](const Tensor& t) { return fused ? t : relu(t); };
      Tensor h = maybe_relu(nn::Conv2D(4, 3, {.activation = act})(ctx, x));
      h = reshape(h, {h.shape(0), -1});
      return maybe_relu(nn::Linear(5, {.activation = act})(ctx, h));
    }
  };
  const Tensor x = host_uniform({2, 6, 6, 3}, 40).astype(DType::f32);
  Model fused_model({.module = nn::AnyModule(Net(true))});
  Model plain_model({.module = nn::AnyModule(Net(false))});
  fused_model.init_on_batch(x);
  plain_model.init_on_batch(x);
  // The same parameters in both (by name), then the same outputs.
  plain_model.set_states(
      plain_model.states().update("net_params", fused_model.states().net_params()));
  check_same_bits(fused_model.predict_on_batch(x).tensor(),
                  plain_model.predict_on_batch(x).tensor(), "module outputs");
}
