// ArgMax / ArgMin on the CPU: the int32 index of the first extreme element along ints[0] (the
// axis). NaN counts as the maximum and the minimum (numpy): the first NaN wins. ArgMaxMatches
// compares each row's ArgMax with a label.
//
// A contiguous run is searched in two passes: the SIMD Max/Min of reduce_simd.cpp (which is
// NaN-aware), then a scan for its first occurrence; the run is in cache for the second pass.
// Reducing an outer axis keeps a running best value and index per column.
#include <algorithm>
#include <atomic>
#include <vector>

#include "elegy/core/error.hpp"
#include "elegy/core/thread_pool.hpp"
#include "elegy/kernels/argmax_matches_args.hpp"
#include "elegy/kernels/cpu/reduce_common.hpp"
#include "elegy/kernels/dispatch.hpp"
#include "elegy/kernels/layout.hpp"

namespace elegy::kernels {
namespace {

using reduce::kChunk;
using reduce::kRowTile;

// x strictly better than the best so far: later ties lose, and the first NaN stays.
template <bool kMax, class T>
bool better(T x, T best) {
  if constexpr (std::is_floating_point_v<T>) {
    if (best != best) return false;  // NOLINT: NaN test
    if (x != x) return true;         // NOLINT: NaN test
  }
  if constexpr (kMax)
    return x > best;
  else
    return x < best;
}

template <class T>
struct Best {
  T value;
  std::int64_t index;
};

template <bool kMax, class T>
Best<T> arg_strided(const T* p, std::int64_t n, std::int64_t stride) {
  Best<T> b{p[0], 0};
  for (std::int64_t i = 1; i < n; ++i)
    if (better<kMax>(p[i * stride], b.value)) b = {p[i * stride], i};
  return b;
}

template <bool kMax, class T>
Best<T> arg_contiguous(const T* p, std::int64_t n) {
  if (n < 64) return arg_strided<kMax>(p, n, 1);
  T extreme;
  reduce::RunsTask task;
  task.kind = kMax ? reduce::Kind::Max : reduce::Kind::Min;
  task.dtype = std::is_same_v<T, bool> ? DType::u8 : dtype_of<T>();
  task.in = p;
  task.n = n;
  task.out = &extreme;
  reduce::reduce_runs(task);
  std::int64_t i = 0;
  if (extreme != extreme) {    // NOLINT: NaN test
    while (p[i] == p[i]) ++i;  // NOLINT: the first NaN
  } else {
    while (p[i] != extreme) ++i;
  }
  return {extreme, i};
}

template <bool kMax, class T>
void arg_kernel(const KernelArgs& a) {
  const BufferView& in = a.in[0];
  const int axis = int(a.ints[0] < 0 ? a.ints[0] + in.rank : a.ints[0]);
  const std::int64_t R = in.sizes[axis], rs = in.strides[axis];
  BufferView kept_in = in;
  kept_in.sizes[axis] = 1;
  const BufferView* views[2] = {&a.out, &kept_in};
  const Layout<2> l = coalesce(views);
  const std::int64_t K = a.out.numel();
  if (K == 0 || R == 0) return;  // the op rejects an empty axis
  const T* src = static_cast<const T*>(in.data);
  std::int32_t* dst = static_cast<std::int32_t*>(a.out.data);
  const std::int64_t inner = l.inner_size(), si = l.inner_stride(1), so = l.inner_stride(0);

  if (rs != 1 && R > 1 && inner > 1 && si == 1) {
    // Outer axis: a running best per column, over tiles of kRowTile columns.
    const std::int64_t tiles = (inner + kRowTile - 1) / kRowTile;
    parallel_for(l.num_rows() * tiles,
                 std::max<std::int64_t>(1, kChunk / (R * std::min(inner, kRowTile))),
                 [&](std::int64_t i0, std::int64_t i1) {
                   T best[kRowTile];
                   std::int32_t index[kRowTile];
                   for (std::int64_t i = i0; i < i1; ++i) {
                     const std::int64_t o = i / tiles, t = i % tiles;
                     const std::int64_t w = std::min(kRowTile, inner - t * kRowTile);
                     std::int64_t off[2];
                     l.row_offsets(o, off);
                     const T* base = src + off[1] + t * kRowTile;
                     std::copy(base, base + w, best);
                     std::fill(index, index + w, 0);
                     for (std::int64_t r = 1; r < R; ++r) {
                       const T* row = base + r * rs;
                       for (std::int64_t j = 0; j < w; ++j) {
                         if (better<kMax>(row[j], best[j])) {
                           best[j] = row[j];
                           index[j] = std::int32_t(r);
                         }
                       }
                     }
                     std::int32_t* o_ptr = dst + off[0] + t * kRowTile * so;
                     for (std::int64_t j = 0; j < w; ++j) o_ptr[j * so] = index[j];
                   }
                 });
    return;
  }

  auto search = [&](const T* p, std::int64_t n) {
    return rs == 1 ? arg_contiguous<kMax>(p, n) : arg_strided<kMax>(p, n, rs);
  };
  if (R <= kChunk) {
    parallel_for(K, std::max<std::int64_t>(1, kChunk / R), [&](std::int64_t k0, std::int64_t k1) {
      for (std::int64_t k = k0; k < k1; ++k) {
        std::int64_t off[2];
        l.element_offsets(k, off);
        dst[off[0]] = std::int32_t(search(src + off[1], R).index);
      }
    });
    return;
  }
  // Long axis: fixed pieces searched in parallel, their winners compared in order.
  const std::int64_t pieces = (R + kChunk - 1) / kChunk;
  std::vector<Best<T>> partial(std::size_t(K * pieces));
  parallel_for(K * pieces, 1, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) {
      const std::int64_t k = i / pieces, c = i % pieces;
      std::int64_t off[2];
      l.element_offsets(k, off);
      Best<T> b = search(src + off[1] + c * kChunk * rs, std::min(kChunk, R - c * kChunk));
      b.index += c * kChunk;
      partial[std::size_t(i)] = b;
    }
  });
  for (std::int64_t k = 0; k < K; ++k) {
    Best<T> b = partial[std::size_t(k * pieces)];
    for (std::int64_t c = 1; c < pieces; ++c) {
      const Best<T>& p = partial[std::size_t(k * pieces + c)];
      if (better<kMax>(p.value, b.value)) b = p;
    }
    std::int64_t off[2];
    l.element_offsets(k, off);
    dst[off[0]] = std::int32_t(b.index);
  }
}

// ArgMaxMatches: 1.0f where a row's ArgMax (searched as arg_kernel searches a dense run) is the
// row's label, else 0.0f. Labels of type L, any stride.
// The rows of dense [R, K] scores (in[0]) and their labels (in[1], any stride), as
// for_rows(r0, r1, matches) over chunks of rows, where matches(r) says whether row r's ArgMax is
// its label.
template <class T, class L, class ForRows>
void match_rows(const KernelArgs& a, ForRows&& for_rows) {
  const std::int64_t R = a.in[0].sizes[0], K = a.in[0].sizes[1];
  const T* src = static_cast<const T*>(a.in[0].data);
  const L* labels = static_cast<const L*>(a.in[1].data);
  const std::int64_t label_stride = a.in[1].strides[0];
  const auto matches = [&](std::int64_t r) {
    return std::int64_t(labels[r * label_stride]) == arg_contiguous<true>(src + r * K, K).index;
  };
  parallel_for(R, std::max<std::int64_t>(1, kChunk / K),
               [&](std::int64_t r0, std::int64_t r1) { for_rows(r0, r1, matches); });
}

template <class T, class L>
void argmax_matches_rows(const KernelArgs& a) {
  float* dst = static_cast<float*>(a.out.data);
  match_rows<T, L>(a, [&](std::int64_t r0, std::int64_t r1, const auto& matches) {
    for (std::int64_t r = r0; r < r1; ++r) dst[r] = matches(r) ? 1.0f : 0.0f;
  });
}

template <class T>
void argmax_matches_kernel(const KernelArgs& a) {
  with_argmax_matches_labels("argmax_matches (cpu)", a,
                             [&]<class L>() { argmax_matches_rows<T, L>(a); });
}

// ArgMaxMatchCount: the rows ArgMaxMatches would mark, counted as an integer (so the total does
// not depend on how rows are split between threads) and rounded to float32 once. Below 2^24 rows
// that is the bits of any float sum of the 0/1 hits.
template <class T, class L>
void argmax_match_count_rows(const KernelArgs& a) {
  std::atomic<std::int64_t> hits{0};
  match_rows<T, L>(a, [&](std::int64_t r0, std::int64_t r1, const auto& matches) {
    std::int64_t mine = 0;
    for (std::int64_t r = r0; r < r1; ++r) mine += matches(r);
    hits.fetch_add(mine, std::memory_order_relaxed);
  });
  *static_cast<float*>(a.out.data) = float(hits.load());
}

template <class T>
void argmax_match_count_kernel(const KernelArgs& a) {
  with_argmax_matches_labels(
      "argmax_match_count (cpu)", a, [&]<class L>() { argmax_match_count_rows<T, L>(a); },
      /*count=*/true);
}

}  // namespace

void register_cpu_reduce_arg(Registry& r) {
  r.add(Op::ArgMaxMatches, DeviceKind::cpu, DType::f32, argmax_matches_kernel<float>);
  r.add(Op::ArgMaxMatches, DeviceKind::cpu, DType::f64, argmax_matches_kernel<double>);
  r.add(Op::ArgMaxMatchCount, DeviceKind::cpu, DType::f32, argmax_match_count_kernel<float>);
  r.add(Op::ArgMaxMatchCount, DeviceKind::cpu, DType::f64, argmax_match_count_kernel<double>);
  for (int t = 0; t < kNumDTypes; ++t) {
    visit_dtype(DType(t), [&](auto tag) {
      using T = decltype(tag);
      r.add(Op::ArgMax, DeviceKind::cpu, DType(t), arg_kernel<true, T>);
      r.add(Op::ArgMin, DeviceKind::cpu, DType(t), arg_kernel<false, T>);
    });
  }
}

}  // namespace elegy::kernels
