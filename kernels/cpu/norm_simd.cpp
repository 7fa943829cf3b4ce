// The norm family's inner loops, compiled once per Highway target: per-row mean and biased
// variance, LayerNorm forward and its fused backward (explicit Highway SIMD), and BatchNorm's
// per-channel loops (plain loops over contiguous channels, which the compiler vectorises at
// the target's width), on dense float32/float64 data.
//
// Statistics are two-pass over a row that stays in L1/L2 (mean, then the sum of squared
// deviations), so no cancellation; sums run in T lanes over blocks of kBlock elements and the
// block sums add up in double, so float32 rows of millions of elements stay accurate.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "elegy/kernels/cpu/norm_simd.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>

#include "elegy/kernels/cpu/norm_simd.hpp"

HWY_BEFORE_NAMESPACE();
namespace elegy::kernels::norm_simd::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Elements summed in T lanes before the partial sum moves to double.
constexpr std::int64_t kBlock = 2048;

// Sum over i in [0, n) of the lanes load(i, mask) returns (lanes outside `mask` must be zero),
// in blocks: full vectors use an all-true mask the compiler folds away.
template <class D, class Load>
HWY_INLINE double BlockedSum(D d, std::int64_t n, const Load& load) {
  using V = hn::Vec<D>;
  const std::int64_t N = std::int64_t(hn::Lanes(d));
  const auto all = hn::FirstN(d, hn::Lanes(d));
  double total = 0.0;
  for (std::int64_t b = 0; b < n; b += kBlock) {
    const std::int64_t end = b + kBlock < n ? b + kBlock : n;
    V s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
    std::int64_t i = b;
    for (; i + 4 * N <= end; i += 4 * N) {
      s0 = hn::Add(s0, load(i, all));
      s1 = hn::Add(s1, load(i + N, all));
      s2 = hn::Add(s2, load(i + 2 * N, all));
      s3 = hn::Add(s3, load(i + 3 * N, all));
    }
    for (; i + N <= end; i += N) s0 = hn::Add(s0, load(i, all));
    if (i < end) s0 = hn::Add(s0, load(i, hn::FirstN(d, std::size_t(end - i))));
    total += double(hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(s0, s1), hn::Add(s2, s3)))));
  }
  return total;
}

template <class D, class T = hn::TFromD<D>>
HWY_INLINE hn::Vec<D> LoadMasked(D d, const T* p, hn::Mask<D> m) {
  return hn::MaskedLoad(m, d, p);
}

// Mean and biased variance of n contiguous elements (two passes).
template <class D, class T = hn::TFromD<D>>
HWY_INLINE void RowMoments(D d, const T* HWY_RESTRICT x, std::int64_t n, double& mean,
                           double& var) {
  mean =
      BlockedSum(d, n, [&](std::int64_t i, auto m) { return LoadMasked(d, x + i, m); }) / double(n);
  const auto vm = hn::Set(d, T(mean));
  var = BlockedSum(d, n,
                   [&](std::int64_t i, auto m) {
                     const auto c = hn::IfThenElseZero(m, hn::Sub(LoadMasked(d, x + i, m), vm));
                     return hn::Mul(c, c);
                   }) /
        double(n);
}

template <class T>
void MomentsRows(const RowsTask& t) {
  const hn::ScalableTag<T> d;
  const T* x = static_cast<const T*>(t.x);
  for (std::int64_t r = t.r0; r < t.r1; ++r) {
    double mean, var;
    RowMoments(d, x + r * t.K, t.K, mean, var);
    static_cast<T*>(t.mean)[r] = T(mean);
    static_cast<T*>(t.var)[r] = T(var);
  }
}

// y = (x - mean) * (rstd * scale) + offset over one row; scale/offset optional.
template <bool kScale, bool kOffset, class T>
void LayerNormRowsImpl(const RowsTask& t) {
  const hn::ScalableTag<T> d;
  const std::int64_t N = std::int64_t(hn::Lanes(d)), K = t.K;
  const T* scale = static_cast<const T*>(t.scale);
  const T* offset = static_cast<const T*>(t.offset);
  for (std::int64_t r = t.r0; r < t.r1; ++r) {
    const T* x = static_cast<const T*>(t.x) + r * K;
    T* y = static_cast<T*>(t.y) + r * K;
    double mean, var;
    RowMoments(d, x, K, mean, var);
    const auto vm = hn::Set(d, T(mean));
    const auto vr = hn::Set(d, T(1.0 / std::sqrt(var + t.eps)));
    auto row = [&](std::int64_t i, auto m) {
      auto a = vr;
      if constexpr (kScale) a = hn::Mul(a, LoadMasked(d, scale + i, m));
      const auto c = hn::Sub(LoadMasked(d, x + i, m), vm);
      if constexpr (kOffset) return hn::MulAdd(c, a, LoadMasked(d, offset + i, m));
      return hn::Mul(c, a);
    };
    const auto all = hn::FirstN(d, hn::Lanes(d));
    std::int64_t i = 0;
    for (; i + N <= K; i += N) hn::StoreU(row(i, all), d, y + i);
    if (i < K) {
      const auto m = hn::FirstN(d, std::size_t(K - i));
      hn::BlendedStore(row(i, m), m, d, y + i);
    }
  }
}

template <class T>
void LayerNormRows(const RowsTask& t) {
  if (t.scale && t.offset) return LayerNormRowsImpl<true, true, T>(t);
  if (t.scale) return LayerNormRowsImpl<true, false, T>(t);
  if (t.offset) return LayerNormRowsImpl<false, true, T>(t);
  LayerNormRowsImpl<false, false, T>(t);
}

// With xhat = (x - mean) * rstd and gs = g * scale:
//   dx = rstd * (gs - mean(gs) - xhat * mean(gs * xhat)),
//   dscale += g * xhat, doffset += g.
template <bool kScale, class T>
void LayerNormBackwardRowsImpl(const RowsTask& t) {
  const hn::ScalableTag<T> d;
  const std::int64_t N = std::int64_t(hn::Lanes(d)), K = t.K;
  const T* scale = static_cast<const T*>(t.scale);
  T* dscale = static_cast<T*>(t.dscale);
  T* doffset = static_cast<T*>(t.doffset);
  const auto all = hn::FirstN(d, hn::Lanes(d));
  for (std::int64_t r = t.r0; r < t.r1; ++r) {
    const T* x = static_cast<const T*>(t.x) + r * K;
    const T* g = static_cast<const T*>(t.g) + r * K;
    T* dx = static_cast<T*>(t.y) + r * K;
    double mean, var;
    RowMoments(d, x, K, mean, var);
    const T rstd = T(1.0 / std::sqrt(var + t.eps));
    const auto vm = hn::Set(d, T(mean)), vr = hn::Set(d, rstd);
    // Pass 1: the two row sums, and the parameter gradients' accumulation.
    auto s1 = hn::Zero(d), s2 = hn::Zero(d);
    auto accumulate = [&](std::int64_t i, auto m) {
      const auto gv = LoadMasked(d, g + i, m);
      const auto xhat = hn::IfThenElseZero(m, hn::Mul(hn::Sub(LoadMasked(d, x + i, m), vm), vr));
      const auto gxh = hn::Mul(gv, xhat);
      if (dscale) hn::BlendedStore(hn::Add(LoadMasked(d, dscale + i, m), gxh), m, d, dscale + i);
      if (doffset) hn::BlendedStore(hn::Add(LoadMasked(d, doffset + i, m), gv), m, d, doffset + i);
      if constexpr (kScale) {
        const auto gs = hn::Mul(gv, LoadMasked(d, scale + i, m));
        s1 = hn::Add(s1, gs);
        s2 = hn::MulAdd(gs, xhat, s2);
      } else {
        s1 = hn::Add(s1, gv);
        s2 = hn::Add(s2, gxh);
      }
    };
    std::int64_t i = 0;
    for (; i + N <= K; i += N) accumulate(i, all);
    if (i < K) accumulate(i, hn::FirstN(d, std::size_t(K - i)));
    const auto mean_gs = hn::Set(d, T(double(hn::GetLane(hn::SumOfLanes(d, s1))) / double(K)));
    const auto mean_gsx = hn::Set(d, T(double(hn::GetLane(hn::SumOfLanes(d, s2))) / double(K)));
    // Pass 2: dx.
    auto grad = [&](std::int64_t j, auto m) {
      auto gs = LoadMasked(d, g + j, m);
      if constexpr (kScale) gs = hn::Mul(gs, LoadMasked(d, scale + j, m));
      const auto xhat = hn::Mul(hn::Sub(LoadMasked(d, x + j, m), vm), vr);
      return hn::Mul(vr, hn::NegMulAdd(xhat, mean_gsx, hn::Sub(gs, mean_gs)));
    };
    for (i = 0; i + N <= K; i += N) hn::StoreU(grad(i, all), d, dx + i);
    if (i < K) {
      const auto m = hn::FirstN(d, std::size_t(K - i));
      hn::BlendedStore(grad(i, m), m, d, dx + i);
    }
  }
}

template <class T>
void LayerNormBackwardRows(const RowsTask& t) {
  if (t.scale) return LayerNormBackwardRowsImpl<true, T>(t);
  LayerNormBackwardRowsImpl<false, T>(t);
}

template <class T>
void ColumnBlockMoments(const ColumnsTask& t) {
  const std::int64_t C = t.C;
  const T* __restrict x = static_cast<const T*>(t.x);
  double* __restrict m = t.partial;
  double* __restrict m2 = t.partial + C;
  std::fill(m, m + 2 * C, 0.0);
  for (std::int64_t r = t.r0; r < t.r1; ++r)
    for (std::int64_t c = 0; c < C; ++c) m[c] += double(x[r * C + c]);
  const double inv = 1.0 / double(t.r1 - t.r0);
  for (std::int64_t c = 0; c < C; ++c) m[c] *= inv;
  for (std::int64_t r = t.r0; r < t.r1; ++r)
    for (std::int64_t c = 0; c < C; ++c) {
      const double dev = double(x[r * C + c]) - m[c];
      m2[c] += dev * dev;
    }
}

template <class T>
void ColumnBlockSums(const ColumnsTask& t) {
  const std::int64_t C = t.C;
  const T* __restrict x = static_cast<const T*>(t.x);
  const T* __restrict g = static_cast<const T*>(t.g);
  const T* __restrict mean = static_cast<const T*>(t.a);
  double* __restrict sg = t.partial;
  double* __restrict sgx = t.partial + C;
  std::fill(sg, sg + 2 * C, 0.0);
  for (std::int64_t r = t.r0; r < t.r1; ++r)
    for (std::int64_t c = 0; c < C; ++c) {
      const double gv = double(g[r * C + c]);
      sg[c] += gv;
      sgx[c] += gv * (double(x[r * C + c]) - double(mean[c]));
    }
}

template <class T>
void ChannelAffineRows(const ColumnsTask& t) {
  const std::int64_t C = t.C;
  const T* __restrict x = static_cast<const T*>(t.x);
  const T* __restrict a = static_cast<const T*>(t.a);
  const T* __restrict b = static_cast<const T*>(t.b);
  T* __restrict y = static_cast<T*>(t.y);
  for (std::int64_t r = t.r0; r < t.r1; ++r)
    for (std::int64_t c = 0; c < C; ++c) y[r * C + c] = x[r * C + c] * a[c] + b[c];
}

template <class T>
void BatchNormBackwardRows(const ColumnsTask& t) {
  const std::int64_t C = t.C;
  const T* __restrict x = static_cast<const T*>(t.x);
  const T* __restrict g = static_cast<const T*>(t.g);
  const T* __restrict k = static_cast<const T*>(t.k);
  T* __restrict y = static_cast<T*>(t.y);
  for (std::int64_t r = t.r0; r < t.r1; ++r)
    for (std::int64_t c = 0; c < C; ++c)
      y[r * C + c] = g[r * C + c] * k[c] + x[r * C + c] * k[C + c] + k[2 * C + c];
}

void ColumnBlockMomentsAny(const ColumnsTask& t) {
  t.dtype == DType::f32 ? ColumnBlockMoments<float>(t) : ColumnBlockMoments<double>(t);
}
void ColumnBlockSumsAny(const ColumnsTask& t) {
  t.dtype == DType::f32 ? ColumnBlockSums<float>(t) : ColumnBlockSums<double>(t);
}
void ChannelAffineRowsAny(const ColumnsTask& t) {
  t.dtype == DType::f32 ? ChannelAffineRows<float>(t) : ChannelAffineRows<double>(t);
}
void BatchNormBackwardRowsAny(const ColumnsTask& t) {
  t.dtype == DType::f32 ? BatchNormBackwardRows<float>(t) : BatchNormBackwardRows<double>(t);
}

void MomentsRowsAny(const RowsTask& t) {
  t.dtype == DType::f32 ? MomentsRows<float>(t) : MomentsRows<double>(t);
}
void LayerNormRowsAny(const RowsTask& t) {
  t.dtype == DType::f32 ? LayerNormRows<float>(t) : LayerNormRows<double>(t);
}
void LayerNormBackwardRowsAny(const RowsTask& t) {
  t.dtype == DType::f32 ? LayerNormBackwardRows<float>(t) : LayerNormBackwardRows<double>(t);
}

}  // namespace elegy::kernels::norm_simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace elegy::kernels::norm_simd {

HWY_EXPORT(MomentsRowsAny);
HWY_EXPORT(LayerNormRowsAny);
HWY_EXPORT(LayerNormBackwardRowsAny);
HWY_EXPORT(ColumnBlockMomentsAny);
HWY_EXPORT(ColumnBlockSumsAny);
HWY_EXPORT(ChannelAffineRowsAny);
HWY_EXPORT(BatchNormBackwardRowsAny);

void column_block_moments(const ColumnsTask& t) {
  HWY_DYNAMIC_DISPATCH(ColumnBlockMomentsAny)(t);
}
void column_block_sums(const ColumnsTask& t) {
  HWY_DYNAMIC_DISPATCH(ColumnBlockSumsAny)(t);
}
void channel_affine_rows(const ColumnsTask& t) {
  HWY_DYNAMIC_DISPATCH(ChannelAffineRowsAny)(t);
}
void batch_norm_backward_rows(const ColumnsTask& t) {
  HWY_DYNAMIC_DISPATCH(BatchNormBackwardRowsAny)(t);
}

void moments_rows(const RowsTask& t) {
  HWY_DYNAMIC_DISPATCH(MomentsRowsAny)(t);
}
void layer_norm_simd(const RowsTask& t) {
  HWY_DYNAMIC_DISPATCH(LayerNormRowsAny)(t);
}
void layer_norm_backward_rows(const RowsTask& t) {
  HWY_DYNAMIC_DISPATCH(LayerNormBackwardRowsAny)(t);
}

}  // namespace elegy::kernels::norm_simd
#endif  // HWY_ONCE
