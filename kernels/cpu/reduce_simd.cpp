// The Highway loops behind the CPU reductions (reduce.cpp plans the walk and the threading):
// reducing contiguous runs to one value each, and reducing a block of rows column-wise.
//
// Contiguous runs use four vector accumulators (to hide the add latency) over blocks of 64
// vectors; float sums add the block results in groups, and reduce.cpp combines fixed pieces of
// long runs pairwise, so the error of a sum over n elements grows like log(n), not n. Max/Min track
// NaN in a mask on the side and return NaN when one was seen (numpy's semantics; the SIMD max
// instructions do not propagate NaN).
#include "elegy/kernels/cpu/reduce_common.hpp"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "elegy/kernels/cpu/reduce_simd.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <hwy/cache_control.h>
#include <hwy/contrib/math/math-inl.h>

HWY_BEFORE_NAMESPACE();
namespace elegy::kernels::reduce::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Which (kind, type) pairs have vector code; the others take the scalar path. Highway 1.0.3 has
// no 64-bit or 8-bit integer multiply.
template <Kind K, class T>
constexpr bool kHasSimd = K == Kind::Prod
                              ? (std::is_floating_point_v<T> || std::is_same_v<T, std::int32_t>)
                          : K == Kind::LogSumExp ? std::is_floating_point_v<T>
                          : K == Kind::Sum       ? !std::is_same_v<T, std::uint8_t>
                                                 : true;

template <Kind K, class V>
HWY_INLINE V Apply(V a, V b) {
  if constexpr (K == Kind::Sum)
    return a + b;
  else if constexpr (K == Kind::Prod)
    return a * b;
  else if constexpr (K == Kind::Max)
    return hn::Max(a, b);
  else
    return hn::Min(a, b);
}

// Apply() that lets NaN win on either side (for Max/Min of floats; a + b is NaN when either is).
template <Kind K, class D, class V = hn::Vec<D>>
HWY_INLINE V ApplyNaN(D, V a, V b) {
  if constexpr ((K == Kind::Max || K == Kind::Min) && hwy::IsFloat<hn::TFromD<D>>()) {
    return hn::IfThenElse(hn::Or(hn::IsNaN(a), hn::IsNaN(b)), a + b, Apply<K>(a, b));
  } else {
    return Apply<K>(a, b);
  }
}

// Combines the lanes of v (pairwise for sums).
template <Kind K, class D>
HWY_INLINE hn::TFromD<D> CombineLanes(D d, hn::Vec<D> v) {
  using T = hn::TFromD<D>;
  HWY_ALIGN T lanes[hn::MaxLanes(d)];
  hn::Store(v, d, lanes);
  std::size_t n = hn::Lanes(d);
  for (; n > 1; n /= 2)
    for (std::size_t i = 0; i < n / 2; ++i) lanes[i] = combine<K>(lanes[i], lanes[i + n / 2]);
  return lanes[0];
}

// Asks for the cache line 8 KiB past `at`: one core summing 16M floats went from 2.81 to 2.45 ms
// with it (medians of 9 on a noisy VM; libtorch 2.67), two cores 1.78 -> 1.71 ms. The address
// is computed as an integer (it may lie past the data, which a prefetch never faults on).
template <class T>
HWY_INLINE void PrefetchAhead(const T* at) {
  hwy::Prefetch(reinterpret_cast<const T*>(reinterpret_cast<std::uintptr_t>(at) + 8192));
}

// One value from n contiguous elements, each first mapped by f: the identity for plain
// reductions, exp(x - max) for LogSumExp's second pass.
template <Kind K, class D, class F>
HWY_INLINE hn::TFromD<D> ReduceRun(D d, const hn::TFromD<D>* HWY_RESTRICT p, std::int64_t n, F f) {
  using T = hn::TFromD<D>;
  using V = hn::Vec<D>;
  constexpr bool kNaN = (K == Kind::Max || K == Kind::Min) && hwy::IsFloat<T>();
  constexpr bool kPairwise = K == Kind::Sum && hwy::IsFloat<T>();
  const std::int64_t N = std::int64_t(hn::Lanes(d));
  const std::int64_t kBlock = 64 * N;
  constexpr std::int64_t kLine = 64 / sizeof(T);
  const V id = hn::Set(d, identity<K, T>());
  auto nan = hn::FirstN(d, 0);
  // Float sums add each block into `group`, and every 64 blocks the group into `total`: each
  // lane's rounding error then grows like 16 + 64 + n / 65536 additions instead of n / 64.
  // (reduce.cpp cuts long reductions into kChunk pieces, so n is small here anyway.)
  V total = id, group = id;
  int group_blocks = 0;
  std::int64_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    V a0 = f(hn::LoadU(d, p + i)), a1 = f(hn::LoadU(d, p + i + N));
    V a2 = f(hn::LoadU(d, p + i + 2 * N)), a3 = f(hn::LoadU(d, p + i + 3 * N));
    if constexpr (kNaN) {
      nan = hn::Or(
          nan, hn::Or(hn::Or(hn::IsNaN(a0), hn::IsNaN(a1)), hn::Or(hn::IsNaN(a2), hn::IsNaN(a3))));
    }
    // Not unrolled: a fully unrolled block lets the compiler walk one accumulator chain at a
    // time (a 256-byte stride through the block), which defeats the hardware prefetcher and
    // halves the bandwidth of a sum over memory.
#pragma GCC unroll 1
    for (std::int64_t j = i + 4 * N; j < i + kBlock; j += 4 * N) {
      for (std::int64_t q = 0; q < 4 * N; q += kLine) PrefetchAhead(p + j + q);
      const V x0 = f(hn::LoadU(d, p + j)), x1 = f(hn::LoadU(d, p + j + N));
      const V x2 = f(hn::LoadU(d, p + j + 2 * N)), x3 = f(hn::LoadU(d, p + j + 3 * N));
      if constexpr (kNaN)
        nan = hn::Or(nan, hn::Or(hn::Or(hn::IsNaN(x0), hn::IsNaN(x1)),
                                 hn::Or(hn::IsNaN(x2), hn::IsNaN(x3))));
      a0 = Apply<K>(a0, x0);
      a1 = Apply<K>(a1, x1);
      a2 = Apply<K>(a2, x2);
      a3 = Apply<K>(a3, x3);
    }
    const V block = Apply<K>(Apply<K>(a0, a1), Apply<K>(a2, a3));
    if constexpr (kPairwise) {
      group = group + block;
      if (++group_blocks == 64) {
        total = total + group;
        group = id;
        group_blocks = 0;
      }
    } else {
      total = Apply<K>(total, block);
    }
  }
  V rest = id;
  for (; i + N <= n; i += N) {
    const V x = f(hn::LoadU(d, p + i));
    if constexpr (kNaN) nan = hn::Or(nan, hn::IsNaN(x));
    rest = Apply<K>(rest, x);
  }
  if constexpr (kPairwise)
    total = total + (group + rest);
  else
    total = Apply<K>(total, rest);
  if (i < n) {  // the last partial vector, masked (short rows such as 10 class logits end here)
    const auto mask = hn::FirstN(d, std::size_t(n - i));
    const V x = hn::IfThenElse(mask, f(hn::MaskedLoad(mask, d, p + i)), id);
    if constexpr (kNaN) nan = hn::Or(nan, hn::IsNaN(x));
    total = Apply<K>(total, x);
  }
  const T r = CombineLanes<K>(d, total);
  if constexpr (kNaN) {
    if (!hn::AllFalse(d, nan)) return std::numeric_limits<T>::quiet_NaN();
  }
  return r;
}

struct Identity {
  template <class V>
  HWY_INLINE V operator()(V v) const {
    return v;
  }
};

struct Square {
  template <class V>
  HWY_INLINE V operator()(V v) const {
    return v * v;
  }
};

template <Kind K, class T>
T RunValue(const T* p, std::int64_t n, bool square) {
  if constexpr (K == Kind::Sum && std::is_floating_point_v<T>) {
    if (square) return ReduceRun<Kind::Sum>(hn::ScalableTag<T>(), p, n, Square());
  }
  if constexpr (!kHasSimd<K, T>) {
    return reduce_strided<K, T>(p, n, 1);
  } else if constexpr (K == Kind::LogSumExp) {
    const hn::ScalableTag<T> d;
    const T m = ReduceRun<Kind::Max>(d, p, n, Identity());
    if (!std::isfinite(m)) return m;  // NaN, +inf, or -inf (every element -inf)
    const auto vm = hn::Set(d, m);
    const T s = ReduceRun<Kind::Sum>(d, p, n, [&](auto v) { return hn::Exp(d, v - vm); });
    return m + std::log(s);
  } else {
    const hn::ScalableTag<T> d;
    return ReduceRun<K>(d, p, n, Identity());
  }
}

template <Kind K, class T>
void Runs(const RunsTask& t) {
  const T* in = static_cast<const T*>(t.in);
  T* out = static_cast<T*>(t.out);
  for (std::int64_t i = 0; i < t.count; ++i)
    out[i * t.out_step] = RunValue<K, T>(in + i * t.in_step, t.n, t.square);
}

// Column-wise reduction of `rows` rows of `width` (<= kRowTile) contiguous elements. Each row
// is read whole and in order (streaming, prefetcher-friendly) and combined into a block buffer
// that stays in L1; every 16 rows the block is folded into `out`. For float sums each column
// then sees 16 + rows/16 sequential additions; reduce.cpp keeps rows <= kMaxRowsPerCall and
// combines the pieces pairwise.
template <Kind K, class T>
void Rows(const RowsTask& t) {
  const T* in = static_cast<const T*>(t.in);
  T* out = static_cast<T*>(t.out);
  const std::int64_t rows = t.rows, stride = t.row_stride, width = t.width;
  if constexpr (!kHasSimd<K, T> || K == Kind::LogSumExp) {
    for (std::int64_t j = 0; j < width; ++j) out[j] = reduce_strided<K, T>(in + j, rows, stride);
  } else {
    const hn::ScalableTag<T> d;
    const std::int64_t N = std::int64_t(hn::Lanes(d));
    const std::int64_t vec_width = width / N * N;
    HWY_ALIGN T block[kRowTile];
    // dst[j] = src[j] (first) or combine(dst[j], src[j]), over the tile.
    auto fold = [&](T* HWY_RESTRICT dst, const T* HWY_RESTRICT src, bool first) {
      if (first) return (void)std::copy(src, src + width, dst);
      std::int64_t j = 0;
      for (; j < vec_width; j += N)
        hn::StoreU(ApplyNaN<K>(d, hn::LoadU(d, dst + j), hn::LoadU(d, src + j)), d, dst + j);
      for (; j < width; ++j) dst[j] = combine<K>(dst[j], src[j]);
    };
    // block[j] = combine(block[j], combine(combine(x0, x1), combine(x2, x3))) for four rows at
    // once: a quarter of the block loads and stores of a row-at-a-time fold.
    auto fold4 = [&](const T* HWY_RESTRICT x, bool first) {
      std::int64_t j = 0;
      for (; j < vec_width; j += N) {
        const auto q = ApplyNaN<K>(
            d, ApplyNaN<K>(d, hn::LoadU(d, x + j), hn::LoadU(d, x + stride + j)),
            ApplyNaN<K>(d, hn::LoadU(d, x + 2 * stride + j), hn::LoadU(d, x + 3 * stride + j)));
        hn::Store(first ? q : ApplyNaN<K>(d, hn::Load(d, block + j), q), d, block + j);
      }
      for (; j < width; ++j) {
        const T q = combine<K>(combine<K>(x[j], x[stride + j]),
                               combine<K>(x[2 * stride + j], x[3 * stride + j]));
        block[j] = first ? q : combine<K>(block[j], q);
      }
    };
    for (std::int64_t r0 = 0; r0 < rows; r0 += 16) {
      const std::int64_t r1 = std::min(rows, r0 + 16);
      std::int64_t r = r0;
      for (; r + 4 <= r1; r += 4) fold4(in + r * stride, r == r0);
      for (; r < r1; ++r) fold(block, in + r * stride, r == r0);
      fold(out, block, r0 == 0);
    }
  }
}

template <Kind K>
void RunsForKind(const RunsTask& t) {
  switch (t.dtype) {
    case DType::f32:
      return Runs<K, float>(t);
    case DType::f64:
      return Runs<K, double>(t);
    case DType::i32:
      return Runs<K, std::int32_t>(t);
    case DType::i64:
      return Runs<K, std::int64_t>(t);
    case DType::u8:
    case DType::bool_:
      return Runs<K, std::uint8_t>(t);
  }
}

void ReduceRunsImpl(const RunsTask& t) {
  switch (t.kind) {
    case Kind::Sum:
      return RunsForKind<Kind::Sum>(t);
    case Kind::Prod:
      return RunsForKind<Kind::Prod>(t);
    case Kind::Max:
      return RunsForKind<Kind::Max>(t);
    case Kind::Min:
      return RunsForKind<Kind::Min>(t);
    case Kind::LogSumExp:
      if (t.dtype == DType::f32) return Runs<Kind::LogSumExp, float>(t);
      return Runs<Kind::LogSumExp, double>(t);
  }
}

template <Kind K>
void RowsForKind(const RowsTask& t) {
  switch (t.dtype) {
    case DType::f32:
      return Rows<K, float>(t);
    case DType::f64:
      return Rows<K, double>(t);
    case DType::i32:
      return Rows<K, std::int32_t>(t);
    case DType::i64:
      return Rows<K, std::int64_t>(t);
    case DType::u8:
    case DType::bool_:
      return Rows<K, std::uint8_t>(t);
  }
}

void ReduceRowsImpl(const RowsTask& t) {
  switch (t.kind) {
    case Kind::Sum:
      return RowsForKind<Kind::Sum>(t);
    case Kind::Prod:
      return RowsForKind<Kind::Prod>(t);
    case Kind::Max:
      return RowsForKind<Kind::Max>(t);
    case Kind::Min:
      return RowsForKind<Kind::Min>(t);
    case Kind::LogSumExp:
      if (t.dtype == DType::f32) return Rows<Kind::LogSumExp, float>(t);
      return Rows<Kind::LogSumExp, double>(t);
  }
}

}  // namespace elegy::kernels::reduce::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace elegy::kernels::reduce {

HWY_EXPORT(ReduceRunsImpl);
HWY_EXPORT(ReduceRowsImpl);

void reduce_runs(const RunsTask& task) {
  HWY_DYNAMIC_DISPATCH(ReduceRunsImpl)(task);
}
void reduce_rows(const RowsTask& task) {
  HWY_DYNAMIC_DISPATCH(ReduceRowsImpl)(task);
}

}  // namespace elegy::kernels::reduce
#endif  // HWY_ONCE
