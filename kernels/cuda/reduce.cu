// Reductions on CUDA: Sum, Prod, Max, Min, LogSumExp and SumSquares over any set of axes, ArgMax
// and ArgMin along ints[0]. As on the CPU (kernels/cpu/reduce.cpp, reduce_arg.cpp), `out` has in's
// rank with size 1 on the reduced dims, integer sums and products wrap, Max/Min propagate NaN,
// LogSumExp subtracts the maximum first, and ArgMax/ArgMin return the int32 index of the first
// extreme element, a NaN counting as the extreme (the first NaN wins).
//
// The kept dims form a Layout of (out, in) offsets, one entry per output; the reduced dims,
// sorted by stride and merged where contiguous, a Layout of in offsets, one entry per reduced
// element. Each output is reduced by one of three groupings of threads:
//   columns: the kept innermost dim is contiguous in `in` (an outer axis is reduced): a thread
//            per output, 32 neighbouring outputs per block row so loads coalesce, and 8 rows
//            of threads splitting the reduced elements, combined through shared memory;
//   threads: fewer than 32 elements per output: a thread per output;
//   groups:  a warp per output, or the whole block when an output reduces more than 1024
//            elements; lanes take every 32nd (256th) element, then a shuffle tree combines them.
// A long Sum/Prod/Max/Min with few outputs is also cut into pieces of kPieceLen elements,
// reduced in parallel into a scratch buffer and combined in piece order by a second kernel.
// Every combine happens in an order fixed by the shapes (and, for dense runs, by whether the data
// starts 16-byte aligned: the vector loads group elements differently), so a call is
// reproducible (no atomics); float sums round differently from the CPU's pairwise order, within
// a few ulp of it.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <type_traits>

#include "elegy/core/cuda/cuda_runtime.hpp"
#include "elegy/kernels/cuda/device_scratch.cuh"
#include "elegy/kernels/cuda/families.hpp"
#include "elegy/kernels/cuda/launch.cuh"
#include "elegy/kernels/cuda/math.cuh"
#include "elegy/kernels/cuda/reduce_common.cuh"

namespace elegy::kernels::cuda {
namespace {

// SumSquares: a Sum whose elements are squared as they are loaded (partials combine as sums).
enum class Kind : std::uint8_t { Sum, Prod, Max, Min, LogSumExp, ArgMax, ArgMin, SumSquares };

constexpr const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Sum:
      return "sum (cuda)";
    case Kind::Prod:
      return "prod (cuda)";
    case Kind::Max:
      return "max (cuda)";
    case Kind::Min:
      return "min (cuda)";
    case Kind::LogSumExp:
      return "logsumexp (cuda)";
    case Kind::ArgMax:
      return "argmax (cuda)";
    case Kind::ArgMin:
      return "argmin (cuda)";
    case Kind::SumSquares:
      return "sum_of_squares (cuda)";
  }
  return "reduce (cuda)";
}

// Elements per piece when a long reduction is split, and the number of (output, piece) work
// items the split aims for: enough blocks to fill an H100/H200 a few times over.
constexpr std::int64_t kPieceLen = 4096;
constexpr std::int64_t kTargetItems = 1024;
// Rows of threads per block on the columns path (the block is (kThreads / 8) x 8).
constexpr int kColumnSlices = 8;

struct Plan {
  Layout<2> kept;     // operand 0: out, operand 1: in; one entry per output
  Layout<1> reduced;  // in's offsets of the reduced elements of one output
  std::int64_t outputs = 0, count = 0;
  std::int64_t pieces = 1, piece_len = 0;  // count = pieces * piece_len, the last piece shorter
  bool scaled = false;  // ScaledSum: each output times `scale` (rounded to the dtype) as written
  double scale = 1.0;
};

__device__ __forceinline__ std::int64_t reduced_offset(const Layout<1>& l, std::int64_t r) {
  if (l.rank == 1) return r * l.strides[0][0];
  std::int64_t off[1];
  l.element_offsets(r, off);
  return off[0];
}

// An output as written: ScaledSum's product rounded once, as a Mul kernel after the Sum would
// (__fmul_rn / __dmul_rn are never contracted with anything around them).
template <class Out>
__device__ __forceinline__ Out written(const Plan& p, Out v) {
  if constexpr (std::is_same_v<Out, float>) {
    if (p.scaled) return __fmul_rn(v, float(p.scale));
  } else if constexpr (std::is_same_v<Out, double>) {
    if (p.scaled) return __dmul_rn(v, p.scale);
  }
  return v;
}

// ---- reducers: identity, load (element -> accumulator), combine, finish (accumulator -> out);
// load_value and ArgReducer are in reduce_common.cuh.

template <Kind K, class T, bool kBool>
struct ValueReducer {
  using Acc = T;
  using Out = T;
  __device__ static T identity() {
    if constexpr (K == Kind::Sum || K == Kind::SumSquares) {
      return T(0);
    } else if constexpr (K == Kind::Prod) {
      return T(1);
    } else if constexpr (K == Kind::Max) {
      if constexpr (std::is_floating_point_v<T>)
        return -std::numeric_limits<T>::infinity();
      else
        return std::numeric_limits<T>::lowest();
    } else {
      if constexpr (kBool)
        return T(1);
      else if constexpr (std::is_floating_point_v<T>)
        return std::numeric_limits<T>::infinity();
      else
        return std::numeric_limits<T>::max();
    }
  }
  __device__ static T load(T x, std::int64_t) {
    if constexpr (K == Kind::SumSquares)
      return x * x;
    else
      return load_value<T, kBool>(x);
  }
  // Integer sums and products wrap (computed unsigned); Max/Min: a NaN on either side wins.
  __device__ static T combine(T a, T b) {
    if constexpr (K == Kind::Sum || K == Kind::SumSquares) {
      if constexpr (std::is_integral_v<T>)
        return T(std::make_unsigned_t<T>(a) + std::make_unsigned_t<T>(b));
      else
        return a + b;
    } else if constexpr (K == Kind::Prod) {
      if constexpr (std::is_integral_v<T>)
        return T(std::make_unsigned_t<T>(a) * std::make_unsigned_t<T>(b));
      else
        return a * b;
    } else if constexpr (K == Kind::Max) {
      return (a > b || a != a) ? a : b;
    } else {
      return (a < b || a != a) ? a : b;
    }
  }
  __device__ static T finish(T a) { return a; }
};

template <Kind K, class T, bool kBool>
using ReducerFor = std::conditional_t<
    K == Kind::ArgMax, ArgReducer<true, T, kBool>,
    std::conditional_t<K == Kind::ArgMin, ArgReducer<false, T, kBool>, ValueReducer<K, T, kBool>>>;

template <class Rd>
struct CombineWith {
  __device__ typename Rd::Acc operator()(const typename Rd::Acc& a,
                                         const typename Rd::Acc& b) const {
    return Rd::combine(a, b);
  }
};

template <class T>
__device__ __forceinline__ bool finite(T x) {
  return x - x == T(0);  // false for NaN and the infinities
}

// This thread's share of one output's elements [begin, end): every `step`-th from begin + first.
template <class Rd, class T>
__device__ typename Rd::Acc accumulate(const Plan& p, const T* base, std::int64_t begin,
                                       std::int64_t end, std::int64_t first, std::int64_t step) {
  typename Rd::Acc acc = Rd::identity();
  for (std::int64_t r = begin + first; r < end; r += step)
    acc = Rd::combine(acc, Rd::load(base[reduced_offset(p.reduced, r)], r));
  return acc;
}

// `accumulate` over a dense run (p.reduced one stride-1 run) with 16-byte loads when the piece
// starts 16-byte aligned, two packs in flight per iteration: thread `first` of `step` takes
// packs first, first + step, ...; the elements past the last whole pack go one by one. For the
// value reducers (their load ignores the index). An H200 summed 64M floats at 1.1 TB/s with
// one 4-byte load per iteration, a quarter of a device-to-device copy.
template <class Rd, class T>
__device__ typename Rd::Acc accumulate_dense(const T* base, std::int64_t begin, std::int64_t end,
                                             std::int64_t first, std::int64_t step) {
  constexpr int W = Pack<T>::kWidth;
  typename Rd::Acc acc = Rd::identity();
  const T* start = base + begin;
  std::int64_t packs = 0;
  if ((reinterpret_cast<std::uintptr_t>(start) & 15u) == 0) {
    packs = (end - begin) / W;
    const Pack<T>* v = reinterpret_cast<const Pack<T>*>(start);
    std::int64_t j = first;
    for (; j + step < packs; j += 2 * step) {
      const Pack<T> a = v[j], b = v[j + step];
#pragma unroll
      for (int w = 0; w < W; ++w) acc = Rd::combine(acc, Rd::load(a.v[w], 0));
#pragma unroll
      for (int w = 0; w < W; ++w) acc = Rd::combine(acc, Rd::load(b.v[w], 0));
    }
    if (j < packs) {
      const Pack<T> a = v[j];
#pragma unroll
      for (int w = 0; w < W; ++w) acc = Rd::combine(acc, Rd::load(a.v[w], 0));
    }
  }
  for (std::int64_t r = begin + packs * W + first; r < end; r += step)
    acc = Rd::combine(acc, Rd::load(start[r - begin], r));
  return acc;
}

// LogSumExp of one output whose elements this thread visits as `accumulate` does; `all_reduce`
// combines a value over the threads sharing the output and returns it to each of them. m is the
// NaN-aware maximum; a row whose maximum is not finite (NaN, +inf, or all -inf) gives m itself,
// as on the CPU. Both passes run in every thread (the combines synchronise).
template <class T, class AllReduce>
__device__ T logsumexp(const Plan& p, const T* base, std::int64_t first, std::int64_t step,
                       bool active, AllReduce all_reduce) {
  using MaxRd = ValueReducer<Kind::Max, T, false>;
  using SumRd = ValueReducer<Kind::Sum, T, false>;
  T m = active ? accumulate<MaxRd>(p, base, 0, p.count, first, step) : MaxRd::identity();
  m = all_reduce(m, CombineWith<MaxRd>{});
  const T shift = finite(m) ? m : T(0);
  T s = T(0);
  if (active)
    for (std::int64_t r = first; r < p.count; r += step)
      s += exp_of(base[reduced_offset(p.reduced, r)] - shift);
  s = all_reduce(s, CombineWith<SumRd>{});
  return finite(m) ? m + log_of(s) : m;
}

// Groups of G threads (a warp, or the whole block) each reduce one piece of one output; work
// item i is output i / pieces, piece i % pieces. Lane 0 writes out (one piece) or partials[i].
template <Kind K, class T, bool kBool, int G>
__global__ void reduce_groups_kernel(Plan p, const T* in,
                                     typename ReducerFor<K, T, kBool>::Out* out,
                                     typename ReducerFor<K, T, kBool>::Acc* partials) {
  using Rd = ReducerFor<K, T, kBool>;
  using Acc = typename Rd::Acc;
  constexpr int kGroupsPerBlock = kThreads / G;
  const int lane = int(threadIdx.x) % G;
  const std::int64_t items = p.outputs * p.pieces;
  const std::int64_t step = std::int64_t(gridDim.x) * kGroupsPerBlock;
  // The loop bound is the same for every thread of a group, so the combines see whole groups.
  for (std::int64_t item = std::int64_t(blockIdx.x) * kGroupsPerBlock + threadIdx.x / G;
       item < items; item += step) {
    const std::int64_t k = item / p.pieces, piece = item % p.pieces;
    std::int64_t off[2];
    p.kept.element_offsets(k, off);
    const T* base = in + off[1];
    Acc result;
    if constexpr (K == Kind::LogSumExp) {
      result = logsumexp(p, base, lane, G, true, GroupAllReduce<G>{});
    } else {
      const std::int64_t begin = piece * p.piece_len;
      const std::int64_t end = begin + p.piece_len < p.count ? begin + p.piece_len : p.count;
      constexpr bool kValue = K != Kind::ArgMax && K != Kind::ArgMin;
      Acc acc;
      if (kValue && p.reduced.rank == 1 && p.reduced.strides[0][0] == 1)
        acc = accumulate_dense<Rd>(base, begin, end, lane, G);
      else
        acc = accumulate<Rd>(p, base, begin, end, lane, G);
      result = group_all_reduce<G>(acc, CombineWith<Rd>{});
    }
    if (lane == 0) {
      if (partials)
        partials[item] = result;
      else
        out[off[0]] = written(p, Rd::finish(result));
    }
  }
}

// Blocks of (kThreads / S) x S threads: thread (x, y) works for output tile * (kThreads / S) + x
// and takes every S-th element of its piece from y; column x's S values are then combined in
// order of y. Work item i is tile i / pieces, piece i % pieces (the same for the whole block).
template <Kind K, class T, bool kBool, int S>
__global__ void reduce_columns_kernel(Plan p, const T* in,
                                      typename ReducerFor<K, T, kBool>::Out* out,
                                      typename ReducerFor<K, T, kBool>::Acc* partials) {
  using Rd = ReducerFor<K, T, kBool>;
  using Acc = typename Rd::Acc;
  constexpr int X = kThreads / S;
  const std::int64_t tiles = (p.outputs + X - 1) / X;
  const std::int64_t items = tiles * p.pieces;
  for (std::int64_t item = blockIdx.x; item < items; item += gridDim.x) {
    const std::int64_t tile = item / p.pieces, piece = item % p.pieces;
    const std::int64_t k = tile * X + threadIdx.x;
    const bool active = k < p.outputs;
    std::int64_t off[2] = {0, 0};
    if (active) p.kept.element_offsets(k, off);
    const T* base = in + off[1];
    Acc result;
    if constexpr (K == Kind::LogSumExp) {
      result = logsumexp(p, base, threadIdx.y, S, active, ColumnAllReduce<S>{});
    } else {
      const std::int64_t begin = piece * p.piece_len;
      const std::int64_t end = begin + p.piece_len < p.count ? begin + p.piece_len : p.count;
      const Acc acc = active ? accumulate<Rd>(p, base, begin, end, threadIdx.y, S) : Rd::identity();
      result = column_all_reduce<S>(acc, CombineWith<Rd>{});
    }
    if (active && threadIdx.y == 0) {
      if (partials)
        partials[k * p.pieces + piece] = result;
      else
        out[off[0]] = written(p, Rd::finish(result));
    }
  }
}

// out[k] = the pieces of output k combined by a group of G threads (a warp, or the whole block
// when there are many pieces): lane l takes pieces l, l + G, ... in order, then the group's tree.
// The order depends only on the shapes, so the result is reproducible. Before, one thread per
// output walked all its pieces (1024 for a 64M-float sum), a long chain of L2 loads: the likely
// reason an H200 summed 64M floats in 92 us against PyTorch's 70 (not yet re-measured).
template <Kind K, class T, bool kBool, int G>
__global__ void combine_pieces_kernel(Plan p, const typename ReducerFor<K, T, kBool>::Acc* partials,
                                      typename ReducerFor<K, T, kBool>::Out* out) {
  using Rd = ReducerFor<K, T, kBool>;
  constexpr int kGroupsPerBlock = kThreads / G;
  const int lane = int(threadIdx.x) % G;
  const std::int64_t step = std::int64_t(gridDim.x) * kGroupsPerBlock;
  // The loop bound is the same for every thread of a group, so the combines see whole groups.
  for (std::int64_t k = std::int64_t(blockIdx.x) * kGroupsPerBlock + threadIdx.x / G; k < p.outputs;
       k += step) {
    const typename Rd::Acc* mine = partials + k * p.pieces;
    typename Rd::Acc acc = Rd::identity();
    for (std::int64_t c = lane; c < p.pieces; c += G) acc = Rd::combine(acc, mine[c]);
    acc = group_all_reduce<G>(acc, CombineWith<Rd>{});
    if (lane == 0) {
      std::int64_t off[2];
      p.kept.element_offsets(k, off);
      out[off[0]] = written(p, Rd::finish(acc));
    }
  }
}

template <Kind K, class T, bool kBool, int G>
void launch_combine(const Plan& p, const typename ReducerFor<K, T, kBool>::Acc* partials,
                    typename ReducerFor<K, T, kBool>::Out* out, cudaStream_t s) {
  constexpr int kGroupsPerBlock = kThreads / G;
  const unsigned blocks = unsigned(
      std::min<std::int64_t>((p.outputs + kGroupsPerBlock - 1) / kGroupsPerBlock, kMaxBlocks));
  combine_pieces_kernel<K, T, kBool, G><<<blocks, kThreads, 0, s>>>(p, partials, out);
}

// The plan for reducing `in` into `out`: over `axis` alone when axis >= 0 (ArgMax/ArgMin),
// otherwise over every dim where out has size 1 and in does not.
Plan make_plan(const BufferView& in, const BufferView& out, int axis) {
  Plan p;
  BufferView kept_in = in, reduced = in;
  reduced.rank = 0;
  // Reduced dims, outermost (largest stride) first so contiguous ones merge.
  for (int i = 0; i < in.rank; ++i) {
    const bool is_reduced = axis >= 0 ? i == axis : (out.sizes[i] == 1 && in.sizes[i] != 1);
    if (!is_reduced) continue;
    kept_in.sizes[i] = 1;
    int j = reduced.rank++;
    for (; j > 0 && std::abs(reduced.strides[j - 1]) < std::abs(in.strides[i]); --j) {
      reduced.sizes[j] = reduced.sizes[j - 1];
      reduced.strides[j] = reduced.strides[j - 1];
    }
    reduced.sizes[j] = in.sizes[i];
    reduced.strides[j] = in.strides[i];
  }
  const BufferView* kept_views[2] = {&out, &kept_in};
  p.kept = coalesce(kept_views);
  const BufferView* reduced_views[1] = {&reduced};
  p.reduced = coalesce(reduced_views);
  p.outputs = out.numel();
  p.count = reduced.numel();
  p.piece_len = p.count;
  return p;
}

// Cuts a long reduction into pieces of kPieceLen when `groups` work items would not fill the
// device; Sum/Prod/Max/Min only (their partial results combine like elements).
void split(Plan& p, Kind kind, std::int64_t groups) {
  const bool splittable = kind != Kind::LogSumExp && kind != Kind::ArgMax && kind != Kind::ArgMin;
  if (!splittable || p.count <= 2 * kPieceLen || groups >= kTargetItems) return;
  const std::int64_t wanted =
      std::min((p.count + kPieceLen - 1) / kPieceLen, kTargetItems / groups);
  if (wanted < 2) return;
  // Whole 64-byte lines per piece: every piece of an aligned run starts aligned (the dense
  // path's 16-byte loads).
  p.piece_len = ((p.count + wanted - 1) / wanted + 15) / 16 * 16;
  p.pieces = (p.count + p.piece_len - 1) / p.piece_len;
}

template <Kind K, class T, bool kBool, int S>
void launch_columns(const Plan& p, const T* in, typename ReducerFor<K, T, kBool>::Out* out,
                    typename ReducerFor<K, T, kBool>::Acc* partials, cudaStream_t s) {
  constexpr int X = kThreads / S;
  const std::int64_t items = (p.outputs + X - 1) / X * p.pieces;
  const unsigned blocks = unsigned(std::min<std::int64_t>(items, kMaxBlocks));
  reduce_columns_kernel<K, T, kBool, S><<<blocks, dim3(X, S), 0, s>>>(p, in, out, partials);
}

template <Kind K, class T, bool kBool, int G>
void launch_groups(const Plan& p, const T* in, typename ReducerFor<K, T, kBool>::Out* out,
                   typename ReducerFor<K, T, kBool>::Acc* partials, cudaStream_t s) {
  constexpr int kGroupsPerBlock = kThreads / G;
  const std::int64_t items = p.outputs * p.pieces;
  const unsigned blocks =
      unsigned(std::min<std::int64_t>((items + kGroupsPerBlock - 1) / kGroupsPerBlock, kMaxBlocks));
  reduce_groups_kernel<K, T, kBool, G><<<blocks, kThreads, 0, s>>>(p, in, out, partials);
}

// T is the element type (uint8_t for bool, with kBool). kScaled: ScaledSum (K is Sum).
template <Kind K, class T, bool kBool = false, bool kScaled = false>
void reduce_kernel(const KernelArgs& a) {
  using Rd = ReducerFor<K, T, kBool>;
  using Acc = typename Rd::Acc;
  using Out = typename Rd::Out;
  constexpr bool kArg = K == Kind::ArgMax || K == Kind::ArgMin;
  const BufferView& in = a.in[0];
  int axis = -1;
  if constexpr (kArg) axis = int(a.ints[0] < 0 ? a.ints[0] + in.rank : a.ints[0]);
  Plan p = make_plan(in, a.out, axis);
  p.scaled = kScaled;
  p.scale = kScaled ? a.scalar[0] : 1.0;
  if (p.outputs == 0) return;
  if (kArg && p.count == 0) return;  // the op rejects an empty axis
  const T* src = static_cast<const T*>(in.data);
  Out* dst = static_cast<Out*>(a.out.data);
  const cudaStream_t s = prepare(a.device);

  // The columns path: the kept innermost dim is contiguous in `in` (so the reduced elements of
  // neighbouring outputs are neighbours) and is not itself the reduced run.
  const bool reduced_dense = p.reduced.rank == 1 && p.reduced.strides[0][0] == 1;
  const bool columns =
      p.kept.inner_stride(1) == 1 && p.kept.inner_size() > 1 && p.count > 1 && !reduced_dense;
  const bool threads = !columns && p.count < kWarp;
  constexpr int kX = kThreads / kColumnSlices;
  if (columns)
    split(p, K, (p.outputs + kX - 1) / kX);
  else if (!threads)
    split(p, K, p.outputs);
  DeviceScratch scratch(a.device,
                        p.pieces > 1 ? std::size_t(p.outputs * p.pieces) * sizeof(Acc) : 0);
  Acc* partials = static_cast<Acc*>(scratch.get());

  if (columns)
    launch_columns<K, T, kBool, kColumnSlices>(p, src, dst, partials, s);
  else if (threads)
    launch_columns<K, T, kBool, 1>(p, src, dst, partials, s);
  else if (p.piece_len > 1024)
    launch_groups<K, T, kBool, kThreads>(p, src, dst, partials, s);
  else
    launch_groups<K, T, kBool, kWarp>(p, src, dst, partials, s);
  check_launch(kind_name(K));
  if (partials) {
    // A whole block per output once each lane of a warp would walk more than 4 pieces.
    if (p.pieces > 4 * kWarp)
      launch_combine<K, T, kBool, kThreads>(p, partials, dst, s);
    else
      launch_combine<K, T, kBool, kWarp>(p, partials, dst, s);
    check_launch(kind_name(K));
  }
}

template <class T>
void add_ordered(Registry& r, DType t) {
  r.add(Op::Max, DeviceKind::cuda, t, reduce_kernel<Kind::Max, T>);
  r.add(Op::Min, DeviceKind::cuda, t, reduce_kernel<Kind::Min, T>);
  r.add(Op::ArgMax, DeviceKind::cuda, t, reduce_kernel<Kind::ArgMax, T>);
  r.add(Op::ArgMin, DeviceKind::cuda, t, reduce_kernel<Kind::ArgMin, T>);
}

template <class T>
void add_ring(Registry& r, DType t) {
  r.add(Op::Sum, DeviceKind::cuda, t, reduce_kernel<Kind::Sum, T>);
  r.add(Op::Prod, DeviceKind::cuda, t, reduce_kernel<Kind::Prod, T>);
  add_ordered<T>(r, t);
}

}  // namespace

// The CPU's dtypes: Sum/Prod of bool and uint8 are computed in int64 by the op (it casts first).
void register_reduce(Registry& r) {
  using B = std::uint8_t;
  r.add(Op::Max, DeviceKind::cuda, DType::bool_, reduce_kernel<Kind::Max, B, true>);
  r.add(Op::Min, DeviceKind::cuda, DType::bool_, reduce_kernel<Kind::Min, B, true>);
  r.add(Op::ArgMax, DeviceKind::cuda, DType::bool_, reduce_kernel<Kind::ArgMax, B, true>);
  r.add(Op::ArgMin, DeviceKind::cuda, DType::bool_, reduce_kernel<Kind::ArgMin, B, true>);
  add_ordered<B>(r, DType::u8);
  add_ring<std::int32_t>(r, DType::i32);
  add_ring<std::int64_t>(r, DType::i64);
  add_ring<float>(r, DType::f32);
  add_ring<double>(r, DType::f64);
  r.add(Op::SumSquares, DeviceKind::cuda, DType::f32, reduce_kernel<Kind::SumSquares, float>);
  r.add(Op::SumSquares, DeviceKind::cuda, DType::f64, reduce_kernel<Kind::SumSquares, double>);
  r.add(Op::ScaledSum, DeviceKind::cuda, DType::f32, reduce_kernel<Kind::Sum, float, false, true>);
  r.add(Op::ScaledSum, DeviceKind::cuda, DType::f64, reduce_kernel<Kind::Sum, double, false, true>);
  r.add(Op::LogSumExp, DeviceKind::cuda, DType::f32, reduce_kernel<Kind::LogSumExp, float>);
  r.add(Op::LogSumExp, DeviceKind::cuda, DType::f64, reduce_kernel<Kind::LogSumExp, double>);
}

}  // namespace elegy::kernels::cuda
