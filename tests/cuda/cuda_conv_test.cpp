// The CUDA conv kernels (Im2Col, Col2Im) against the CPU kernels on the same inputs and
// geometries (1-D to 3-D, strides, asymmetric and negative padding, dilation, groups, strided
// channels, a chunk that starts mid-image), into poisoned outputs so every element must be
// written; and, once the CUDA Matmul kernel is registered, the conv ops end to end against the
// CPU. Skipped when no GPU is visible.
#include <doctest/doctest.h>

#include <elegy/autodiff/conv_compute.hpp>
#include <elegy/kernels/conv_geometry.hpp>

#include "cuda/cuda_checks.hpp"

using namespace elegy;
using namespace elegy::cuda_test;
using kernels::ConvGeometry;
using kernels::Op;

namespace {

const bool kNoGpu = !cuda_available();

struct GeoCase {
  const char* name;
  int dims;
  std::int64_t batch, channels, groups;
  std::int64_t in[3], kernel[3], stride[3], dilation[3], pad_lo[3], pad_hi[3];
};

// Spatial entries are right-aligned: a 1-D case fills only the last slot.
const GeoCase kCases[] = {
    {"1d", 1, 3, 5, 1, {1, 1, 17}, {1, 1, 3}, {1, 1, 2}, {1, 1, 1}, {0, 0, 1}, {0, 0, 2}},
    {"2d same", 2, 2, 3, 1, {1, 9, 7}, {1, 3, 3}, {1, 1, 1}, {1, 1, 1}, {0, 1, 1}, {0, 1, 1}},
    {"2d stride dilation",
     2,
     3,
     4,
     2,
     {1, 11, 8},
     {1, 3, 2},
     {1, 2, 3},
     {1, 2, 2},
     {0, 2, 0},
     {0, 1, 3}},
    {"2d depthwise", 2, 2, 6, 6, {1, 5, 6}, {1, 3, 3}, {1, 2, 1}, {1, 1, 1}, {0, 1, 1}, {0, 1, 1}},
    {"2d negative padding",
     2,
     1,
     2,
     1,
     {1, 8, 9},
     {1, 2, 3},
     {1, 1, 2},
     {1, 1, 1},
     {0, -1, 2},
     {0, 0, -1}},
    {"3d", 3, 2, 3, 1, {4, 5, 3}, {2, 3, 2}, {1, 2, 1}, {2, 1, 1}, {1, 1, 0}, {0, 1, 1}},
};

ConvGeometry geometry(const GeoCase& c) {
  ConvGeometry g;
  g.batch = c.batch;
  g.channels = c.channels;
  g.groups = c.groups;
  for (int s = 0; s < 3; ++s) {
    g.in[s] = c.in[s];
    g.kernel[s] = c.kernel[s];
    g.stride[s] = c.stride[s];
    g.dilation[s] = c.dilation[s];
    g.pad_lo[s] = c.pad_lo[s];
    const std::int64_t span = c.in[s] + c.pad_lo[s] + c.pad_hi[s];
    g.out[s] = (span - (c.kernel[s] - 1) * c.dilation[s] - 1) / c.stride[s] + 1;
  }
  return g;
}

// x of the case as a 5-D [N, D, H, W, C] view whose channels are every other element of a
// [N, D, H, W, 2C] buffer (a strided operand), on `device`.
Tensor strided_image(const ConvGeometry& g, DType dtype, Device device, std::uint32_t seed) {
  const Shape full{g.batch, g.in[0], g.in[1], g.in[2], 2 * g.channels};
  const Tensor buffer =
      Tensor::from_vector(random_values<double>(full.numel(), seed, -1.0, 1.0), full, device)
          .astype(dtype);
  Strides strides = contiguous_strides(full);
  strides[4] = 2;
  return view(buffer, {g.batch, g.in[0], g.in[1], g.in[2], g.channels}, strides);
}

// Im2Col of rows [first, first + rows) on `device` into a fresh (on CUDA: poisoned) buffer.
Tensor run_im2col(const ConvGeometry& g, const Tensor& x, std::int64_t first, std::int64_t rows,
                  Device device) {
  const Shape shape{rows, g.row_width()};
  Tensor col = device.is_cuda() ? poisoned(shape, x.dtype()) : Tensor::empty(shape, x.dtype());
  kernels::KernelArgs args;
  args.out = autodiff::buffer_view(col);
  args.in[0] = autodiff::buffer_view(x);
  args.num_inputs = 1;
  kernels::set_geometry(args, g);
  args.ints[1] = first;
  args.device = device;
  kernels::run("cuda conv test", Op::Im2Col, x.dtype(), args);
  return col;
}

// Col2Im of all images on `device`, into a dense (on CUDA: poisoned) dx.
Tensor run_col2im(const ConvGeometry& g, const Tensor& col, Device device) {
  const Shape shape{g.batch, g.in[0], g.in[1], g.in[2], g.channels};
  Tensor dx = device.is_cuda() ? poisoned(shape, col.dtype()) : Tensor::empty(shape, col.dtype());
  kernels::KernelArgs args;
  args.out = autodiff::buffer_view(dx);
  args.in[0] = autodiff::buffer_view(col);
  args.num_inputs = 1;
  kernels::set_geometry(args, g);
  args.device = device;
  kernels::run("cuda conv test", Op::Col2Im, col.dtype(), args);
  return dx;
}

template <class T>
std::vector<T> host(const Tensor& t) {
  return t.to(Device::cpu()).contiguous().to_vector<T>();
}

template <class T>
void check_kernels(DType dtype) {
  std::uint32_t seed = 1;
  for (const GeoCase& c : kCases) {
    CAPTURE(c.name);
    const ConvGeometry g = geometry(c);
    const Tensor x_gpu = strided_image(g, dtype, kGpu, seed);
    const Tensor x_cpu = strided_image(g, dtype, Device::cpu(), seed++);
    const std::int64_t total = g.batch * g.out_positions();
    // all rows, then a chunk starting inside the first image
    const std::int64_t first = total / 3, rows = total - first - 1;
    check_close(host<T>(run_im2col(g, x_gpu, 0, total, kGpu)),
                host<T>(run_im2col(g, x_cpu, 0, total, Device::cpu())), 0.0, "im2col");
    check_close(host<T>(run_im2col(g, x_gpu, first, rows, kGpu)),
                host<T>(run_im2col(g, x_cpu, first, rows, Device::cpu())), 0.0, "im2col chunk");
    const Shape col_shape{total, g.row_width()};
    const Tensor col_cpu =
        Tensor::from_vector(random_values<double>(col_shape.numel(), seed++, -1.0, 1.0), col_shape)
            .astype(dtype);
    // Sums of up to `taps` terms, in possibly different orders.
    check_close(host<T>(run_col2im(g, col_cpu.to(kGpu), kGpu)),
                host<T>(run_col2im(g, col_cpu, Device::cpu())),
                std::is_same_v<T, float> ? 1e-5 : 1e-13, "col2im", 1e-6);
  }
}

Tensor random_tensor(const Shape& shape, std::uint32_t seed, DType dtype) {
  return Tensor::from_vector(random_values<double>(shape.numel(), seed, -1.0, 1.0), shape)
      .astype(dtype);
}

}  // namespace

TEST_CASE("cuda: im2col and col2im match the CPU kernels" * doctest::skip(kNoGpu)) {
  check_kernels<float>(DType::f32);
  check_kernels<double>(DType::f64);
}

TEST_CASE("cuda: conv ops match the CPU end to end" * doctest::skip(kNoGpu)) {
  if (kernels::registry().find(Op::Matmul, DeviceKind::cuda, DType::f32) == nullptr) {
    MESSAGE("no CUDA Matmul kernel registered yet: conv ops on CUDA not checked");
    return;
  }
  for (DType dt : {DType::f32, DType::f64}) {
    const double tol = dt == DType::f32 ? 1e-4 : 1e-11;
    const ConvOptions o{
        .strides = {2, 1}, .padding = {{1, 1}, {0, 2}}, .dilation = {1, 2}, .groups = 2};
    const Tensor x = random_tensor({3, 9, 8, 4}, 1, dt), w = random_tensor({3, 2, 2, 6}, 2, dt);
    const Tensor y = conv(x, w, o);
    const Tensor gy = random_tensor(y.shape(), 3, dt);
    const std::vector<std::int64_t> in{9, 8}, k{3, 2};
    auto same = [&](const Tensor& gpu, const Tensor& cpu, const char* what) {
      REQUIRE(gpu.shape() == cpu.shape());
      check_close(host<double>(gpu.astype(DType::f64)), host<double>(cpu.astype(DType::f64)), tol,
                  what, tol);
    };
    // The whole batch as one chunk (the default), then chunks of a few rows (im2col from a
    // middle row, dW summed over chunks, dx by whole images).
    for (const std::int64_t cap : {std::int64_t(0), std::int64_t(64)}) {
      INFO("device chunk cap ", cap);
      const std::int64_t saved = autodiff::conv::set_max_device_chunk_elements(cap);
      same(conv(x.to(kGpu), w.to(kGpu), o), y, "conv");
      same(conv_backward_input(gy.to(kGpu), w.to(kGpu), in, o), conv_backward_input(gy, w, in, o),
           "conv_backward_input");
      same(conv_backward_filter(x.to(kGpu), gy.to(kGpu), k, o), conv_backward_filter(x, gy, k, o),
           "conv_backward_filter");
      autodiff::conv::set_max_device_chunk_elements(saved);
    }
    const Tensor wt = random_tensor({3, 3, 4, 5}, 4, dt);
    const ConvTransposeOptions t{.strides = {2, 2}, .padding = {{1, 0}, {1, 1}}};
    same(conv_transpose(x.to(kGpu), wt.to(kGpu), t), conv_transpose(x, wt, t), "conv_transpose");
  }
}
