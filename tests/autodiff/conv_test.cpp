// conv, conv_transpose, conv_backward_input / _filter and the padding helpers: forward values
// against direct float64 loops written here (1-D, 2-D and 3-D; strides, asymmetric and negative
// padding, dilation, groups up to depthwise; strided inputs; sizes that need several column
// chunks and several threads), gradients against finite differences (first and second order),
// conv_transpose against a lax.conv_transpose-style reference, and the error messages.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <elegy/elegy.hpp>
#include <elegy/kernels/conv_algorithm.hpp>

#include "grad_check.hpp"

using namespace elegy;
using elegy::testing::check_gradients;
using elegy::testing::host_uniform;
using elegy::testing::transposed_input;
using elegy::testing::values;

namespace {

using Pads = std::vector<std::pair<std::int64_t, std::int64_t>>;

// A conv problem with its spatial dims right-aligned into 3 slots (unused: size 1, no padding).
struct Problem {
  std::int64_t n = 0, cin = 0, cout = 0, groups = 1;
  std::int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, dil[3] = {1, 1, 1};
  std::int64_t lo[3] = {0, 0, 0}, hi[3] = {0, 0, 0}, out[3] = {1, 1, 1};

  std::int64_t x_at(std::int64_t b, const std::int64_t (&p)[3], std::int64_t c) const {
    return (((b * in[0] + p[0]) * in[1] + p[1]) * in[2] + p[2]) * cin + c;
  }
  std::int64_t y_at(std::int64_t b, const std::int64_t (&p)[3], std::int64_t c) const {
    return (((b * out[0] + p[0]) * out[1] + p[1]) * out[2] + p[2]) * cout + c;
  }
  std::int64_t w_at(const std::int64_t (&t)[3], std::int64_t ci, std::int64_t co) const {
    return (((t[0] * k[1] + t[1]) * k[2] + t[2]) * (cin / groups) + ci) * cout + co;
  }
};

// x [N, *in, C_in] with a kernel [*k, C_in/groups, C_out]: out sizes from the textbook formula.
Problem problem(const Shape& x, const Shape& w, const ConvOptions& o) {
  Problem p;
  const int dims = x.size() - 2, skip = 3 - dims;
  p.n = x[0];
  p.cin = x[x.size() - 1];
  p.cout = w[w.size() - 1];
  p.groups = o.groups;
  for (int i = 0; i < dims; ++i) {
    const int d = skip + i;
    p.in[d] = x[1 + i];
    p.k[d] = w[i];
    if (!o.strides.empty()) p.s[d] = o.strides[std::size_t(i)];
    if (!o.dilation.empty()) p.dil[d] = o.dilation[std::size_t(i)];
    if (!o.padding.empty()) {
      p.lo[d] = o.padding[std::size_t(i)].first;
      p.hi[d] = o.padding[std::size_t(i)].second;
    }
    p.out[d] = (p.in[d] + p.lo[d] + p.hi[d] - (p.k[d] - 1) * p.dil[d] - 1) / p.s[d] + 1;
  }
  return p;
}

Shape out_shape(const Problem& p, int dims) {
  Shape s{p.n};
  for (int d = 3 - dims; d < 3; ++d) s.push_back(p.out[d]);
  s.push_back(p.cout);
  return s;
}

// Calls f(o, t, input position, inside) for every output position o and tap t.
template <class F>
void for_each_tap(const Problem& p, F f) {
  std::int64_t o[3], t[3], i[3];
  for (o[0] = 0; o[0] < p.out[0]; ++o[0])
    for (o[1] = 0; o[1] < p.out[1]; ++o[1])
      for (o[2] = 0; o[2] < p.out[2]; ++o[2])
        for (t[0] = 0; t[0] < p.k[0]; ++t[0])
          for (t[1] = 0; t[1] < p.k[1]; ++t[1])
            for (t[2] = 0; t[2] < p.k[2]; ++t[2]) {
              bool inside = true;
              for (int d = 0; d < 3; ++d) {
                i[d] = o[d] * p.s[d] + t[d] * p.dil[d] - p.lo[d];
                inside = inside && i[d] >= 0 && i[d] < p.in[d];
              }
              if (inside) f(o, t, i);
            }
}

// out[n, o, co] = sum_{t, ci} x[n, o*s + t*dil - lo, group(co)*Cg + ci] * w[t, ci, co].
std::vector<double> reference_conv(const std::vector<double>& x, const std::vector<double>& w,
                                   const Problem& p) {
  std::vector<double> y(std::size_t(p.n * p.out[0] * p.out[1] * p.out[2] * p.cout), 0.0);
  const std::int64_t cg = p.cin / p.groups, cog = p.cout / p.groups;
  for (std::int64_t b = 0; b < p.n; ++b)
    for_each_tap(p, [&](const auto& o, const auto& t, const auto& i) {
      for (std::int64_t co = 0; co < p.cout; ++co)
        for (std::int64_t ci = 0; ci < cg; ++ci)
          y[std::size_t(p.y_at(b, o, co))] += x[std::size_t(p.x_at(b, i, (co / cog) * cg + ci))] *
                                              w[std::size_t(p.w_at(t, ci, co))];
    });
  return y;
}

// The adjoint in x: dx[n, i, c] = sum of gy[n, o, co] * w[t, ci, co] over the (o, t) reading i.
std::vector<double> reference_input_grad(const std::vector<double>& gy,
                                         const std::vector<double>& w, const Problem& p) {
  std::vector<double> dx(std::size_t(p.n * p.in[0] * p.in[1] * p.in[2] * p.cin), 0.0);
  const std::int64_t cg = p.cin / p.groups, cog = p.cout / p.groups;
  for (std::int64_t b = 0; b < p.n; ++b)
    for_each_tap(p, [&](const auto& o, const auto& t, const auto& i) {
      for (std::int64_t co = 0; co < p.cout; ++co)
        for (std::int64_t ci = 0; ci < cg; ++ci)
          dx[std::size_t(p.x_at(b, i, (co / cog) * cg + ci))] +=
              gy[std::size_t(p.y_at(b, o, co))] * w[std::size_t(p.w_at(t, ci, co))];
    });
  return dx;
}

// The adjoint in w: dw[t, ci, co] = sum over n, o of x[n, o*s + t*dil - lo, ...] * gy[n, o, co].
std::vector<double> reference_filter_grad(const std::vector<double>& x,
                                          const std::vector<double>& gy, const Problem& p) {
  const std::int64_t cg = p.cin / p.groups, cog = p.cout / p.groups;
  std::vector<double> dw(std::size_t(p.k[0] * p.k[1] * p.k[2] * cg * p.cout), 0.0);
  for (std::int64_t b = 0; b < p.n; ++b)
    for_each_tap(p, [&](const auto& o, const auto& t, const auto& i) {
      for (std::int64_t co = 0; co < p.cout; ++co)
        for (std::int64_t ci = 0; ci < cg; ++ci)
          dw[std::size_t(p.w_at(t, ci, co))] += x[std::size_t(p.x_at(b, i, (co / cog) * cg + ci))] *
                                                gy[std::size_t(p.y_at(b, o, co))];
    });
  return dw;
}

void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol,
                 const std::string& what) {
  REQUIRE(got.size() == want.size());
  std::size_t bad = 0, first = 0;
  for (std::size_t i = 0; i < got.size(); ++i)
    if (!(std::abs(got[i] - want[i]) <= tol * (1.0 + std::abs(want[i])))) {
      if (bad++ == 0) first = i;
    }
  INFO(what, ": ", bad, " of ", got.size(), " differ; first at ", first, ": got ",
       bad ? got[first] : 0.0, ", want ", bad ? want[first] : 0.0);
  CHECK(bad == 0);
}

struct Case {
  const char* name;
  Shape x, w;
  ConvOptions options;
};

// The forward / gradient matrix: 1-D and 2-D (and one 3-D), strides 1 and 2, padding none /
// SAME-like / asymmetric / negative, dilation 2, groups 1, 2 and depthwise, odd sizes, batch 1
// and 3.
std::vector<Case> cases() {
  return {
      {"1d valid", {3, 7, 2}, {3, 2, 3}, {}},
      {"1d stride 2 same", {1, 9, 3}, {3, 3, 2}, {.strides = {2}, .padding = {{1, 1}}}},
      {"1d dilation 2 asym", {3, 8, 2}, {3, 2, 2}, {.padding = {{3, 1}}, .dilation = {2}}},
      {"1d groups 2", {3, 6, 4}, {2, 2, 6}, {.padding = {{0, 1}}, .groups = 2}},
      {"2d valid", {3, 5, 6, 3}, {3, 2, 3, 4}, {}},
      {"2d same stride 1", {1, 5, 5, 2}, {3, 3, 2, 3}, {.padding = {{1, 1}, {1, 1}}}},
      {"2d stride 2 asym",
       {3, 7, 6, 2},
       {3, 3, 2, 3},
       {.strides = {2, 2}, .padding = {{0, 1}, {2, 0}}}},
      {"2d stride (1,2) dilation 2",
       {1, 7, 9, 2},
       {2, 3, 2, 2},
       {.strides = {1, 2}, .padding = {{1, 1}, {2, 2}}, .dilation = {2, 2}}},
      {"2d groups 2", {3, 5, 5, 4}, {3, 3, 2, 6}, {.padding = {{1, 1}, {1, 1}}, .groups = 2}},
      {"2d depthwise",
       {3, 6, 5, 3},
       {3, 3, 1, 6},
       {.strides = {2, 1}, .padding = {{1, 1}, {1, 1}}, .groups = 3}},
      {"2d negative padding", {1, 8, 7, 2}, {2, 2, 2, 2}, {.padding = {{-1, 0}, {1, -2}}}},
      {"2d 1x1", {3, 4, 5, 3}, {1, 1, 3, 4}, {}},
      {"2d 1x1 stride 2", {1, 5, 5, 2}, {1, 1, 2, 3}, {.strides = {2, 2}}},
      {"2d 1x1 groups 3", {3, 4, 5, 6}, {1, 1, 2, 3}, {.groups = 3}},
      {"3d",
       {1, 4, 5, 3, 2},
       {2, 3, 2, 2, 2},
       {.strides = {1, 2, 1}, .padding = {{1, 0}, {1, 1}, {0, 1}}}},
  };
}

// Random fixed weights for the scalar the gradient checks differentiate: sum(r * f(...)).
Tensor weighted_sum(const Tensor& y, std::uint64_t seed) {
  return sum(y * host_uniform(y.shape(), seed));
}

}  // namespace

TEST_CASE("conv matches a direct float64 loop in float64 and float32") {
  std::uint64_t seed = 1;
  for (const Case& c : cases()) {
    INFO("case: ", c.name);
    const Tensor x = host_uniform(c.x, seed++), w = host_uniform(c.w, seed++);
    const Problem p = problem(c.x, c.w, c.options);
    const std::vector<double> want = reference_conv(values(x), values(w), p);
    const Tensor y = conv(x, w, c.options);
    REQUIRE(y.shape() == out_shape(p, c.x.size() - 2));
    CHECK(y.dtype() == DType::f64);
    check_close(values(y), want, 1e-13, "float64");
    const Tensor y32 = conv(x.astype(DType::f32), w.astype(DType::f32), c.options);
    CHECK(y32.dtype() == DType::f32);
    check_close(values(y32), want, 1e-5, "float32");
  }
}

TEST_CASE("conv backward passes match direct loops, on strided operands too") {
  std::uint64_t seed = 100;
  for (const Case& c : cases()) {
    INFO("case: ", c.name);
    const int dims = c.x.size() - 2;
    const Problem p = problem(c.x, c.w, c.options);
    const Shape ys = out_shape(p, dims);
    // Transposed (non-contiguous) views as inputs.
    const Tensor x = transposed_input(c.x, seed++), w = transposed_input(c.w, seed++);
    const Tensor gy = transposed_input(ys, seed++);
    check_close(values(conv(x, w, c.options)), reference_conv(values(x), values(w), p), 1e-13,
                "conv");
    const std::vector<std::int64_t> xs(c.x.begin() + 1, c.x.end() - 1);
    const std::vector<std::int64_t> ks(c.w.begin(), c.w.end() - 2);
    const Tensor dx = conv_backward_input(gy, w, xs, c.options);
    REQUIRE(dx.shape() == c.x);
    check_close(values(dx), reference_input_grad(values(gy), values(w), p), 1e-13, "input");
    const Tensor dw = conv_backward_filter(x, gy, ks, c.options);
    REQUIRE(dw.shape() == c.w);
    check_close(values(dw), reference_filter_grad(values(x), values(gy), p), 1e-13, "filter");
  }
}

TEST_CASE("conv with few channels over several chunks that start mid-line") {
  // 1 channel (the first layer of an image model) and depthwise 3x3: chunks of the column
  // buffer (768 rows) end inside an output line.
  const std::vector<Case> big = {
      {"1 channel", {4, 64, 61, 1}, {3, 3, 1, 8}, {.padding = {{1, 1}, {1, 1}}}},
      {"depthwise stride 2",
       {3, 100, 67, 6},
       {3, 3, 1, 6},
       {.strides = {2, 2}, .padding = {{1, 1}, {0, 1}}, .groups = 6}},
  };
  std::uint64_t seed = 70;
  for (const Case& c : big) {
    INFO("case: ", c.name);
    const Tensor x = host_uniform(c.x, seed++), w = host_uniform(c.w, seed++);
    const Problem p = problem(c.x, c.w, c.options);
    const Tensor gy = host_uniform(out_shape(p, 2), seed++);
    const std::vector<double> xv = values(x), wv = values(w), gv = values(gy);
    check_close(values(conv(x, w, c.options)), reference_conv(xv, wv, p), 1e-12, "forward");
    check_close(values(conv(x.astype(DType::f32), w.astype(DType::f32), c.options)),
                reference_conv(xv, wv, p), 1e-5, "forward f32");
    const std::vector<std::int64_t> in{c.x[1], c.x[2]}, k{c.w[0], c.w[1]};
    check_close(values(conv_backward_input(gy, w, in, c.options)), reference_input_grad(gv, wv, p),
                1e-12, "input grad");
    check_close(values(conv_backward_filter(x, gy, k, c.options)), reference_filter_grad(xv, gv, p),
                1e-11, "filter grad");
  }
}

TEST_CASE("conv on sizes that take several column chunks and threads") {
  // 5 images of 32x32x16 with a 3x3 kernel: 5120 rows of 144 columns, more than one column
  // buffer (768 rows) per thread for every pass, and rows cut into one part per pool thread
  // (filter grad sums the parts' partial products). 1, 2 and 3 threads give the same result.
  const ConvOptions o{.strides = {1, 1}, .padding = {{1, 1}, {1, 1}}};
  const Shape xs{5, 32, 32, 16}, ws{3, 3, 16, 8};
  const Tensor x = host_uniform(xs, 7), w = host_uniform(ws, 8);
  const Problem p = problem(xs, ws, o);
  const Tensor gy = host_uniform(out_shape(p, 2), 9);
  const std::vector<double> xv = values(x), wv = values(w), gv = values(gy);
  const int saved_threads = num_threads();
  for (const int threads : {1, 2, 3}) {
    CAPTURE(threads);
    set_num_threads(threads);
    check_close(values(conv(x, w, o)), reference_conv(xv, wv, p), 1e-12, "forward f64");
    check_close(values(conv(x.astype(DType::f32), w.astype(DType::f32), o)),
                reference_conv(xv, wv, p), 1e-5, "forward f32");
    const std::vector<std::int64_t> in{32, 32}, k{3, 3};
    check_close(values(conv_backward_input(gy, w, in, o)), reference_input_grad(gv, wv, p), 1e-12,
                "input grad");
    check_close(values(conv_backward_filter(x, gy, k, o)), reference_filter_grad(xv, gv, p), 1e-11,
                "filter grad");
    check_close(values(conv_backward_filter(x.astype(DType::f32), gy.astype(DType::f32), k, o)),
                reference_filter_grad(xv, gv, p), 1e-4, "filter grad f32");
  }
  set_num_threads(saved_threads);
}

TEST_CASE("conv's direct stride-1 path: channel blocks, tile widths, row bands, threads") {
  // Stride-1, one-group convs run without im2col on the CPU (kernels/cpu/conv_direct*.cpp):
  // register tiles of up to 12 positions of a row x 2 vectors of output channels, the last
  // block of channels partial, batches smaller than the thread count cut into bands of rows.
  // The cases cover whole and partial channel blocks (32, 33, 45, 64), rows of 1 to 30
  // positions (one tile, equal tiles, a narrower last tile), 1 to 32 input channels (the input
  // gradient goes direct only with 32 or more), dilation, asymmetric padding, 1-D, a strided
  // input, and 1 and 2 threads.
  const std::vector<Case> direct = {
      {"1 image, 3 -> 45, width 30", {1, 9, 30, 3}, {3, 3, 3, 45}, {.padding = {{1, 1}, {1, 1}}}},
      {"45 -> 64, width 13", {3, 6, 13, 45}, {3, 3, 45, 64}, {.padding = {{1, 1}, {1, 1}}}},
      {"1 -> 33, dilation (1,2)",
       {2, 5, 14, 1},
       {5, 3, 1, 33},
       {.padding = {{2, 1}, {2, 2}}, .dilation = {1, 2}}},
      {"1-D 5 -> 32", {3, 40, 5}, {3, 5, 32}, {.padding = {{0, 2}}}},
      {"width 1", {4, 7, 1, 32}, {3, 1, 32, 32}, {.padding = {{1, 1}, {0, 0}}}},
      // 3-D with a depth-1 input and kernel: direct only without depth padding (found in
      // review: padding on depth once went direct and came out wrong).
      {"3-D, depth 1, no depth padding",
       {2, 1, 5, 6, 3},
       {1, 3, 3, 3, 32},
       {.padding = {{0, 0}, {1, 1}, {1, 1}}}},
      {"3-D, depth 1, depth padding (im2col)",
       {2, 1, 5, 6, 2},
       {1, 3, 3, 2, 32},
       {.padding = {{1, 1}, {1, 1}, {1, 1}}}},
      {"3-D, depth 1, depth crop (im2col)",
       {1, 1, 4, 5, 32},
       {1, 3, 3, 32, 32},
       {.padding = {{1, -1}, {1, 1}, {1, 1}}}},
  };
  const int saved_threads = num_threads();
  const bool saved_winograd = conv_winograd();
  set_conv_winograd(false);  // the direct float32 sums (the Winograd test case covers the rest)
  std::uint64_t seed = 300;
  for (const Case& c : direct) {
    INFO("case: ", c.name);
    const int dims = c.x.size() - 2;
    const Problem p = problem(c.x, c.w, c.options);
    const Tensor x = transposed_input(c.x, seed++), w = host_uniform(c.w, seed++);
    const Tensor gy = host_uniform(out_shape(p, dims), seed++);
    const std::vector<double> xv = values(x), wv = values(w), gv = values(gy);
    const std::vector<std::int64_t> in(c.x.begin() + 1, c.x.end() - 1);
    const std::vector<std::int64_t> k(c.w.begin(), c.w.end() - 2);
    for (const int threads : {1, 2}) {
      CAPTURE(threads);
      set_num_threads(threads);
      check_close(values(conv(x, w, c.options)), reference_conv(xv, wv, p), 1e-12, "forward");
      check_close(values(conv(x.astype(DType::f32), w.astype(DType::f32), c.options)),
                  reference_conv(xv, wv, p), 1e-5, "forward f32");
      check_close(values(conv_backward_input(gy, w, in, c.options)),
                  reference_input_grad(gv, wv, p), 1e-12, "input grad");
      check_close(
          values(conv_backward_input(gy.astype(DType::f32), w.astype(DType::f32), in, c.options)),
          reference_input_grad(gv, wv, p), 1e-5, "input grad f32");
      check_close(values(conv_backward_filter(x, gy, k, c.options)),
                  reference_filter_grad(xv, gv, p), 1e-11, "filter grad");
      check_close(
          values(conv_backward_filter(x.astype(DType::f32), gy.astype(DType::f32), k, c.options)),
          reference_filter_grad(xv, gv, p), 1e-4, "filter grad f32");
    }
  }
  set_conv_winograd(saved_winograd);
  set_num_threads(saved_threads);
}

TEST_CASE("conv's Winograd F(2x2, 3x3) path: tiles, channel tails, bands, threads") {
  // 3x3 stride-1 float32 convs with 16 or more input channels (and 32 or more outputs: the
  // direct path's condition) run as Winograd F(2x2, 3x3) (kernels/cpu/conv_winograd*.cpp): the
  // forward pass and the filter gradient (standalone, and inside the fused backward whether or
  // not x is differentiated), and the input gradient when its conv qualifies too (32 or more
  // input channels). The cases cover odd heights and widths (the last tile half outside), input
  // channels that are not whole vectors (17, 40), partial output blocks (33, 45), SAME / VALID /
  // asymmetric padding, high padding past the kernel, a crop (negative high padding, with NaN in
  // the cropped-away input, which must not reach any result), a 1x1 image, and a batch of 1 cut
  // into row bands at 2 threads. Each runs with Winograd on and off (set_conv_winograd), against
  // float64 loops to the direct float32 kernels' tolerances (the direct input gradient of
  // 32 -> 64 is off by 1.2e-5, Winograd's by 6e-6; a wrong transform is off by O(1)); the two
  // algorithms must differ somewhere (Winograd really ran), and the forward pass and input
  // gradient must give the same bits at 1 and 2 threads (tiles sit on even rows whatever the
  // banding; the filter gradient, like the direct one, sums per-thread parts).
  const std::vector<Case> cases = {
      {"32 -> 64 same (the CNN's layer)",
       {3, 14, 14, 32},
       {3, 3, 32, 64},
       {.padding = {{1, 1}, {1, 1}}}},
      {"17 -> 33 same, odd sizes", {2, 7, 9, 17}, {3, 3, 17, 33}, {.padding = {{1, 1}, {1, 1}}}},
      {"40 -> 45 valid", {2, 8, 11, 40}, {3, 3, 40, 45}, {}},
      {"16 -> 32 asymmetric", {2, 6, 5, 16}, {3, 3, 16, 32}, {.padding = {{2, 0}, {0, 2}}}},
      {"32 -> 32 high padding past the kernel",
       {2, 5, 6, 32},
       {3, 3, 32, 32},
       {.padding = {{1, 3}, {2, 4}}}},
      {"32 -> 32 crop, odd output", {2, 8, 9, 32}, {3, 3, 32, 32}, {.padding = {{1, -1}, {0, -2}}}},
      {"64 -> 32 on a 1x1 image", {2, 1, 1, 64}, {3, 3, 64, 32}, {.padding = {{1, 1}, {1, 1}}}},
      {"1 image in bands, 32 -> 48",
       {1, 21, 10, 32},
       {3, 3, 32, 48},
       {.padding = {{1, 1}, {1, 1}}}},
  };
  const int saved_threads = num_threads();
  const bool saved_winograd = conv_winograd();
  std::uint64_t seed = 700;
  for (const Case& c : cases) {
    const std::string case_name = c.name;  // CAPTURE of a const char* member shows the pointer
    CAPTURE(case_name);
    const Problem p = problem(c.x, c.w, c.options);
    Tensor x = host_uniform(c.x, seed++);
    const Tensor w = host_uniform(c.w, seed++);
    const Tensor b = host_uniform({c.w[3]}, seed++);
    const Tensor gy = host_uniform(out_shape(p, 2), seed++);
    std::vector<double> xv = values(x);
    const std::vector<double> wv = values(w), bv = values(b), gv = values(gy);
    std::vector<double> y = reference_conv(xv, wv, p);
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = std::max(0.0, y[i] + bv[i % bv.size()]);
    const std::vector<double> dx = reference_input_grad(gv, wv, p);
    const std::vector<double> dw = reference_filter_grad(xv, gv, p);
    // The fused backward of sum(gy * relu(conv(x, w) + b)): gz = gy where the output is positive.
    std::vector<double> gz = gv, db(bv.size(), 0.0);
    for (std::size_t i = 0; i < gz.size(); ++i) {
      if (!(y[i] > 0.0)) gz[i] = 0.0;
      db[i % db.size()] += gz[i];
    }
    const std::vector<double> fused_dx = reference_input_grad(gz, wv, p);
    const std::vector<double> fused_dw = reference_filter_grad(xv, gz, p);
    // Input the conv never reads (past a crop) becomes NaN: no result may change.
    const std::int64_t rows_read = p.out[1] + 2 - p.lo[1], cols_read = p.out[2] + 2 - p.lo[2];
    std::vector<float> xf_values(xv.begin(), xv.end());
    for (std::int64_t i = 0; i < std::int64_t(xf_values.size()); ++i) {
      const std::int64_t col = i / c.x[3] % c.x[2], row = i / (c.x[3] * c.x[2]) % c.x[1];
      if (row >= rows_read || col >= cols_read) xf_values[std::size_t(i)] = std::nanf("");
    }
    const std::vector<std::int64_t> in{c.x[1], c.x[2]}, k{3, 3};
    const Tensor xf = Tensor::from_vector(xf_values, c.x);
    const Tensor wf = w.astype(DType::f32), bf = b.astype(DType::f32);
    const Tensor gyf = gy.astype(DType::f32);
    std::vector<std::vector<double>> forward_runs, input_grad_runs;
    for (const bool winograd : {true, false}) {
      set_conv_winograd(winograd);
      for (const int threads : {1, 2}) {
        CAPTURE(winograd);
        CAPTURE(threads);
        set_num_threads(threads);
        const Tensor yf = conv_bias_act(xf, wf, bf, c.options, FusedActivation::relu);
        check_close(values(yf), y, 1e-5, "forward");
        const Tensor dxf = conv_backward_input(gyf, wf, in, c.options);
        check_close(values(dxf), dx, 3e-5, "input grad");
        check_close(values(conv_backward_filter(xf, gyf, k, c.options)), dw, 1e-4, "filter grad");
        auto loss = [&](const Tree& q) {
          const Tensor& xx = q.contains("x") ? q["x"].tensor() : xf;
          return sum(gyf * conv_bias_act(xx, q["w"].tensor(), q["b"].tensor(), c.options,
                                         FusedActivation::relu));
        };
        const Tree all = grad(loss, Tree{{"x", xf}, {"w", wf}, {"b", bf}});
        check_close(values(all["x"].tensor()), fused_dx, 3e-5, "fused dx");
        check_close(values(all["w"].tensor()), fused_dw, 1e-4, "fused dw");
        check_close(values(all["b"].tensor()), db, 1e-4, "fused db");
        const Tree wb = grad(loss, Tree{{"w", wf}, {"b", bf}});
        check_close(values(wb["w"].tensor()), fused_dw, 1e-4, "fused dw, x constant");
        forward_runs.push_back(values(yf));
        input_grad_runs.push_back(values(dxf));
      }
    }
    CHECK(forward_runs[0] == forward_runs[1]);  // Winograd at 1 and 2 threads
    // Only where the input gradient's own conv runs Winograd too (32 or more input channels):
    // otherwise it is an OpenBLAS product, whose Haswell/Zen kernels sum differently at 1 and
    // 2 threads (seen on an H200 host; OPENBLAS_CORETYPE=Haswell shows it on any x86).
    if (c.w[2] >= 32) CHECK(input_grad_runs[0] == input_grad_runs[1]);
    // Winograd against the direct sum, where this CPU's SIMD target runs Winograd at all (not
    // under ELEGY_TEST_SIMD=sse4 here: Highway 1.0 then falls back to its scalar target).
    if (kernels::conv_winograd::winograd_supported()) CHECK(forward_runs[0] != forward_runs[2]);
  }
  set_conv_winograd(saved_winograd);
  set_num_threads(saved_threads);
}

TEST_CASE("conv_bias_act's fused backward (one sweep per image) matches direct loops") {
  // value_and_grad of sum(r * relu(conv(x, w) + b)): on the CPU, stride 1 and one group, the
  // backward runs as one ConvDirectBackward sweep (mask, bias sum, filter and input gradients
  // per image). Against float64 loops: gz = r where the output is positive, db = sum of gz,
  // dw and dx the conv's adjoints of gz. With x a constant (a first layer) dx is not computed,
  // which is what lets few input channels take the fused path; with no activation gz = r.
  struct Case {
    const char* name;
    Shape x, w;
    ConvOptions options;
  };
  const std::vector<Case> cases = {
      {"3 -> 45 same", {4, 7, 9, 3}, {3, 3, 3, 45}, {.padding = {{1, 1}, {1, 1}}}},
      {"32 -> 40 asym", {3, 5, 6, 32}, {3, 2, 32, 40}, {.padding = {{2, 0}, {0, 1}}}},
      {"16 -> 8 (composed path)", {2, 4, 5, 16}, {3, 3, 16, 8}, {.padding = {{1, 1}, {1, 1}}}},
      {"1-D 1 -> 33", {5, 19, 1}, {5, 1, 33}, {.padding = {{2, 2}}, .dilation = {1}}},
  };
  const int saved_threads = num_threads();
  std::uint64_t seed = 500;
  for (const Case& c : cases) {
    INFO("case: ", c.name);
    const int dims = c.x.size() - 2;
    const Problem p = problem(c.x, c.w, c.options);
    const Tensor x = host_uniform(c.x, seed++), w = host_uniform(c.w, seed++);
    const Tensor b = host_uniform({c.w[c.w.size() - 1]}, seed++);
    const Tensor r = host_uniform(out_shape(p, dims), seed++);
    const std::vector<double> xv = values(x), wv = values(w), bv = values(b), rv = values(r);
    std::vector<double> y = reference_conv(xv, wv, p);
    for (std::size_t i = 0; i < y.size(); ++i) y[i] += bv[i % bv.size()];
    for (const bool relu : {true, false}) {
      CAPTURE(relu);
      std::vector<double> gz = rv, db(bv.size(), 0.0);
      for (std::size_t i = 0; i < gz.size(); ++i) {
        if (relu && !(y[i] > 0.0)) gz[i] = 0.0;
        db[i % db.size()] += gz[i];
      }
      const std::vector<double> dw = reference_filter_grad(xv, gz, p);
      const std::vector<double> dx = reference_input_grad(gz, wv, p);
      const FusedActivation act = relu ? FusedActivation::relu : FusedActivation::none;
      for (const int threads : {1, 2}) {
        CAPTURE(threads);
        set_num_threads(threads);
        for (const DType dt : {DType::f64, DType::f32}) {
          CAPTURE(dt);
          const double tol = dt == DType::f64 ? 1e-12 : 2e-5;
          const Tensor xt = x.astype(dt), rt = r.astype(dt);
          auto loss = [&](const Tree& q) {
            const Tensor& xx = q.contains("x") ? q["x"].tensor() : xt;
            return sum(rt * conv_bias_act(xx, q["w"].tensor(), q["b"].tensor(), c.options, act));
          };
          const Tree all = grad(loss, Tree{{"x", xt}, {"w", w.astype(dt)}, {"b", b.astype(dt)}});
          check_close(values(all["x"].tensor()), dx, tol, "dx");
          check_close(values(all["w"].tensor()), dw, tol, "dw");
          check_close(values(all["b"].tensor()), db, tol, "db");
          const Tree wb = grad(loss, Tree{{"w", w.astype(dt)}, {"b", b.astype(dt)}});
          check_close(values(wb["w"].tensor()), dw, tol, "dw, x constant");
          check_close(values(wb["b"].tensor()), db, tol, "db, x constant");
        }
      }
    }
  }
  set_num_threads(saved_threads);
}

TEST_CASE("conv of an empty batch") {
  const ConvOptions o{.padding = {{1, 1}, {1, 1}}};
  const Tensor x = zeros({0, 5, 5, 2}, DType::f64), w = ones({3, 3, 2, 4}, DType::f64);
  const Tensor y = conv(x, w, o);
  CHECK(y.shape() == Shape{0, 5, 5, 4});
  const std::vector<std::int64_t> in{5, 5}, k{3, 3};
  CHECK(conv_backward_input(y, w, in, o).shape() == Shape{0, 5, 5, 2});
  const Tensor dw = conv_backward_filter(x, y, k, o);
  REQUIRE(dw.shape() == w.shape());
  CHECK(values(dw) == std::vector<double>(std::size_t(w.numel()), 0.0));
}

TEST_CASE("conv gradients match finite differences") {
  std::uint64_t seed = 300;
  for (const Case& c : cases()) {
    INFO("case: ", c.name);
    const ConvOptions o = c.options;
    const std::uint64_t r = seed++;
    check_gradients(
        [&](const std::vector<Tensor>& v) { return weighted_sum(conv(v[0], v[1], o), r); },
        {host_uniform(c.x, seed++), host_uniform(c.w, seed++)});
  }
}

TEST_CASE("conv gradients on non-contiguous inputs match finite differences") {
  const ConvOptions o{.strides = {2, 1}, .padding = {{1, 1}, {0, 1}}, .groups = 2};
  check_gradients(
      [&](const std::vector<Tensor>& v) { return weighted_sum(conv(v[0], v[1], o), 5); },
      {transposed_input({3, 5, 4, 4}, 1), transposed_input({3, 2, 2, 4}, 2)});
}

TEST_CASE("conv second derivatives (the backward ops' own rules) match finite differences") {
  const ConvOptions o{
      .strides = {2, 1}, .padding = {{1, 0}, {1, 1}}, .dilation = {1, 2}, .groups = 2};
  const Shape xs{2, 5, 5, 4}, ws{2, 2, 2, 4};
  const Problem p = problem(xs, ws, o);
  const Shape ys = out_shape(p, 2);
  const std::vector<std::int64_t> in{5, 5}, k{2, 2};
  check_gradients(
      [&](const std::vector<Tensor>& v) {
        return weighted_sum(conv_backward_input(v[0], v[1], in, o), 11);
      },
      {host_uniform(ys, 1), host_uniform(ws, 2)});
  check_gradients(
      [&](const std::vector<Tensor>& v) {
        return weighted_sum(conv_backward_filter(v[0], v[1], k, o), 12);
      },
      {host_uniform(xs, 3), host_uniform(ys, 4)});
  // A gradient penalty: d/d(x, w) of |d/dx sum(conv(x, w)^2)|^2, so conv's backward rule is
  // itself differentiated.
  check_gradients(
      [&](const std::vector<Tensor>& v) {
        const Tensor w = v[1];
        const Tensor dx = grad([&](const Tensor& x) { return sum(square(conv(x, w, o))); }, v[0]);
        return sum(square(dx));
      },
      {host_uniform(xs, 5), host_uniform(ws, 6)}, 1e-6, 1e-5, 1e-5);
}

TEST_CASE("conv_transpose is conv's adjoint, by a direct scatter loop") {
  struct TCase {
    const char* name;
    Shape x, w;  // w [*kernel, C_in, C_out]
    ConvTransposeOptions o;
  };
  const std::vector<TCase> tcases = {
      {"1d", {3, 5, 2}, {3, 2, 3}, {}},
      {"1d stride 2 pad", {1, 4, 3}, {4, 3, 2}, {.strides = {2}, .padding = {{1, 2}}}},
      {"2d stride 2", {3, 3, 4, 2}, {3, 3, 2, 3}, {.strides = {2, 2}, .padding = {{1, 1}, {0, 1}}}},
      {"2d dilation 2",
       {1, 4, 3, 3},
       {2, 3, 3, 2},
       {.strides = {1, 2}, .padding = {{0, 0}, {2, 1}}, .dilation = {2, 2}}},
      {"2d negative padding",
       {1, 3, 3, 1},
       {1, 1, 1, 2},
       {.strides = {2, 2}, .padding = {{0, -1}, {0, -1}}}},
  };
  std::uint64_t seed = 500;
  for (const TCase& c : tcases) {
    INFO("case: ", c.name);
    const int dims = c.x.size() - 2;
    const Tensor x = host_uniform(c.x, seed++), w = host_uniform(c.w, seed++);
    const std::vector<double> xv = values(x), wv = values(w);
    // out[n, o*s + t*dil - lo, co] += x[n, o, ci] * w[t, ci, co]
    Shape os{c.x[0]};
    for (int i = 0; i < dims; ++i) {
      const std::int64_t s = c.o.strides.empty() ? 1 : c.o.strides[std::size_t(i)];
      const std::int64_t d = c.o.dilation.empty() ? 1 : c.o.dilation[std::size_t(i)];
      const auto pad = c.o.padding.empty() ? std::pair<std::int64_t, std::int64_t>{0, 0}
                                           : c.o.padding[std::size_t(i)];
      os.push_back((c.x[1 + i] - 1) * s + (c.w[i] - 1) * d + 1 - pad.first - pad.second);
    }
    const std::int64_t ci_n = c.w[dims], co_n = c.w[dims + 1];
    os.push_back(co_n);
    std::vector<double> want(std::size_t(os.numel()), 0.0);
    Shape in_sp(c.x.span().subspan(1, std::size_t(dims))),
        k_sp(c.w.span().first(std::size_t(dims)));
    Shape out_sp(os.span().subspan(1, std::size_t(dims)));
    for (std::int64_t b = 0; b < c.x[0]; ++b)
      for (std::int64_t o = 0; o < in_sp.numel(); ++o)
        for (std::int64_t t = 0; t < k_sp.numel(); ++t) {
          std::int64_t out_index = 0, orest = o, trest = t;
          bool inside = true;
          std::int64_t pos[3];
          for (int i = dims - 1; i >= 0; --i) {
            const std::int64_t oi = orest % in_sp[i], ti = trest % k_sp[i];
            orest /= in_sp[i];
            trest /= k_sp[i];
            const std::int64_t s = c.o.strides.empty() ? 1 : c.o.strides[std::size_t(i)];
            const std::int64_t d = c.o.dilation.empty() ? 1 : c.o.dilation[std::size_t(i)];
            const std::int64_t lo = c.o.padding.empty() ? 0 : c.o.padding[std::size_t(i)].first;
            pos[i] = oi * s + ti * d - lo;
            inside = inside && pos[i] >= 0 && pos[i] < out_sp[i];
          }
          if (!inside) continue;
          for (int i = 0; i < dims; ++i) out_index = out_index * out_sp[i] + pos[i];
          out_index += b * out_sp.numel();
          for (std::int64_t ci = 0; ci < ci_n; ++ci)
            for (std::int64_t co = 0; co < co_n; ++co)
              want[std::size_t(out_index * co_n + co)] +=
                  xv[std::size_t((b * in_sp.numel() + o) * ci_n + ci)] *
                  wv[std::size_t((t * ci_n + ci) * co_n + co)];
        }
    const Tensor y = conv_transpose(x, w, c.o);
    REQUIRE(y.shape() == os);
    check_close(values(y), want, 1e-13, "float64");
    check_close(values(conv_transpose(x.astype(DType::f32), w.astype(DType::f32), c.o)), want, 1e-5,
                "float32");
    check_gradients(
        [&](const std::vector<Tensor>& v) {
          return weighted_sum(conv_transpose(v[0], v[1], c.o), 9);
        },
        {x, transposed_input(c.w, seed++)});
  }
}

TEST_CASE("conv_transpose with conv_transpose_padding reproduces lax.conv_transpose (Haiku)") {
  // lax.conv_transpose(x, w_h, strides, padding, rhs_dilation) with kernel w_h [k, C_out, C_in]
  // ("HWOI", transpose_kernel=False): x dilated by the strides, padded by (P_lo, P_hi), then
  // correlated with the unflipped kernel. Checked in 1-D for every padding mode.
  for (const Padding mode : {Padding::same, Padding::valid}) {
    for (const std::int64_t k : {1, 2, 3, 4}) {
      for (const std::int64_t s : {1, 2, 3}) {
        for (const std::int64_t dil : {1, 2}) {
          CAPTURE(k);
          CAPTURE(s);
          CAPTURE(dil);
          CAPTURE(mode == Padding::same);
          const std::int64_t n_in = 4, ci = 2, co = 3, dk = (k - 1) * dil + 1;
          // lax's pads for the dilated input
          std::int64_t total, lo;
          if (mode == Padding::same) {
            total = dk + s - 2;
            lo = s > dk - 1 ? dk - 1 : (total + 1) / 2;
          } else {
            total = dk + s - 2 + std::max<std::int64_t>(dk - s, 0);
            lo = dk - 1;
          }
          const std::int64_t dilated_len = (n_in - 1) * s + 1;
          const std::int64_t n_out = dilated_len + total - dk + 1;
          CHECK(n_out ==
                (mode == Padding::same ? n_in * s : n_in * s + std::max<std::int64_t>(dk - s, 0)));
          const Tensor x = host_uniform({1, n_in, ci}, 40 + std::uint64_t(k * 10 + s));
          const Tensor wh = host_uniform({k, co, ci}, 80 + std::uint64_t(k * 10 + s));
          const std::vector<double> xv = values(x), whv = values(wh);
          std::vector<double> want(std::size_t(n_out * co), 0.0);
          for (std::int64_t o = 0; o < n_out; ++o)
            for (std::int64_t t = 0; t < k; ++t) {
              const std::int64_t pos = o + t * dil - lo;  // into the dilated input
              if (pos < 0 || pos >= dilated_len || pos % s != 0) continue;
              for (std::int64_t c = 0; c < co; ++c)
                for (std::int64_t i = 0; i < ci; ++i)
                  want[std::size_t(o * co + c)] +=
                      xv[std::size_t((pos / s) * ci + i)] * whv[std::size_t((t * co + c) * ci + i)];
            }
          // flip(swapaxes(w_h)): w[t, i, c] = w_h[k - 1 - t, c, i]
          std::vector<double> wv(std::size_t(k * ci * co));
          for (std::int64_t t = 0; t < k; ++t)
            for (std::int64_t i = 0; i < ci; ++i)
              for (std::int64_t c = 0; c < co; ++c)
                wv[std::size_t((t * ci + i) * co + c)] =
                    whv[std::size_t(((k - 1 - t) * co + c) * ci + i)];
          const std::vector<std::int64_t> ks{k}, ss{s}, ds{dil};
          const ConvTransposeOptions o{
              .strides = ss, .padding = conv_transpose_padding(mode, ks, ss, ds), .dilation = ds};
          const Tensor y = conv_transpose(x, Tensor::from_vector(wv, {k, ci, co}), o);
          REQUIRE(y.shape() == Shape{1, n_out, co});
          check_close(values(y), want, 1e-13, "lax.conv_transpose");
        }
      }
    }
  }
}

TEST_CASE("conv_padding follows XLA's SAME / VALID") {
  using P = Pads;
  const std::vector<std::int64_t> none;
  CHECK(conv_padding(Padding::valid, std::vector<std::int64_t>{5, 6},
                     std::vector<std::int64_t>{3, 3}, none, none) == P{{0, 0}, {0, 0}});
  // out = ceil(in / s); total = max((out - 1) * s + dk - in, 0), the odd element high.
  CHECK(conv_padding(Padding::same, std::vector<std::int64_t>{5, 6, 4},
                     std::vector<std::int64_t>{3, 3, 4}, std::vector<std::int64_t>{2, 2, 1},
                     none) == P{{1, 1}, {0, 1}, {1, 2}});
  CHECK(conv_padding(Padding::same, std::vector<std::int64_t>{7, 7},
                     std::vector<std::int64_t>{3, 2}, none,
                     std::vector<std::int64_t>{2, 3}) == P{{2, 2}, {1, 2}});
  // stride larger than the kernel: no padding needed
  CHECK(conv_padding(Padding::same, std::vector<std::int64_t>{6}, std::vector<std::int64_t>{1},
                     std::vector<std::int64_t>{3}, none) == P{{0, 0}});
  // a SAME conv keeps ceil(in / stride)
  for (const std::int64_t in : {5, 6, 7}) {
    for (const std::int64_t s : {1, 2, 3}) {
      const std::vector<std::int64_t> sp{in, in + 1}, k{3, 4}, st{s, s};
      const Tensor y =
          conv(zeros({1, in, in + 1, 1}, DType::f64), zeros({3, 4, 1, 1}, DType::f64),
               {.strides = st, .padding = conv_padding(Padding::same, sp, k, st, none)});
      CHECK(y.shape() == Shape{1, (in + s - 1) / s, (in + s) / s, 1});
    }
  }
  CHECK_THROWS_WITH_AS(conv_padding(Padding::same, std::vector<std::int64_t>{5, 6},
                                    std::vector<std::int64_t>{3}, none, none),
                       doctest::Contains("conv_padding: input [5,6], kernel [3]"), Error);
}

TEST_CASE("conv_transpose_padding gives lax.conv_transpose's output sizes") {
  const std::vector<std::int64_t> none;
  for (const std::int64_t k : {1, 2, 3, 5}) {
    for (const std::int64_t s : {1, 2, 3}) {
      const std::vector<std::int64_t> ks{k}, ss{s};
      const Tensor x = zeros({1, 4, 1}, DType::f64), w = zeros({k, 1, 1}, DType::f64);
      const Tensor same = conv_transpose(
          x, w, {.strides = ss, .padding = conv_transpose_padding(Padding::same, ks, ss, none)});
      CHECK(same.shape(1) == 4 * s);
      const Tensor valid = conv_transpose(
          x, w, {.strides = ss, .padding = conv_transpose_padding(Padding::valid, ks, ss, none)});
      CHECK(valid.shape(1) == 4 * s + std::max<std::int64_t>(k - s, 0));
    }
  }
}

TEST_CASE("conv errors name the op and both operands") {
  const Tensor x = zeros({2, 5, 5, 4}), w = zeros({3, 3, 4, 8});
  CHECK_THROWS_WITH_AS(conv(zeros({5, 4}), zeros({3, 4, 8})),
                       doctest::Contains("conv: expected x [N, *spatial, C] with 1 to 3 spatial "
                                         "dims and w [*kernel, C_in, C_out] with as many spatial "
                                         "dims, got x float32[5,4] and w float32[3,4,8]"),
                       Error);
  CHECK_THROWS_WITH_AS(conv(x, zeros({3, 4, 8})),
                       doctest::Contains("got x float32[2,5,5,4] and w float32[3,4,8]"), Error);
  CHECK_THROWS_WITH_AS(conv(x, zeros({3, 3, 3, 8})),
                       doctest::Contains("conv: the kernel expects 3 * 1 (groups) input channels "
                                         "but the input has 4 (x float32[2,5,5,4] on cpu, w "
                                         "float32[3,3,3,8] on cpu)"),
                       Error);
  CHECK_THROWS_WITH_AS(conv(x, zeros({3, 3, 1, 6}), {.groups = 3}),
                       doctest::Contains("conv: groups = 3 must divide the input channels (4) and "
                                         "the output channels (6) (x float32[2,5,5,4] on cpu, w "
                                         "float32[3,3,1,6] on cpu)"),
                       Error);
  CHECK_THROWS_WITH_AS(conv(x, zeros({3, 3, 4, 8}, DType::f64)),
                       doctest::Contains("conv: operands must share a float dtype (float32 or "
                                         "float64), got x float32[2,5,5,4] on cpu and w "
                                         "float64[3,3,4,8] on cpu"),
                       Error);
  CHECK_THROWS_WITH_AS(conv(x.astype(DType::i32), w.astype(DType::i32)),
                       doctest::Contains("conv: operands must share a float dtype"), Error);
  CHECK_THROWS_WITH_AS(conv(x, w, {.strides = {1}}),
                       doctest::Contains("conv: strides [1] has 1 entries for 2 spatial dims (x "
                                         "float32[2,5,5,4] on cpu, w float32[3,3,4,8] on cpu)"),
                       Error);
  CHECK_THROWS_WITH_AS(conv(x, w, {.dilation = {0, 1}}),
                       doctest::Contains("conv: strides and dilation must be >= 1"), Error);
  CHECK_THROWS_WITH_AS(conv(x, zeros({6, 3, 4, 8})),
                       doctest::Contains("conv: spatial dim 0: the padded input (5 + 0 + 0) is "
                                         "smaller than the dilated kernel (6)"),
                       Error);
  CHECK_THROWS_WITH_AS(conv(Tensor(), w), doctest::Contains("conv: the x is an undefined tensor"),
                       Error);
  CHECK_THROWS_WITH_AS(
      conv_transpose(x, zeros({3, 3, 2, 8})),
      doctest::Contains("conv_transpose: x has 4 channels but the kernel [*kernel, "
                        "C_in, C_out] expects 2 (x float32[2,5,5,4] on cpu, w "
                        "float32[3,3,2,8] on cpu)"),
      Error);
  CHECK_THROWS_WITH_AS(
      conv_transpose(x, zeros({1, 1, 4, 2}), {.strides = {1, 1}, .padding = {{3, 3}, {0, 0}}}),
      doctest::Contains("conv_transpose: spatial dim 0: the output size (5 - 1) * 1 + 1 - 3 - 3 is "
                        "not positive"),
      Error);
  const std::vector<std::int64_t> in{5, 5}, k{3, 3};
  CHECK_THROWS_WITH_AS(conv_backward_input(zeros({2, 4, 3, 8}), w, in),
                       doctest::Contains("conv_backward_input: a conv of input spatial size [5,5] "
                                         "gives an output of shape [2,3,3,8], not g's (g "
                                         "float32[2,4,3,8] on cpu"),
                       Error);
  CHECK_THROWS_WITH_AS(
      conv_backward_filter(x, zeros({2, 3, 3, 8}), std::vector<std::int64_t>{2, 2}),
      doctest::Contains("conv_backward_filter: a conv of x with kernel size [2,2] "
                        "gives an output of shape [2,4,4,8]"),
      Error);
}
