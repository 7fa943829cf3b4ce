// CPU reductions (Sum, Prod, Max, Min, LogSumExp, SumSquares): planning the walk and the threading.
// The vector loops are in reduce_simd.cpp, ArgMax/ArgMin in reduce_arg.cpp.
//
// `out` has in's rank with size 1 on the reduced dims. The reduced dims are merged into as few
// strided groups as their strides allow (reducing all of a transposed tensor is one contiguous
// group); several groups are reduced one after another through a temporary, innermost first.
// One group of R elements with stride rs is then walked one of two ways:
//   runs: each output reduces its own R elements (SIMD when rs == 1, scalar when strided);
//   rows: when the kept innermost dim is contiguous (reducing an outer axis), whole rows are
//         combined column-wise in vectors.
// R is cut into pieces of a fixed size (kChunk elements of work), reduced in parallel and
// combined in a fixed order, so results depend on the shape, never on the thread count.
#include <algorithm>
#include <memory>
#include <vector>

#include "elegy/core/error.hpp"
#include "elegy/core/thread_pool.hpp"
#include "elegy/kernels/cpu/reduce_common.hpp"
#include "elegy/kernels/dispatch.hpp"
#include "elegy/kernels/layout.hpp"
#include "elegy/kernels/view_list.hpp"

namespace elegy::kernels {

void register_cpu_reduce_arg(Registry& r);  // reduce_arg.cpp

namespace {

using reduce::kChunk;
using reduce::Kind;
using reduce::kRowTile;

// A set of reduced dims walked as one: `size` elements `stride` apart.
struct Group {
  std::int64_t size = 1, stride = 0;
  unsigned dims = 0;  // bit i: input dim i belongs to the group
};

// The reduced dims of (in, out) merged into groups, outermost (largest stride) first.
int reduced_groups(const BufferView& in, const BufferView& out, Group (&groups)[kMaxRank]) {
  Group dims[kMaxRank];
  int n = 0;
  for (int i = 0; i < in.rank; ++i)
    if (out.sizes[i] == 1 && in.sizes[i] != 1) dims[n++] = {in.sizes[i], in.strides[i], 1u << i};
  std::stable_sort(dims, dims + n, [](const Group& a, const Group& b) {
    return std::abs(a.stride) > std::abs(b.stride);
  });
  int count = 0;
  for (int i = 0; i < n; ++i) {
    if (count > 0 && groups[count - 1].stride == dims[i].stride * dims[i].size) {
      groups[count - 1].size *= dims[i].size;
      groups[count - 1].stride = dims[i].stride;
      groups[count - 1].dims |= dims[i].dims;
    } else {
      groups[count++] = dims[i];
    }
  }
  return count;
}

// Uninitialised temporary storage (std::vector<bool> has no data()).
template <class T>
std::unique_ptr<T[]> scratch(std::int64_t n) {
  return std::make_unique_for_overwrite<T[]>(std::size_t(n));
}

template <class T>
constexpr DType simd_dtype() {
  return std::is_same_v<T, bool> ? DType::u8 : dtype_of<T>();
}

// Combines `count` partial results (each `width` wide, `stride` apart) into partials[0..width):
// pairwise for float sums and LogSumExp, in order otherwise. A fixed order either way.
template <Kind K, class T>
void combine_partials(T* partials, std::int64_t count, std::int64_t stride, std::int64_t width) {
  constexpr bool kPairwise =
      (K == Kind::Sum && std::is_floating_point_v<T>) || K == Kind::LogSumExp;
  if constexpr (kPairwise) {
    for (std::int64_t step = 1; step < count; step *= 2)
      for (std::int64_t c = 0; c + step < count; c += 2 * step)
        for (std::int64_t j = 0; j < width; ++j)
          partials[c * stride + j] =
              reduce::combine<K>(partials[c * stride + j], partials[(c + step) * stride + j]);
  } else {
    for (std::int64_t c = 1; c < count; ++c)
      for (std::int64_t j = 0; j < width; ++j)
        partials[j] = reduce::combine<K>(partials[j], partials[c * stride + j]);
  }
}

// Reduces `count` runs of n elements `rs` apart; run i starts at in + i*in_step.
template <Kind K, class T>
void runs(const T* in, std::int64_t n, std::int64_t rs, std::int64_t count, std::int64_t in_step,
          T* out, std::int64_t out_step) {
  if (rs == 1 && n >= 8) {
    reduce::RunsTask task;
    task.kind = K;
    task.dtype = simd_dtype<T>();
    task.in = in;
    task.n = n;
    task.count = count;
    task.in_step = in_step;
    task.out = out;
    task.out_step = out_step;
    reduce::reduce_runs(task);
    return;
  }
  for (std::int64_t i = 0; i < count; ++i)
    out[i * out_step] = reduce::reduce_strided<K, T>(in + i * in_step, n, rs);
}

template <Kind K, class T>
void rows(const T* in, std::int64_t n, std::int64_t rs, std::int64_t width, T* out) {
  reduce::RowsTask task;
  task.kind = K;
  task.dtype = simd_dtype<T>();
  task.in = in;
  task.rows = n;
  task.row_stride = rs;
  task.width = width;
  task.out = out;
  reduce::reduce_rows(task);
}

// Each output reduces its own R elements (stride rs).
template <Kind K, class T>
void reduce_runs_path(const Layout<2>& l, const T* in, T* out, std::int64_t R, std::int64_t rs) {
  const std::int64_t K_out = l.numel(), inner = l.inner_size();
  const std::int64_t so = l.inner_stride(0), si = l.inner_stride(1);
  if (R <= kChunk) {
    parallel_for(K_out, std::max<std::int64_t>(1, kChunk / std::max<std::int64_t>(R, 1)),
                 [&](std::int64_t k0, std::int64_t k1) {
                   for (std::int64_t k = k0; k < k1;) {
                     const std::int64_t row = k / inner, j = k % inner;
                     const std::int64_t seg = std::min(inner - j, k1 - k);
                     std::int64_t off[2];
                     l.row_offsets(row, off);
                     runs<K, T>(in + off[1] + j * si, R, rs, seg, si, out + off[0] + j * so, so);
                     k += seg;
                   }
                 });
    return;
  }
  const std::int64_t pieces = (R + kChunk - 1) / kChunk;
  const auto partials = scratch<T>(K_out * pieces);
  parallel_for(K_out * pieces, 1, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) {
      const std::int64_t k = i / pieces, c = i % pieces;
      std::int64_t off[2];
      l.element_offsets(k, off);
      const std::int64_t len = std::min(kChunk, R - c * kChunk);
      runs<K, T>(in + off[1] + c * kChunk * rs, len, rs, 1, 0, &partials[std::size_t(i)], 0);
    }
  });
  for (std::int64_t k = 0; k < K_out; ++k) {
    std::int64_t off[2];
    l.element_offsets(k, off);
    T* p = &partials[std::size_t(k * pieces)];
    combine_partials<K, T>(p, pieces, 1, 1);
    out[off[0]] = p[0];
  }
}

// The kept innermost dim (width W) is contiguous in both in and out: rows of it are combined
// column-wise, in tiles of at most kRowTile columns.
template <Kind K, class T>
void reduce_rows_path(const Layout<2>& l, const T* in, T* out, std::int64_t R, std::int64_t rs) {
  const std::int64_t W = l.inner_size(), outer = l.num_rows();
  const std::int64_t tiles = (W + kRowTile - 1) / kRowTile, tile_w = std::min(W, kRowTile);
  const std::int64_t rows_per_piece =
      std::clamp<std::int64_t>(kChunk / tile_w, 16, reduce::kMaxRowsPerCall);
  const std::int64_t pieces = (R + rows_per_piece - 1) / rows_per_piece;
  auto tile_width = [&](std::int64_t t) { return std::min(kRowTile, W - t * kRowTile); };
  if (pieces == 1) {
    parallel_for(outer * tiles, std::max<std::int64_t>(1, kChunk / (R * tile_w)),
                 [&](std::int64_t i0, std::int64_t i1) {
                   for (std::int64_t i = i0; i < i1; ++i) {
                     const std::int64_t o = i / tiles, t = i % tiles;
                     std::int64_t off[2];
                     l.row_offsets(o, off);
                     rows<K, T>(in + off[1] + t * kRowTile, R, rs, tile_width(t),
                                out + off[0] + t * kRowTile);
                   }
                 });
    return;
  }
  const auto partials = scratch<T>(outer * tiles * pieces * tile_w);
  // Items run piece-major (all tiles of a band of rows, then the next band), so a thread reads
  // memory in order; partials are stored tile-major for the combine below.
  parallel_for(outer * tiles * pieces, 1, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) {
      const std::int64_t ot = i % (outer * tiles), c = i / (outer * tiles);
      const std::int64_t o = ot / tiles, t = ot % tiles;
      std::int64_t off[2];
      l.row_offsets(o, off);
      const std::int64_t r0 = c * rows_per_piece, n = std::min(rows_per_piece, R - r0);
      rows<K, T>(in + off[1] + t * kRowTile + r0 * rs, n, rs, tile_width(t),
                 &partials[std::size_t((ot * pieces + c) * tile_w)]);
    }
  });
  parallel_for(outer * tiles, std::max<std::int64_t>(1, kChunk / (pieces * tile_w)),
               [&](std::int64_t i0, std::int64_t i1) {
                 for (std::int64_t i = i0; i < i1; ++i) {
                   const std::int64_t o = i / tiles, t = i % tiles, w = tile_width(t);
                   T* p = &partials[std::size_t(i * pieces * tile_w)];
                   combine_partials<K, T>(p, pieces, tile_w, w);
                   std::int64_t off[2];
                   l.row_offsets(o, off);
                   std::copy(p, p + w, out + off[0] + t * kRowTile);
                 }
               });
}

// One pass: the dims reduced from `in` to `out` form the single group `g`.
template <Kind K, class T>
void single_pass(const BufferView& in, const BufferView& out, const Group& g) {
  BufferView kept_in = in;
  for (int i = 0; i < in.rank; ++i)
    if (g.dims & (1u << i)) kept_in.sizes[i] = 1;
  const BufferView* views[2] = {&out, &kept_in};
  const Layout<2> l = coalesce(views);
  const T* src = static_cast<const T*>(in.data);
  T* dst = static_cast<T*>(out.data);
  const bool rows_fit = g.stride != 1 && g.size > 1 && K != Kind::LogSumExp && l.inner_size() > 1 &&
                        l.inner_stride(0) == 1 && l.inner_stride(1) == 1;
  if (rows_fit)
    reduce_rows_path<K, T>(l, src, dst, g.size, g.stride);
  else
    reduce_runs_path<K, T>(l, src, dst, g.size, g.stride);
}

template <Kind K, class T>
void reduce_views(const BufferView& in, const BufferView& out) {
  if (out.numel() == 0) return;
  if (in.numel() == 0) {  // an empty reduction: the identity (Max/Min of nothing is an op error)
    const BufferView* views[1] = {&out};
    const Layout<1> l = coalesce(views);
    T* dst = static_cast<T*>(out.data);
    for (std::int64_t i = 0; i < l.numel(); ++i) {
      std::int64_t off[1];
      l.element_offsets(i, off);
      dst[off[0]] = reduce::identity<K, T>();
    }
    return;
  }
  Group groups[kMaxRank];
  const int n = reduced_groups(in, out, groups);
  if (n <= 1) return single_pass<K, T>(in, out, n == 1 ? groups[0] : Group{});
  // Reduce the innermost group into a dense temporary, then the rest from there.
  const Group& g = groups[n - 1];
  BufferView tmp = in;
  std::int64_t stride = 1;
  for (int i = in.rank - 1; i >= 0; --i) {
    if (g.dims & (1u << i)) tmp.sizes[i] = 1;
    tmp.strides[i] = stride;
    stride *= tmp.sizes[i];
  }
  const auto buffer = scratch<T>(tmp.numel());
  tmp.data = buffer.get();
  single_pass<K, T>(in, tmp, g);
  reduce_views<K, T>(tmp, out);
}

template <Kind K, class T>
void reduce_kernel(const KernelArgs& a) {
  reduce_views<K, T>(a.in[0], a.out);
}

// ScaledSum: the sums, then each times scalar[0] rounded to T: the bits of a Sum kernel and a
// Mul by that number, in one kernel (a mean). The second pass is over the outputs alone.
template <class T>
void scaled_sum_kernel(const KernelArgs& a) {
  reduce_views<Kind::Sum, T>(a.in[0], a.out);
  const BufferView* views[1] = {&a.out};
  const Layout<1> l = coalesce(views);
  T* dst = static_cast<T*>(a.out.data);
  const T scale = T(a.scalar[0]);
  // (Many outputs of short sums, a mean over a small axis: split like a Mul kernel would be.)
  parallel_for(l.numel(), kChunk, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) {
      std::int64_t off[1];
      l.element_offsets(i, off);
      dst[off[0]] = dst[off[0]] * scale;
    }
  });
}

// SumSquares of a dense float tensor over all of it: the squares summed in kChunk pieces by the
// SIMD run loop (no squared temporary), the pieces in parallel and combined pairwise, so the
// result depends on the size alone. What sum_of_squares (the L2 regularizer) runs per tensor.
template <class T>
void sum_squares_kernel(const KernelArgs& a) {
  const BufferView& in = a.in[0];
  ELEGY_CHECK(in.is_contiguous() && a.out.numel() == 1, "sum_of_squares",
              "the CPU kernel reduces a dense tensor to one value, got ", in.numel(),
              " elements (dense: ", in.is_contiguous(), ") into ", a.out.numel());
  const std::int64_t n = in.numel();
  T* out = static_cast<T*>(a.out.data);
  if (n == 0) {
    *out = T(0);
    return;
  }
  const T* src = static_cast<const T*>(in.data);
  const std::int64_t pieces = (n + kChunk - 1) / kChunk;
  const auto partials = scratch<T>(pieces);
  parallel_for(pieces, 1, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      reduce::RunsTask task;
      task.kind = Kind::Sum;
      task.dtype = dtype_of<T>();
      task.in = src + p * kChunk;
      task.n = std::min(kChunk, n - p * kChunk);
      task.out = partials.get() + p;
      task.square = true;
      reduce::reduce_runs(task);
    }
  });
  combine_partials<Kind::Sum, T>(partials.get(), pieces, 1, 1);
  *out = partials[0];
}

// SumSquaresMany: scale * the sum of every listed tensor's sum of squares (the global L2 norm's
// square, view_list.hpp), one call for a whole parameter tree. Each tensor is cut into kChunk
// pieces as sum_squares_kernel cuts it and its pieces combined the same way, so its sum has the
// same bits; the pieces of all tensors share one parallel_for (one wake of the pool, not one per
// tensor). The per-tensor sums are then added and scaled by scaled_sum_kernel: the bits of
// SumSquares per tensor, a Sum of their vector and a Mul by the scale.
template <class T>
void sum_squares_many_kernel(const KernelArgs& a) {
  const ViewList& list = view_list_of("sum_of_squares (cpu)", a);
  ELEGY_CHECK(list.count > 0 && a.out.numel() == 1, "sum_of_squares",
              "the CPU kernel adds a non-empty list of tensors into one value, got ", list.count,
              " tensors into ", a.out.numel(), " elements");
  std::vector<std::int64_t> first(std::size_t(list.count) + 1, 0);  // each tensor's first piece
  for (int t = 0; t < list.count; ++t) {
    const BufferView& v = list.views[t];
    ELEGY_CHECK((v.numel() == 0 || v.is_contiguous()) && v.dtype == dtype_of<T>(), "sum_of_squares",
                "tensor ", t, " of the list is not dense ", name(dtype_of<T>()), " (",
                name(v.dtype), ")");
    first[std::size_t(t) + 1] = first[std::size_t(t)] + (v.numel() + kChunk - 1) / kChunk;
  }
  const std::int64_t pieces = first.back();
  const auto partials = scratch<T>(std::max<std::int64_t>(pieces, 1));
  parallel_for(pieces, 1, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      const auto t =
          std::size_t(std::upper_bound(first.begin(), first.end(), p) - first.begin() - 1);
      const std::int64_t local = p - first[t], n = list.views[t].numel();
      reduce::RunsTask task;
      task.kind = Kind::Sum;
      task.dtype = dtype_of<T>();
      task.in = static_cast<const T*>(list.views[t].data) + local * kChunk;
      task.n = std::min(kChunk, n - local * kChunk);
      task.out = partials.get() + p;
      task.square = true;
      reduce::reduce_runs(task);
    }
  });
  const auto sums = scratch<T>(list.count);
  for (std::size_t t = 0; t < std::size_t(list.count); ++t) {
    const std::int64_t count = first[t + 1] - first[t];
    combine_partials<Kind::Sum, T>(partials.get() + first[t], count, 1, 1);
    sums[t] = count == 0 ? T(0) : partials[first[t]];
  }
  KernelArgs total;
  total.in[0].data = sums.get();
  total.in[0].dtype = dtype_of<T>();
  total.in[0].rank = 1;
  total.in[0].sizes[0] = list.count;
  total.in[0].strides[0] = 1;
  total.num_inputs = 1;
  total.out = total.in[0];
  total.out.data = a.out.data;
  total.out.sizes[0] = 1;
  total.scalar[0] = a.scalar[0];
  total.device = a.device;
  scaled_sum_kernel<T>(total);
}

template <class T>
void register_type(Registry& r, bool sums, bool logsumexp) {
  const DType t = dtype_of<T>();
  if (sums) {
    r.add(Op::Sum, DeviceKind::cpu, t, reduce_kernel<Kind::Sum, T>);
    r.add(Op::Prod, DeviceKind::cpu, t, reduce_kernel<Kind::Prod, T>);
  }
  r.add(Op::Max, DeviceKind::cpu, t, reduce_kernel<Kind::Max, T>);
  r.add(Op::Min, DeviceKind::cpu, t, reduce_kernel<Kind::Min, T>);
  if (logsumexp) r.add(Op::LogSumExp, DeviceKind::cpu, t, reduce_kernel<Kind::LogSumExp, T>);
  if constexpr (std::is_floating_point_v<T>) {
    r.add(Op::SumSquares, DeviceKind::cpu, t, sum_squares_kernel<T>);
    r.add(Op::ScaledSum, DeviceKind::cpu, t, scaled_sum_kernel<T>);
    r.add(Op::SumSquaresMany, DeviceKind::cpu, t, sum_squares_many_kernel<T>);
  }
}

}  // namespace

void register_cpu_reduce(Registry& r) {
  // Sum/Prod of bool and uint8 are computed in int64 (the op casts first), as jax.numpy does.
  register_type<bool>(r, false, false);
  register_type<std::uint8_t>(r, false, false);
  register_type<std::int32_t>(r, true, false);
  register_type<std::int64_t>(r, true, false);
  register_type<float>(r, true, true);
  register_type<double>(r, true, true);
  register_cpu_reduce_arg(r);
}

}  // namespace elegy::kernels
