// CUDA kernels of the conv family: Im2Col and Col2Im (see kernels/conv_geometry.hpp for the
// column layout and the call encoding; kernels/cpu/conv.cpp for the CPU twins). The GEMMs
// between them are the Matmul kernel's.
//
// Im2Col: one thread per column entry; consecutive threads write consecutive entries (channels
// innermost), so both the writes and, within a tap, the reads of a channels-last input coalesce.
// Col2Im: one thread per input element, gathering the column entries that read it (at most
// `taps` of them) in a register: no atomics, and the result does not depend on scheduling.
#include "elegy/kernels/conv_geometry.hpp"
#include "elegy/kernels/cuda/families.hpp"
#include "elegy/kernels/cuda/launch.cuh"

namespace elegy::kernels::cuda {
namespace {

constexpr const char* kIm2Col = "conv im2col (cuda)";
constexpr const char* kCol2Im = "conv col2im (cuda)";

// Strides of a 5-D [N, D, H, W, C] operand.
struct Strides5 {
  std::int64_t s[5];
};

Strides5 strides_of(const BufferView& v) {
  Strides5 r;
  for (int i = 0; i < 5; ++i) r.s[i] = v.strides[i];
  return r;
}

template <class T>
__global__ void im2col(ConvGeometry g, const T* __restrict__ x, Strides5 xs, T* __restrict__ col,
                       std::int64_t ld, std::int64_t first, std::int64_t rows) {
  const std::int64_t width = g.row_width(), taps = g.taps(), cg = g.group_channels();
  const std::int64_t n = rows * width;
  const std::int64_t step = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t e = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += step) {
    const std::int64_t r = e / width, q = e % width;
    const std::int64_t j = q / (taps * cg), ci = q % cg;
    std::int64_t tap = (q / cg) % taps;
    // tap -> (kd, kh, kw) and output position -> (n, od, oh, ow), both row-major
    std::int64_t k[3], o[3], pos = first + r;
    for (int s = 2; s >= 0; --s) {
      k[s] = tap % g.kernel[s];
      tap /= g.kernel[s];
      o[s] = pos % g.out[s];
      pos /= g.out[s];
    }
    std::int64_t at = pos * xs.s[0] + (j * cg + ci) * xs.s[4];
    bool inside = true;
    for (int s = 0; s < 3; ++s) {
      const std::int64_t i = o[s] * g.stride[s] + k[s] * g.dilation[s] - g.pad_lo[s];
      inside = inside && i >= 0 && i < g.in[s];
      at += i * xs.s[1 + s];
    }
    col[r * ld + q] = inside ? x[at] : T(0);
  }
}

template <class T>
__global__ void col2im(ConvGeometry g, const T* __restrict__ col, std::int64_t ld,
                       T* __restrict__ dx, Strides5 ds, std::int64_t images) {
  const std::int64_t taps = g.taps(), cg = g.group_channels(), channels = g.channels;
  const std::int64_t n = images * g.in_positions() * channels;
  const std::int64_t step = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t e = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += step) {
    const std::int64_t c = e % channels, j = c / cg, ci = c % cg;
    std::int64_t rest = e / channels, i[3];
    for (int s = 2; s >= 0; --s) {
      i[s] = rest % g.in[s];
      rest /= g.in[s];
    }
    const std::int64_t image = rest;
    T acc = T(0);
    for (std::int64_t kd = 0; kd < g.kernel[0]; ++kd) {
      const std::int64_t nd = i[0] + g.pad_lo[0] - kd * g.dilation[0];
      if (nd < 0 || nd % g.stride[0] != 0 || nd / g.stride[0] >= g.out[0]) continue;
      for (std::int64_t kh = 0; kh < g.kernel[1]; ++kh) {
        const std::int64_t nh = i[1] + g.pad_lo[1] - kh * g.dilation[1];
        if (nh < 0 || nh % g.stride[1] != 0 || nh / g.stride[1] >= g.out[1]) continue;
        for (std::int64_t kw = 0; kw < g.kernel[2]; ++kw) {
          const std::int64_t nw = i[2] + g.pad_lo[2] - kw * g.dilation[2];
          if (nw < 0 || nw % g.stride[2] != 0 || nw / g.stride[2] >= g.out[2]) continue;
          const std::int64_t row =
              ((image * g.out[0] + nd / g.stride[0]) * g.out[1] + nh / g.stride[1]) * g.out[2] +
              nw / g.stride[2];
          const std::int64_t tap = (kd * g.kernel[1] + kh) * g.kernel[2] + kw;
          acc += col[row * ld + (j * taps + tap) * cg + ci];
        }
      }
    }
    dx[image * ds.s[0] + i[0] * ds.s[1] + i[1] * ds.s[2] + i[2] * ds.s[3] + c * ds.s[4]] = acc;
  }
}

template <class T>
void im2col_kernel(const KernelArgs& a) {
  const ConvGeometry& g = geometry_of(a);
  const std::int64_t rows = a.out.sizes[0];
  if (rows * g.row_width() == 0) return;
  const cudaStream_t s = prepare(a.device);
  im2col<T><<<blocks_for(rows * g.row_width()), kThreads, 0, s>>>(
      g, static_cast<const T*>(a.in[0].data), strides_of(a.in[0]), static_cast<T*>(a.out.data),
      a.out.strides[0], a.ints[1], rows);
  check_launch(kIm2Col);
}

template <class T>
void col2im_kernel(const KernelArgs& a) {
  const ConvGeometry& g = geometry_of(a);
  const std::int64_t images = a.out.sizes[0];
  const std::int64_t n = images * g.in_positions() * g.channels;
  if (n == 0) return;
  const cudaStream_t s = prepare(a.device);
  col2im<T><<<blocks_for(n), kThreads, 0, s>>>(g, static_cast<const T*>(a.in[0].data),
                                               a.in[0].strides[0], static_cast<T*>(a.out.data),
                                               strides_of(a.out), images);
  check_launch(kCol2Im);
}

}  // namespace

void register_conv(Registry& r) {
  r.add(Op::Im2Col, DeviceKind::cuda, DType::f32, im2col_kernel<float>);
  r.add(Op::Im2Col, DeviceKind::cuda, DType::f64, im2col_kernel<double>);
  r.add(Op::Col2Im, DeviceKind::cuda, DType::f32, col2im_kernel<float>);
  r.add(Op::Col2Im, DeviceKind::cuda, DType::f64, col2im_kernel<double>);
}

}  // namespace elegy::kernels::cuda
