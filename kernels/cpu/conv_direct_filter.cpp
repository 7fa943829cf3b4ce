// ConvDirectFilter: the filter gradient of a stride-1 convolution, dw[tap, c, co] = sum over
// output positions of x[position + tap offset, c] * gy[position, co], computed straight from
// the input like ConvDirect (conv_direct.cpp) instead of through a column buffer.
//
// A register tile holds PK consecutive rows k = (tap, c) of dw x 2 vectors of output channels;
// per output position it loads the two gy vectors once and broadcasts PK inputs into 2 * PK
// fused multiply-adds. Each pool part sums its images in order into its own dw-shaped slot
// (part 0's slot is dw), and the slots are added in part order at the end, so the result
// depends on the thread count but never on timing (as the im2col path).
//
// Layout: x [N, 1, H, W, C] (any strides), gy dense [N, 1, Ho, Wo, Co], dw dense [taps, C, Co].
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "elegy/kernels/cpu/conv_direct_filter.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "elegy/core/thread_pool.hpp"
#include "elegy/kernels/cpu/conv_direct.hpp"
#include "elegy/kernels/cpu/conv_winograd.hpp"
#include "elegy/kernels/dispatch.hpp"

HWY_BEFORE_NAMESPACE();
namespace elegy::kernels::conv_direct::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Rows of dw per register tile (2 * kMaxRows accumulators, 2 gy vectors and a broadcast).
#if HWY_TARGET <= HWY_AVX3
constexpr int kMaxRows = 12;
#else
constexpr int kMaxRows = 6;
#endif

// dw rows k0 .. k0+PK (their inputs at `offset[j]` from a position's window origin) x the
// channel block at co0 (`valid` of its 2L channels exist), summed over output rows [oh0, oh1)
// of one image (pad: its padded rows from oh0) and added into slot.
template <int PK, class T>
void AddTile(const FilterTask<T>& t, const T* pad, const T* gy_image, std::int64_t gy_step,
             std::int64_t oh0, std::int64_t oh1, const std::int64_t* offset, std::int64_t co0,
             std::int64_t valid, T* slot_rows) {
  const hn::ScalableTag<T> d;
  constexpr std::int64_t L = std::int64_t(HWY_LANES(T));
  const ConvGeometry& g = *t.g;
  const std::int64_t C = g.channels, wp = padded_width(g), wo = g.out[2];
#if HWY_HAVE_SCALABLE
  // Sizeless vectors cannot live in arrays: one row at a time.
  const std::int64_t lanes = std::int64_t(hn::Lanes(d));
  for (int j = 0; j < PK; ++j) {
    auto a0 = hn::Zero(d), a1 = hn::Zero(d);
    for (std::int64_t oh = oh0; oh < oh1; ++oh) {
      const T* xr = pad + (oh - oh0) * wp * C + offset[j];
      const T* gr = gy_image + oh * wo * gy_step + co0;
      for (std::int64_t ow = 0; ow < wo; ++ow) {
        const auto xb = hn::Set(d, xr[ow * C]);
        a0 = hn::MulAdd(xb, hn::LoadU(d, gr + ow * gy_step), a0);
        a1 = hn::MulAdd(xb, hn::LoadU(d, gr + ow * gy_step + lanes), a1);
      }
    }
    T tmp[2 * HWY_LANES(T)];
    hn::StoreU(a0, d, tmp);
    hn::StoreU(a1, d, tmp + lanes);
    for (std::int64_t c = 0; c < valid; ++c) slot_rows[j * t.co + c] += tmp[c];
  }
#else
  using V = hn::Vec<decltype(d)>;
  V acc0[PK], acc1[PK];
  for (int j = 0; j < PK; ++j) acc0[j] = acc1[j] = hn::Zero(d);
  for (std::int64_t oh = oh0; oh < oh1; ++oh) {
    // One pointer per dw row, indexed together: the broadcasts need no offset loads.
    const T* xp[PK];
    for (int j = 0; j < PK; ++j) xp[j] = pad + (oh - oh0) * wp * C + offset[j];
    const T* gr = gy_image + oh * wo * gy_step + co0;
    for (std::int64_t ow = 0, i = 0; ow < wo; ++ow, i += C, gr += gy_step) {
      const V g0 = hn::LoadU(d, gr), g1 = hn::LoadU(d, gr + L);
      for (int j = 0; j < PK; ++j) {
        const V xb = hn::Set(d, xp[j][i]);
        acc0[j] = hn::MulAdd(xb, g0, acc0[j]);
        acc1[j] = hn::MulAdd(xb, g1, acc1[j]);
      }
    }
  }
  for (int j = 0; j < PK; ++j) {
    T* s = slot_rows + j * t.co;
    if (valid == 2 * L) {
      hn::StoreU(hn::Add(hn::LoadU(d, s), acc0[j]), d, s);
      hn::StoreU(hn::Add(hn::LoadU(d, s + L), acc1[j]), d, s + L);
    } else {
      HWY_ALIGN T tmp[2 * L];
      hn::Store(acc0[j], d, tmp);
      hn::Store(acc1[j], d, tmp + L);
      for (std::int64_t c = 0; c < valid; ++c) s[c] += tmp[c];
    }
  }
#endif
}

template <class T>
using TileFn = void (*)(const FilterTask<T>&, const T*, const T*, std::int64_t, std::int64_t,
                        std::int64_t, const std::int64_t*, std::int64_t, std::int64_t, T*);

template <class T, int... PK>
constexpr auto MakeTiles(std::integer_sequence<int, PK...>) {
  return std::array<TileFn<T>, sizeof...(PK)>{&AddTile<PK + 1, T>...};
}

// Adds output rows [oh0, oh1) of image n's contribution into slot ([taps * C, Co]).
template <class T>
void AddRows(const FilterTask<T>& t, std::int64_t n, std::int64_t oh0, std::int64_t oh1, T* pad,
             T* slot) {
  static constexpr auto kTiles = MakeTiles<T>(std::make_integer_sequence<int, kMaxRows>());
  const ConvGeometry& g = *t.g;
  const std::int64_t C = g.channels, K = g.taps() * C;
  const std::int64_t block = 2 * std::int64_t(hn::Lanes(hn::ScalableTag<T>()));
  pad_rows(g, t.x, n, oh0, padded_rows(g, oh1 - oh0), pad);
  const T* gy_image = t.gy + n * t.gy_n;
  // A last block narrower than 2L: its channels copied into zero-padded rows of 2L, so the tile
  // loads whole vectors without reading past the image.
  const std::int64_t rows_out = (oh1 - oh0) * g.out[2], tail = t.co % block;
  std::vector<T> tail_gy;
  if (tail != 0) {
    tail_gy.assign(std::size_t(g.out_positions() * block), T(0));
    for (std::int64_t r = oh0 * g.out[2]; r < oh0 * g.out[2] + rows_out; ++r)
      std::copy(gy_image + r * t.co + (t.co - tail), gy_image + (r + 1) * t.co,
                tail_gy.data() + r * block);
  }
  // dw's K rows as tiles of equal height (the last one may be shorter).
  const std::int64_t tiles = (K + kMaxRows - 1) / kMaxRows, height = (K + tiles - 1) / tiles;
  std::int64_t offset[kMaxRows];
  for (std::int64_t k0 = 0; k0 < K; k0 += height) {
    const std::int64_t pk = std::min(height, K - k0);
    for (std::int64_t j = 0; j < pk; ++j) offset[j] = t.taps[(k0 + j) / C] + (k0 + j) % C;
    for (std::int64_t co0 = 0; co0 < t.co; co0 += block) {
      const std::int64_t valid = std::min(block, t.co - co0);
      T* dst = slot + k0 * t.co + co0;
      if (valid == block)
        kTiles[std::size_t(pk - 1)](t, pad, gy_image, t.co, oh0, oh1, offset, co0, valid, dst);
      else
        kTiles[std::size_t(pk - 1)](t, pad, tail_gy.data(), block, oh0, oh1, offset, 0, valid, dst);
    }
  }
}

void AddRowsF32(const FilterTask<float>& t, std::int64_t n, std::int64_t oh0, std::int64_t oh1,
                float* pad, float* slot) {
  AddRows(t, n, oh0, oh1, pad, slot);
}
void AddRowsF64(const FilterTask<double>& t, std::int64_t n, std::int64_t oh0, std::int64_t oh1,
                double* pad, double* slot) {
  AddRows(t, n, oh0, oh1, pad, slot);
}

}  // namespace elegy::kernels::conv_direct::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace elegy::kernels {
namespace conv_direct {

HWY_EXPORT(AddRowsF32);
HWY_EXPORT(AddRowsF64);

void add_rows(const FilterTask<float>& t, std::int64_t n, std::int64_t oh0, std::int64_t oh1,
              float* pad, float* slot) {
  HWY_DYNAMIC_DISPATCH(AddRowsF32)(t, n, oh0, oh1, pad, slot);
}
void add_rows(const FilterTask<double>& t, std::int64_t n, std::int64_t oh0, std::int64_t oh1,
              double* pad, double* slot) {
  HWY_DYNAMIC_DISPATCH(AddRowsF64)(t, n, oh0, oh1, pad, slot);
}

}  // namespace conv_direct

namespace {

using conv_direct::FilterTask;

// Multiply-adds a part must have before the work is split over threads.
constexpr double kPartFlops = 1 << 20;

template <class T>
void conv_direct_filter_kernel(const KernelArgs& a) {
  const ConvGeometry& g = geometry_of(a);
  FilterTask<T> t(a.in[0]);
  t.g = &g;
  t.gy = static_cast<const T*>(a.in[1].data);
  t.gy_n = g.out_positions() * a.out.sizes[a.out.rank - 1];
  const std::vector<std::int64_t> taps = conv_direct::tap_offsets(g);
  t.taps = taps.data();
  t.co = a.out.sizes[a.out.rank - 1];
  T* dw = static_cast<T*>(a.out.data);
  const std::int64_t K = g.taps() * g.channels, size = K * t.co;
  std::fill(dw, dw + size, T(0));
  if (g.batch * g.out_positions() == 0 || size == 0) return;

  // 3x3 float32 convs with enough channels sum in Winograd's transformed space
  // (conv_winograd.hpp). Every part sums into a slot of its own; dw comes from them at the end.
  const bool winograd = conv_winograd::applies(g, T());
  const conv_direct::Bands bands(g, num_threads(), winograd ? 2 : 1);
  const std::int64_t units = bands.count(g);
  const double flops = double(g.batch * g.out_positions()) * double(size);
  const std::int64_t parts = std::clamp<std::int64_t>(
      std::min<std::int64_t>(num_threads(), std::int64_t(flops / kPartFlops)), 1, units);
  std::vector<std::vector<T>> slots(static_cast<std::size_t>(parts));
  for (auto& s : slots)
    s.assign(std::size_t(conv_winograd::filter_slot_size(winograd, g, t.co)), T(0));
  const std::int64_t pad_elems = conv_winograd::pad_size(winograd, g, bands.rows);
  parallel_for(parts, 1, [&](std::int64_t p0, std::int64_t p1) {
    thread_local std::vector<T> pad;
    if (std::int64_t(pad.size()) < pad_elems) pad.resize(std::size_t(pad_elems));
    for (std::int64_t p = p0; p < p1; ++p)
      for (std::int64_t u = units * p / parts; u < units * (p + 1) / parts; ++u) {
        const std::int64_t n = u / bands.per_image, oh0 = (u % bands.per_image) * bands.rows;
        conv_winograd::add_filter_rows(winograd, t, n, oh0, std::min(g.out[1], oh0 + bands.rows),
                                       pad.data(), slots[std::size_t(p)].data());
      }
  });
  conv_winograd::filter_from_slots(winograd, slots, g, t.co, dw);
}

}  // namespace

void register_cpu_conv_direct_filter(Registry& r) {
  r.add(Op::ConvDirectFilter, DeviceKind::cpu, DType::f32, conv_direct_filter_kernel<float>);
  r.add(Op::ConvDirectFilter, DeviceKind::cpu, DType::f64, conv_direct_filter_kernel<double>);
}

}  // namespace elegy::kernels
#endif  // HWY_ONCE
