// Col2Im on the CPU: im2col's adjoint, image by image. Each image of dx is zeroed, then every
// column row of the image is added onto the input positions it was copied from, walking the
// columns in order (a streaming read) while the image, small, stays in cache. Images are
// independent, so the parallel split over them has no write conflicts and a fixed summation
// order. The run additions are Highway SIMD (compiled per x86 target, picked at run time): the
// baseline build would otherwise add with SSE only.

// Highway re-includes this file once per target (first undef to allow the re-inclusion).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "elegy/kernels/cpu/conv_col2im.cpp"
#include <hwy/foreach_target.h>  // must come before highway.h
// (a blank line keeps clang-format from sorting the two apart)

#include <hwy/highway.h>

#include <algorithm>
#include <cstdint>

#include "elegy/core/thread_pool.hpp"
#include "elegy/kernels/conv_geometry.hpp"
#include "elegy/kernels/cpu/conv_cpu.hpp"

HWY_BEFORE_NAMESPACE();
namespace elegy::kernels::conv_cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// dst[i * dst_stride] += src[i] for i < count.
template <class T>
HWY_INLINE void AddRun(T* HWY_RESTRICT dst, const T* HWY_RESTRICT src, std::int64_t count,
                       std::int64_t dst_stride) {
  std::int64_t i = 0;
  if (dst_stride == 1) {
    const hn::ScalableTag<T> d;
    const std::int64_t lanes = std::int64_t(hn::Lanes(d));
    for (; i + lanes <= count; i += lanes)
      hn::StoreU(hn::Add(hn::LoadU(d, dst + i), hn::LoadU(d, src + i)), d, dst + i);
  }
  for (; i < count; ++i) dst[i * dst_stride] += src[i];
}

template <class T>
void ZeroImage(const Image5<T>& dx, const ConvGeometry& g, std::int64_t n) {
  T* base = dx.data + n * dx.n;
  const std::int64_t c = g.channels;
  if (dx.c == 1 && dx.w == c && dx.h == g.in[2] * c && dx.d == g.in[1] * g.in[2] * c) {
    std::fill_n(base, g.in_positions() * c, T(0));
    return;
  }
  for (std::int64_t d = 0; d < g.in[0]; ++d)
    for (std::int64_t h = 0; h < g.in[1]; ++h)
      for (std::int64_t w = 0; w < g.in[2]; ++w)
        for (std::int64_t ch = 0; ch < c; ++ch)
          base[d * dx.d + h * dx.h + w * dx.w + ch * dx.c] = T(0);
}

template <class T>
void Col2ImImage(const ConvGeometry& g, const Image5<T>& dx, const T* col, std::int64_t ld,
                 std::int64_t n) {
  const std::int64_t taps = g.taps(), cg = g.group_channels(), groups = g.groups;
  const std::int64_t kw_size = g.kernel[2];
  // One group, dense (w, c) rows of dx, no dilation along w: the kw taps of a window cover one
  // contiguous run of dx, added at once.
  const bool runs = groups == 1 && dx.c == 1 && dx.w == g.channels && g.dilation[2] == 1;
  ZeroImage(dx, g, n);
  T* const image = dx.data + n * dx.n;
  std::int64_t row = n * g.out_positions();
  for (std::int64_t od = 0; od < g.out[0]; ++od)
    for (std::int64_t oh = 0; oh < g.out[1]; ++oh)
      for (std::int64_t ow = 0; ow < g.out[2]; ++ow, ++row) {
        const T* src = col + row * ld;
        const std::int64_t iw0 = ow * g.stride[2] - g.pad_lo[2];
        std::int64_t tap = 0;  // (kd, kh, 0)
        for (std::int64_t kd = 0; kd < g.kernel[0]; ++kd) {
          const std::int64_t id = od * g.stride[0] + kd * g.dilation[0] - g.pad_lo[0];
          const bool in_d = id >= 0 && id < g.in[0];
          for (std::int64_t kh = 0; kh < g.kernel[1]; ++kh, tap += kw_size) {
            const std::int64_t ih = oh * g.stride[1] + kh * g.dilation[1] - g.pad_lo[1];
            if (!(in_d && ih >= 0 && ih < g.in[1])) continue;
            T* dst = image + id * dx.d + ih * dx.h;
            if (runs) {  // kw in [lo, hi) lands inside the input
              const std::int64_t lo = std::clamp<std::int64_t>(-iw0, 0, kw_size);
              const std::int64_t hi = std::clamp<std::int64_t>(g.in[2] - iw0, lo, kw_size);
              const std::int64_t c = g.channels;
              AddRun(dst + (iw0 + lo) * c, src + (tap + lo) * c, (hi - lo) * c, 1);
              continue;
            }
            for (std::int64_t kw = 0; kw < kw_size; ++kw) {
              const std::int64_t iw = iw0 + kw * g.dilation[2];
              if (iw < 0 || iw >= g.in[2]) continue;
              for (std::int64_t j = 0; j < groups; ++j)
                AddRun(dst + iw * dx.w + j * cg * dx.c, src + (j * taps + tap + kw) * cg, cg, dx.c);
            }
          }
        }
      }
}

template <class T>
void Col2Im(const KernelArgs& a) {
  const ConvGeometry& g = geometry_of(a);
  const Image5<T> dx(a.out);
  const T* const col = static_cast<const T*>(a.in[0].data);
  const std::int64_t ld = a.in[0].strides[0];
  const std::int64_t per_image = g.out_positions() * g.row_width();
  const std::int64_t grain = std::max<std::int64_t>(1, kGrainElements / (per_image + 1));
  parallel_for(a.out.sizes[0], grain, [&](std::int64_t n0, std::int64_t n1) {
    for (std::int64_t n = n0; n < n1; ++n) Col2ImImage(g, dx, col, ld, n);
  });
}

void Col2ImF32(const KernelArgs& a) {
  Col2Im<float>(a);
}
void Col2ImF64(const KernelArgs& a) {
  Col2Im<double>(a);
}

}  // namespace elegy::kernels::conv_cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace elegy::kernels::conv_cpu {

HWY_EXPORT(Col2ImF32);
HWY_EXPORT(Col2ImF64);

void col2im_f32(const KernelArgs& args) {
  HWY_DYNAMIC_DISPATCH(Col2ImF32)(args);
}
void col2im_f64(const KernelArgs& args) {
  HWY_DYNAMIC_DISPATCH(Col2ImF64)(args);
}

}  // namespace elegy::kernels::conv_cpu
#endif  // HWY_ONCE
