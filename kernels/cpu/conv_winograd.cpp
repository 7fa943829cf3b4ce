// Winograd F(2x2, 3x3) convolution rows (see conv_winograd.hpp for what and why).
//
// Per pool task (image, band of output rows): the band's padded input is copied once (as the
// direct kernel does), then its 2x2 output tiles are taken in chunks of up to kMaxTile. For each
// chunk:
//   1. input transform: V[ξ][p][c] = (Bᵀ d_p B)[ξ] for the 16 positions ξ of tile p's 4x4 patch,
//      vectorised over channels;
//   2. for each block of 2 vectors of output channels and each ξ, a register tile of
//      (tiles x 2 vectors) accumulates M[ξ][p][co] = sum over c of V[ξ][p][c] U[ξ][c][co], the
//      same broadcast-and-FMA tile as conv_direct.cpp's with 16 small products in place of one;
//   3. output transform Y = Aᵀ M A per tile, then bias, relu and the stores of the outputs that
//      exist (the last tile of an odd row or column is half outside).
// Both scratch buffers stay in L1/L2; the transformed weights of a block (16 x C x 2 vectors,
// 64 KiB for C = 32) stay in L2 while every tile of the band streams through them.
//
// With Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1] and
// Aᵀ = [1 1 1 0; 0 1 -1 -1], Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A is the 3x3 correlation of the 4x4
// patch d with g: y0 = d0 g0 + d1 g1 + d2 g2 and y1 = d1 g0 + d2 g1 + d3 g2 along each axis.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "elegy/kernels/cpu/conv_winograd.cpp"
#include <hwy/aligned_allocator.h>
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "elegy/core/error.hpp"
#include "elegy/core/thread_pool.hpp"
#include "elegy/kernels/cpu/conv_winograd-inl.hpp"
#include "elegy/kernels/cpu/conv_winograd.hpp"

HWY_BEFORE_NAMESPACE();
namespace elegy::kernels::conv_winograd::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

bool Supported() {
  return ELEGY_WINOGRAD_TARGET;
}

#if ELEGY_WINOGRAD_TARGET

// M[ξ][p][0 .. 2L) = sum over c < C of V[ξ][p][c] * U[ξ][c][0 .. 2L), for the PT tiles of a
// chunk and one block of output channels (u: the block's [16][C][2L] weights).
template <int PT>
void Products(const float* v, std::int64_t C, std::int64_t Cv, const float* u, float* m) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  constexpr std::int64_t L = std::int64_t(HWY_LANES(float));
  for (int xi = 0; xi < kXi; ++xi) {
    const float* vx = v + xi * PT * Cv;
    const float* uk = u + xi * C * 2 * L;
    V acc0[PT], acc1[PT];
    for (int p = 0; p < PT; ++p) acc0[p] = acc1[p] = hn::Zero(d);
    for (std::int64_t c = 0; c < C; ++c, uk += 2 * L) {
      const V w0 = hn::Load(d, uk), w1 = hn::Load(d, uk + L);
      for (int p = 0; p < PT; ++p) {
        const V xb = hn::Set(d, vx[p * Cv + c]);
        acc0[p] = hn::MulAdd(xb, w0, acc0[p]);
        acc1[p] = hn::MulAdd(xb, w1, acc1[p]);
      }
    }
    float* mx = m + xi * PT * 2 * L;
    for (int p = 0; p < PT; ++p) {
      hn::Store(acc0[p], d, mx + p * 2 * L);
      hn::Store(acc1[p], d, mx + p * 2 * L + L);
    }
  }
}

using ProductsFn = void (*)(const float*, std::int64_t, std::int64_t, const float*, float*);

template <int... PT>
constexpr auto MakeProducts(std::integer_sequence<int, PT...>) {
  return std::array<ProductsFn, sizeof...(PT)>{&Products<PT + 1>...};
}

// Y = Aᵀ M A for the chunk's tiles and one block of output channels, + bias, relu, stored where
// the output exists (`valid` channels of the block).
void OutputTransform(const conv_direct::Task<float>& t, const Band& b, std::int64_t t0, int pt,
                     const float* m, const float* bias, std::int64_t co0, std::int64_t valid) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  constexpr std::int64_t L = std::int64_t(HWY_LANES(float));
  const std::int64_t wo = t.g->out[2];
  const std::int64_t xi_step = std::int64_t(pt) * 2 * L;
  for (int p = 0; p < pt; ++p) {
    const std::int64_t tl = t0 + p, tr = tl / b.tiles_w, tc = tl % b.tiles_w;
    const std::int64_t oh = b.oh0 + 2 * tr, ow = 2 * tc;
    const std::int64_t rows = std::min<std::int64_t>(2, b.oh0 + b.rows - oh);
    const std::int64_t cols = std::min<std::int64_t>(2, wo - ow);
    for (std::int64_t h = 0; h < 2; ++h) {
      const std::int64_t lanes = std::min(L, valid - h * L);
      if (lanes <= 0) break;
      const float* mp = m + p * 2 * L + h * L;
      // s = Aᵀ M (2 x 4), then y = s A (2 x 2).
      V s[2][4];
      for (int j = 0; j < 4; ++j) {
        const V m0 = hn::Load(d, mp + (0 * 4 + j) * xi_step);
        const V m1 = hn::Load(d, mp + (1 * 4 + j) * xi_step);
        const V m2 = hn::Load(d, mp + (2 * 4 + j) * xi_step);
        const V m3 = hn::Load(d, mp + (3 * 4 + j) * xi_step);
        s[0][j] = hn::Add(hn::Add(m0, m1), m2);
        s[1][j] = hn::Sub(hn::Sub(m1, m2), m3);
      }
      const V bv = bias ? hn::Load(d, bias + h * L) : hn::Zero(d);
      for (std::int64_t i = 0; i < rows; ++i) {
        V y[2] = {hn::Add(hn::Add(s[i][0], s[i][1]), s[i][2]),
                  hn::Sub(hn::Sub(s[i][1], s[i][2]), s[i][3])};
        float* orow = t.out + ((b.n * t.g->out[1] + oh + i) * wo + ow) * t.co + co0 + h * L;
        for (std::int64_t j = 0; j < cols; ++j) {
          V out = bias ? hn::Add(y[j], bv) : y[j];
          if (t.relu) out = hn::IfThenZeroElse(hn::Lt(out, hn::Zero(d)), out);
          if (lanes == L) {
            hn::StoreU(out, d, orow + j * t.co);
          } else {  // not BlendedStore: on NEON it rewrites the neighbouring floats
            HWY_ALIGN float tmp[HWY_LANES(float)];
            hn::Store(out, d, tmp);
            std::copy(tmp, tmp + lanes, orow + j * t.co);
          }
        }
      }
    }
  }
}

void RowsF32(const conv_direct::Task<float>& t, std::int64_t n, std::int64_t oh0, std::int64_t oh1,
             float* pad) {
  static constexpr auto kProducts = MakeProducts(std::make_integer_sequence<int, kMaxTile>());
  constexpr std::int64_t L = std::int64_t(HWY_LANES(float));
  const ConvGeometry& g = *t.g;
  const Band b(g, n, oh0, oh1);
  const std::int64_t tiles = b.tiles();
  b.pad(g, t.x, pad);

  thread_local hwy::AlignedFreeUniquePtr<float[]> v_buf, m_buf;
  thread_local std::int64_t v_size = 0;
  const std::int64_t v_need = kXi * kMaxTile * b.Cv;
  if (v_size < v_need) {
    v_buf = hwy::AllocateAligned<float>(std::size_t(v_need));
    v_size = v_need;
  }
  if (!m_buf) m_buf = hwy::AllocateAligned<float>(std::size_t(kXi * kMaxTile * 2 * L));

  // Chunks of equal size (the last may be smaller), at most kMaxTile tiles each.
  const std::int64_t chunks = (tiles + kMaxTile - 1) / kMaxTile;
  const std::int64_t width = (tiles + chunks - 1) / chunks;
  const std::int64_t weights_per_block = kXi * b.C * t.block;
  for (std::int64_t t0 = 0; t0 < tiles; t0 += width) {
    const int pt = int(std::min(width, tiles - t0));
    InputTransform(b, pad, t0, pt, v_buf.get());
    for (std::int64_t cb = 0; cb < t.co_blocks; ++cb) {
      kProducts[std::size_t(pt - 1)](v_buf.get(), b.C, b.Cv, t.packed + cb * weights_per_block,
                                     m_buf.get());
      OutputTransform(t, b, t0, pt, m_buf.get(), t.bias ? t.bias + cb * t.block : nullptr,
                      cb * t.block, std::min(t.block, t.co - cb * t.block));
    }
  }
}

#else  // never called: Supported() is false on this target

void RowsF32(const conv_direct::Task<float>&, std::int64_t, std::int64_t, std::int64_t, float*) {}

#endif

}  // namespace elegy::kernels::conv_winograd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace elegy::kernels::conv_winograd {

HWY_EXPORT(Supported);
HWY_EXPORT(RowsF32);

namespace {

// Fewer input channels leave the transforms, not the products, as most of the work (the CNN's
// 1->32 first layer stays direct).
constexpr std::int64_t kMinChannels = 16;

// Off with ELEGY_CONV_WINOGRAD=0 in the environment, or set_winograd_enabled(false).
std::atomic<bool>& enabled_flag() {
  static std::atomic<bool> enabled = [] {
    const char* env = std::getenv("ELEGY_CONV_WINOGRAD");
    return !(env && std::strcmp(env, "0") == 0);
  }();
  return enabled;
}

}  // namespace

bool winograd_enabled() {
  return enabled_flag().load(std::memory_order_relaxed);
}
void set_winograd_enabled(bool enabled) {
  enabled_flag().store(enabled, std::memory_order_relaxed);
}

bool winograd_supported() {
  return HWY_DYNAMIC_DISPATCH(Supported)();
}

bool applies(const ConvGeometry& g) {
  return g.kernel[0] == 1 && g.kernel[1] == 3 && g.kernel[2] == 3 && g.dilation[1] == 1 &&
         g.dilation[2] == 1 && g.stride[1] == 1 && g.stride[2] == 1 && g.groups == 1 &&
         g.channels >= kMinChannels && winograd_enabled() && winograd_supported();
}

std::int64_t pad_elements(const ConvGeometry& g, std::int64_t rows) {
  const std::int64_t tile_rows = (rows + 1) / 2, tiles_w = (g.out[2] + 1) / 2;
  return (2 * tile_rows + 2) * (2 * tiles_w + 2) * g.channels;
}

conv_direct::Packed<float> pack(const ConvGeometry& g, const float* w, bool transposed,
                                const float* b, std::int64_t b_stride, std::int64_t co,
                                std::int64_t block) {
  // G's rows; U = G g Gᵀ is computed in double and rounded once. Loops run over the block's
  // output channels innermost, so they vectorise (this runs on every call, once per weight).
  static constexpr double kG[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  constexpr std::int64_t kMaxBlock = 64;  // 2 vectors of the widest float target (AVX-512)
  const std::int64_t C = g.channels, taps = 9, blocks = (co + block - 1) / block;
  ELEGY_CHECK(block <= kMaxBlock, "conv (Winograd)", "channel block of ", block,
              " floats is wider than the ", kMaxBlock, " this build's scratch holds");
  conv_direct::Packed<float> p;
  p.weights = hwy::AllocateAligned<float>(std::size_t(blocks * kXi * C * block));
  float* out = p.weights.get();
  parallel_for(blocks * C, 8, [&](std::int64_t u0, std::int64_t u1) {
    double k[9][kMaxBlock], gk[4][3][kMaxBlock];
    for (std::int64_t u = u0; u < u1; ++u) {
      const std::int64_t cb = u / C, c = u % C, o0 = cb * block;
      const std::int64_t valid = std::min(block, co - o0);
      for (std::int64_t tap = 0; tap < taps; ++tap) {
        for (std::int64_t j = 0; j < valid; ++j)
          k[tap][j] = transposed ? w[((taps - 1 - tap) * co + o0 + j) * C + c]
                                 : w[(tap * C + c) * co + o0 + j];
        for (std::int64_t j = valid; j < block; ++j) k[tap][j] = 0.0;
      }
      for (int i = 0; i < 4; ++i)
        for (int s = 0; s < 3; ++s)
          for (std::int64_t j = 0; j < block; ++j)
            gk[i][s][j] = kG[i][0] * k[s][j] + kG[i][1] * k[3 + s][j] + kG[i][2] * k[6 + s][j];
      for (int i = 0; i < 4; ++i)
        for (int q = 0; q < 4; ++q) {
          float* dst = out + ((cb * kXi + i * 4 + q) * C + c) * block;
          for (std::int64_t j = 0; j < block; ++j)
            dst[j] =
                float(gk[i][0][j] * kG[q][0] + gk[i][1][j] * kG[q][1] + gk[i][2][j] * kG[q][2]);
        }
    }
  });
  if (b) {
    p.bias = hwy::AllocateAligned<float>(std::size_t(blocks * block));
    for (std::int64_t j = 0; j < blocks * block; ++j)
      p.bias[std::size_t(j)] = j < co ? b[j * b_stride] : 0.0f;
  }
  return p;
}

void rows(const conv_direct::Task<float>& t, std::int64_t n, std::int64_t oh0, std::int64_t oh1,
          float* pad) {
  HWY_DYNAMIC_DISPATCH(RowsF32)(t, n, oh0, oh1, pad);
}

}  // namespace elegy::kernels::conv_winograd
#endif  // HWY_ONCE
