// ConvDirect: a stride-1 convolution computed straight from the input, without a column buffer
// (an "implicit GEMM"), with the bias and activation applied before the one store of each
// output. The conv ops (autodiff/conv_compute.cpp) use it for the forward pass and, with the
// kernel flipped and its channel axes swapped, for the input gradient.
//
// Why: im2col + OpenBLAS writes every input value taps times into a column buffer, which
// OpenBLAS then reads and packs again before its micro-kernel runs. With few input channels (a
// first layer: 9 values per row) that copying is most of the time; with 32 it is still a third.
// Here each pool task copies one image into a zero-padded buffer (so no load needs a bounds
// check), and a register tile of PT consecutive output positions x 2 vectors of output channels
// accumulates over (tap, input channel): per step, two weight vectors and PT broadcast inputs
// feed 2 * PT fused multiply-adds, so the FMA units, not the loads, set the pace.
//
// Layout and order: x [N, 1, H, W, C] (any strides), w dense [taps, C, Co] (transposed mode:
// [taps, Co, C] read at tap taps-1-t, see kernels/conv_geometry.hpp), out dense [N, 1, Ho, Wo,
// Co]. Every output sums its taps and channels in (tap, channel) order with one rounding per
// multiply-add, whatever the thread count.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "elegy/kernels/cpu/conv_direct.cpp"
#include <hwy/aligned_allocator.h>
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "elegy/core/thread_pool.hpp"
#include "elegy/kernels/conv_geometry.hpp"
#include "elegy/kernels/cpu/conv_direct.hpp"
#include "elegy/kernels/cpu/conv_winograd.hpp"
#include "elegy/kernels/dispatch.hpp"

HWY_BEFORE_NAMESPACE();
namespace elegy::kernels::conv_direct::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Positions per register tile: 2 * kMaxTile accumulators, 2 weight vectors and a broadcast must
// fit the register file (32 vector registers with AVX-512, 16 below).
#if HWY_TARGET <= HWY_AVX3
constexpr int kMaxTile = 12;
#else
constexpr int kMaxTile = 6;
#endif

template <class T>
std::int64_t BlockWidth() {
  return 2 * std::int64_t(hn::Lanes(hn::ScalableTag<T>()));
}

// Output channels per block: two vectors.
std::int64_t BlockWidthF32() {
  return BlockWidth<float>();
}
std::int64_t BlockWidthF64() {
  return BlockWidth<double>();
}

// One output position's two channel vectors: + bias, relu, stored (only the `valid` channels
// of a block past the end of Co).
template <class D, class V = hn::Vec<D>, class T = hn::TFromD<D>>
HWY_INLINE void StoreOutputs(D d, V a0, V a1, const T* bias, bool relu, T* o, std::int64_t valid) {
  const std::int64_t L = std::int64_t(hn::Lanes(d));
  if (bias) {
    a0 = hn::Add(a0, hn::Load(d, bias));
    a1 = hn::Add(a1, hn::Load(d, bias + L));
  }
  if (relu) {
    a0 = hn::IfThenZeroElse(hn::Lt(a0, hn::Zero(d)), a0);
    a1 = hn::IfThenZeroElse(hn::Lt(a1, hn::Zero(d)), a1);
  }
  if (valid == 2 * L) {
    hn::StoreU(a0, d, o);
    hn::StoreU(a1, d, o + L);
  } else {  // the last block of a channel count that is not a multiple of 2L
    HWY_ALIGN T tmp[2 * HWY_LANES(T)];
    hn::Store(a0, d, tmp);
    hn::Store(a1, d, tmp + L);
    std::copy(tmp, tmp + valid, o);
  }
}

#if HWY_HAVE_SCALABLE
// Sizeless vectors cannot live in arrays: one position at a time.
template <int PT, class T>
void TileRow(const Task<T>& t, const T* xpos, const T* w, const T* bias, T* out,
             std::int64_t valid) {
  const hn::ScalableTag<T> d;
  const std::int64_t L = std::int64_t(hn::Lanes(d)), C = t.g->channels, taps = t.g->taps();
  for (int p = 0; p < PT; ++p) {
    auto a0 = hn::Zero(d), a1 = hn::Zero(d);
    const T* wk = w;
    for (std::int64_t tap = 0; tap < taps; ++tap)
      for (std::int64_t c = 0; c < C; ++c, wk += 2 * L) {
        const auto xb = hn::Set(d, xpos[p * C + t.taps[tap] + c]);
        a0 = hn::MulAdd(xb, hn::Load(d, wk), a0);
        a1 = hn::MulAdd(xb, hn::Load(d, wk + L), a1);
      }
    StoreOutputs(d, a0, a1, bias, t.relu, out + p * t.co, valid);
  }
}
#else
// PT consecutive output positions of one row x one block of output channels. xpos: the padded
// input at the first position's window origin; w: the block's packed weights [taps * C][2L].
template <int PT, class T>
void TileRow(const Task<T>& t, const T* xpos, const T* w, const T* bias, T* out,
             std::int64_t valid) {
  const hn::ScalableTag<T> d;
  using V = hn::Vec<decltype(d)>;
  constexpr std::int64_t L = std::int64_t(HWY_LANES(T));
  const std::int64_t C = t.g->channels, taps = t.g->taps();
  V acc0[PT], acc1[PT];
  for (int p = 0; p < PT; ++p) acc0[p] = acc1[p] = hn::Zero(d);
  const T* wk = w;
  for (std::int64_t tap = 0; tap < taps; ++tap) {
    const T* xt = xpos + t.taps[tap];
    for (std::int64_t c = 0; c < C; ++c, wk += 2 * L) {
      const V w0 = hn::Load(d, wk), w1 = hn::Load(d, wk + L);
      for (int p = 0; p < PT; ++p) {
        const V xb = hn::Set(d, xt[p * C + c]);
        acc0[p] = hn::MulAdd(xb, w0, acc0[p]);
        acc1[p] = hn::MulAdd(xb, w1, acc1[p]);
      }
    }
  }
  for (int p = 0; p < PT; ++p)
    StoreOutputs(d, acc0[p], acc1[p], bias, t.relu, out + p * t.co, valid);
}
#endif

template <class T>
using TileFn = void (*)(const Task<T>&, const T*, const T*, const T*, T*, std::int64_t);

template <class T, int... PT>
constexpr auto MakeTiles(std::integer_sequence<int, PT...>) {
  return std::array<TileFn<T>, sizeof...(PT)>{&TileRow<PT + 1, T>...};
}

// Output rows [oh0, oh1) of image n, every channel block. `pad` holds at least
// (oh1 - oh0 + (kh-1)*dh) * wp * C elements.
template <class T>
void Rows(const Task<T>& t, std::int64_t n, std::int64_t oh0, std::int64_t oh1, T* pad) {
  static constexpr auto kTiles = MakeTiles<T>(std::make_integer_sequence<int, kMaxTile>());
  const ConvGeometry& g = *t.g;
  const std::int64_t C = g.channels, wp = padded_width(g), wo = g.out[2];
  pad_rows(g, t.x, n, oh0, padded_rows(g, oh1 - oh0), pad);
  // A row of Wo positions as tiles of equal width (the last one may be narrower).
  const std::int64_t tiles = (wo + kMaxTile - 1) / kMaxTile, width = (wo + tiles - 1) / tiles;
  const std::int64_t K = g.taps() * C;
  for (std::int64_t cb = 0; cb < t.co_blocks; ++cb) {
    const T* w = t.packed + cb * K * t.block;
    const T* bias = t.bias ? t.bias + cb * t.block : nullptr;
    const std::int64_t valid = std::min(t.block, t.co - cb * t.block);
    for (std::int64_t oh = oh0; oh < oh1; ++oh) {
      T* orow = t.out + ((n * g.out[1] + oh) * wo) * t.co + cb * t.block;
      const T* xrow = pad + (oh - oh0) * wp * C;
      for (std::int64_t ow = 0; ow < wo; ow += width) {
        const std::int64_t pt = std::min(width, wo - ow);
        kTiles[std::size_t(pt - 1)](t, xrow + ow * C, w, bias, orow + ow * t.co, valid);
      }
    }
  }
}

void RowsF32(const Task<float>& t, std::int64_t n, std::int64_t oh0, std::int64_t oh1, float* pad) {
  Rows(t, n, oh0, oh1, pad);
}
void RowsF64(const Task<double>& t, std::int64_t n, std::int64_t oh0, std::int64_t oh1,
             double* pad) {
  Rows(t, n, oh0, oh1, pad);
}

}  // namespace elegy::kernels::conv_direct::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace elegy::kernels {
namespace conv_direct {

HWY_EXPORT(BlockWidthF32);
HWY_EXPORT(BlockWidthF64);
HWY_EXPORT(RowsF32);
HWY_EXPORT(RowsF64);

std::int64_t block_width(float) {
  return HWY_DYNAMIC_DISPATCH(BlockWidthF32)();
}
std::int64_t block_width(double) {
  return HWY_DYNAMIC_DISPATCH(BlockWidthF64)();
}
void rows(const Task<float>& t, std::int64_t n, std::int64_t oh0, std::int64_t oh1, float* pad) {
  HWY_DYNAMIC_DISPATCH(RowsF32)(t, n, oh0, oh1, pad);
}
void rows(const Task<double>& t, std::int64_t n, std::int64_t oh0, std::int64_t oh1, double* pad) {
  HWY_DYNAMIC_DISPATCH(RowsF64)(t, n, oh0, oh1, pad);
}

template <class T>
Packed<T> pack(const ConvGeometry& g, const T* w, bool transposed, const T* b,
               std::int64_t b_stride, std::int64_t co, std::int64_t block) {
  const std::int64_t C = g.channels, taps = g.taps(), K = taps * C;
  const std::int64_t blocks = (co + block - 1) / block;
  Packed<T> p;
  p.weights = hwy::AllocateAligned<T>(std::size_t(blocks * K * block));
  for (std::int64_t cb = 0; cb < blocks; ++cb)
    for (std::int64_t tap = 0; tap < taps; ++tap)
      for (std::int64_t c = 0; c < C; ++c) {
        T* dst = p.weights.get() + (cb * K + tap * C + c) * block;
        for (std::int64_t j = 0; j < block; ++j) {
          const std::int64_t o = cb * block + j;
          dst[j] = o >= co      ? T(0)
                   : transposed ? w[((taps - 1 - tap) * co + o) * C + c]
                                : w[(tap * C + c) * co + o];
        }
      }
  if (b) {
    p.bias = hwy::AllocateAligned<T>(std::size_t(blocks * block));
    for (std::int64_t j = 0; j < blocks * block; ++j)
      p.bias[std::size_t(j)] = j < co ? b[j * b_stride] : T(0);
  }
  return p;
}
template Packed<float> pack(const ConvGeometry&, const float*, bool, const float*, std::int64_t,
                            std::int64_t, std::int64_t);
template Packed<double> pack(const ConvGeometry&, const double*, bool, const double*, std::int64_t,
                             std::int64_t, std::int64_t);

}  // namespace conv_direct

namespace {

using conv_direct::Task;

// Multiply-adds per pool task: enough that a task outweighs waking a thread.
constexpr double kTaskFlops = 1 << 20;

template <class T>
void conv_direct_kernel(const KernelArgs& a) {
  const ConvGeometry& g = geometry_of(a);
  Task<T> t(a.in[0]);
  t.g = &g;
  t.out = static_cast<T*>(a.out.data);
  t.co = a.out.sizes[4];
  t.relu = Activation(a.ints[1]) == Activation::relu;
  t.block = conv_direct::block_width(T());
  t.co_blocks = (t.co + t.block - 1) / t.block;
  const std::vector<std::int64_t> tap_offsets = conv_direct::tap_offsets(g);
  t.taps = tap_offsets.data();
  const std::int64_t C = g.channels, taps = g.taps(), K = taps * C;
  if (g.batch * g.out_positions() * t.co == 0) return;

  // 3x3 float32 convs with enough channels run as Winograd F(2x2, 3x3) (conv_winograd.hpp).
  const bool winograd = conv_winograd::applies(g, T());
  const conv_direct::Packed<T> packed =
      conv_winograd::pack_weights(winograd, g, static_cast<const T*>(a.in[1].data), a.ints[2] != 0,
                                  a.num_inputs > 2 ? static_cast<const T*>(a.in[2].data) : nullptr,
                                  a.num_inputs > 2 ? a.in[2].strides[0] : 0, t.co, t.block);
  t.packed = packed.weights.get();
  t.bias = packed.bias.get();

  // Winograd's bands are whole pairs of rows, so its tiles sit on the same rows whatever the
  // banding (and the results do not depend on the thread count).
  const conv_direct::Bands bands(g, num_threads(), winograd ? 2 : 1);
  const double band_flops = double(bands.rows * g.out[2]) * double(K) * double(t.co);
  const std::int64_t grain = std::max<std::int64_t>(1, std::int64_t(kTaskFlops / band_flops));
  const std::int64_t pad_elems = conv_winograd::pad_size(winograd, g, bands.rows);
  parallel_for(bands.count(g), grain, [&](std::int64_t u0, std::int64_t u1) {
    thread_local std::vector<T> pad;
    if (std::int64_t(pad.size()) < pad_elems) pad.resize(std::size_t(pad_elems));
    for (std::int64_t u = u0; u < u1; ++u) {
      const std::int64_t n = u / bands.per_image, oh0 = (u % bands.per_image) * bands.rows;
      conv_winograd::output_rows(winograd, t, n, oh0, std::min(g.out[1], oh0 + bands.rows),
                                 pad.data());
    }
  });
}

}  // namespace

void register_cpu_conv_direct(Registry& r) {
  r.add(Op::ConvDirect, DeviceKind::cpu, DType::f32, conv_direct_kernel<float>);
  r.add(Op::ConvDirect, DeviceKind::cpu, DType::f64, conv_direct_kernel<double>);
}

}  // namespace elegy::kernels
#endif  // HWY_ONCE
