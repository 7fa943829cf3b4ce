// The filter gradient of a Winograd F(2x2, 3x3) conv (see conv_winograd.hpp), accumulated in
// the transformed space and turned into dw once at the end.
//
// Since the forward pass multiplies by U = G g Gᵀ, dL/dg = Gᵀ S G where S[ξ][c][co] sums, over
// every 2x2 output tile, V[ξ][c] Z[ξ][co]: V = Bᵀ d B the tile's input patch transformed as in
// the forward pass, Z = A gy Aᵀ its cotangent transformed (additions only). Per image (or band
// of rows) both transforms are written once into scratch that stays in L2, then for each ξ a
// register tile of (up to kMaxTile input channels x 2 vectors of output channels) sums its
// products over all the band's tiles and adds them into the slot: 16 multiply-adds per tile and
// channel pair instead of the direct kernel's 36.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "elegy/kernels/cpu/conv_winograd_filter.cpp"
#include <hwy/aligned_allocator.h>
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "elegy/core/thread_pool.hpp"
#include "elegy/kernels/cpu/conv_winograd-inl.hpp"
#include "elegy/kernels/cpu/conv_winograd.hpp"

HWY_BEFORE_NAMESPACE();
namespace elegy::kernels::conv_winograd::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if ELEGY_WINOGRAD_TARGET

// Z[ξ][p][0 .. cov) = (A gy_t Aᵀ)[ξ] for the band's tiles t = t0 + p, p < pt, gy_t the tile's
// 2x2 cotangents (zero where the tile reaches past the band or the image; channels past co
// zero). With A = [1 0; 1 1; 1 -1; 0 -1], the rows of A y are (y0, y0 + y1, y0 - y1, -y1), and
// the same again along each row.
void GradientTransform(const Band& b, const float* gy_image, std::int64_t wo, std::int64_t co,
                       std::int64_t cov, std::int64_t t0, std::int64_t pt, float* z) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  constexpr std::int64_t L = std::int64_t(HWY_LANES(float));
  const std::int64_t xi_step = pt * cov;
  for (std::int64_t p = 0; p < pt; ++p) {
    const std::int64_t t = t0 + p, tr = t / b.tiles_w, tc = t % b.tiles_w;
    const std::int64_t oh = b.oh0 + 2 * tr, ow = 2 * tc;
    const std::int64_t rows = std::min<std::int64_t>(2, b.oh0 + b.rows - oh);
    const std::int64_t cols = std::min<std::int64_t>(2, wo - ow);
    for (std::int64_t c = 0; c < cov; c += L) {
      const std::int64_t n = std::clamp<std::int64_t>(co - c, 0, L);
      V y[2][2];
      for (std::int64_t i = 0; i < 2; ++i)
        for (std::int64_t j = 0; j < 2; ++j)
          y[i][j] = i < rows && j < cols && n > 0
                        ? LoadPartial(d, gy_image + ((oh + i) * wo + ow + j) * co + c, n)
                        : hn::Zero(d);
      const V r[4][2] = {{y[0][0], y[0][1]},
                         {hn::Add(y[0][0], y[1][0]), hn::Add(y[0][1], y[1][1])},
                         {hn::Sub(y[0][0], y[1][0]), hn::Sub(y[0][1], y[1][1])},
                         {hn::Neg(y[1][0]), hn::Neg(y[1][1])}};
      float* out = z + p * cov + c;
      for (int i = 0; i < 4; ++i) {
        hn::Store(r[i][0], d, out + (i * 4 + 0) * xi_step);
        hn::Store(hn::Add(r[i][0], r[i][1]), d, out + (i * 4 + 1) * xi_step);
        hn::Store(hn::Sub(r[i][0], r[i][1]), d, out + (i * 4 + 2) * xi_step);
        hn::Store(hn::Neg(r[i][1]), d, out + (i * 4 + 3) * xi_step);
      }
    }
  }
}

// slot rows c0 .. c0+PK, columns co0 .. co0+valid (of one ξ) += sum over the tiles of
// V[t][c] Z[t][co] (v, z: that ξ's [tiles][Cv] and [tiles][cov]).
template <int PK>
void FilterProducts(const float* v, std::int64_t Cv, const float* z, std::int64_t cov,
                    std::int64_t tiles, std::int64_t c0, std::int64_t co0, std::int64_t valid,
                    float* slot_rows, std::int64_t co) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  constexpr std::int64_t L = std::int64_t(HWY_LANES(float));
  V acc0[PK], acc1[PK];
  for (int j = 0; j < PK; ++j) acc0[j] = acc1[j] = hn::Zero(d);
  const float* vt = v + c0;
  const float* zt = z + co0;
  for (std::int64_t t = 0; t < tiles; ++t, vt += Cv, zt += cov) {
    const V g0 = hn::Load(d, zt), g1 = hn::Load(d, zt + L);
    for (int j = 0; j < PK; ++j) {
      const V xb = hn::Set(d, vt[j]);
      acc0[j] = hn::MulAdd(xb, g0, acc0[j]);
      acc1[j] = hn::MulAdd(xb, g1, acc1[j]);
    }
  }
  for (int j = 0; j < PK; ++j) {
    float* s = slot_rows + j * co;
    if (valid == 2 * L) {
      hn::StoreU(hn::Add(hn::LoadU(d, s), acc0[j]), d, s);
      hn::StoreU(hn::Add(hn::LoadU(d, s + L), acc1[j]), d, s + L);
    } else {
      HWY_ALIGN float tmp[2 * L];
      hn::Store(acc0[j], d, tmp);
      hn::Store(acc1[j], d, tmp + L);
      for (std::int64_t c = 0; c < valid; ++c) s[c] += tmp[c];
    }
  }
}

using FilterProductsFn = void (*)(const float*, std::int64_t, const float*, std::int64_t,
                                  std::int64_t, std::int64_t, std::int64_t, std::int64_t, float*,
                                  std::int64_t);

template <int... PK>
constexpr auto MakeFilterProducts(std::integer_sequence<int, PK...>) {
  return std::array<FilterProductsFn, sizeof...(PK)>{&FilterProducts<PK + 1>...};
}

void AddFilterRowsF32(const conv_direct::FilterTask<float>& t, std::int64_t n, std::int64_t oh0,
                      std::int64_t oh1, float* pad, float* slot) {
  static constexpr auto kProducts = MakeFilterProducts(std::make_integer_sequence<int, kMaxTile>());
  constexpr std::int64_t L = std::int64_t(HWY_LANES(float));
  const ConvGeometry& g = *t.g;
  const Band b(g, n, oh0, oh1);
  const std::int64_t tiles = b.tiles();
  const std::int64_t cov = (t.co + 2 * L - 1) / (2 * L) * (2 * L);
  b.pad(g, t.x, pad);

  // The band's tiles in groups of whole tile rows, at most kGroupTiles tiles (or one row): V and
  // Z of a group (16 x tiles x channels each) stay in L2 and the scratch stays bounded for large
  // images. Each buffer has one tile to spare: loads never reach its end.
  constexpr std::int64_t kGroupTiles = 256;
  const std::int64_t group_rows = std::max<std::int64_t>(1, kGroupTiles / b.tiles_w);
  const std::int64_t group_tiles = std::min(b.tile_rows, group_rows) * b.tiles_w;
  thread_local hwy::AlignedFreeUniquePtr<float[]> v_buf, z_buf;
  thread_local std::int64_t v_size = 0, z_size = 0;
  if (v_size < kXi * group_tiles * b.Cv + b.Cv) {
    v_size = kXi * group_tiles * b.Cv + b.Cv;
    v_buf = hwy::AllocateAligned<float>(std::size_t(v_size));
  }
  if (z_size < kXi * group_tiles * cov + cov) {
    z_size = kXi * group_tiles * cov + cov;
    z_buf = hwy::AllocateAligned<float>(std::size_t(z_size));
  }

  // The C rows of each ξ as register tiles of equal height (the last may be shorter).
  const std::int64_t chunks = (b.C + kMaxTile - 1) / kMaxTile;
  const std::int64_t height = (b.C + chunks - 1) / chunks;
  const float* gy_image = t.gy + n * t.gy_n;
  for (std::int64_t t0 = 0; t0 < tiles; t0 += group_tiles) {
    const std::int64_t pt = std::min(group_tiles, tiles - t0);
    InputTransform(b, pad, t0, pt, v_buf.get());
    GradientTransform(b, gy_image, g.out[2], t.co, cov, t0, pt, z_buf.get());
    for (int xi = 0; xi < kXi; ++xi) {
      const float* v = v_buf.get() + xi * pt * b.Cv;
      const float* z = z_buf.get() + xi * pt * cov;
      for (std::int64_t c0 = 0; c0 < b.C; c0 += height) {
        const std::int64_t pk = std::min(height, b.C - c0);
        for (std::int64_t co0 = 0; co0 < t.co; co0 += 2 * L)
          kProducts[std::size_t(pk - 1)](v, b.Cv, z, cov, pt, c0, co0, std::min(2 * L, t.co - co0),
                                         slot + (xi * b.C + c0) * t.co + co0, t.co);
      }
    }
  }
}

#else  // never called: conv_winograd::applies is false on this target

void AddFilterRowsF32(const conv_direct::FilterTask<float>&, std::int64_t, std::int64_t,
                      std::int64_t, float*, float*) {}

#endif

}  // namespace elegy::kernels::conv_winograd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace elegy::kernels::conv_winograd {

HWY_EXPORT(AddFilterRowsF32);

void add_filter_rows(const conv_direct::FilterTask<float>& t, std::int64_t n, std::int64_t oh0,
                     std::int64_t oh1, float* pad, float* slot) {
  HWY_DYNAMIC_DISPATCH(AddFilterRowsF32)(t, n, oh0, oh1, pad, slot);
}

void filter_from_transformed(const float* slot, std::int64_t C, std::int64_t co, float* dw) {
  // dw[a][b] = sum over (r, q) of G[r][a] S[r][q] G[q][b], in double, output channels innermost.
  static constexpr double kG[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  parallel_for(C, 8, [&](std::int64_t c0, std::int64_t c1) {
    std::vector<double> acc(static_cast<std::size_t>(co));
    for (std::int64_t c = c0; c < c1; ++c)
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) {
          std::fill(acc.begin(), acc.end(), 0.0);
          for (int r = 0; r < 4; ++r)
            for (int q = 0; q < 4; ++q) {
              const double coef = kG[r][a] * kG[q][b];
              if (coef == 0.0) continue;
              const float* s = slot + ((r * 4 + q) * C + c) * co;
              for (std::int64_t o = 0; o < co; ++o) acc[std::size_t(o)] += coef * double(s[o]);
            }
          float* dst = dw + ((a * 3 + b) * C + c) * co;
          for (std::int64_t o = 0; o < co; ++o) dst[o] = float(acc[std::size_t(o)]);
        }
  });
}

}  // namespace elegy::kernels::conv_winograd
#endif  // HWY_ONCE
