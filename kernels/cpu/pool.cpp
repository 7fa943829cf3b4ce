// Channels-last max and average pooling on the CPU, forward and backward, float32/float64.
//
// x [N, *spatial, C] and y are dense (the ops make them so); the geometry is decoded by
// PoolGeometry (kernels/pool_geometry.hpp). Every loop runs over whole rows of C channels, and
// the innermost loops are contiguous, branch-free channel loops over restrict-qualified rows.
// Highway compiles this file once per x86 target (AVX-512, AVX2, baseline) and dispatches once
// per chunk of cells, so those loops are vectorised at the machine's full width by the compiler.
// Work is split over output cells (forward) or input cells (backward), each cell written by one
// thread, so results do not depend on the thread count.
//
// The backward passes gather rather than scatter: each input cell sums the outputs whose
// windows cover it, in row-major output order. No two threads write one element, and
// overlapping windows (stride < window) need no atomics.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "elegy/kernels/cpu/pool.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <vector>

#include "elegy/core/thread_pool.hpp"
#include "elegy/kernels/dispatch.hpp"
#include "elegy/kernels/pool_geometry.hpp"

#ifndef ELEGY_KERNELS_CPU_POOL_TASK_
#define ELEGY_KERNELS_CPU_POOL_TASK_
namespace elegy::kernels::pool_cpu {

// One chunk of cells [c0, c1) (output cells forward, input cells backward) of one call.
struct PoolTask {
  DType dtype = DType::f32;
  PoolGeometry g;
  const void* in = nullptr;         // x (forward) or g (backward)
  void* out = nullptr;              // y (forward) or gx (backward)
  std::int32_t* indices = nullptr;  // argmax: written by MaxPool, read by MaxPoolBackward
  std::int64_t c0 = 0, c1 = 0;
};

}  // namespace elegy::kernels::pool_cpu
#endif  // ELEGY_KERNELS_CPU_POOL_TASK_

HWY_BEFORE_NAMESPACE();
namespace elegy::kernels::pool_cpu::HWY_NAMESPACE {

// max_update: y = max(y, x) as MaxPoolCells describes, recording in `idx` the winner's flat
// index.
template <class T>
void max_update(T* __restrict y, std::int32_t* __restrict idx, const T* __restrict x,
                std::int64_t C, std::int32_t base) {
  for (std::int32_t c = 0; c < std::int32_t(C); ++c) {
    const T v = x[c], m = y[c];
    const std::int32_t i = idx[c];
    const bool take = (v > m) | ((v != v) & (m == m));  // NOLINT: NaN wins
    y[c] = take ? v : m;
    idx[c] = take ? base + c : i;
  }
}
template <class T>
void max_update(T* __restrict y, const T* __restrict x, std::int64_t C) {
  for (std::int64_t c = 0; c < C; ++c) {
    const T v = x[c], m = y[c];
    y[c] = ((v > m) | ((v != v) & (m == m))) ? v : m;  // NOLINT: NaN wins
  }
}
template <class T>
void add_row(T* __restrict y, const T* __restrict x, std::int64_t C) {
  for (std::int64_t c = 0; c < C; ++c) y[c] += x[c];
}
template <class T>
void add_scaled_row(T* __restrict y, const T* __restrict x, T scale, std::int64_t C) {
  for (std::int64_t c = 0; c < C; ++c) y[c] += x[c] * scale;
}
// y += g where idx names this input's element (its flat index base + c).
template <class T>
void add_routed_row(T* __restrict y, const T* __restrict g, const std::int32_t* __restrict idx,
                    std::int32_t base, std::int64_t C) {
  for (std::int32_t c = 0; c < std::int32_t(C); ++c) {
    const T gv = g[c];
    y[c] += idx[c] == base + c ? gv : T(0);
  }
}

// Walks cells c0, c1, ... of a [batch, sizes[0], sizes[1], sizes[2]] grid with counters, so the
// per-cell index arithmetic needs no divisions.
struct CellCursor {
  std::int64_t n = 0;
  std::int64_t i[kMaxPoolSpatial] = {0, 0, 0};
  const std::int64_t* sizes;

  CellCursor(std::int64_t cell, const std::int64_t (&s)[3]) : sizes(s) {
    const std::int64_t cells = s[0] * s[1] * s[2];
    n = cell / cells;
    PoolGeometry::unravel(cell % cells, s, i);
  }
  void advance() {
    if (++i[2] < sizes[2]) return;
    i[2] = 0;
    if (++i[1] < sizes[1]) return;
    i[1] = 0;
    if (++i[0] < sizes[0]) return;
    i[0] = 0;
    ++n;
  }
};

// The outputs covering each input position, per spatial dim: [lo, hi) for position p at
// [2 * (offset_d + p)], computed once per chunk instead of with divisions per cell.
struct CoverTable {
  std::vector<std::int64_t> range;
  std::int64_t offset[kMaxPoolSpatial] = {0, 0, 0};

  explicit CoverTable(const PoolGeometry& g) {
    std::int64_t total = 0;
    for (int d = 0; d < kMaxPoolSpatial; ++d) {
      offset[d] = total;
      total += g.in[d];
    }
    range.resize(std::size_t(2 * total));
    for (int d = 0; d < kMaxPoolSpatial; ++d)
      for (std::int64_t p = 0; p < g.in[d]; ++p) {
        std::int64_t at[kMaxPoolSpatial] = {0, 0, 0}, lo[kMaxPoolSpatial], hi[kMaxPoolSpatial];
        at[d] = p;
        g.outputs_covering(at, lo, hi);
        range[std::size_t(2 * (offset[d] + p))] = lo[d];
        range[std::size_t(2 * (offset[d] + p) + 1)] = hi[d];
      }
  }
  void get(const std::int64_t (&p)[kMaxPoolSpatial], std::int64_t (&lo)[kMaxPoolSpatial],
           std::int64_t (&hi)[kMaxPoolSpatial]) const {
    for (int d = 0; d < kMaxPoolSpatial; ++d) {
      lo[d] = range[std::size_t(2 * (offset[d] + p[d]))];
      hi[d] = range[std::size_t(2 * (offset[d] + p[d]) + 1)];
    }
  }
};

// Max over each clipped window; the first maximum in row-major window order wins ties, a NaN
// wins over numbers (the first NaN is kept), and padded cells never take part. With an index
// buffer, also the flat index (into x's [N, *spatial, C]) of the winner.
template <class T>
void MaxPoolCells(const PoolTask& t) {
  const PoolGeometry& g = t.g;
  const std::int64_t C = g.channels;
  const T* x = static_cast<const T*>(t.in);
  CellCursor at(t.c0, g.out);
  for (std::int64_t cell = t.c0; cell < t.c1; ++cell, at.advance()) {
    const std::int64_t n = at.n;
    std::int64_t lo[kMaxPoolSpatial], hi[kMaxPoolSpatial];
    g.window_range(at.i, lo, hi);
    T* yr = static_cast<T*>(t.out) + cell * C;
    std::int32_t* ir = t.indices ? t.indices + cell * C : nullptr;
    bool first = true;
    for (std::int64_t i0 = lo[0]; i0 < hi[0]; ++i0)
      for (std::int64_t i1 = lo[1]; i1 < hi[1]; ++i1)
        for (std::int64_t i2 = lo[2]; i2 < hi[2]; ++i2) {
          const std::int64_t base = (n * g.in_cells() + g.in_cell(i0, i1, i2)) * C;
          const T* xr = x + base;
          if (first) {
            std::copy(xr, xr + C, yr);
            if (ir)
              for (std::int32_t c = 0; c < std::int32_t(C); ++c) ir[c] = std::int32_t(base) + c;
            first = false;
          } else if (ir) {
            max_update(yr, ir, xr, C, std::int32_t(base));
          } else {
            max_update(yr, xr, C);
          }
        }
  }
}

// Mean over each clipped window: padded cells are not counted (TF/Haiku "SAME" averaging).
template <class T>
void AvgPoolCells(const PoolTask& t) {
  const PoolGeometry& g = t.g;
  const std::int64_t C = g.channels;
  const T* x = static_cast<const T*>(t.in);
  CellCursor at(t.c0, g.out);
  for (std::int64_t cell = t.c0; cell < t.c1; ++cell, at.advance()) {
    const std::int64_t n = at.n;
    std::int64_t lo[kMaxPoolSpatial], hi[kMaxPoolSpatial];
    g.window_range(at.i, lo, hi);
    T* yr = static_cast<T*>(t.out) + cell * C;
    std::fill(yr, yr + C, T(0));
    for (std::int64_t i0 = lo[0]; i0 < hi[0]; ++i0)
      for (std::int64_t i1 = lo[1]; i1 < hi[1]; ++i1)
        for (std::int64_t i2 = lo[2]; i2 < hi[2]; ++i2)
          add_row(yr, x + (n * g.in_cells() + g.in_cell(i0, i1, i2)) * C, C);
    const T inv = T(1) / T((hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]));
    for (std::int64_t c = 0; c < C; ++c) yr[c] *= inv;
  }
}

// gx[p] = sum of g[o] over the outputs o whose recorded argmax is p.
template <class T>
void MaxPoolBackwardCells(const PoolTask& t) {
  const PoolGeometry& g = t.g;
  const std::int64_t C = g.channels;
  const T* gy = static_cast<const T*>(t.in);
  const CoverTable cover(g);
  CellCursor at(t.c0, g.in);
  for (std::int64_t cell = t.c0; cell < t.c1; ++cell, at.advance()) {
    const std::int64_t n = at.n;
    std::int64_t lo[kMaxPoolSpatial], hi[kMaxPoolSpatial];
    cover.get(at.i, lo, hi);
    T* gr = static_cast<T*>(t.out) + cell * C;
    std::fill(gr, gr + C, T(0));
    for (std::int64_t o0 = lo[0]; o0 < hi[0]; ++o0)
      for (std::int64_t o1 = lo[1]; o1 < hi[1]; ++o1)
        for (std::int64_t o2 = lo[2]; o2 < hi[2]; ++o2) {
          const std::int64_t out = (n * g.out_cells() + (o0 * g.out[1] + o1) * g.out[2] + o2) * C;
          add_routed_row(gr, gy + out, t.indices + out, std::int32_t(cell * C), C);
        }
  }
}

// gx[p] = sum of g[o] / count[o] over the outputs o whose windows cover p.
template <class T>
void AvgPoolBackwardCells(const PoolTask& t) {
  const PoolGeometry& g = t.g;
  const std::int64_t C = g.channels;
  const T* gy = static_cast<const T*>(t.in);
  const CoverTable cover(g);
  CellCursor at(t.c0, g.in);
  for (std::int64_t cell = t.c0; cell < t.c1; ++cell, at.advance()) {
    const std::int64_t n = at.n;
    std::int64_t lo[kMaxPoolSpatial], hi[kMaxPoolSpatial];
    cover.get(at.i, lo, hi);
    T* gr = static_cast<T*>(t.out) + cell * C;
    std::fill(gr, gr + C, T(0));
    for (std::int64_t o0 = lo[0]; o0 < hi[0]; ++o0)
      for (std::int64_t o1 = lo[1]; o1 < hi[1]; ++o1)
        for (std::int64_t o2 = lo[2]; o2 < hi[2]; ++o2) {
          const std::int64_t o[kMaxPoolSpatial] = {o0, o1, o2};
          std::int64_t wlo[kMaxPoolSpatial], whi[kMaxPoolSpatial];
          g.window_range(o, wlo, whi);
          const T inv = T(1) / T((whi[0] - wlo[0]) * (whi[1] - wlo[1]) * (whi[2] - wlo[2]));
          add_scaled_row(gr, gy + (n * g.out_cells() + (o0 * g.out[1] + o1) * g.out[2] + o2) * C,
                         inv, C);
        }
  }
}

void MaxPoolAny(const PoolTask& t) {
  t.dtype == DType::f32 ? MaxPoolCells<float>(t) : MaxPoolCells<double>(t);
}
void AvgPoolAny(const PoolTask& t) {
  t.dtype == DType::f32 ? AvgPoolCells<float>(t) : AvgPoolCells<double>(t);
}
void MaxPoolBackwardAny(const PoolTask& t) {
  t.dtype == DType::f32 ? MaxPoolBackwardCells<float>(t) : MaxPoolBackwardCells<double>(t);
}
void AvgPoolBackwardAny(const PoolTask& t) {
  t.dtype == DType::f32 ? AvgPoolBackwardCells<float>(t) : AvgPoolBackwardCells<double>(t);
}

}  // namespace elegy::kernels::pool_cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace elegy::kernels {
namespace pool_cpu {

HWY_EXPORT(MaxPoolAny);
HWY_EXPORT(AvgPoolAny);
HWY_EXPORT(MaxPoolBackwardAny);
HWY_EXPORT(AvgPoolBackwardAny);

}  // namespace pool_cpu

namespace {

using pool_cpu::PoolTask;

// Elements of work per parallel chunk.
constexpr std::int64_t kGrain = 1 << 15;

// Splits `cells` cells of `work_per_cell` elements each into chunks and runs fn on each.
void for_chunks(PoolTask task, std::int64_t cells, std::int64_t work_per_cell,
                void (*fn)(const PoolTask&)) {
  const std::int64_t grain =
      std::max<std::int64_t>(1, kGrain / std::max<std::int64_t>(1, work_per_cell));
  parallel_for(cells, grain, [&](std::int64_t c0, std::int64_t c1) {
    PoolTask t = task;
    t.c0 = c0;
    t.c1 = c1;
    fn(t);
  });
}

template <bool kMax>
void pool_kernel(const KernelArgs& a) {
  PoolTask t;
  t.dtype = a.out.dtype;
  t.g = PoolGeometry::from(a.in[0], a.out, a);
  t.in = a.in[0].data;
  t.out = a.out.data;
  t.indices = static_cast<std::int32_t*>(a.in[1].data);
  for_chunks(t, t.g.batch * t.g.out_cells(), t.g.channels * t.g.window_cells(),
             kMax ? HWY_DYNAMIC_DISPATCH(pool_cpu::MaxPoolAny)
                  : HWY_DYNAMIC_DISPATCH(pool_cpu::AvgPoolAny));
}

template <bool kMax>
void pool_backward_kernel(const KernelArgs& a) {
  PoolTask t;
  t.dtype = a.out.dtype;
  t.g = PoolGeometry::from(a.out, a.in[0], a);
  t.in = a.in[0].data;
  t.out = a.out.data;
  t.indices = static_cast<std::int32_t*>(a.in[1].data);
  const PoolGeometry& g = t.g;
  // Outputs covering one input cell, at most.
  const std::int64_t covering = ((g.window[0] + g.stride[0] - 1) / g.stride[0]) *
                                ((g.window[1] + g.stride[1] - 1) / g.stride[1]) *
                                ((g.window[2] + g.stride[2] - 1) / g.stride[2]);
  for_chunks(t, g.batch * g.in_cells(), g.channels * covering,
             kMax ? HWY_DYNAMIC_DISPATCH(pool_cpu::MaxPoolBackwardAny)
                  : HWY_DYNAMIC_DISPATCH(pool_cpu::AvgPoolBackwardAny));
}

}  // namespace

void register_cpu_pool(Registry& r) {
  for (DType t : {DType::f32, DType::f64}) {
    r.add(Op::MaxPool, DeviceKind::cpu, t, pool_kernel<true>);
    r.add(Op::AvgPool, DeviceKind::cpu, t, pool_kernel<false>);
    r.add(Op::MaxPoolBackward, DeviceKind::cpu, t, pool_backward_kernel<true>);
    r.add(Op::AvgPoolBackward, DeviceKind::cpu, t, pool_backward_kernel<false>);
  }
}

}  // namespace elegy::kernels
#endif  // HWY_ONCE
