// The geometry of a channels-last pooling window, shared by the CPU and CUDA pool kernels and by
// the ops that call them. x is [N, *spatial, C] and y is [N, *out_spatial, C], both dense; the
// window, its strides and the low padding of each spatial dim travel in KernelArgs as:
//   in[2]: a data-less view whose rank is the number of spatial dims, sizes = window, strides =
//          window strides (the window is a strided view of the padded input, so this is what it
//          is),
//   ints[0..spatial): the low padding of each spatial dim (the high padding only shows in y's
//          size).
// Index arithmetic here is __host__ __device__, so the CPU tests cover what the GPU runs.
#pragma once

#include <cstdint>

#include "elegy/core/host_device.hpp"
#include "elegy/kernels/buffer_view.hpp"

namespace elegy::kernels {

inline constexpr int kMaxPoolSpatial = 3;

struct PoolGeometry {
  int spatial = 0;
  std::int64_t batch = 0, channels = 0;
  std::int64_t in[kMaxPoolSpatial] = {1, 1, 1};
  std::int64_t out[kMaxPoolSpatial] = {1, 1, 1};
  std::int64_t window[kMaxPoolSpatial] = {1, 1, 1};
  std::int64_t stride[kMaxPoolSpatial] = {1, 1, 1};
  std::int64_t pad[kMaxPoolSpatial] = {0, 0, 0};

  // x: the pooled input's view, y: the pooled output's view, a: the call (see the top).
  ELEGY_HOST_DEVICE static PoolGeometry from(const BufferView& x, const BufferView& y,
                                             const KernelArgs& a) {
    PoolGeometry g;
    g.spatial = a.in[2].rank;
    g.batch = x.sizes[0];
    g.channels = x.sizes[x.rank - 1];
    for (int d = 0; d < g.spatial; ++d) {
      g.in[d] = x.sizes[1 + d];
      g.out[d] = y.sizes[1 + d];
      g.window[d] = a.in[2].sizes[d];
      g.stride[d] = a.in[2].strides[d];
      g.pad[d] = a.ints[d];
    }
    return g;
  }

  // Spatial positions of one batch item (cells of C channels each).
  ELEGY_HOST_DEVICE std::int64_t in_cells() const { return in[0] * in[1] * in[2]; }
  ELEGY_HOST_DEVICE std::int64_t out_cells() const { return out[0] * out[1] * out[2]; }
  // Cells of one full window.
  ELEGY_HOST_DEVICE std::int64_t window_cells() const { return window[0] * window[1] * window[2]; }

  // The clipped window of output cell `o` (per-dim indices): input indices [lo, hi) per dim.
  ELEGY_HOST_DEVICE void window_range(const std::int64_t (&o)[kMaxPoolSpatial],
                                      std::int64_t (&lo)[kMaxPoolSpatial],
                                      std::int64_t (&hi)[kMaxPoolSpatial]) const {
    for (int d = 0; d < kMaxPoolSpatial; ++d) {
      const std::int64_t start = o[d] * stride[d] - pad[d];
      lo[d] = start < 0 ? 0 : start;
      hi[d] = start + window[d] > in[d] ? in[d] : start + window[d];
    }
  }

  // The output cells whose windows contain input cell `p`: [lo, hi) per dim.
  ELEGY_HOST_DEVICE void outputs_covering(const std::int64_t (&p)[kMaxPoolSpatial],
                                          std::int64_t (&lo)[kMaxPoolSpatial],
                                          std::int64_t (&hi)[kMaxPoolSpatial]) const {
    for (int d = 0; d < kMaxPoolSpatial; ++d) {
      // o * stride - pad <= p < o * stride - pad + window
      const std::int64_t last = (p[d] + pad[d]) / stride[d];  // p + pad >= 0 always
      const std::int64_t first_num = p[d] + pad[d] - window[d] + 1;
      const std::int64_t first = first_num <= 0 ? 0 : (first_num + stride[d] - 1) / stride[d];
      lo[d] = first;
      hi[d] = last + 1 < out[d] ? last + 1 : out[d];
    }
  }

  // Per-dim indices of spatial cell `cell` of a grid of `sizes` (row-major), and back.
  ELEGY_HOST_DEVICE static void unravel(std::int64_t cell, const std::int64_t (&sizes)[3],
                                        std::int64_t (&idx)[kMaxPoolSpatial]) {
    idx[2] = cell % sizes[2];
    cell /= sizes[2];
    idx[1] = cell % sizes[1];
    idx[0] = cell / sizes[1];
  }
  ELEGY_HOST_DEVICE std::int64_t in_cell(std::int64_t i0, std::int64_t i1, std::int64_t i2) const {
    return (i0 * in[1] + i1) * in[2] + i2;
  }
};

}  // namespace elegy::kernels
