// The per-chunk loops of the norm family (kernels/cpu/norm_simd.cpp, compiled per Highway
// target): row statistics and LayerNorm forward/backward over rows [r0, r1) of a dense [M, K]
// matrix, and the per-channel (column) loops of BatchNorm over rows [r0, r1) of a dense [R, C]
// matrix. The callers in norm.cpp split rows over threads; these run one chunk each.
#pragma once

#include <cstdint>

#include "elegy/core/dtype.hpp"

namespace elegy::kernels::norm_simd {

struct RowsTask {
  DType dtype = DType::f32;
  std::int64_t K = 0;            // row length
  std::int64_t r0 = 0, r1 = 0;   // rows handled
  const void* x = nullptr;       // [M, K]
  const void* g = nullptr;       // [M, K] cotangent (backward)
  void* y = nullptr;             // [M, K] output (LayerNorm: y, backward: dx)
  const void* scale = nullptr;   // [K] or null
  const void* offset = nullptr;  // [K] or null
  void* mean = nullptr;          // [M] (moments)
  void* var = nullptr;           // [M] (moments)
  void* dscale = nullptr;        // [K] accumulated into (backward)
  void* doffset = nullptr;       // [K] accumulated into (backward)
  double eps = 0.0;
};

// One chunk of rows of a dense [R, C] matrix for the per-channel loops.
struct ColumnsTask {
  DType dtype = DType::f32;
  std::int64_t C = 0;
  std::int64_t r0 = 0, r1 = 0;
  const void* x = nullptr;    // [R, C]
  const void* g = nullptr;    // [R, C] cotangent
  const void* a = nullptr;    // [C]: scale (affine) or mean (sums)
  const void* b = nullptr;    // [C]: shift (affine)
  const void* k = nullptr;    // [3, C] (BatchNorm backward)
  void* y = nullptr;          // [R, C] output
  double* partial = nullptr;  // [2, C] block result (moments, sums)
};

// partial = (mean, sum of squared deviations) of each column over the chunk's rows.
void column_block_moments(const ColumnsTask& t);
// partial = (sum of g, sum of g * (x - mean[c])) over the chunk's rows; mean in `a`.
void column_block_sums(const ColumnsTask& t);
// y = x * a[c] + b[c] over the chunk's rows.
void channel_affine_rows(const ColumnsTask& t);
// y = g * k[0][c] + x * k[1][c] + k[2][c] over the chunk's rows.
void batch_norm_backward_rows(const ColumnsTask& t);

// mean[r], var[r] (biased) of each row.
void moments_rows(const RowsTask& t);
// y = (x - mean) * rsqrt(var + eps) * scale + offset per row.
void layer_norm_simd(const RowsTask& t);
// dx of layer_norm per row; dscale += g * xhat and doffset += g summed over the rows.
void layer_norm_backward_rows(const RowsTask& t);

}  // namespace elegy::kernels::norm_simd
