// Indexing kernels on CUDA: OneHot, Take (gather) and ScatterAdd (Take's transpose), with the
// operands and semantics of the CPU kernels (kernels/cpu/index.cpp):
//   OneHot     keyed by out.dtype; in[0] = labels (bool/u8/i32/i64, any strides); out = dense
//              labels.shape + [depth], ints[0] = depth; a label outside [0, depth) gives a zero
//              row.
//   Take       keyed by the data dtype; in[0] = x (any strides), in[1] = indices (u8/i32/i64, any
//              strides), ints[0] = axis; out = dense x.shape[:axis] + indices.shape +
//              x.shape[axis+1:].
//   ScatterAdd keyed by the data dtype; out = dense x-shaped accumulator holding the base values;
//              in[0] = dense updates of Take's result shape, in[1] = indices, ints[0] = axis.
//   ints[1]    (Take, ScatterAdd) 0: the kernel checks the indices; 1: the caller does.
// Negative indices count from the end. Checked here (ints[1] = 0), indices outside [-n, n) raise
// the CPU's Error (naming the op, the first bad index in order, the axis and its size) before
// any output is touched: a kernel normalises them into a dense int64 scratch and records the
// position of the first bad one (atomicMin: the smallest position, whatever the thread order),
// which the host reads back. That read synchronises with the stream, as the CPU's check does
// with the caller. The autodiff ops check on the device instead (ints[1] = 1: a [min, max] read
// that a Model step defers, autodiff/deferred_checks.hpp), so a step never waits here; a bad
// index then reads as zero and adds nothing until the caller's check raises.
//
// ScatterAdd is deterministic and bit-identical to the CPU: no atomic adds. The positions are
// sorted by target on the device (a stable radix sort, index_sort.cuh); one thread per output
// element of each distinct target then adds its updates in increasing position, the CPU's order.
#include <cuda_runtime.h>

#include <climits>
#include <cstdint>
#include <type_traits>

#include "elegy/core/cuda/cuda_runtime.hpp"
#include "elegy/core/error.hpp"
#include "elegy/kernels/cuda/device_scratch.cuh"
#include "elegy/kernels/cuda/families.hpp"
#include "elegy/kernels/cuda/index_sort.cuh"
#include "elegy/kernels/cuda/launch.cuh"

namespace elegy::kernels::cuda {
namespace {

// An integer tensor of any dtype and layout, read as int64 by flat (row-major) index.
struct IndexSource {
  const void* data = nullptr;
  DType dtype = DType::i64;
  Layout<1> layout;
  std::int64_t count = 0;
};

IndexSource index_source(const BufferView& v) {
  IndexSource s;
  s.data = v.data;
  s.dtype = v.dtype;
  const BufferView* views[1] = {&v};
  s.layout = coalesce(views);
  s.count = v.numel();
  return s;
}

__device__ std::int64_t read_index(const IndexSource& s, std::int64_t i) {
  std::int64_t off[1];
  if (s.layout.rank == 1)
    off[0] = i * s.layout.strides[0][0];
  else
    s.layout.element_offsets(i, off);
  switch (s.dtype) {
    case DType::bool_:
      return static_cast<const std::uint8_t*>(s.data)[off[0]] != 0 ? 1 : 0;
    case DType::u8:
      return static_cast<const std::uint8_t*>(s.data)[off[0]];
    case DType::i32:
      return static_cast<const std::int32_t*>(s.data)[off[0]];
    case DType::i64:
      return static_cast<const std::int64_t*>(s.data)[off[0]];
    default:
      return 0;
  }
}

// dense[i] = index i normalised into [0, n). An index outside [-n, n) is stored as read and the
// smallest such i goes to *first_bad (which starts at ULLONG_MAX); with no first_bad (the caller
// checks) it is stored as -1, which the kernels below treat as harmless.
__global__ void normalize_indices_kernel(IndexSource s, std::int64_t n, std::int64_t* dense,
                                         unsigned long long* first_bad) {
  const std::int64_t step = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < s.count;
       i += step) {
    const std::int64_t raw = read_index(s, i);
    const std::int64_t k = raw < 0 ? raw + n : raw;
    if (k < 0 || k >= n) {
      if (first_bad == nullptr) {
        dense[i] = -1;
      } else {
        dense[i] = raw;
        atomicMin(first_bad, static_cast<unsigned long long>(i));
      }
    } else {
      dense[i] = k;
    }
  }
}

// The indices of in[1] normalised on the device: `dense` holds them (count int64 values, plus
// one word used for the check). When the kernel checks (ints[1] = 0), raises the CPU's Error for
// the first out-of-range index; else bad ones are stored as -1.
class CheckedIndices {
 public:
  CheckedIndices(const char* op, const KernelArgs& a, std::int64_t n, cudaStream_t s)
      : source_(index_source(a.in[1])),
        scratch_(a.device, std::size_t(source_.count + 1) * sizeof(std::int64_t)) {
    ELEGY_CHECK(is_integer(a.in[1].dtype), op, "indices must be integers, got ", a.in[1].dtype);
    if (source_.count == 0) return;
    const bool caller_checks = a.ints[1] != 0;
    auto* first_bad =
        caller_checks ? nullptr : reinterpret_cast<unsigned long long*>(dense() + source_.count);
    if (first_bad != nullptr)
      ELEGY_CUDA_CHECK(cudaMemsetAsync(first_bad, 0xFF, sizeof(*first_bad), s), op);
    normalize_indices_kernel<<<blocks_for(source_.count), kThreads, 0, s>>>(source_, n, dense(),
                                                                            first_bad);
    check_launch(op);
    if (caller_checks) return;
    unsigned long long bad = ULLONG_MAX;
    ELEGY_CUDA_CHECK(cudaMemcpyAsync(&bad, first_bad, sizeof(bad), cudaMemcpyDeviceToHost, s), op);
    elegy::cuda::synchronize_stream(s, op);
    if (bad == ULLONG_MAX) return;
    std::int64_t raw = 0;
    ELEGY_CUDA_CHECK(cudaMemcpyAsync(&raw, dense() + bad, sizeof(raw), cudaMemcpyDeviceToHost, s),
                     op);
    elegy::cuda::synchronize_stream(s, op);
    fail(op, "index ", raw, " is out of range for axis ", a.ints[0], " of size ", n);
  }

  std::int64_t count() const { return source_.count; }
  std::int64_t* dense() const { return static_cast<std::int64_t*>(scratch_.get()); }

 private:
  IndexSource source_;
  DeviceScratch scratch_;
};

// ---- OneHot ----

template <class T>
__global__ void one_hot_kernel(IndexSource labels, std::int64_t depth, T* out) {
  const std::int64_t n = labels.count * depth;
  const std::int64_t step = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t e = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += step) {
    const std::int64_t i = e / depth, column = e - i * depth;
    out[e] = read_index(labels, i) == column ? T(1) : T(0);
  }
}

// T is the element type of out (uint8_t for bool).
template <class T>
void one_hot(const KernelArgs& a) {
  const std::int64_t depth = a.ints[0];
  const IndexSource labels = index_source(a.in[0]);
  const std::int64_t n = labels.count * depth;
  if (n == 0) return;
  const cudaStream_t s = prepare(a.device);
  one_hot_kernel<T><<<blocks_for(n), kThreads, 0, s>>>(labels, depth, static_cast<T*>(a.out.data));
  check_launch("one_hot (cuda)");
}

// ---- Take ----

// x seen as [outer, axis, inner]: the layouts of the outer and inner groups of dims.
struct AxisSplit {
  Layout<1> outer, inner;
  std::int64_t outer_count = 1, inner_count = 1, axis_size = 0, axis_stride = 0;
};

AxisSplit split_at(const BufferView& v, int axis) {
  AxisSplit s;
  BufferView outer = v, inner = v;
  outer.rank = axis;
  inner.rank = v.rank - axis - 1;
  for (int i = 0; i < inner.rank; ++i) {
    inner.sizes[i] = v.sizes[axis + 1 + i];
    inner.strides[i] = v.strides[axis + 1 + i];
  }
  const BufferView* outer_views[1] = {&outer};
  const BufferView* inner_views[1] = {&inner};
  s.outer = coalesce(outer_views);
  s.inner = coalesce(inner_views);
  s.outer_count = outer.numel();
  s.inner_count = inner.numel();
  s.axis_size = v.sizes[axis];
  s.axis_stride = v.strides[axis];
  return s;
}

__device__ __forceinline__ std::int64_t offset_in(const Layout<1>& l, std::int64_t i) {
  if (l.rank == 1) return i * l.strides[0][0];
  std::int64_t off[1];
  l.element_offsets(i, off);
  return off[0];
}

// out[o, i, j] = x[o, idx[i], j] for the dense out, one element per thread (j fastest, so the
// writes coalesce, and the reads too when x's inner block is dense); 0 for a bad index (-1).
template <class T>
__global__ void take_kernel(AxisSplit x, const T* src, const std::int64_t* idx, std::int64_t n_idx,
                            T* out) {
  const std::int64_t n = x.outer_count * n_idx * x.inner_count;
  const std::int64_t step = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t e = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += step) {
    const std::int64_t j = e % x.inner_count, row = e / x.inner_count;
    const std::int64_t i = row % n_idx, o = row / n_idx;
    const std::int64_t k = idx[i];
    out[e] = k < 0 ? T(0) : src[offset_in(x.outer, o) + k * x.axis_stride + offset_in(x.inner, j)];
  }
}

// T is the element type (uint8_t for bool).
template <class T>
void take(const KernelArgs& a) {
  const int axis = int(a.ints[0]);
  const AxisSplit x = split_at(a.in[0], axis);
  const cudaStream_t s = prepare(a.device);
  const CheckedIndices idx("take", a, x.axis_size, s);
  const std::int64_t n = x.outer_count * idx.count() * x.inner_count;
  if (n == 0) return;
  take_kernel<T><<<blocks_for(n), kThreads, 0, s>>>(x, static_cast<const T*>(a.in[0].data),
                                                    idx.dense(), idx.count(),
                                                    static_cast<T*>(a.out.data));
  check_launch("take (cuda)");
}

// ---- ScatterAdd ----

template <class T>
__device__ __forceinline__ T add_wrapping(T a, T b) {
  if constexpr (std::is_integral_v<T>)
    return T(std::make_unsigned_t<T>(a) + std::make_unsigned_t<T>(b));
  else
    return a + b;
}

// out[o, t, j] += upd[o, i, j] for each position i of target t, in increasing i: one thread per
// (o, k, j), j fastest, where k is the first of t's run in the sorted list (the threads of the
// rest of the run, and of bad indices, sorted last as target n, have nothing to do). out and upd
// are dense.
template <class T>
__global__ void scatter_add_kernel(std::int64_t outer, std::int64_t axis_size, std::int64_t inner,
                                   std::int64_t n_idx, const std::uint64_t* targets,
                                   const std::int64_t* positions, const T* upd, T* out) {
  const std::int64_t n = outer * n_idx * inner;
  const std::int64_t step = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t e = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += step) {
    const std::int64_t j = e % inner, row = e / inner;
    const std::int64_t k = row % n_idx, o = row / n_idx;
    const std::uint64_t t = targets[k];
    if (t >= std::uint64_t(axis_size) || (k > 0 && targets[k - 1] == t)) continue;
    T* to = out + (o * axis_size + std::int64_t(t)) * inner + j;
    const T* from = upd + o * n_idx * inner + j;
    T acc = *to;
    for (std::int64_t m = k; m < n_idx && targets[m] == t; ++m)
      acc = add_wrapping(acc, from[positions[m] * inner]);
    *to = acc;
  }
}

template <class T>
void scatter_add(const KernelArgs& a) {
  const int axis = int(a.ints[0]);
  const AxisSplit dst = split_at(a.out, axis);  // dense
  const cudaStream_t s = prepare(a.device);
  const CheckedIndices idx("index_add", a, dst.axis_size, s);
  const std::int64_t n_idx = idx.count(), inner = dst.inner_count, outer = dst.outer_count;
  if (n_idx == 0 || inner == 0 || outer == 0) return;
  const TargetOrder order(a.device, s, idx.dense(), n_idx, dst.axis_size);
  const std::int64_t n = outer * n_idx * inner;
  scatter_add_kernel<T><<<blocks_for(n), kThreads, 0, s>>>(
      outer, dst.axis_size, inner, n_idx, order.targets(), order.positions(),
      static_cast<const T*>(a.in[0].data), static_cast<T*>(a.out.data));
  check_launch("index_add (cuda)");
}

template <class T>
void add_index_ops(Registry& r, DType t) {
  r.add(Op::OneHot, DeviceKind::cuda, t, one_hot<T>);
  r.add(Op::Take, DeviceKind::cuda, t, take<T>);
  if (t != DType::bool_) r.add(Op::ScatterAdd, DeviceKind::cuda, t, scatter_add<T>);
}

}  // namespace

void register_index(Registry& r) {
  add_index_ops<std::uint8_t>(r, DType::bool_);
  add_index_ops<std::uint8_t>(r, DType::u8);
  add_index_ops<std::int32_t>(r, DType::i32);
  add_index_ops<std::int64_t>(r, DType::i64);
  add_index_ops<float>(r, DType::f32);
  add_index_ops<double>(r, DType::f64);
}

}  // namespace elegy::kernels::cuda
