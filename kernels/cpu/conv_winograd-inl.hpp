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

#ifndef ELEGY_KERNELS_CPU_CONV_WINOGRAD_CONSTANTS_
#define ELEGY_KERNELS_CPU_CONV_WINOGRAD_CONSTANTS_
namespace elegy::kernels::conv_winograd {
constexpr int kXi = 16;  // positions of a 4x4 transformed tile
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
#if !HWY_HAVE_SCALABLE

// The band's geometry as the tile loops see it.
struct Band {
  std::int64_t C = 0, Cv = 0;   // input channels, and rounded up to whole vectors (V's stride)
  std::int64_t wp = 0;          // padded row width in positions (2 * tiles_w + 2)
  std::int64_t tiles_w = 0;     // tiles per row of tiles
  std::int64_t rows = 0;        // output rows of the band
  std::int64_t oh0 = 0, n = 0;  // first output row, image
};

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
      const auto valid = hn::FirstN(d, std::size_t(std::min(L, b.C - c)));
      // r = d B for each of the 4 patch rows, then Bᵀ r.
      V r[4][4];
      for (int i = 0; i < 4; ++i) {
        const float* src = origin + i * row + c;
        const V d0 = hn::MaskedLoad(valid, d, src), d1 = hn::MaskedLoad(valid, d, src + b.C);
        const V d2 = hn::MaskedLoad(valid, d, src + 2 * b.C);
        const V d3 = hn::MaskedLoad(valid, d, src + 3 * b.C);
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

#endif  // !HWY_HAVE_SCALABLE

}  // namespace elegy::kernels::conv_winograd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
