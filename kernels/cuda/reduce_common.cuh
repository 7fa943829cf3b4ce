// Warp, block and column combines shared by the CUDA reduction kernels (reduce.cu) and softmax
// (softmax.cu). Every helper combines its values in one fixed order that depends only on the
// launch shape, never on timing, so a reduction gives the same bits on every run (no atomics).
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "elegy/kernels/cuda/launch.cuh"

namespace elegy::kernels::cuda {

inline constexpr int kWarp = 32;
inline constexpr unsigned kFullMask = 0xffffffffu;

// The value `offset` lanes up (this lane's own when that lane is past the warp's end). Structs
// (value + index pairs) travel as 32-bit words.
template <class T>
__device__ __forceinline__ T shfl_down(T v, int offset) {
  if constexpr (std::is_arithmetic_v<T> && sizeof(T) >= 4) {
    return __shfl_down_sync(kFullMask, v, offset);
  } else if constexpr (std::is_arithmetic_v<T>) {
    return T(__shfl_down_sync(kFullMask, int(v), offset));
  } else {
    static_assert(sizeof(T) % 4 == 0, "shuffled structs must be whole 32-bit words");
    int words[sizeof(T) / 4];
    std::memcpy(words, &v, sizeof(T));
#pragma unroll
    for (int i = 0; i < int(sizeof(T) / 4); ++i)
      words[i] = __shfl_down_sync(kFullMask, words[i], offset);
    std::memcpy(&v, words, sizeof(T));
    return v;
  }
}

// Lane 0's value, in every lane.
template <class T>
__device__ __forceinline__ T shfl_first(T v) {
  if constexpr (std::is_arithmetic_v<T> && sizeof(T) >= 4) {
    return __shfl_sync(kFullMask, v, 0);
  } else if constexpr (std::is_arithmetic_v<T>) {
    return T(__shfl_sync(kFullMask, int(v), 0));
  } else {
    int words[sizeof(T) / 4];
    std::memcpy(words, &v, sizeof(T));
#pragma unroll
    for (int i = 0; i < int(sizeof(T) / 4); ++i) words[i] = __shfl_sync(kFullMask, words[i], 0);
    std::memcpy(&v, words, sizeof(T));
    return v;
  }
}

// Lane 0 gets the combination of the warp's 32 values: a tree over offsets 16, 8, 4, 2, 1 (lane
// i takes lane i + offset). All 32 lanes must call it.
template <class T, class C>
__device__ __forceinline__ T warp_reduce(T v, C combine) {
  const int lane = int(threadIdx.x) % kWarp;
#pragma unroll
  for (int offset = kWarp / 2; offset > 0; offset /= 2) {
    const T other = shfl_down(v, offset);
    if (lane + offset < kWarp) v = combine(v, other);
  }
  return v;
}

// The warp's combination, in every lane.
template <class T, class C>
__device__ __forceinline__ T warp_all_reduce(T v, C combine) {
  return shfl_first(warp_reduce(v, combine));
}

// The combination of all values of a 1-D block of kThreads threads, in every thread: each
// warp's tree, then the warps' results in warp order. Synchronises the block: every thread must
// call it. The scratch is static shared memory, one array per T.
template <class T, class C>
__device__ T block_all_reduce(T v, C combine) {
  constexpr int kWarps = kThreads / kWarp;
  __shared__ T scratch[kWarps];
  const int lane = int(threadIdx.x) % kWarp, warp = int(threadIdx.x) / kWarp;
  v = warp_reduce(v, combine);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  T r = scratch[0];
#pragma unroll
  for (int w = 1; w < kWarps; ++w) r = combine(r, scratch[w]);
  __syncthreads();  // the scratch may be reused by the caller's next combine
  return r;
}

// G threads sharing one output (a warp, or a whole block of kThreads): the combination of their
// values, in each of them.
template <int G, class T, class C>
__device__ __forceinline__ T group_all_reduce(T v, C combine) {
  static_assert(G == kWarp || G == kThreads, "a group is a warp or the whole block");
  if constexpr (G == kWarp)
    return warp_all_reduce(v, combine);
  else
    return block_all_reduce(v, combine);
}

// A block of (kThreads / S) x S threads: thread (x, y) gets the combination of column x's S
// values, in order y = 0 .. S-1. Synchronises the block: every thread must call it.
template <int S, class T, class C>
__device__ T column_all_reduce(T v, C combine) {
  if constexpr (S == 1) {
    return v;
  } else {
    __shared__ T scratch[S][kThreads / S];
    scratch[threadIdx.y][threadIdx.x] = v;
    __syncthreads();
    T r = scratch[0][threadIdx.x];
#pragma unroll
    for (int y = 1; y < S; ++y) r = combine(r, scratch[y][threadIdx.x]);
    __syncthreads();
    return r;
  }
}

// Element loads and the ArgMax/ArgMin reducer of the reduction kernels (reduce.cu), shared
// with the fused argmax comparison (argmax_matches.cu).
// kBool: T is uint8_t holding a bool; any nonzero byte reads as true (1).
template <class T, bool kBool>
__device__ __forceinline__ T load_value(T x) {
  if constexpr (kBool)
    return T(x != T(0));
  else
    return x;
}

// A candidate extreme: its value and its index along the axis; index < 0 is "no element yet".
template <class T>
struct ArgAcc {
  T value;
  std::int64_t index;
};

template <bool kMax, class T, bool kBool>
struct ArgReducer {
  using Acc = ArgAcc<T>;
  using Out = std::int32_t;
  __device__ static Acc identity() { return {T(0), -1}; }
  __device__ static Acc load(T x, std::int64_t r) { return {load_value<T, kBool>(x), r}; }
  // x beats best: a NaN beats any number, a larger (smaller) value beats a smaller (larger)
  // one, and between equals (or two NaNs) the lower index wins. A total order, so the result
  // is the same whatever order candidates meet in.
  __device__ static bool beats(const Acc& x, const Acc& best) {
    const bool x_nan = x.value != x.value, best_nan = best.value != best.value;
    if (best_nan || x_nan) return x_nan && (!best_nan || x.index < best.index);
    if (x.value == best.value) return x.index < best.index;
    return kMax ? x.value > best.value : x.value < best.value;
  }
  __device__ static Acc combine(const Acc& a, const Acc& b) {
    if (a.index < 0) return b;
    if (b.index < 0) return a;
    return beats(b, a) ? b : a;
  }
  __device__ static Out finish(const Acc& a) { return Out(a.index); }
};

// The combines of a softmax row (softmax.cu, softmax_xent.cu): the NaN-aware maximum (a NaN on
// either side wins) and the sum.
struct MaxCombine {
  template <class T>
  __device__ T operator()(T a, T b) const {
    return (a > b || a != a) ? a : b;
  }
};
struct SumCombine {
  template <class T>
  __device__ T operator()(T a, T b) const {
    return a + b;
  }
};

// Function objects over the two combines, for code written once for both groupings.
template <int G>
struct GroupAllReduce {
  template <class T, class C>
  __device__ T operator()(T v, C combine) const {
    return group_all_reduce<G>(v, combine);
  }
};
template <int S>
struct ColumnAllReduce {
  template <class T, class C>
  __device__ T operator()(T v, C combine) const {
    return column_all_reduce<S>(v, combine);
  }
};

}  // namespace elegy::kernels::cuda
