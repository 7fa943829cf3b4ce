// Softmax and LogSoftmax along ints[0] (the axis) on the CPU, for float32/float64, numerically
// stable (the maximum is subtracted before exponentiating).
//
// Three layouts: a contiguous axis (the usual last-axis softmax) is done row by row with SIMD,
// each row read from memory once (it stays in L1 for the later passes); an outer axis whose
// trailing dims are contiguous is done on column tiles with SIMD; anything else scalar and
// strided. Rows (or tiles) are split across threads; each is computed whole by one thread.
//
// Highway's Exp returns 0 for a NaN input, so rows whose maximum is not finite (a NaN or an
// infinity in the row) take the scalar path, which follows IEEE arithmetic.
#include <algorithm>
#include <cmath>
#include <limits>

#include "elegy/core/thread_pool.hpp"
#include "elegy/kernels/cpu/softmax_rows.hpp"
#include "elegy/kernels/dispatch.hpp"
#include "elegy/kernels/layout.hpp"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "elegy/kernels/cpu/softmax.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <hwy/contrib/math/math-inl.h>

#ifndef ELEGY_KERNELS_CPU_SOFTMAX_SCALAR_
#define ELEGY_KERNELS_CPU_SOFTMAX_SCALAR_
namespace elegy::kernels::softmax_detail {

// Work per parallel chunk, in elements.
inline constexpr std::int64_t kChunk = 1 << 15;
// Columns per tile on the outer-axis path.
inline constexpr std::int64_t kTile = 1024;

// Scalar softmax of n elements `xs` apart into y (`ys` apart), IEEE semantics throughout.
template <bool kLog, class T>
void softmax_strided(const T* x, std::int64_t xs, T* y, std::int64_t ys, std::int64_t n) {
  T m = -std::numeric_limits<T>::infinity();
  for (std::int64_t i = 0; i < n; ++i) {
    const T v = x[i * xs];
    m = (v > m || v != v) ? v : m;  // NOLINT: NaN wins
  }
  T s = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const T e = std::exp(x[i * xs] - m);
    if constexpr (!kLog) y[i * ys] = e;
    s += e;
  }
  if constexpr (kLog) {
    // (x - m) - log(s), not x - (m + log(s)): exact differences for large x in float32.
    const T log_s = std::log(s);
    for (std::int64_t i = 0; i < n; ++i) y[i * ys] = (x[i * xs] - m) - log_s;
  } else {
    const T inv = T(1) / s;
    for (std::int64_t i = 0; i < n; ++i) y[i * ys] *= inv;
  }
}

// One row of n contiguous elements; a tile of `width` contiguous columns over L rows.
struct RowTask {
  const void* x;
  void* y;
  std::int64_t n;
};
struct ColumnTask {
  const void* x;
  std::int64_t xs;
  void* y;
  std::int64_t ys, L, width;
};

}  // namespace elegy::kernels::softmax_detail
#endif  // ELEGY_KERNELS_CPU_SOFTMAX_SCALAR_

HWY_BEFORE_NAMESPACE();
namespace elegy::kernels::softmax_detail::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Maximum of n contiguous elements; not finite when the row holds a NaN or an infinity.
template <class D, class T = hn::TFromD<D>>
HWY_INLINE T RowMax(D d, const T* HWY_RESTRICT x, std::int64_t n) {
  using V = hn::Vec<D>;
  const std::int64_t N = std::int64_t(hn::Lanes(d));
  const V lowest = hn::Set(d, -std::numeric_limits<T>::infinity());
  V m0 = lowest, m1 = lowest, m2 = lowest, m3 = lowest;
  auto nan = hn::FirstN(d, 0);
  std::int64_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    const V x0 = hn::LoadU(d, x + i), x1 = hn::LoadU(d, x + i + N);
    const V x2 = hn::LoadU(d, x + i + 2 * N), x3 = hn::LoadU(d, x + i + 3 * N);
    nan = hn::Or(
        nan, hn::Or(hn::Or(hn::IsNaN(x0), hn::IsNaN(x1)), hn::Or(hn::IsNaN(x2), hn::IsNaN(x3))));
    m0 = hn::Max(m0, x0);
    m1 = hn::Max(m1, x1);
    m2 = hn::Max(m2, x2);
    m3 = hn::Max(m3, x3);
  }
  for (; i + N <= n; i += N) {
    const V v = hn::LoadU(d, x + i);
    nan = hn::Or(nan, hn::IsNaN(v));
    m0 = hn::Max(m0, v);
  }
  T m = hn::GetLane(hn::MaxOfLanes(d, hn::Max(hn::Max(m0, m1), hn::Max(m2, m3))));
  for (; i < n; ++i) m = (x[i] > m || x[i] != x[i]) ? x[i] : m;  // NOLINT: NaN wins
  if (!hn::AllFalse(d, nan)) return std::numeric_limits<T>::quiet_NaN();
  return m;
}

template <bool kLog, class T>
void SoftmaxRow(const T* HWY_RESTRICT x, T* HWY_RESTRICT y, std::int64_t n) {
  const hn::ScalableTag<T> d;
  using V = hn::Vec<decltype(d)>;
  const std::int64_t N = std::int64_t(hn::Lanes(d));
  const T m = RowMax(d, x, n);
  if (!std::isfinite(m)) return softmax_strided<kLog>(x, 1, y, 1, n);
  const V vm = hn::Set(d, m);
  V s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
  std::int64_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    const V e0 = hn::Exp(d, hn::LoadU(d, x + i) - vm);
    const V e1 = hn::Exp(d, hn::LoadU(d, x + i + N) - vm);
    const V e2 = hn::Exp(d, hn::LoadU(d, x + i + 2 * N) - vm);
    const V e3 = hn::Exp(d, hn::LoadU(d, x + i + 3 * N) - vm);
    if constexpr (!kLog) {
      hn::StoreU(e0, d, y + i);
      hn::StoreU(e1, d, y + i + N);
      hn::StoreU(e2, d, y + i + 2 * N);
      hn::StoreU(e3, d, y + i + 3 * N);
    }
    s0 = s0 + e0;
    s1 = s1 + e1;
    s2 = s2 + e2;
    s3 = s3 + e3;
  }
  for (; i < n; i += N) {
    const auto mask = hn::FirstN(d, std::size_t(n - i));
    const V e = hn::IfThenElseZero(mask, hn::Exp(d, hn::MaskedLoad(mask, d, x + i) - vm));
    if constexpr (!kLog) hn::BlendedStore(e, mask, d, y + i);
    s0 = s0 + e;
  }
  const T s = hn::GetLane(hn::SumOfLanes(d, (s0 + s1) + (s2 + s3)));
  if constexpr (kLog) {
    const V log_s = hn::Set(d, std::log(s));
    for (i = 0; i + N <= n; i += N) hn::StoreU((hn::LoadU(d, x + i) - vm) - log_s, d, y + i);
    if (i < n) {
      const auto mask = hn::FirstN(d, std::size_t(n - i));
      hn::BlendedStore((hn::MaskedLoad(mask, d, x + i) - vm) - log_s, mask, d, y + i);
    }
  } else {
    const V inv = hn::Set(d, T(1) / s);
    for (i = 0; i + N <= n; i += N) hn::StoreU(hn::LoadU(d, y + i) * inv, d, y + i);
    if (i < n) {
      const auto mask = hn::FirstN(d, std::size_t(n - i));
      hn::BlendedStore(hn::MaskedLoad(mask, d, y + i) * inv, mask, d, y + i);
    }
  }
}

// Softmax over L rows (`xs`/`ys` apart) of `width` <= kTile contiguous columns.
template <bool kLog, class T>
void SoftmaxColumns(const T* HWY_RESTRICT x, std::int64_t xs, T* HWY_RESTRICT y, std::int64_t ys,
                    std::int64_t L, std::int64_t width) {
  const hn::ScalableTag<T> d;
  using V = hn::Vec<decltype(d)>;
  const std::int64_t N = std::int64_t(hn::Lanes(d));
  const std::int64_t vw = width / N * N;
  HWY_ALIGN T m[kTile];
  HWY_ALIGN T s[kTile];
  std::fill(m, m + width, -std::numeric_limits<T>::infinity());
  std::fill(s, s + width, T(0));
  for (std::int64_t r = 0; r < L; ++r) {
    const T* row = x + r * xs;
    std::int64_t j = 0;
    for (; j < vw; j += N) {
      const V v = hn::LoadU(d, row + j), cur = hn::Load(d, m + j);
      hn::Store(hn::IfThenElse(hn::Or(hn::IsNaN(v), hn::IsNaN(cur)), v + cur, hn::Max(cur, v)), d,
                m + j);
    }
    for (; j < width; ++j) m[j] = (row[j] > m[j] || row[j] != row[j]) ? row[j] : m[j];  // NOLINT
  }
  for (std::int64_t j = 0; j < width; ++j) {
    if (!std::isfinite(m[j])) {  // a NaN or an infinity somewhere: IEEE scalar path per column
      for (std::int64_t c = 0; c < width; ++c) softmax_strided<kLog>(x + c, xs, y + c, ys, L);
      return;
    }
  }
  for (std::int64_t r = 0; r < L; ++r) {
    const T* row = x + r * xs;
    T* out = y + r * ys;
    std::int64_t j = 0;
    for (; j < vw; j += N) {
      const V e = hn::Exp(d, hn::LoadU(d, row + j) - hn::Load(d, m + j));
      if constexpr (!kLog) hn::StoreU(e, d, out + j);
      hn::Store(hn::Load(d, s + j) + e, d, s + j);
    }
    for (; j < width; ++j) {
      const T e = std::exp(row[j] - m[j]);
      if constexpr (!kLog) out[j] = e;
      s[j] += e;
    }
  }
  if constexpr (kLog) {
    for (std::int64_t j = 0; j < width; ++j) s[j] = std::log(s[j]);
  } else {
    for (std::int64_t j = 0; j < width; ++j) s[j] = T(1) / s[j];
  }
  for (std::int64_t r = 0; r < L; ++r) {
    T* out = y + r * ys;
    const T* row = x + r * xs;
    std::int64_t j = 0;
    for (; j < vw; j += N) {
      if constexpr (kLog)
        hn::StoreU((hn::LoadU(d, row + j) - hn::Load(d, m + j)) - hn::Load(d, s + j), d, out + j);
      else
        hn::StoreU(hn::LoadU(d, out + j) * hn::Load(d, s + j), d, out + j);
    }
    for (; j < width; ++j) out[j] = kLog ? (row[j] - m[j]) - s[j] : out[j] * s[j];
  }
}

template <bool kLog>
void RowImpl(DType t, const RowTask& r) {
  if (t == DType::f32)
    SoftmaxRow<kLog>(static_cast<const float*>(r.x), static_cast<float*>(r.y), r.n);
  else
    SoftmaxRow<kLog>(static_cast<const double*>(r.x), static_cast<double*>(r.y), r.n);
}
template <bool kLog>
void ColumnImpl(DType t, const ColumnTask& c) {
  if (t == DType::f32)
    SoftmaxColumns<kLog>(static_cast<const float*>(c.x), c.xs, static_cast<float*>(c.y), c.ys, c.L,
                         c.width);
  else
    SoftmaxColumns<kLog>(static_cast<const double*>(c.x), c.xs, static_cast<double*>(c.y), c.ys,
                         c.L, c.width);
}
void SoftmaxRowImpl(DType t, const RowTask& r) {
  RowImpl<false>(t, r);
}
void LogSoftmaxRowImpl(DType t, const RowTask& r) {
  RowImpl<true>(t, r);
}
void SoftmaxColumnImpl(DType t, const ColumnTask& c) {
  ColumnImpl<false>(t, c);
}
void LogSoftmaxColumnImpl(DType t, const ColumnTask& c) {
  ColumnImpl<true>(t, c);
}

// Rows [r0, r1) of softmax cross-entropy (softmax_rows.hpp), each row through SoftmaxRow.
template <class T>
void XentRows(const XentTask& t) {
  const T* z = static_cast<const T*>(t.z);
  T* out = static_cast<T*>(t.out);
  const std::int64_t k = t.classes;
  for (std::int64_t r = t.r0; r < t.r1; ++r) {
    const std::int64_t label = label_at(t, r);
    const bool valid = label >= 0 && label < k;
    if (!t.g) {  // forward: the loss from the row's log-softmax
      T* logp = static_cast<T*>(t.scratch);
      SoftmaxRow<true>(z + r * k, logp, k);
      out[r] = valid ? -logp[label] : std::numeric_limits<T>::quiet_NaN();
      continue;
    }
    T* row = out + r * k;  // backward: g * (softmax - one_hot), in place over the softmax
    SoftmaxRow<false>(z + r * k, row, k);
    const T g =
        valid ? static_cast<const T*>(t.g)[r * t.g_stride] : std::numeric_limits<T>::quiet_NaN();
    for (std::int64_t j = 0; j < k; ++j) row[j] = g * (row[j] - T(j == label));
  }
}
void XentImpl(DType t, const XentTask& task) {
  if (t == DType::f32)
    XentRows<float>(task);
  else
    XentRows<double>(task);
}

}  // namespace elegy::kernels::softmax_detail::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace elegy::kernels {
namespace softmax_detail {

HWY_EXPORT(SoftmaxRowImpl);
HWY_EXPORT(LogSoftmaxRowImpl);
HWY_EXPORT(SoftmaxColumnImpl);
HWY_EXPORT(LogSoftmaxColumnImpl);

HWY_EXPORT(XentImpl);

void xent_rows(DType dtype, const XentTask& task) {
  HWY_DYNAMIC_DISPATCH(XentImpl)(dtype, task);
}

namespace {

// True when the dims after `axis` form one dense run (stride 1) in `v`; sets their element count.
bool trailing_dense(const BufferView& v, int axis, std::int64_t* count) {
  std::int64_t expected = 1;
  for (int i = v.rank - 1; i > axis; --i) {
    if (v.sizes[i] == 1) continue;
    if (v.strides[i] != expected) return false;
    expected *= v.sizes[i];
  }
  *count = expected;
  return true;
}

template <bool kLog, class T>
void softmax_kernel(const KernelArgs& a) {
  const BufferView& in = a.in[0];
  const BufferView& out = a.out;
  if (out.numel() == 0) return;
  const int axis = int(a.ints[0] < 0 ? a.ints[0] + in.rank : a.ints[0]);
  const std::int64_t L = in.sizes[axis];
  const T* x = static_cast<const T*>(in.data);
  T* y = static_cast<T*>(out.data);
  const DType dtype = dtype_of<T>();

  // The other dims, walked as a layout of (out, in) offsets.
  BufferView others_in = in, others_out = out;
  others_in.sizes[axis] = others_out.sizes[axis] = 1;
  std::int64_t inner_in = 0, inner_out = 0;
  const bool columns =
      trailing_dense(in, axis, &inner_in) && trailing_dense(out, axis, &inner_out) && inner_in > 1;
  if (in.strides[axis] == 1 && out.strides[axis] == 1 && !columns) {
    const BufferView* views[2] = {&others_out, &others_in};
    const Layout<2> l = coalesce(views);
    parallel_for(l.numel(), std::max<std::int64_t>(1, kChunk / L),
                 [&](std::int64_t r0, std::int64_t r1) {
                   for (std::int64_t r = r0; r < r1; ++r) {
                     std::int64_t off[2];
                     l.element_offsets(r, off);
                     const RowTask task{x + off[1], y + off[0], L};
                     if constexpr (kLog)
                       HWY_DYNAMIC_DISPATCH(LogSoftmaxRowImpl)(dtype, task);
                     else
                       HWY_DYNAMIC_DISPATCH(SoftmaxRowImpl)(dtype, task);
                   }
                 });
    return;
  }
  if (columns) {
    // Outer dims (before the axis) by layout; the trailing dense run in column tiles.
    for (int i = axis; i < in.rank; ++i) others_in.sizes[i] = others_out.sizes[i] = 1;
    const BufferView* views[2] = {&others_out, &others_in};
    const Layout<2> l = coalesce(views);
    const std::int64_t I = inner_in, tiles = (I + kTile - 1) / kTile;
    parallel_for(l.numel() * tiles, std::max<std::int64_t>(1, kChunk / (L * std::min(I, kTile))),
                 [&](std::int64_t i0, std::int64_t i1) {
                   for (std::int64_t i = i0; i < i1; ++i) {
                     const std::int64_t o = i / tiles, t = i % tiles;
                     std::int64_t off[2];
                     l.element_offsets(o, off);
                     const ColumnTask task{x + off[1] + t * kTile,
                                           in.strides[axis],
                                           y + off[0] + t * kTile,
                                           out.strides[axis],
                                           L,
                                           std::min(kTile, I - t * kTile)};
                     if constexpr (kLog)
                       HWY_DYNAMIC_DISPATCH(LogSoftmaxColumnImpl)(dtype, task);
                     else
                       HWY_DYNAMIC_DISPATCH(SoftmaxColumnImpl)(dtype, task);
                   }
                 });
    return;
  }
  const BufferView* views[2] = {&others_out, &others_in};
  const Layout<2> l = coalesce(views);
  parallel_for(
      l.numel(), std::max<std::int64_t>(1, kChunk / L), [&](std::int64_t r0, std::int64_t r1) {
        for (std::int64_t r = r0; r < r1; ++r) {
          std::int64_t off[2];
          l.element_offsets(r, off);
          softmax_strided<kLog>(x + off[1], in.strides[axis], y + off[0], out.strides[axis], L);
        }
      });
}

}  // namespace
}  // namespace softmax_detail

void register_cpu_softmax(Registry& r) {
  using softmax_detail::softmax_kernel;
  r.add(Op::Softmax, DeviceKind::cpu, DType::f32, softmax_kernel<false, float>);
  r.add(Op::Softmax, DeviceKind::cpu, DType::f64, softmax_kernel<false, double>);
  r.add(Op::LogSoftmax, DeviceKind::cpu, DType::f32, softmax_kernel<true, float>);
  r.add(Op::LogSoftmax, DeviceKind::cpu, DType::f64, softmax_kernel<true, double>);
}

}  // namespace elegy::kernels
#endif  // HWY_ONCE
