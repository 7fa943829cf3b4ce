// Shared by the ConvDirect kernels (conv_direct.cpp: forward and input gradient;
// conv_direct_filter.cpp: filter gradient; conv_direct_backward.cpp: the fused backward of a
// conv with its bias and activation): the zero-padded copy of an image they read through
// without bounds checks, the offsets of the kernel taps in it, the tasks the SIMD code runs and
// their entry points.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include <hwy/aligned_allocator.h>

#include "elegy/kernels/buffer_view.hpp"
#include "elegy/kernels/conv_geometry.hpp"

namespace elegy::kernels::conv_direct {

// x as the kernels read it: [N, 1, H, W, C] with any strides (elements).
template <class T>
struct Source {
  const T* data = nullptr;
  std::int64_t n = 0, h = 0, w = 0, c = 0;
  explicit Source(const BufferView& v)
      : data(static_cast<const T*>(v.data)),
        n(v.strides[0]),
        h(v.strides[2]),
        w(v.strides[3]),
        c(v.strides[4]) {}
};

// The padded image: every input a window of the output reaches, rows Ho + (kh-1)*dh and
// columns Wo + (kw-1)*dw, padded (r, s) holding x (r - pad_h, s - pad_w) or zero outside x.
inline std::int64_t padded_rows(const ConvGeometry& g, std::int64_t out_rows) {
  return out_rows + (g.kernel[1] - 1) * g.dilation[1];
}
inline std::int64_t padded_width(const ConvGeometry& g) {
  return g.out[2] + (g.kernel[2] - 1) * g.dilation[2];
}

// Padded rows [oh0, oh0 + rows) of image n into pad, dense [rows, wp, C]; wp defaults to
// padded_width(g), and columns (rows) past the padded image are zero.
template <class T>
void pad_rows(const ConvGeometry& g, const Source<T>& x, std::int64_t n, std::int64_t oh0,
              std::int64_t rows, T* pad, std::int64_t wp = 0) {
  const std::int64_t C = g.channels;
  if (wp == 0) wp = padded_width(g);
  const std::int64_t lo = std::clamp<std::int64_t>(g.pad_lo[2], 0, wp);
  // Never past the padded image, even when a wider wp or more rows are asked for and x reaches
  // further (a crop): what the conv does not read must be zero, not x (a NaN there would reach
  // Winograd's filter gradient through a product with zero).
  const std::int64_t hi =
      std::clamp<std::int64_t>(g.pad_lo[2] + g.in[2], lo, std::min(wp, padded_width(g)));
  const std::int64_t last_row = padded_rows(g, g.out[1]);
  const T* xn = x.data + n * x.n;
  for (std::int64_t r = 0; r < rows; ++r) {
    T* dst = pad + r * wp * C;
    const std::int64_t ih = oh0 + r - g.pad_lo[1];
    if (ih < 0 || ih >= g.in[1] || oh0 + r >= last_row) {
      std::fill(dst, dst + wp * C, T(0));
      continue;
    }
    std::fill(dst, dst + lo * C, T(0));
    const T* src = xn + ih * x.h + (lo - g.pad_lo[2]) * x.w;
    if (x.c == 1 && x.w == C) {
      std::memcpy(dst + lo * C, src, std::size_t((hi - lo) * C) * sizeof(T));
    } else {
      for (std::int64_t s = 0; s < hi - lo; ++s)
        for (std::int64_t c = 0; c < C; ++c) dst[(lo + s) * C + c] = src[s * x.w + c * x.c];
    }
    std::fill(dst + hi * C, dst + wp * C, T(0));
  }
}

// Offset in the padded image of tap (kh, kw) from its window's origin, taps row-major.
inline std::vector<std::int64_t> tap_offsets(const ConvGeometry& g) {
  std::vector<std::int64_t> offsets;
  offsets.reserve(std::size_t(g.taps()));
  for (std::int64_t kh = 0; kh < g.kernel[1]; ++kh)
    for (std::int64_t kw = 0; kw < g.kernel[2]; ++kw)
      offsets.push_back((kh * g.dilation[1] * padded_width(g) + kw * g.dilation[2]) * g.channels);
  return offsets;
}

// A forward (or transposed) conv's operands, decoded once and shared by its tasks.
template <class T>
struct Task {
  const ConvGeometry* g = nullptr;
  Source<T> x;
  const std::int64_t* taps = nullptr;  // tap_offsets(*g), computed once per call
  const T* packed = nullptr;           // weights as [co_blocks][taps * C][block] (zero past Co)
  const T* bias = nullptr;             // [co_blocks * block] (zero past Co) or null
  bool relu = false;
  T* out = nullptr;  // dense [N, Ho, Wo, Co]
  std::int64_t co = 0, block = 0, co_blocks = 0;
  explicit Task(const BufferView& xv) : x(xv) {}
};

// A filter gradient's operands: dw += x (*) gy over the given images.
template <class T>
struct FilterTask {
  const ConvGeometry* g = nullptr;
  Source<T> x;
  const std::int64_t* taps = nullptr;  // tap_offsets(*g), computed once per call
  const T* gy = nullptr;               // dense [Ho, Wo, Co] per image, image n at gy + n * gy_n
  std::int64_t gy_n = 0;
  std::int64_t co = 0;
  explicit FilterTask(const BufferView& xv) : x(xv) {}
};

// The weights (and bias) laid out for Task: [co_blocks][taps * C][block], zero past Co. The
// transposed mode reads w [taps, Co, C] at tap taps-1-t with its channel axes swapped.
template <class T>
struct Packed {
  hwy::AlignedFreeUniquePtr<T[]> weights, bias;
};
template <class T>
Packed<T> pack(const ConvGeometry& g, const T* w, bool transposed, const T* b,
               std::int64_t b_stride, std::int64_t co, std::int64_t block);

// Entry points, dispatched to the best SIMD target. block_width: output channels per register
// tile (2 vectors). rows: output rows [oh0, oh1) of image n, every channel block; pad holds
// padded_rows(g, oh1 - oh0) * padded_width(g) * C values. add_rows: image n's output rows
// [oh0, oh1) added into slot [taps * C, Co] (pad as for rows).
std::int64_t block_width(float);
std::int64_t block_width(double);
void rows(const Task<float>& t, std::int64_t n, std::int64_t oh0, std::int64_t oh1, float* pad);
void rows(const Task<double>& t, std::int64_t n, std::int64_t oh0, std::int64_t oh1, double* pad);
void add_rows(const FilterTask<float>& t, std::int64_t n, std::int64_t oh0, std::int64_t oh1,
              float* pad, float* slot);
void add_rows(const FilterTask<double>& t, std::int64_t n, std::int64_t oh0, std::int64_t oh1,
              double* pad, double* slot);

// Pool tasks over (image, band of output rows): whole images when there are enough of them to
// keep every thread busy, else each image cut into bands of a multiple of `align` rows.
struct Bands {
  std::int64_t per_image = 1, rows = 1;
  Bands(const ConvGeometry& g, std::int64_t threads, std::int64_t align = 1) {
    const std::int64_t want = 4 * threads;
    rows = g.out[1];
    if (g.batch < want) {
      const std::int64_t bands = std::clamp<std::int64_t>((want + g.batch - 1) / g.batch, 1,
                                                          std::max<std::int64_t>(1, g.out[1]));
      rows = (g.out[1] + bands - 1) / bands;
    }
    rows = std::max<std::int64_t>(1, (rows + align - 1) / align * align);
    per_image = (g.out[1] + rows - 1) / rows;
  }
  std::int64_t count(const ConvGeometry& g) const { return g.batch * per_image; }
};

}  // namespace elegy::kernels::conv_direct
