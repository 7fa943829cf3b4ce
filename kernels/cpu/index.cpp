// Indexing kernels on the CPU: one-hot encoding, gather (Take) and its transpose (ScatterAdd).
//
// Registry keys and operands:
//   OneHot     keyed by out.dtype. in[0] = labels (bool/u8/i32/i64, any strides), out = dense
//              labels.shape + [depth], ints[0] = depth. A label outside [0, depth) gives a zero
//              row (jax.nn.one_hot).
//   Take       keyed by the data dtype. in[0] = x (any strides), in[1] = indices (u8/i32/i64,
//              any strides), ints[0] = axis (normalised), out = dense
//              x.shape[:axis] + indices.shape + x.shape[axis+1:].
//   ScatterAdd keyed by the data dtype. out = dense x-shaped accumulator, already holding the
//              base values (zeros, or x for index_add); in[0] = updates (dense, the shape Take
//              would produce), in[1] = indices, ints[0] = axis. out[.., idx[i], ..] += upd[.., i,
//              ..].
// Negative indices count from the end; anything outside [-n, n) raises an Error naming the op,
// the index and the axis size before any element is touched. (ints[1], with which the CUDA
// kernels are told that the caller checks, is ignored: checking here costs nothing.)
#include <cstring>
#include <vector>

#include "elegy/core/error.hpp"
#include "elegy/core/thread_pool.hpp"
#include "elegy/kernels/dispatch.hpp"
#include "elegy/kernels/layout.hpp"

namespace elegy::kernels {
namespace {

// Elements of work per parallel chunk.
constexpr std::int64_t kGrainElements = 1 << 15;
// Bytes of rows per parallel chunk of a gather. Smaller than the elementwise grain: gathering
// rows scattered over a dataset (fit's shuffled batches) waits on memory, not arithmetic, and
// two threads keep twice the misses in flight (a batch of 32 Fashion-MNIST rows out of a 24 MB
// set, 100 KB, inside fit: ~30 us on 2 threads, ~45 us on 1, on the 2-vCPU dev VM).
constexpr std::int64_t kGatherGrainBytes = 48 << 10;

// The flat index i of a (possibly strided) integer tensor, for any index dtype.
struct IndexReader {
  const BufferView& v;
  Layout<1> layout;
  bool dense;

  explicit IndexReader(const BufferView& view) : v(view) {
    const BufferView* views[1] = {&view};
    layout = coalesce(views);
    dense = layout.rank == 1 && layout.strides[0][0] == 1;
  }
  std::int64_t operator[](std::int64_t i) const {
    std::int64_t off = i;
    if (!dense) {
      std::int64_t offs[1];
      layout.element_offsets(i, offs);
      off = offs[0];
    }
    switch (v.dtype) {
      case DType::bool_:
        return static_cast<const bool*>(v.data)[off] ? 1 : 0;
      case DType::u8:
        return static_cast<const std::uint8_t*>(v.data)[off];
      case DType::i32:
        return static_cast<const std::int32_t*>(v.data)[off];
      case DType::i64:
        return static_cast<const std::int64_t*>(v.data)[off];
      default:
        return 0;
    }
  }
};

// Indices read once, normalised into [0, n) and checked; a vector the size of the index tensor
// (small next to the data it moves).
std::vector<std::int64_t> checked_indices(const char* op, const BufferView& indices, std::int64_t n,
                                          std::int64_t axis) {
  ELEGY_CHECK(is_integer(indices.dtype), op, "indices must be integers, got ", indices.dtype);
  const IndexReader read(indices);
  std::vector<std::int64_t> out(std::size_t(indices.numel()));
  for (std::size_t i = 0; i < out.size(); ++i) {
    std::int64_t k = read[std::int64_t(i)];
    if (k < 0) k += n;
    ELEGY_CHECK(k >= 0 && k < n, op, "index ", read[std::int64_t(i)], " is out of range for axis ",
                axis, " of size ", n);
    out[i] = k;
  }
  return out;
}

template <class T>
void one_hot_kernel(const KernelArgs& a) {
  const std::int64_t depth = a.ints[0];
  const std::int64_t n = a.in[0].numel();
  T* out = static_cast<T*>(a.out.data);
  const IndexReader labels(a.in[0]);
  parallel_for(n, std::max<std::int64_t>(1, kGrainElements / std::max<std::int64_t>(depth, 1)),
               [&](std::int64_t i0, std::int64_t i1) {
                 for (std::int64_t i = i0; i < i1; ++i) {
                   T* row = out + i * depth;
                   std::fill(row, row + depth, T(0));
                   const std::int64_t label = labels[i];
                   if (label >= 0 && label < depth) row[label] = T(1);
                 }
               });
}

// x seen as [outer, axis, inner]: strides of the outer and inner groups of dimensions.
struct AxisSplit {
  int axis;
  std::int64_t outer = 1, inner = 1, axis_size, axis_stride;
  bool inner_dense = true;  // the inner block is one run of stride 1
  const BufferView& v;

  AxisSplit(const BufferView& view, int ax) : axis(ax), v(view) {
    for (int i = 0; i < axis; ++i) outer *= v.sizes[i];
    for (int i = axis + 1; i < v.rank; ++i) inner *= v.sizes[i];
    axis_size = v.sizes[axis];
    axis_stride = v.strides[axis];
    std::int64_t expected = 1;
    for (int i = v.rank - 1; i > axis; --i) {
      if (v.sizes[i] == 1) continue;
      inner_dense &= v.strides[i] == expected;
      expected *= v.sizes[i];
    }
  }
  std::int64_t outer_offset(std::int64_t o) const {
    std::int64_t off = 0;
    for (int i = axis - 1; i >= 0; --i) {
      off += (o % v.sizes[i]) * v.strides[i];
      o /= v.sizes[i];
    }
    return off;
  }
  std::int64_t inner_offset(std::int64_t j) const {
    std::int64_t off = 0;
    for (int i = v.rank - 1; i > axis; --i) {
      off += (j % v.sizes[i]) * v.strides[i];
      j /= v.sizes[i];
    }
    return off;
  }
};

template <class T>
void take_kernel(const KernelArgs& a) {
  const int axis = int(a.ints[0]);
  const AxisSplit x(a.in[0], axis);
  const std::vector<std::int64_t> idx = checked_indices("take", a.in[1], x.axis_size, axis);
  const std::int64_t n_idx = std::int64_t(idx.size());
  const std::int64_t rows = x.outer * n_idx, inner = x.inner;
  if (rows == 0 || inner == 0) return;
  const T* src = static_cast<const T*>(a.in[0].data);
  T* out = static_cast<T*>(a.out.data);
  parallel_for(rows,
               std::max<std::int64_t>(1, kGatherGrainBytes / (inner * std::int64_t(sizeof(T)))),
               [&](std::int64_t r0, std::int64_t r1) {
                 for (std::int64_t r = r0; r < r1; ++r) {
                   const std::int64_t o = r / n_idx, i = r % n_idx;
                   const T* from = src + x.outer_offset(o) + idx[std::size_t(i)] * x.axis_stride;
                   T* to = out + r * inner;
                   if (x.inner_dense) {
                     std::memcpy(to, from, std::size_t(inner) * sizeof(T));
                   } else {
                     for (std::int64_t j = 0; j < inner; ++j) to[j] = from[x.inner_offset(j)];
                   }
                 }
               });
}

// Deterministic: every output element receives its contributions in increasing index order,
// whatever the thread count. With several outer slices (index_add along a later axis) threads
// split those, which own disjoint outputs; otherwise they split the positions along the axis,
// each scanning all indices and applying those that land in its range.
template <class T>
void scatter_add_kernel(const KernelArgs& a) {
  const int axis = int(a.ints[0]);
  const AxisSplit dst(a.out, axis);  // dense
  const std::vector<std::int64_t> idx = checked_indices("index_add", a.in[1], dst.axis_size, axis);
  const std::int64_t n_idx = std::int64_t(idx.size()), inner = dst.inner, outer = dst.outer;
  if (n_idx == 0 || inner == 0 || outer == 0) return;
  const T* upd = static_cast<const T*>(a.in[0].data);
  T* out = static_cast<T*>(a.out.data);
  // Adds the updates of outer slices [o0, o1) whose target lies in positions [p0, p1).
  auto add = [&](std::int64_t o0, std::int64_t o1, std::int64_t p0, std::int64_t p1) {
    for (std::int64_t o = o0; o < o1; ++o) {
      T* out_o = out + o * dst.axis_size * inner;
      const T* upd_o = upd + o * n_idx * inner;
      for (std::int64_t i = 0; i < n_idx; ++i) {
        const std::int64_t p = idx[std::size_t(i)];
        if (p < p0 || p >= p1) continue;
        T* to = out_o + p * inner;
        const T* from = upd_o + i * inner;
        for (std::int64_t j = 0; j < inner; ++j) to[j] += from[j];
      }
    }
  };
  const std::int64_t work = outer * n_idx * inner;
  const int threads = num_threads();
  if (work < kGrainElements || threads == 1) return add(0, outer, 0, dst.axis_size);
  if (outer >= threads) {
    parallel_for(outer, std::max<std::int64_t>(1, kGrainElements / (n_idx * inner)),
                 [&](std::int64_t o0, std::int64_t o1) { add(o0, o1, 0, dst.axis_size); });
  } else {
    parallel_for(dst.axis_size, std::max<std::int64_t>(1, (dst.axis_size + threads - 1) / threads),
                 [&](std::int64_t p0, std::int64_t p1) { add(0, outer, p0, p1); });
  }
}

template <class T>
void register_for(Registry& r, DType t) {
  r.add(Op::OneHot, DeviceKind::cpu, t, one_hot_kernel<T>);
  r.add(Op::Take, DeviceKind::cpu, t, take_kernel<T>);
  if constexpr (!std::is_same_v<T, bool>)
    r.add(Op::ScatterAdd, DeviceKind::cpu, t, scatter_add_kernel<T>);
}

}  // namespace

void register_cpu_index(Registry& r) {
  for (int t = 0; t < kNumDTypes; ++t)
    visit_dtype(DType(t), [&](auto tag) { register_for<decltype(tag)>(r, DType(t)); });
}

}  // namespace elegy::kernels
