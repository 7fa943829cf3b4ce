// CPU kernels of the norm family: moments, LayerNorm forward/backward, and the per-channel
// kernels BatchNorm is built from: the splitting into chunks and the merging of partial results
// live here, the inner loops in norm_simd.cpp. Dropout is in dropout.cpp.
//
// Every operand is dense (the ops make it so). Reductions over rows of a [R, C] matrix (column
// statistics: BatchNorm's channels-last layout) are split into blocks of a fixed number of rows,
// each block's partial result kept in double and the blocks merged in order: the chunking is a
// function of the shape alone, so results are the same on any thread count.
#include <algorithm>
#include <cmath>
#include <vector>

#include "elegy/core/thread_pool.hpp"
#include "elegy/kernels/cpu/norm_simd.hpp"
#include "elegy/kernels/dispatch.hpp"

namespace elegy::kernels {

void register_cpu_dropout(Registry& r);  // dropout.cpp

namespace {

// Elements of work per parallel chunk / per reduction block.
constexpr std::int64_t kGrain = 1 << 15;

std::int64_t rows_per_chunk(std::int64_t row_length) {
  return std::max<std::int64_t>(1, kGrain / std::max<std::int64_t>(1, row_length));
}

// Runs block(b, r0, r1) for the fixed row blocks of an R-row matrix with rows of C elements, in
// parallel; returns the number of blocks.
template <class Fn>
std::int64_t for_each_row_block(std::int64_t R, std::int64_t C, Fn block) {
  const std::int64_t rb = rows_per_chunk(C);
  const std::int64_t blocks = (R + rb - 1) / rb;
  parallel_for(blocks, 1, [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b) block(b, b * rb, std::min(R, (b + 1) * rb));
  });
  return blocks;
}

// Mean and biased variance of each column of dense x [R, C]: per block a two-pass mean and sum
// of squared deviations, then the blocks merged with Chan et al.'s pairwise update.
template <class T>
void column_moments(const T* x, std::int64_t R, std::int64_t C, T* mean, T* var) {
  const std::int64_t rb = rows_per_chunk(C);
  std::vector<double> partial(std::size_t(((R + rb - 1) / rb) * 2 * C));
  const std::int64_t blocks =
      for_each_row_block(R, C, [&](std::int64_t b, std::int64_t r0, std::int64_t r1) {
        norm_simd::ColumnsTask t;
        t.dtype = dtype_of<T>();
        t.C = C;
        t.r0 = r0;
        t.r1 = r1;
        t.x = x;
        t.partial = partial.data() + b * 2 * C;
        norm_simd::column_block_moments(t);
      });
  parallel_for(C, kGrain / std::max<std::int64_t>(1, blocks),
               [&](std::int64_t c0, std::int64_t c1) {
                 for (std::int64_t c = c0; c < c1; ++c) {
                   double n = 0, mu = 0, m2 = 0;
                   for (std::int64_t b = 0; b < blocks; ++b) {
                     const double nb = double(std::min(R, (b + 1) * rb) - b * rb);
                     const double mb = partial[std::size_t(b * 2 * C + c)];
                     const double m2b = partial[std::size_t(b * 2 * C + C + c)];
                     const double delta = mb - mu, total = n + nb;
                     mu += delta * nb / total;
                     m2 += m2b + delta * delta * n * nb / total;
                     n = total;
                   }
                   mean[c] = T(mu);
                   var[c] = T(m2 / n);
                 }
               });
}

// out = mean, in[1] = var of dense [A, B] in[0] over axis ints[0].
template <class T>
void moments_kernel(const KernelArgs& a) {
  const std::int64_t A = a.in[0].sizes[0], B = a.in[0].sizes[1];
  const T* x = static_cast<const T*>(a.in[0].data);
  T* mean = static_cast<T*>(a.out.data);
  T* var = static_cast<T*>(a.in[1].data);
  if (a.ints[0] == 0) return column_moments(x, A, B, mean, var);
  parallel_for(A, rows_per_chunk(B), [&](std::int64_t r0, std::int64_t r1) {
    norm_simd::RowsTask t;
    t.dtype = dtype_of<T>();
    t.K = B;
    t.r0 = r0;
    t.r1 = r1;
    t.x = x;
    t.mean = mean;
    t.var = var;
    norm_simd::moments_rows(t);
  });
}

template <class T>
void layer_norm_kernel(const KernelArgs& a) {
  const std::int64_t M = a.in[0].sizes[0], K = a.in[0].sizes[1];
  parallel_for(M, rows_per_chunk(K), [&](std::int64_t r0, std::int64_t r1) {
    norm_simd::RowsTask t;
    t.dtype = dtype_of<T>();
    t.K = K;
    t.r0 = r0;
    t.r1 = r1;
    t.x = a.in[0].data;
    t.y = a.out.data;
    t.scale = a.in[1].data;
    t.offset = a.in[2].data;
    t.eps = a.scalar[0];
    norm_simd::layer_norm_simd(t);
  });
}

// in[2] is [3, K]: the scale (read when ints[0]), dscale (written when ints[1]) and doffset
// (written when ints[2]). Each block of rows accumulates its own parameter gradients; the
// blocks are summed in order in double.
template <class T>
void layer_norm_backward_kernel(const KernelArgs& a) {
  const std::int64_t M = a.in[1].sizes[0], K = a.in[1].sizes[1];
  T* work = static_cast<T*>(a.in[2].data);
  const bool want_params = a.ints[1] || a.ints[2];
  const std::int64_t rb = rows_per_chunk(K);
  std::vector<T> partial(want_params ? std::size_t(((M + rb - 1) / rb) * 2 * K) : 0);
  const std::int64_t blocks =
      for_each_row_block(M, K, [&](std::int64_t b, std::int64_t r0, std::int64_t r1) {
        norm_simd::RowsTask t;
        t.dtype = dtype_of<T>();
        t.K = K;
        t.r0 = r0;
        t.r1 = r1;
        t.g = a.in[0].data;
        t.x = a.in[1].data;
        t.y = a.out.data;
        t.scale = a.ints[0] ? work : nullptr;
        if (want_params) {
          T* p = partial.data() + b * 2 * K;
          std::fill(p, p + 2 * K, T(0));
          t.dscale = p;
          t.doffset = p + K;
        }
        t.eps = a.scalar[0];
        norm_simd::layer_norm_backward_rows(t);
      });
  if (!want_params) return;
  parallel_for(2 * K, kGrain / std::max<std::int64_t>(1, blocks),
               [&](std::int64_t j0, std::int64_t j1) {
                 for (std::int64_t j = j0; j < j1; ++j) {
                   double s = 0;
                   for (std::int64_t b = 0; b < blocks; ++b) s += double(partial[b * 2 * K + j]);
                   work[K + j] = T(s);
                 }
               });
}

// out[r, c] = x[r, c] * scale[c] + shift[c].
template <class T>
void channel_affine_kernel(const KernelArgs& a) {
  const std::int64_t R = a.in[0].sizes[0], C = a.in[0].sizes[1];
  const T* x = static_cast<const T*>(a.in[0].data);
  const T* scale = static_cast<const T*>(a.in[1].data);
  const T* shift = static_cast<const T*>(a.in[2].data);
  T* y = static_cast<T*>(a.out.data);
  parallel_for(R, rows_per_chunk(C), [&](std::int64_t r0, std::int64_t r1) {
    norm_simd::ColumnsTask t;
    t.dtype = dtype_of<T>();
    t.C = C;
    t.r0 = r0;
    t.r1 = r1;
    t.x = x;
    t.a = scale;
    t.b = shift;
    t.y = y;
    norm_simd::channel_affine_rows(t);
  });
}

// out [2, C] = column sums of g and of g * (x - mean[c]).
template <class T>
void batch_norm_backward_reduce_kernel(const KernelArgs& a) {
  const std::int64_t R = a.in[0].sizes[0], C = a.in[0].sizes[1];
  const T* g = static_cast<const T*>(a.in[0].data);
  const T* x = static_cast<const T*>(a.in[1].data);
  const T* mean = static_cast<const T*>(a.in[2].data);
  T* out = static_cast<T*>(a.out.data);
  const std::int64_t rb = rows_per_chunk(C);
  std::vector<double> partial(std::size_t(((R + rb - 1) / rb) * 2 * C));
  const std::int64_t blocks =
      for_each_row_block(R, C, [&](std::int64_t b, std::int64_t r0, std::int64_t r1) {
        norm_simd::ColumnsTask t;
        t.dtype = dtype_of<T>();
        t.C = C;
        t.r0 = r0;
        t.r1 = r1;
        t.x = x;
        t.g = g;
        t.a = mean;
        t.partial = partial.data() + b * 2 * C;
        norm_simd::column_block_sums(t);
      });
  for (std::int64_t j = 0; j < 2 * C; ++j) {
    double s = 0;
    for (std::int64_t b = 0; b < blocks; ++b) s += partial[std::size_t(b * 2 * C + j)];
    out[j] = T(s);
  }
}

// out = g * k[0][c] + x * k[1][c] + k[2][c].
template <class T>
void batch_norm_backward_kernel(const KernelArgs& a) {
  const std::int64_t R = a.in[0].sizes[0], C = a.in[0].sizes[1];
  const T* g = static_cast<const T*>(a.in[0].data);
  const T* x = static_cast<const T*>(a.in[1].data);
  const T* k = static_cast<const T*>(a.in[2].data);
  T* out = static_cast<T*>(a.out.data);
  parallel_for(R, rows_per_chunk(2 * C), [&](std::int64_t r0, std::int64_t r1) {
    norm_simd::ColumnsTask t;
    t.dtype = dtype_of<T>();
    t.C = C;
    t.r0 = r0;
    t.r1 = r1;
    t.x = x;
    t.g = g;
    t.k = k;
    t.y = out;
    norm_simd::batch_norm_backward_rows(t);
  });
}

template <class T>
void register_for(Registry& r) {
  const DType t = dtype_of<T>();
  r.add(Op::Moments, DeviceKind::cpu, t, moments_kernel<T>);
  r.add(Op::LayerNorm, DeviceKind::cpu, t, layer_norm_kernel<T>);
  r.add(Op::LayerNormBackward, DeviceKind::cpu, t, layer_norm_backward_kernel<T>);
  r.add(Op::ChannelAffine, DeviceKind::cpu, t, channel_affine_kernel<T>);
  r.add(Op::BatchNormBackwardReduce, DeviceKind::cpu, t, batch_norm_backward_reduce_kernel<T>);
  r.add(Op::BatchNormBackward, DeviceKind::cpu, t, batch_norm_backward_kernel<T>);
}

}  // namespace

void register_cpu_norm(Registry& r) {
  register_for<float>(r);
  register_for<double>(r);
  register_cpu_dropout(r);
}

}  // namespace elegy::kernels
