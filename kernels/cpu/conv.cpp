// CPU kernels of the conv family: Im2Col here (gathers the input windows of a range of output
// positions into GEMM-ready rows) and Col2Im in conv_col2im.cpp (its adjoint, SIMD sums). The
// GEMMs themselves run in the Matmul kernel (OpenBLAS); the conv ops in
// autodiff/conv_compute.cpp chain the pieces. See kernels/conv_geometry.hpp for the column
// layout.
//
// Im2Col is a memory-bound copy split over the pool with parallel_for, in two shapes: with
// enough channels per group, row by row, copying the channel runs (contiguous in a
// channels-last tensor) whole, and the kw taps of a window as one run when there is one group
// and no dilation along the width; with 1 to 4 channels per group (a first layer, depthwise),
// tap by tap along output lines, where those runs would be too short to copy one at a time.
#include <algorithm>
#include <cstring>

#include "elegy/core/thread_pool.hpp"
#include "elegy/kernels/conv_geometry.hpp"
#include "elegy/kernels/cpu/conv_cpu.hpp"
#include "elegy/kernels/dispatch.hpp"

namespace elegy::kernels {
namespace {

// An output position (n, od, oh, ow) from its row-major index.
struct Position {
  std::int64_t n, p[ConvGeometry::kSlots];
  Position(const ConvGeometry& g, std::int64_t index) {
    for (int s = ConvGeometry::kSlots - 1; s >= 0; --s) {
      p[s] = index % g.out[s];
      index /= g.out[s];
    }
    n = index;
  }
  // The next position in row-major order (no divisions: they would dominate small rows).
  void advance(const ConvGeometry& g) {
    for (int s = ConvGeometry::kSlots - 1; s >= 0; --s) {
      if (++p[s] < g.out[s]) return;
      p[s] = 0;
    }
    ++n;
  }
};

// Runs shorter than this (a few channels) are copied element by element: a library call per
// run would cost more than the copy.
constexpr std::int64_t kShortRun = 16;

template <class T>
void copy_run(T* __restrict dst, const T* __restrict src, std::int64_t count,
              std::int64_t src_stride) {
  if (src_stride == 1 && count >= kShortRun) {
    std::memcpy(dst, src, std::size_t(count) * sizeof(T));
    return;
  }
  for (std::int64_t i = 0; i < count; ++i) dst[i] = src[i * src_stride];
}

template <class T>
void zero_run(T* dst, std::int64_t count) {
  if (count >= kShortRun) {
    std::memset(dst, 0, std::size_t(count) * sizeof(T));
    return;
  }
  for (std::int64_t i = 0; i < count; ++i) dst[i] = T(0);
}

// Im2Col row by row: for each output position, the taps in order, each a run of channels.
template <class T>
void im2col_rows(const KernelArgs& a) {
  const ConvGeometry& g = geometry_of(a);
  const conv_cpu::Image5<const T> x(a.in[0]);
  T* const col = static_cast<T*>(a.out.data);
  const std::int64_t rows = a.out.sizes[0], ld = a.out.strides[0], first = a.ints[1];
  const std::int64_t taps = g.taps(), cg = g.group_channels(), groups = g.groups;
  const std::int64_t kw_size = g.kernel[2];
  // One group, dense channels and dense (w, c) rows, no dilation along w: the kw taps of a
  // window read one contiguous run of the input (kw_size * C values), copied at once.
  const bool runs = groups == 1 && x.c == 1 && x.w == g.channels && g.dilation[2] == 1;
  const std::int64_t grain =
      std::max<std::int64_t>(1, conv_cpu::kGrainElements / (g.row_width() + 1));

  parallel_for(rows, grain, [&](std::int64_t r0, std::int64_t r1) {
    Position o(g, first + r0);
    for (std::int64_t r = r0; r < r1; ++r, o.advance(g)) {
      T* dst = col + r * ld;
      const T* xn = x.data + o.n * x.n;
      const std::int64_t iw0 = o.p[2] * g.stride[2] - g.pad_lo[2];
      std::int64_t tap = 0;  // (kd, kh, 0)
      for (std::int64_t kd = 0; kd < g.kernel[0]; ++kd) {
        const std::int64_t id = o.p[0] * g.stride[0] + kd * g.dilation[0] - g.pad_lo[0];
        const bool in_d = id >= 0 && id < g.in[0];
        for (std::int64_t kh = 0; kh < g.kernel[1]; ++kh, tap += kw_size) {
          const std::int64_t ih = o.p[1] * g.stride[1] + kh * g.dilation[1] - g.pad_lo[1];
          if (!(in_d && ih >= 0 && ih < g.in[1])) {  // a padding row: every kw tap is zero
            for (std::int64_t j = 0; j < groups; ++j)
              zero_run(dst + (j * taps + tap) * cg, kw_size * cg);
            continue;
          }
          const T* src = xn + id * x.d + ih * x.h;
          if (runs) {
            // kw in [lo, hi) lands inside the input
            const std::int64_t lo = std::clamp<std::int64_t>(-iw0, 0, kw_size);
            const std::int64_t hi = std::clamp<std::int64_t>(g.in[2] - iw0, lo, kw_size);
            const std::int64_t c = g.channels;
            T* run = dst + tap * c;
            zero_run(run, lo * c);
            copy_run(run + lo * c, src + (iw0 + lo) * c, (hi - lo) * c, 1);
            zero_run(run + hi * c, (kw_size - hi) * c);
            continue;
          }
          for (std::int64_t kw = 0; kw < kw_size; ++kw) {
            const std::int64_t iw = iw0 + kw * g.dilation[2];
            const bool inside = iw >= 0 && iw < g.in[2];
            for (std::int64_t j = 0; j < groups; ++j) {
              T* run = dst + (j * taps + tap + kw) * cg;
              if (inside)
                copy_run(run, src + iw * x.w + j * cg * x.c, cg, x.c);
              else
                zero_run(run, cg);
            }
          }
        }
      }
    }
  });
}

// a / b rounded towards -inf and +inf (b > 0).
inline std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}
inline std::int64_t ceil_div(std::int64_t a, std::int64_t b) {
  return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

// Im2Col for few channels per group (kCg of them, known at compile time): tap by tap along an
// output line (fixed n, od, oh; consecutive ow), so the inner loop is a strided copy of kCg
// values per row with the padding ranges computed up front: no per-element bounds checks and
// no library call per tiny run (row by row, a 1-channel 3x3 window is nine 1-element copies).
template <class T, int kCg>
void im2col_lines(const KernelArgs& a) {
  const ConvGeometry& g = geometry_of(a);
  const conv_cpu::Image5<const T> x(a.in[0]);
  T* const col = static_cast<T*>(a.out.data);
  const std::int64_t rows = a.out.sizes[0], ld = a.out.strides[0], first = a.ints[1];
  const std::int64_t taps = g.taps(), groups = g.groups, line = g.out[2];
  const std::int64_t first_line = first / line, end_line = (first + rows + line - 1) / line;
  const std::int64_t grain =
      std::max<std::int64_t>(1, conv_cpu::kGrainElements / (line * g.row_width() + 1));

  parallel_for(end_line - first_line, grain, [&](std::int64_t l0, std::int64_t l1) {
    for (std::int64_t l = first_line + l0; l < first_line + l1; ++l) {
      // this line's rows inside the chunk: ow in [ow_a, ow_b)
      const std::int64_t start = l * line;
      const std::int64_t ow_a = std::max(first, start) - start;
      const std::int64_t ow_b = std::min(first + rows, start + line) - start;
      const std::int64_t oh = l % g.out[1], od = (l / g.out[1]) % g.out[0];
      const std::int64_t n = l / (g.out[1] * g.out[0]);
      T* const base = col + (start + ow_a - first) * ld;  // the row of ow_a
      std::int64_t tap = 0;
      for (std::int64_t kd = 0; kd < g.kernel[0]; ++kd) {
        const std::int64_t id = od * g.stride[0] + kd * g.dilation[0] - g.pad_lo[0];
        for (std::int64_t kh = 0; kh < g.kernel[1]; ++kh) {
          const std::int64_t ih = oh * g.stride[1] + kh * g.dilation[1] - g.pad_lo[1];
          const bool row_inside = id >= 0 && id < g.in[0] && ih >= 0 && ih < g.in[1];
          const T* src_row = x.data + n * x.n + id * x.d + ih * x.h;
          for (std::int64_t kw = 0; kw < g.kernel[2]; ++kw, ++tap) {
            // ow reads iw = ow * stride + offset, inside for ow in [lo, hi)
            const std::int64_t offset = kw * g.dilation[2] - g.pad_lo[2];
            std::int64_t lo = ow_b, hi = ow_b;
            if (row_inside) {
              lo = std::clamp(ceil_div(-offset, g.stride[2]), ow_a, ow_b);
              hi = std::clamp(floor_div(g.in[2] - 1 - offset, g.stride[2]) + 1, lo, ow_b);
            }
            for (std::int64_t j = 0; j < groups; ++j) {
              T* dst = base + (j * taps + tap) * kCg;
              const T* src = src_row + offset * x.w + j * kCg * x.c;
              std::int64_t ow = ow_a;
              for (; ow < lo; ++ow)
                for (int c = 0; c < kCg; ++c) dst[(ow - ow_a) * ld + c] = T(0);
              for (; ow < hi; ++ow)
                for (int c = 0; c < kCg; ++c)
                  dst[(ow - ow_a) * ld + c] = src[ow * g.stride[2] * x.w + c * x.c];
              for (; ow < ow_b; ++ow)
                for (int c = 0; c < kCg; ++c) dst[(ow - ow_a) * ld + c] = T(0);
            }
          }
        }
      }
    }
  });
}

template <class T>
void im2col_kernel(const KernelArgs& a) {
  switch (geometry_of(a).group_channels()) {
    case 1:
      return im2col_lines<T, 1>(a);
    case 2:
      return im2col_lines<T, 2>(a);
    case 3:
      return im2col_lines<T, 3>(a);
    case 4:
      return im2col_lines<T, 4>(a);
    default:
      return im2col_rows<T>(a);
  }
}

}  // namespace

void register_cpu_conv(Registry& r) {
  r.add(Op::Im2Col, DeviceKind::cpu, DType::f32, im2col_kernel<float>);
  r.add(Op::Im2Col, DeviceKind::cpu, DType::f64, im2col_kernel<double>);
  r.add(Op::Col2Im, DeviceKind::cpu, DType::f32, conv_cpu::col2im_f32);
  r.add(Op::Col2Im, DeviceKind::cpu, DType::f64, conv_cpu::col2im_f64);
}

}  // namespace elegy::kernels
