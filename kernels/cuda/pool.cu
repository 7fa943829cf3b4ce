// Channels-last max and average pooling on CUDA, forward and backward, float32/float64, with
// the semantics of kernels/cpu/pool.cpp (first maximum wins ties, a NaN wins over numbers,
// padded cells never take part, averages count real cells only). One thread per output
// element forward and per input element backward (a gather, so no atomics and no races);
// consecutive threads take consecutive channels, so every load is coalesced.
#include "elegy/kernels/cuda/families.hpp"
#include "elegy/kernels/cuda/launch.cuh"
#include "elegy/kernels/pool_geometry.hpp"

namespace elegy::kernels::cuda {
namespace {

// Splits a flat [N, cells, C] element index.
struct CellIndex {
  std::int64_t n, cell, c;
};
__device__ __forceinline__ CellIndex split(std::int64_t i, std::int64_t cells, std::int64_t C) {
  CellIndex r;
  r.c = i % C;
  i /= C;
  r.cell = i % cells;
  r.n = i / cells;
  return r;
}

template <class T, bool kMax>
__global__ void pool_forward_kernel(PoolGeometry g, const T* x, T* y, std::int32_t* indices,
                                    std::int64_t total) {
  const std::int64_t step = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const CellIndex e = split(i, g.out_cells(), g.channels);
    std::int64_t o[kMaxPoolSpatial], lo[kMaxPoolSpatial], hi[kMaxPoolSpatial];
    PoolGeometry::unravel(e.cell, g.out, o);
    g.window_range(o, lo, hi);
    T best = T(0), total_value = T(0);
    std::int64_t at = -1;
    for (std::int64_t i0 = lo[0]; i0 < hi[0]; ++i0)
      for (std::int64_t i1 = lo[1]; i1 < hi[1]; ++i1)
        for (std::int64_t i2 = lo[2]; i2 < hi[2]; ++i2) {
          const std::int64_t flat = (e.n * g.in_cells() + g.in_cell(i0, i1, i2)) * g.channels + e.c;
          const T v = x[flat];
          if constexpr (kMax) {
            if (at < 0 || v > best || (v != v && best == best)) {  // NOLINT: NaN wins
              best = v;
              at = flat;
            }
          } else {
            total_value += v;
          }
        }
    if constexpr (kMax) {
      y[i] = best;
      if (indices) indices[i] = std::int32_t(at);
    } else {
      y[i] = total_value / T((hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]));
    }
  }
}

template <class T, bool kMax>
__global__ void pool_backward_kernel(PoolGeometry g, const T* gy, const std::int32_t* indices,
                                     T* gx, std::int64_t total) {
  const std::int64_t step = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const CellIndex e = split(i, g.in_cells(), g.channels);
    std::int64_t p[kMaxPoolSpatial], lo[kMaxPoolSpatial], hi[kMaxPoolSpatial];
    PoolGeometry::unravel(e.cell, g.in, p);
    g.outputs_covering(p, lo, hi);
    T acc = T(0);
    for (std::int64_t o0 = lo[0]; o0 < hi[0]; ++o0)
      for (std::int64_t o1 = lo[1]; o1 < hi[1]; ++o1)
        for (std::int64_t o2 = lo[2]; o2 < hi[2]; ++o2) {
          const std::int64_t out =
              (e.n * g.out_cells() + (o0 * g.out[1] + o1) * g.out[2] + o2) * g.channels + e.c;
          if constexpr (kMax) {
            if (indices[out] == std::int32_t(i)) acc += gy[out];
          } else {
            const std::int64_t o[kMaxPoolSpatial] = {o0, o1, o2};
            std::int64_t wlo[kMaxPoolSpatial], whi[kMaxPoolSpatial];
            g.window_range(o, wlo, whi);
            acc += gy[out] * (T(1) / T((whi[0] - wlo[0]) * (whi[1] - wlo[1]) * (whi[2] - wlo[2])));
          }
        }
    gx[i] = acc;
  }
}

template <class T, bool kMax>
void pool_forward(const KernelArgs& a) {
  const PoolGeometry g = PoolGeometry::from(a.in[0], a.out, a);
  const std::int64_t total = a.out.numel();
  if (total == 0) return;
  const cudaStream_t s = prepare(a.device);
  pool_forward_kernel<T, kMax><<<blocks_for(total), kThreads, 0, s>>>(
      g, static_cast<const T*>(a.in[0].data), static_cast<T*>(a.out.data),
      static_cast<std::int32_t*>(a.in[1].data), total);
  check_launch(kMax ? "max_pool (cuda)" : "avg_pool (cuda)");
}

template <class T, bool kMax>
void pool_backward(const KernelArgs& a) {
  const PoolGeometry g = PoolGeometry::from(a.out, a.in[0], a);
  const std::int64_t total = a.out.numel();
  if (total == 0) return;
  const cudaStream_t s = prepare(a.device);
  pool_backward_kernel<T, kMax><<<blocks_for(total), kThreads, 0, s>>>(
      g, static_cast<const T*>(a.in[0].data), static_cast<const std::int32_t*>(a.in[1].data),
      static_cast<T*>(a.out.data), total);
  check_launch(kMax ? "max_pool_backward (cuda)" : "avg_pool_backward (cuda)");
}

template <class T>
void register_for(Registry& r) {
  const DType t = dtype_of<T>();
  r.add(Op::MaxPool, DeviceKind::cuda, t, pool_forward<T, true>);
  r.add(Op::AvgPool, DeviceKind::cuda, t, pool_forward<T, false>);
  r.add(Op::MaxPoolBackward, DeviceKind::cuda, t, pool_backward<T, true>);
  r.add(Op::AvgPoolBackward, DeviceKind::cuda, t, pool_backward<T, false>);
}

}  // namespace

void register_pool(Registry& r) {
  register_for<float>(r);
  register_for<double>(r);
}

}  // namespace elegy::kernels::cuda
