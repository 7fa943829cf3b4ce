// The Highway loops behind the CPU reductions (reduce.cpp plans the walk and the threading):
// reducing contiguous runs to one value each, and reducing a block of rows column-wise.
//
// Contiguous runs use four vector accumulators (to hide the add latency) over blocks of 64
// vectors; float sums combine the block results pairwise, so the error of a sum over n
// elements grows like log(n), not n. Max/Min track NaN in a mask on the side and return NaN
// when one was seen (numpy's semantics; the SIMD max instructions do not propagate NaN).
#include "elegy/kernels/cpu/reduce_common.hpp"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "elegy/kernels/cpu/reduce_simd.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <hwy/contrib/math/math-inl.h>

HWY_BEFORE_NAMESPACE();
namespace elegy::kernels::reduce::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Which (kind, type) pairs have vector code; the others take the scalar path. Highway 1.0.3 has
// no 64-bit or 8-bit integer multiply.
template <Kind K, class T>
constexpr bool kHasSimd =
    K == Kind::Prod ? (std::is_floating_point_v<T> || std::is_same_v<T, std::int32_t>)
    : K == Kind::LogSumExp ? std::is_floating_point_v<T>
    : K == Kind::Sum ? !std::is_same_v<T, std::uint8_t>
                     : true;

template <Kind K, class V>
HWY_INLINE V Apply(V a, V b) {
  if constexpr (K == Kind::Sum) return a + b;
  else if constexpr (K == Kind::Prod) return a * b;
  else if constexpr (K == Kind::Max) return hn::Max(a, b);
  else return hn::Min(a, b);
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

// Pairwise summation of a stream of vectors (see PairwiseSum in reduce_common.hpp).
template <class D>
struct VecPairwise {
  hn::Vec<D> level[48];
  std::uint64_t count = 0;

  HWY_INLINE void Push(hn::Vec<D> v) {
    int i = 0;
    for (std::uint64_t c = count; c & 1; c >>= 1, ++i) v = level[i] + v;
    level[i] = v;
    ++count;
  }
  HWY_INLINE hn::Vec<D> Result(D d) const {
    hn::Vec<D> r = hn::Zero(d);
    for (int i = 0; i < 48; ++i)
      if ((count >> i) & 1) r = level[i] + r;
    return r;
  }
};

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

// One value from n contiguous elements, each first mapped by f (vectors) / sf (the scalar
// tail): the identity map for plain reductions, exp(x - max) for LogSumExp's second pass.
template <Kind K, class D, class F, class SF>
HWY_INLINE hn::TFromD<D> ReduceRun(D d, const hn::TFromD<D>* HWY_RESTRICT p, std::int64_t n,
                                   F f, SF sf) {
  using T = hn::TFromD<D>;
  using V = hn::Vec<D>;
  constexpr bool kNaN = (K == Kind::Max || K == Kind::Min) && hwy::IsFloat<T>();
  constexpr bool kPairwise = K == Kind::Sum && hwy::IsFloat<T>();
  const std::int64_t N = std::int64_t(hn::Lanes(d));
  const std::int64_t kBlock = 64 * N;
  const V id = hn::Set(d, identity<K, T>());
  auto nan = hn::FirstN(d, 0);
  VecPairwise<D> cascade;
  V total = id;
  std::int64_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    V a0 = f(hn::LoadU(d, p + i)), a1 = f(hn::LoadU(d, p + i + N));
    V a2 = f(hn::LoadU(d, p + i + 2 * N)), a3 = f(hn::LoadU(d, p + i + 3 * N));
    if constexpr (kNaN) nan = hn::Or(nan, hn::Or(hn::Or(hn::IsNaN(a0), hn::IsNaN(a1)), hn::Or(hn::IsNaN(a2), hn::IsNaN(a3))));
    for (std::int64_t j = i + 4 * N; j < i + kBlock; j += 4 * N) {
      const V x0 = f(hn::LoadU(d, p + j)), x1 = f(hn::LoadU(d, p + j + N));
      const V x2 = f(hn::LoadU(d, p + j + 2 * N)), x3 = f(hn::LoadU(d, p + j + 3 * N));
      if constexpr (kNaN)
        nan = hn::Or(nan, hn::Or(hn::Or(hn::IsNaN(x0), hn::IsNaN(x1)), hn::Or(hn::IsNaN(x2), hn::IsNaN(x3))));
      a0 = Apply<K>(a0, x0);
      a1 = Apply<K>(a1, x1);
      a2 = Apply<K>(a2, x2);
      a3 = Apply<K>(a3, x3);
    }
    const V block = Apply<K>(Apply<K>(a0, a1), Apply<K>(a2, a3));
    if constexpr (kPairwise) cascade.Push(block);
    else total = Apply<K>(total, block);
  }
  V rest = id;
  for (; i + N <= n; i += N) {
    const V x = f(hn::LoadU(d, p + i));
    if constexpr (kNaN) nan = hn::Or(nan, hn::IsNaN(x));
    rest = Apply<K>(rest, x);
  }
  if constexpr (kPairwise) total = cascade.Result(d) + rest;
  else total = Apply<K>(total, rest);
  T r = CombineLanes<K>(d, total);
  for (; i < n; ++i) r = combine<K>(r, sf(p[i]));
  if constexpr (kNaN) {
    if (!hn::AllFalse(d, nan)) return std::numeric_limits<T>::quiet_NaN();
  }
  return r;
}

template <class T>
struct Identity {
  template <class V>
  HWY_INLINE V operator()(V v) const {
    return v;
  }
  T operator()(T v) const { return v; }
};

template <Kind K, class T>
T RunValue(const T* p, std::int64_t n) {
  if constexpr (!kHasSimd<K, T>) {
    return reduce_strided<K, T>(p, n, 1);
  } else if constexpr (K == Kind::LogSumExp) {
    const hn::ScalableTag<T> d;
    const T m = ReduceRun<Kind::Max>(d, p, n, Identity<T>(), Identity<T>());
    if (!std::isfinite(m)) return m;  // NaN, +inf, or -inf (every element -inf)
    const auto vm = hn::Set(d, m);
    const T s = ReduceRun<Kind::Sum>(
        d, p, n, [&](auto v) { return hn::Exp(d, v - vm); }, [&](T x) { return std::exp(x - m); });
    return m + std::log(s);
  } else {
    const hn::ScalableTag<T> d;
    return ReduceRun<K>(d, p, n, Identity<T>(), Identity<T>());
  }
}

template <Kind K, class T>
void Runs(const RunsTask& t) {
  const T* in = static_cast<const T*>(t.in);
  T* out = static_cast<T*>(t.out);
  for (std::int64_t i = 0; i < t.count; ++i) out[i * t.out_step] = RunValue<K, T>(in + i * t.in_step, t.n);
}

// Column-wise reduction of `rows` rows of `width` (<= kRowTile) elements: blocks of 16 rows
// are reduced in registers, four vectors of columns at a time; float sums then combine the
// block results pairwise.
template <Kind K, class T>
void Rows(const RowsTask& t) {
  const T* in = static_cast<const T*>(t.in);
  T* out = static_cast<T*>(t.out);
  const std::int64_t rows = t.rows, stride = t.row_stride, width = t.width;
  if constexpr (!kHasSimd<K, T> || K == Kind::LogSumExp) {
    for (std::int64_t j = 0; j < width; ++j) out[j] = reduce_strided<K, T>(in + j, rows, stride);
  } else {
    const hn::ScalableTag<T> d;
    using V = hn::Vec<decltype(d)>;
    constexpr bool kPairwise = K == Kind::Sum && hwy::IsFloat<T>();
    // Enough for 16 << 24 rows; reduce.cpp passes at most max(16, kChunk) rows per call.
    constexpr int kLevels = 24;
    const std::int64_t N = std::int64_t(hn::Lanes(d));
    const std::int64_t vec_width = width / N * N;
    // At least four vectors wide, so the compiler can see the 4-vector loop stays in bounds.
    constexpr std::size_t kBuf = HWY_MAX(std::size_t(kRowTile), 4 * HWY_LANES(T));
    HWY_ALIGN T block[kBuf];
    HWY_ALIGN T level[kPairwise ? kLevels : 1][kBuf];
    std::uint64_t blocks = 0;
    for (std::int64_t r0 = 0; r0 < rows; r0 += 16) {
      const std::int64_t r1 = std::min(rows, r0 + 16);
      const T* first = in + r0 * stride;
      std::int64_t j = 0;
      for (; j + 4 * N <= vec_width; j += 4 * N) {
        V a0 = hn::LoadU(d, first + j), a1 = hn::LoadU(d, first + j + N);
        V a2 = hn::LoadU(d, first + j + 2 * N), a3 = hn::LoadU(d, first + j + 3 * N);
        for (std::int64_t r = r0 + 1; r < r1; ++r) {
          const T* row = in + r * stride + j;
          a0 = ApplyNaN<K>(d, a0, hn::LoadU(d, row));
          a1 = ApplyNaN<K>(d, a1, hn::LoadU(d, row + N));
          a2 = ApplyNaN<K>(d, a2, hn::LoadU(d, row + 2 * N));
          a3 = ApplyNaN<K>(d, a3, hn::LoadU(d, row + 3 * N));
        }
        hn::Store(a0, d, block + j);
        hn::Store(a1, d, block + j + N);
        hn::Store(a2, d, block + j + 2 * N);
        hn::Store(a3, d, block + j + 3 * N);
      }
      for (; j < vec_width; j += N) {
        V a = hn::LoadU(d, first + j);
        for (std::int64_t r = r0 + 1; r < r1; ++r) a = ApplyNaN<K>(d, a, hn::LoadU(d, in + r * stride + j));
        hn::Store(a, d, block + j);
      }
      for (; j < width; ++j) {
        T a = first[j];
        for (std::int64_t r = r0 + 1; r < r1; ++r) a = combine<K>(a, in[r * stride + j]);
        block[j] = a;
      }
      // Fold the block into the result.
      if constexpr (kPairwise) {
        int lv = 0;
        for (std::uint64_t c = blocks; c & 1; c >>= 1, ++lv)
          for (std::int64_t k = 0; k < width; ++k) block[k] = level[lv][k] + block[k];
        std::copy(block, block + width, level[lv]);
      } else if (r0 == 0) {
        std::copy(block, block + width, out);
      } else {
        std::int64_t k = 0;
        for (; k < vec_width; k += N)
          hn::StoreU(ApplyNaN<K>(d, hn::LoadU(d, out + k), hn::Load(d, block + k)), d, out + k);
        for (; k < width; ++k) out[k] = combine<K>(out[k], block[k]);
      }
      ++blocks;
    }
    if constexpr (kPairwise) {
      bool first = true;
      for (int lv = 0; lv < kLevels; ++lv) {
        if (!((blocks >> lv) & 1)) continue;
        for (std::int64_t k = 0; k < width; ++k) out[k] = first ? level[lv][k] : level[lv][k] + out[k];
        first = false;
      }
    }
  }
}

template <Kind K>
void RunsForKind(const RunsTask& t) {
  switch (t.dtype) {
    case DType::f32: return Runs<K, float>(t);
    case DType::f64: return Runs<K, double>(t);
    case DType::i32: return Runs<K, std::int32_t>(t);
    case DType::i64: return Runs<K, std::int64_t>(t);
    case DType::u8:
    case DType::bool_: return Runs<K, std::uint8_t>(t);
  }
}

void ReduceRunsImpl(const RunsTask& t) {
  switch (t.kind) {
    case Kind::Sum: return RunsForKind<Kind::Sum>(t);
    case Kind::Prod: return RunsForKind<Kind::Prod>(t);
    case Kind::Max: return RunsForKind<Kind::Max>(t);
    case Kind::Min: return RunsForKind<Kind::Min>(t);
    case Kind::LogSumExp:
      if (t.dtype == DType::f32) return Runs<Kind::LogSumExp, float>(t);
      return Runs<Kind::LogSumExp, double>(t);
  }
}

template <Kind K>
void RowsForKind(const RowsTask& t) {
  switch (t.dtype) {
    case DType::f32: return Rows<K, float>(t);
    case DType::f64: return Rows<K, double>(t);
    case DType::i32: return Rows<K, std::int32_t>(t);
    case DType::i64: return Rows<K, std::int64_t>(t);
    case DType::u8:
    case DType::bool_: return Rows<K, std::uint8_t>(t);
  }
}

void ReduceRowsImpl(const RowsTask& t) {
  switch (t.kind) {
    case Kind::Sum: return RowsForKind<Kind::Sum>(t);
    case Kind::Prod: return RowsForKind<Kind::Prod>(t);
    case Kind::Max: return RowsForKind<Kind::Max>(t);
    case Kind::Min: return RowsForKind<Kind::Min>(t);
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

void reduce_runs(const RunsTask& task) { HWY_DYNAMIC_DISPATCH(ReduceRunsImpl)(task); }
void reduce_rows(const RowsTask& task) { HWY_DYNAMIC_DISPATCH(ReduceRowsImpl)(task); }

}  // namespace elegy::kernels::reduce
#endif  // HWY_ONCE
