// Shared by the Winograd F(2x2, 3x3) kernels (conv_winograd.cpp: forward and input gradient;
// conv_winograd_filter.cpp: filter gradient): the register-tile size, a band's geometry and the
// input transform V = Bᵀ d B. Included inside a Highway per-target compilation; the toggle guard
// is Highway's pattern for "-inl" headers (one copy per target).
#if defined(ELEGY_KERNELS_CPU_CONV_WINOGRAD_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef ELEGY_KERNELS_CPU_CONV_WINOGRAD_INL_H_
#undef ELEGY_KERNELS_CPU_CONV_WINOGRAD_INL_H_
#else
#define ELEGY_KERNELS_CPU_CONV_WINOGRAD_INL_H_
#endif

#include <hwy/highway.h>

#include <algorithm>
#include <cstdint>

#include "elegy/kernels/cpu/conv_winograd.hpp"

#ifndef ELEGY_KERNELS_CPU_CONV_WINOGRAD_CONSTANTS_
#define ELEGY_KERNELS_CPU_CONV_WINOGRAD_CONSTANTS_
namespace elegy::kernels::conv_winograd {
constexpr int kXi = int(kTransformedTaps);  // positions ξ of a 4x4 transformed tile
}  // namespace elegy::kernels::conv_winograd
#endif

HWY_BEFORE_NAMESPACE();
namespace elegy::kernels::conv_winograd::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Tiles per register tile: 2 * kMaxTile accumulators, 2 weight vectors and a broadcast (32
// vector registers with AVX-512, 16 below), as in conv_direct.cpp.
#if HWY_TARGET <= HWY_AVX3
constexpr int kMaxTile = 12;
#else
constexpr int kMaxTile = 6;
#endif

// Sizeless vectors (SVE, RVV) cannot live in the kernels' arrays, and 1-lane SCALAR gains nothing
// (GCC 12.2 at -O3 also over-reads the filter tiles' loads there): those targets keep the direct
// kernels. The kernels below exist only where this is true.
#define ELEGY_WINOGRAD_TARGET (!HWY_HAVE_SCALABLE && HWY_TARGET != HWY_SCALAR)

#if ELEGY_WINOGRAD_TARGET

// Output rows [oh0, oh1) of image n as the tile loops see them.
struct Band {
  std::int64_t C, Cv;      // input channels, and rounded up to whole vectors (V's stride)
  std::int64_t tiles_w;    // tiles per row of tiles
  std::int64_t wp;         // padded row width in positions (2 * tiles_w + 2)
  std::int64_t rows;       // output rows of the band
  std::int64_t tile_rows;  // rows of tiles (the last one may be half outside)
  std::int64_t oh0, n;     // first output row, image

  Band(const ConvGeometry& g, std::int64_t image, std::int64_t first, std::int64_t last)
      : C(g.channels),
        Cv((C + std::int64_t(HWY_LANES(float)) - 1) / std::int64_t(HWY_LANES(float)) *
           std::int64_t(HWY_LANES(float))),
        tiles_w((g.out[2] + 1) / 2),
        wp(2 * tiles_w + 2),
        rows(last - first),
        tile_rows((rows + 1) / 2),
        oh0(first),
        n(image) {}
  std::int64_t tiles() const { return tile_rows * tiles_w; }
  // The band's padded input (every tile's 4x4 patch) into pad, dense [2 * tile_rows + 2, wp, C].
  template <class Source>
  void pad(const ConvGeometry& g, const Source& x, float* pad) const {
    conv_direct::pad_rows(g, x, n, oh0, 2 * tile_rows + 2, pad, wp);
  }
};

// `n` (0..L) floats from p, zeros after them, reading nothing past p + n. Not MaskedLoad: on
// several targets (NEON, EMU128, SCALAR in Highway 1.0.3) it loads the whole vector and then
// masks, reading past the end of the buffer.
template <class D>
HWY_INLINE hn::Vec<D> LoadPartial(D d, const float* p, std::int64_t n) {
  constexpr std::int64_t L = std::int64_t(HWY_LANES(float));
  if (n >= L) return hn::LoadU(d, p);
  HWY_ALIGN float tmp[HWY_LANES(float)] = {};
  for (std::int64_t k = 0; k < n; ++k) tmp[k] = p[k];
  return hn::Load(d, tmp);
}

// V[ξ][p][0 .. Cv) for tiles [t0, t0 + pt) of the band; channels past C are zero.
inline void InputTransform(const Band& b, const float* pad, std::int64_t t0, std::int64_t pt,
                           float* v) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  constexpr std::int64_t L = std::int64_t(HWY_LANES(float));
  const std::int64_t row = b.wp * b.C;
  for (std::int64_t p = 0; p < pt; ++p) {
    const std::int64_t t = t0 + p, tr = t / b.tiles_w, tc = t % b.tiles_w;
    const float* origin = pad + 2 * tr * row + 2 * tc * b.C;
    for (std::int64_t c = 0; c < b.Cv; c += L) {
      const std::int64_t n = std::min(L, b.C - c);
      // r = d B for each of the 4 patch rows, then Bᵀ r.
      V r[4][4];
      for (int i = 0; i < 4; ++i) {
        const float* src = origin + i * row + c;
        const V d0 = LoadPartial(d, src, n), d1 = LoadPartial(d, src + b.C, n);
        const V d2 = LoadPartial(d, src + 2 * b.C, n), d3 = LoadPartial(d, src + 3 * b.C, n);
        r[i][0] = hn::Sub(d0, d2);
        r[i][1] = hn::Add(d1, d2);
        r[i][2] = hn::Sub(d2, d1);
        r[i][3] = hn::Sub(d1, d3);
      }
      float* out = v + p * b.Cv + c;
      const std::int64_t xi_step = pt * b.Cv;
      for (int j = 0; j < 4; ++j) {
        hn::Store(hn::Sub(r[0][j], r[2][j]), d, out + (0 * 4 + j) * xi_step);
        hn::Store(hn::Add(r[1][j], r[2][j]), d, out + (1 * 4 + j) * xi_step);
        hn::Store(hn::Sub(r[2][j], r[1][j]), d, out + (2 * 4 + j) * xi_step);
        hn::Store(hn::Sub(r[1][j], r[3][j]), d, out + (3 * 4 + j) * xi_step);
      }
    }
  }
}

#endif  // ELEGY_WINOGRAD_TARGET

}  // namespace elegy::kernels::conv_winograd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
