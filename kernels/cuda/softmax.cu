// Softmax and LogSoftmax along ints[0] (the axis) on CUDA, float32/float64, with the CPU's
// formulas (kernels/cpu/softmax.cpp): m = the NaN-aware maximum of the row, s = sum exp(x - m),
// softmax = exp(x - m) * (1 / s), log_softmax = (x - m) - log(s). IEEE arithmetic throughout,
// so rows holding NaN or infinities give what the CPU's scalar path gives.
//
// Rows (every position of the other dims) are handed out as in reduce.cu:
//   columns: the other dims' innermost run is contiguous in in and out (an outer axis): a
//            thread per row, 32 neighbouring rows per block row so accesses coalesce, 8 rows of
//            threads splitting the axis, combined through shared memory;
//   threads: an axis shorter than 32: a thread per row;
//   groups:  a warp per row, or the whole block for an axis longer than 1024.
// The maximum and the sum are combined in an order fixed by the shapes (no atomics).
#include <cstdint>
#include <limits>
#include <type_traits>

#include "elegy/kernels/cuda/families.hpp"
#include "elegy/kernels/cuda/launch.cuh"
#include "elegy/kernels/cuda/math.cuh"
#include "elegy/kernels/cuda/reduce_common.cuh"

namespace elegy::kernels::cuda {
namespace {

constexpr int kColumnSlices = 8;

// Where a launch's rows are: operand 0 of `rows` is out, 1 is in; the axis has length `len`
// and strides xs (in) and ys (out).
struct Rows {
  Layout<2> rows;
  std::int64_t count = 0, len = 0, xs = 0, ys = 0;
};

// One row, shared by the threads that call it together: this thread takes every `step`-th
// element from `first`; `all_reduce` combines a value over those threads and returns it to each.
// Every thread calls it (the combines synchronise); inactive ones only take part in them.
template <bool kLog, class T, class AllReduce>
__device__ void softmax_row(const Rows& r, const T* x, T* y, std::int64_t first, std::int64_t step,
                            bool active, AllReduce all_reduce) {
  T m = -std::numeric_limits<T>::infinity();
  if (active)
    for (std::int64_t i = first; i < r.len; i += step) m = MaxCombine{}(m, x[i * r.xs]);
  m = all_reduce(m, MaxCombine{});
  T s = T(0);
  if (active)
    for (std::int64_t i = first; i < r.len; i += step) s += exp_of(x[i * r.xs] - m);
  s = all_reduce(s, SumCombine{});
  if (!active) return;
  if constexpr (kLog) {
    // (x - m) - log(s), not x - (m + log(s)): exact differences for large x in float32.
    const T log_s = log_of(s);
    for (std::int64_t i = first; i < r.len; i += step) y[i * r.ys] = (x[i * r.xs] - m) - log_s;
  } else {
    const T inv = T(1) / s;
    for (std::int64_t i = first; i < r.len; i += step) y[i * r.ys] = exp_of(x[i * r.xs] - m) * inv;
  }
}

// Groups of G threads (a warp or the whole block), one row each.
template <bool kLog, class T, int G>
__global__ void softmax_groups_kernel(Rows r, const T* x, T* y) {
  constexpr int kGroupsPerBlock = kThreads / G;
  const std::int64_t step = std::int64_t(gridDim.x) * kGroupsPerBlock;
  // The loop bound is the same for every thread of a group, so the combines see whole groups.
  for (std::int64_t row = std::int64_t(blockIdx.x) * kGroupsPerBlock + threadIdx.x / G;
       row < r.count; row += step) {
    std::int64_t off[2];
    r.rows.element_offsets(row, off);
    softmax_row<kLog>(r, x + off[1], y + off[0], threadIdx.x % G, G, true, GroupAllReduce<G>{});
  }
}

// Blocks of (kThreads / S) x S threads: thread (c, s) works for row tile * (kThreads / S) + c and
// takes every S-th element of it from s.
template <bool kLog, class T, int S>
__global__ void softmax_columns_kernel(Rows r, const T* x, T* y) {
  constexpr int X = kThreads / S;
  const std::int64_t tiles = (r.count + X - 1) / X;
  for (std::int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const std::int64_t row = tile * X + threadIdx.x;
    const bool active = row < r.count;
    std::int64_t off[2] = {0, 0};
    if (active) r.rows.element_offsets(row, off);
    softmax_row<kLog>(r, x + off[1], y + off[0], threadIdx.y, S, active, ColumnAllReduce<S>{});
  }
}

template <bool kLog, class T, int S>
void launch_columns(const Rows& r, const T* x, T* y, cudaStream_t s) {
  constexpr int X = kThreads / S;
  const unsigned blocks = unsigned(std::min<std::int64_t>((r.count + X - 1) / X, kMaxBlocks));
  softmax_columns_kernel<kLog, T, S><<<blocks, dim3(X, S), 0, s>>>(r, x, y);
}

template <bool kLog, class T, int G>
void launch_groups(const Rows& r, const T* x, T* y, cudaStream_t s) {
  constexpr int kGroupsPerBlock = kThreads / G;
  const unsigned blocks = unsigned(
      std::min<std::int64_t>((r.count + kGroupsPerBlock - 1) / kGroupsPerBlock, kMaxBlocks));
  softmax_groups_kernel<kLog, T, G><<<blocks, kThreads, 0, s>>>(r, x, y);
}

template <bool kLog, class T>
void softmax_kernel(const KernelArgs& a) {
  const BufferView& in = a.in[0];
  const BufferView& out = a.out;
  if (out.numel() == 0) return;
  const int axis = int(a.ints[0] < 0 ? a.ints[0] + in.rank : a.ints[0]);
  BufferView others_in = in, others_out = out;
  others_in.sizes[axis] = others_out.sizes[axis] = 1;
  const BufferView* views[2] = {&others_out, &others_in};
  Rows r;
  r.rows = coalesce(views);
  r.count = r.rows.numel();
  r.len = in.sizes[axis];
  r.xs = in.strides[axis];
  r.ys = out.strides[axis];
  const T* x = static_cast<const T*>(in.data);
  T* y = static_cast<T*>(out.data);
  const cudaStream_t s = prepare(a.device);
  const bool columns = r.rows.inner_stride(0) == 1 && r.rows.inner_stride(1) == 1 &&
                       r.rows.inner_size() > 1 && r.len > 1;
  if (columns)
    launch_columns<kLog, T, kColumnSlices>(r, x, y, s);
  else if (r.len < kWarp)
    launch_columns<kLog, T, 1>(r, x, y, s);
  else if (r.len > 1024)
    launch_groups<kLog, T, kThreads>(r, x, y, s);
  else
    launch_groups<kLog, T, kWarp>(r, x, y, s);
  check_launch(kLog ? "log_softmax (cuda)" : "softmax (cuda)");
}

}  // namespace

void register_softmax(Registry& r) {
  r.add(Op::Softmax, DeviceKind::cuda, DType::f32, softmax_kernel<false, float>);
  r.add(Op::Softmax, DeviceKind::cuda, DType::f64, softmax_kernel<false, double>);
  r.add(Op::LogSoftmax, DeviceKind::cuda, DType::f32, softmax_kernel<true, float>);
  r.add(Op::LogSoftmax, DeviceKind::cuda, DType::f64, softmax_kernel<true, double>);
}

}  // namespace elegy::kernels::cuda
