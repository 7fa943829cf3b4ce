// Launch helpers shared by the CUDA kernel families: the stream of a device, grid sizing, the
// post-launch error check, and the two elementwise kernels every map-style op is built from (a
// contiguous one with 16-byte vector loads, and a strided one walking a coalesced Layout).
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "elegy/core/cuda/cuda_runtime.hpp"
#include "elegy/kernels/buffer_view.hpp"
#include "elegy/kernels/layout.hpp"

namespace elegy::kernels::cuda {

inline constexpr int kThreads = 256;
// Grid-stride loops cover the rest: more blocks than this only adds scheduling overhead.
inline constexpr std::int64_t kMaxBlocks = 65536;

// Makes `device` current for this thread and returns the stream all of its work goes to.
inline cudaStream_t prepare(Device device) {
  elegy::cuda::set_device(device.index);
  return elegy::cuda::stream(device.index);
}

inline unsigned blocks_for(std::int64_t work_items) {
  return unsigned(std::clamp<std::int64_t>((work_items + kThreads - 1) / kThreads, 1, kMaxBlocks));
}

// Launch errors (bad configuration, missing arch image) surface here; errors raised while the
// kernel runs surface at the next synchronising call, named by that call.
inline void check_launch(const char* op) {
  ELEGY_CUDA_CHECK(cudaGetLastError(), op);
}

inline bool aligned16(const void* p) {
  return (reinterpret_cast<std::uintptr_t>(p) & 15u) == 0;
}

// The inputs of a map: N pointers of one element type.
template <class T, int N>
struct Inputs {
  const T* p[N];
};

// 16 bytes of T: loads and stores of this type compile to single 128-bit instructions.
template <class T>
struct alignas(16) Pack {
  static constexpr int kWidth = 16 / int(sizeof(T));
  T v[kWidth];
};

template <class F, class T>
__device__ __forceinline__ auto apply(const F& f, const T (&x)[1]) {
  return f(x[0]);
}
template <class F, class T>
__device__ __forceinline__ auto apply(const F& f, const T (&x)[2]) {
  return f(x[0], x[1]);
}
template <class F, class T>
__device__ __forceinline__ auto apply(const F& f, const T (&x)[3]) {
  return f(x[0], x[1], x[2]);
}

// f applied lane by lane to N packs.
template <class T, int N, class F>
__device__ __forceinline__ Pack<T> apply_packs(const F& f, const Pack<T> (&x)[N]) {
  Pack<T> r;
#pragma unroll
  for (int j = 0; j < Pack<T>::kWidth; ++j) {
    T lane[N];
#pragma unroll
    for (int k = 0; k < N; ++k) lane[k] = x[k].v[j];
    r.v[j] = apply(f, lane);
  }
  return r;
}

// out[i] = f(in_0[i], ..., in_N-1[i]) over dense, 16-byte aligned operands of one type; input k
// is one value broadcast to all of out where bit k of `scalars` is set (a 0-d operand: the L2
// gradient's p * (2 l2 g) + g, a running total's value * weight + total).
template <class T, int N, class F>
__global__ void map_contiguous_vec(std::int64_t n, T* out, Inputs<T, N> in, unsigned scalars, F f) {
  constexpr int W = Pack<T>::kWidth;
  const std::int64_t nvec = n / W;
  const std::int64_t first = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const std::int64_t step = std::int64_t(gridDim.x) * blockDim.x;
  Pack<T> splat[N];
#pragma unroll
  for (int k = 0; k < N; ++k)
    if (scalars & (1u << k))
#pragma unroll
      for (int j = 0; j < W; ++j) splat[k].v[j] = in.p[k][0];
  for (std::int64_t v = first; v < nvec; v += step) {
    Pack<T> x[N];
#pragma unroll
    for (int k = 0; k < N; ++k)
      x[k] = (scalars & (1u << k)) ? splat[k] : reinterpret_cast<const Pack<T>*>(in.p[k])[v];
    reinterpret_cast<Pack<T>*>(out)[v] = apply_packs(f, x);
  }
  // The n % W tail: one element for each of the first threads.
  const std::int64_t t = nvec * W + first;
  if (t < n) {
    T lane[N];
#pragma unroll
    for (int k = 0; k < N; ++k) lane[k] = in.p[k][(scalars & (1u << k)) ? 0 : t];
    out[t] = apply(f, lane);
  }
}

// out[i] = f(in_0[i], ...) over dense operands that the vector kernel cannot take (types that
// differ, as in a cast, or misaligned views): no index arithmetic beyond the grid stride.
template <class Out, class In, int N, class F>
__global__ void map_contiguous(std::int64_t n, Out* out, Inputs<In, N> in, F f) {
  const std::int64_t step = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    In lane[N];
#pragma unroll
    for (int k = 0; k < N; ++k) lane[k] = in.p[k][i];
    out[i] = apply(f, lane);
  }
}

// Rows of a 2-D layout (a bias add, a per-row scale: the broadcasts of a training step), 16
// bytes at a time: each operand's rows are dense (inner stride 1) or one value repeated (inner
// stride 0), every row starts 16-byte aligned, and the row length is whole packs, so a pack
// never crosses a row. One 32-bit division per pack instead of two 64-bit ones per element.
template <class T, int N, class F>
__global__ void map_rows_vec(std::uint32_t packs, std::uint32_t row_packs, Layout<N + 1> l, T* out,
                             Inputs<T, N> in, F f) {
  constexpr int W = Pack<T>::kWidth;
  const std::uint32_t step = gridDim.x * blockDim.x;
  for (std::uint32_t v = blockIdx.x * blockDim.x + threadIdx.x; v < packs; v += step) {
    const std::uint32_t row = v / row_packs;
    const std::int64_t col = std::int64_t(v - row * row_packs) * W;
    Pack<T> x[N];
#pragma unroll
    for (int k = 0; k < N; ++k) {
      const T* src = in.p[k] + std::int64_t(row) * l.strides[k + 1][0];
      if (l.strides[k + 1][1] == 1) {
        x[k] = *reinterpret_cast<const Pack<T>*>(src + col);
      } else {
        const T value = *src;
#pragma unroll
        for (int j = 0; j < W; ++j) x[k].v[j] = value;
      }
    }
    *reinterpret_cast<Pack<T>*>(out + std::int64_t(row) * l.strides[0][0] + col) =
        apply_packs(f, x);
  }
}

// Whether map_rows_vec can take layout `l` (operand 0 the output at `out`, then `in`).
template <class T, int N>
bool rows_vectorizable(const Layout<N + 1>& l, const T* out, const Inputs<T, N>& in) {
  constexpr int W = Pack<T>::kWidth;
  if (l.rank != 2 || l.sizes[1] % W != 0 || l.strides[0][1] != 1 || l.strides[0][0] % W != 0 ||
      !aligned16(out) || l.numel() / W > std::int64_t(UINT32_MAX) - kMaxBlocks * kThreads)
    return false;
  for (int k = 0; k < N; ++k) {
    const std::int64_t inner = l.strides[k + 1][1];
    if (inner != 0 && inner != 1) return false;
    if (inner == 1 && (l.strides[k + 1][0] % W != 0 || !aligned16(in.p[k]))) return false;
  }
  return true;
}

// out[...] = f(in...) over any layout: operand 0 of `l` is the output, k+1 is input k. Index is
// std::uint32_t when n fits, else std::int64_t.
template <class Index, class Out, class In, int N, class F>
__global__ void map_strided(Layout<N + 1> l, Index n, Out* out, Inputs<In, N> in, F f) {
  const Index step = Index(gridDim.x) * blockDim.x;
  for (Index i = Index(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    std::int64_t off[N + 1];
    l.template element_offsets<Index>(i, off);
    In lane[N];
#pragma unroll
    for (int k = 0; k < N; ++k) lane[k] = in.p[k][off[k + 1]];
    out[off[0]] = apply(f, lane);
  }
}

// Runs f elementwise over args.out and args.in[0..N): the vector kernel when every operand is
// dense and 16-byte aligned or a single value broadcast (a 0-d operand) and all are of one type,
// the plain contiguous kernel when they are dense otherwise, the row kernel for aligned 2-D
// broadcasts of one type, the strided kernel for everything else.
template <class Out, class In, int N, class F>
void map(const KernelArgs& a, F f, const char* op) {
  const BufferView* views[N + 1];
  views[0] = &a.out;
  for (int k = 0; k < N; ++k) views[k + 1] = &a.in[k];
  const Layout<N + 1> l = coalesce(views);
  const std::int64_t n = l.numel();
  if (n == 0) return;
  Out* out = static_cast<Out*>(a.out.data);
  Inputs<In, N> in;
  for (int k = 0; k < N; ++k) in.p[k] = static_cast<const In*>(a.in[k].data);
  const cudaStream_t s = prepare(a.device);

  bool dense = l.rank == 1;
  for (int k = 0; k <= N; ++k) dense = dense && l.strides[k][0] == 1;
  if constexpr (std::is_same_v<Out, In>) {
    // Dense and aligned, or a single value broadcast (stride 0), operand by operand.
    bool vectorizable = l.rank == 1 && l.strides[0][0] == 1 && aligned16(out);
    unsigned scalars = 0;
    for (int k = 0; k < N; ++k) {
      if (l.rank == 1 && l.strides[k + 1][0] == 0)
        scalars |= 1u << k;
      else
        vectorizable = vectorizable && l.strides[k + 1][0] == 1 && aligned16(in.p[k]);
    }
    if (vectorizable) {
      map_contiguous_vec<In, N>
          <<<blocks_for(n / Pack<In>::kWidth + 1), kThreads, 0, s>>>(n, out, in, scalars, f);
      check_launch(op);
      return;
    }
  }
  if (dense) {
    map_contiguous<Out, In, N><<<blocks_for(n), kThreads, 0, s>>>(n, out, in, f);
    check_launch(op);
    return;
  }
  if constexpr (std::is_same_v<Out, In>) {
    if (rows_vectorizable<In, N>(l, out, in)) {
      constexpr int W = Pack<In>::kWidth;
      const std::int64_t packs = n / W;
      map_rows_vec<In, N><<<blocks_for(packs), kThreads, 0, s>>>(
          std::uint32_t(packs), std::uint32_t(l.sizes[1] / W), l, out, in, f);
      check_launch(op);
      return;
    }
  }
  // 32-bit indices while i + step cannot wrap (the grid is at most kMaxBlocks x kThreads).
  if (n <= std::int64_t(UINT32_MAX) - kMaxBlocks * kThreads)
    map_strided<std::uint32_t, Out, In, N>
        <<<blocks_for(n), kThreads, 0, s>>>(l, std::uint32_t(n), out, in, f);
  else
    map_strided<std::int64_t, Out, In, N><<<blocks_for(n), kThreads, 0, s>>>(l, n, out, in, f);
  check_launch(op);
}

}  // namespace elegy::kernels::cuda
