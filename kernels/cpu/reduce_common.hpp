// Shared by the CPU reduction kernels (reduce.cpp, reduce_arg.cpp) and their Highway loops
// (reduce_simd.cpp): the reduction kinds, their scalar identities and combines, and the
// type-erased entry points into the SIMD code.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "elegy/core/dtype.hpp"

namespace elegy::kernels::reduce {

enum class Kind : std::uint8_t { Sum, Prod, Max, Min, LogSumExp };

// Work per parallel chunk, in elements; also the fixed length of the pieces a long reduction is
// cut into, so partial results (and hence the rounding) depend on the shape alone, never on the
// thread count.
inline constexpr std::int64_t kChunk = 1 << 15;
// Widest column tile reduce_rows handles in one call (its block buffer lives on the stack), and
// the most rows it is given: float sums add blocks of 16 rows sequentially within a call.
inline constexpr std::int64_t kRowTile = 4096;
inline constexpr std::int64_t kMaxRowsPerCall = 1024;

template <Kind K, class T>
constexpr T identity() {
  if constexpr (K == Kind::Sum)
    return T(0);
  else if constexpr (K == Kind::Prod)
    return T(1);
  else if constexpr (K == Kind::Max || K == Kind::LogSumExp) {
    if constexpr (std::is_floating_point_v<T>)
      return -std::numeric_limits<T>::infinity();
    else
      return std::numeric_limits<T>::lowest();
  } else {
    if constexpr (std::is_floating_point_v<T>)
      return std::numeric_limits<T>::infinity();
    else
      return std::numeric_limits<T>::max();
  }
}

// Integer sums and products wrap (two's complement) instead of overflowing into undefined
// behaviour, as numpy's do.
template <class T>
constexpr T wrap_add(T a, T b) {
  if constexpr (std::is_same_v<T, bool>)
    return a || b;
  else if constexpr (std::is_integral_v<T>)
    return T(std::make_unsigned_t<T>(a) + std::make_unsigned_t<T>(b));
  else
    return a + b;
}
template <class T>
constexpr T wrap_mul(T a, T b) {
  if constexpr (std::is_same_v<T, bool>)
    return a && b;
  else if constexpr (std::is_integral_v<T>)
    return T(std::make_unsigned_t<T>(a) * std::make_unsigned_t<T>(b));
  else
    return a * b;
}

// log(exp(a) + exp(b)) without overflow; -inf is the identity.
template <class T>
T log_add_exp(T a, T b) {
  const T m = a > b ? a : b;
  if (std::isnan(a) || std::isnan(b)) return a + b;
  if (m == -std::numeric_limits<T>::infinity()) return m;
  if (std::isinf(m)) return m;  // +inf
  return m + std::log(std::exp(a - m) + std::exp(b - m));
}

// One step of a reduction. Max and Min propagate NaN (numpy's max/min): a NaN on either side wins.
template <Kind K, class T>
T combine(T a, T b) {
  if constexpr (K == Kind::Sum)
    return wrap_add(a, b);
  else if constexpr (K == Kind::Prod)
    return wrap_mul(a, b);
  else if constexpr (K == Kind::Max)
    return (a > b || a != a) ? a : b;  // NOLINT: NaN test
  else if constexpr (K == Kind::Min)
    return (a < b || a != a) ? a : b;  // NOLINT: NaN test
  else
    return log_add_exp(a, b);
}

// Pairwise summation of a stream of values with O(log n) state: a binary counter whose level i
// holds the sum of 2^i pushed values. The rounding error grows with log(n), not n.
template <class T>
class PairwiseSum {
 public:
  void push(T v) {
    int level = 0;
    for (std::uint64_t c = count_; c & 1; c >>= 1, ++level) v = level_[level] + v;
    level_[level] = v;
    ++count_;
  }
  T result() const {
    T r = T(0);
    bool first = true;
    for (int i = 0; i < 64; ++i) {
      if (!((count_ >> i) & 1)) continue;
      r = first ? level_[i] : level_[i] + r;
      first = false;
    }
    return r;
  }

 private:
  T level_[64];  // level i is written before it is read (bit i of count_ says it holds a value)
  std::uint64_t count_ = 0;
};

// Reduces n elements p[0], p[stride], ... (the scalar path: any stride, any kind). Float sums
// add blocks of 16 sequentially and combine the blocks pairwise.
template <Kind K, class T>
T reduce_strided(const T* p, std::int64_t n, std::int64_t stride) {
  if constexpr (K == Kind::LogSumExp) {
    T m = -std::numeric_limits<T>::infinity();
    for (std::int64_t i = 0; i < n; ++i) m = combine<Kind::Max>(m, p[i * stride]);
    if (!std::isfinite(m)) return m;  // NaN, +inf, or -inf (every element -inf)
    PairwiseSum<T> acc;
    for (std::int64_t i = 0; i < n; i += 16) {
      T block = 0;
      for (std::int64_t j = i; j < std::min(i + 16, n); ++j) block += std::exp(p[j * stride] - m);
      acc.push(block);
    }
    return m + std::log(acc.result());
  } else if constexpr (K == Kind::Sum && std::is_floating_point_v<T>) {
    if (n <= 16) {
      T r = 0;
      for (std::int64_t i = 0; i < n; ++i) r += p[i * stride];
      return r;
    }
    PairwiseSum<T> acc;
    for (std::int64_t i = 0; i < n; i += 16) {
      T block = 0;
      for (std::int64_t j = i; j < std::min(i + 16, n); ++j) block += p[j * stride];
      acc.push(block);
    }
    return acc.result();
  } else {
    T r = identity<K, T>();
    for (std::int64_t i = 0; i < n; ++i) r = combine<K>(r, p[i * stride]);
    return r;
  }
}

// ---- SIMD entry points (reduce_simd.cpp, dispatched to the best target at run time) ----

// `count` runs of `n` contiguous elements; run i starts at in + i*in_step (elements) and its
// result goes to out[i*out_step]. `dtype` is the element type (bool as u8), one of the types the
// kind supports: Sum/Prod f32 f64 i32 i64, Max/Min those and u8, LogSumExp f32 f64.
struct RunsTask {
  Kind kind = Kind::Sum;
  DType dtype = DType::f32;
  const void* in = nullptr;
  std::int64_t n = 0, count = 1, in_step = 0;
  void* out = nullptr;
  std::int64_t out_step = 0;
  bool square = false;  // Sum of float elements only: sum their squares (the SumSquares op)
};
void reduce_runs(const RunsTask& task);

// out[j] = reduce over r < rows of in[r*row_stride + j], for j < width <= kRowTile; `out` is
// contiguous. Kinds Sum/Prod/Max/Min.
struct RowsTask {
  Kind kind = Kind::Sum;
  DType dtype = DType::f32;
  const void* in = nullptr;
  std::int64_t rows = 0, row_stride = 0, width = 0;
  void* out = nullptr;
};
void reduce_rows(const RowsTask& task);

}  // namespace elegy::kernels::reduce
