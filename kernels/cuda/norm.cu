// CUDA kernels of the norm family, with the semantics of kernels/cpu/norm.cpp and dropout.cpp:
// moments (row and column statistics), LayerNorm forward and fused backward, the per-channel
// BatchNorm kernels, and dropout.
//
// Row statistics: one block per row, two passes (mean, then squared deviations) reduced with
// warp shuffles and one shared-memory step, accumulated in double. Column statistics and
// column sums (BatchNorm, LayerNorm's parameter gradients): a grid of (32-column tile, row
// partition) blocks writes one double partial per (partition, column), and a second kernel adds
// the partitions in order. Partitions depend only on the shape, so results are deterministic.
#include <math.h>

#include "elegy/core/random_dist.hpp"
#include "elegy/core/tensor.hpp"
#include "elegy/kernels/cuda/families.hpp"
#include "elegy/kernels/cuda/key_source.cuh"
#include "elegy/kernels/cuda/launch.cuh"

namespace elegy::kernels::cuda {
namespace {

constexpr int kRowThreads = 256;
constexpr int kMaxRowBlocks = 65535;

// Sum of v over the block (blockDim.x a multiple of 32); every thread receives the total.
// `shared` holds 32 doubles.
__device__ double block_sum(double v, double* shared) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();  // the previous call's readers are done with `shared`
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = lane < int(blockDim.x / 32) ? shared[lane] : 0.0;
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Mean and biased variance of row x[0..K), two passes.
template <class T>
__device__ void row_stats(const T* x, std::int64_t K, double* shared, double& mean, double& var) {
  double s = 0;
  for (std::int64_t k = threadIdx.x; k < K; k += blockDim.x) s += double(x[k]);
  mean = block_sum(s, shared) / double(K);
  double s2 = 0;
  for (std::int64_t k = threadIdx.x; k < K; k += blockDim.x) {
    const double d = double(x[k]) - mean;
    s2 += d * d;
  }
  var = block_sum(s2, shared) / double(K);
}

template <class T>
__global__ void moments_rows_kernel(const T* x, std::int64_t M, std::int64_t K, T* mean, T* var) {
  __shared__ double shared[32];
  for (std::int64_t r = blockIdx.x; r < M; r += gridDim.x) {
    double m, v;
    row_stats(x + r * K, K, shared, m, v);
    if (threadIdx.x == 0) {
      mean[r] = T(m);
      var[r] = T(v);
    }
  }
}

template <class T>
__global__ void layer_norm_kernel(const T* x, const T* scale, const T* offset, T* y, std::int64_t M,
                                  std::int64_t K, double eps) {
  __shared__ double shared[32];
  for (std::int64_t r = blockIdx.x; r < M; r += gridDim.x) {
    double m, v;
    row_stats(x + r * K, K, shared, m, v);
    const T mean = T(m), rstd = T(1.0 / ::sqrt(v + eps));
    for (std::int64_t k = threadIdx.x; k < K; k += blockDim.x) {
      T a = rstd;
      if (scale) a *= scale[k];
      const T out = (x[r * K + k] - mean) * a;
      y[r * K + k] = offset ? out + offset[k] : out;
    }
  }
}

// dx of layer_norm per row; stats[r] = (mean, rstd) for the parameter gradients.
template <class T>
__global__ void layer_norm_backward_kernel(const T* g, const T* x, const T* scale, T* dx,
                                           double* stats, std::int64_t M, std::int64_t K,
                                           double eps) {
  __shared__ double shared[32];
  for (std::int64_t r = blockIdx.x; r < M; r += gridDim.x) {
    const T* xr = x + r * K;
    const T* gr = g + r * K;
    double m, v;
    row_stats(xr, K, shared, m, v);
    const T mean = T(m), rstd = T(1.0 / ::sqrt(v + eps));
    double s1 = 0, s2 = 0;
    for (std::int64_t k = threadIdx.x; k < K; k += blockDim.x) {
      const T gs = scale ? gr[k] * scale[k] : gr[k];
      s1 += double(gs);
      s2 += double(gs) * double((xr[k] - mean) * rstd);
    }
    const T mean_gs = T(block_sum(s1, shared) / double(K));
    const T mean_gsx = T(block_sum(s2, shared) / double(K));
    for (std::int64_t k = threadIdx.x; k < K; k += blockDim.x) {
      const T gs = scale ? gr[k] * scale[k] : gr[k];
      const T xhat = (xr[k] - mean) * rstd;
      dx[r * K + k] = rstd * (gs - mean_gs - xhat * mean_gsx);
    }
    if (stats && threadIdx.x == 0) {
      stats[2 * r] = double(mean);
      stats[2 * r + 1] = double(rstd);
    }
  }
}

// Rows per partition and partitions of an R-row column reduction (a function of R only).
struct Partitions {
  std::int64_t rows, count;
};
Partitions partitions(std::int64_t R) {
  std::int64_t count = std::min<std::int64_t>((R + 63) / 64, 256);
  count = std::max<std::int64_t>(count, 1);
  return {(R + count - 1) / count, count};
}

// partial[p][0][c], partial[p][1][c] = sums over partition p's rows of f(r, c) (two values).
// Block (32, 8): threadIdx.x picks the column, threadIdx.y strides the rows.
template <class F>
__global__ void column_sums_kernel(F f, std::int64_t R, std::int64_t C, std::int64_t part_rows,
                                   double* partial) {
  __shared__ double s[2][8][32];
  const std::int64_t c = std::int64_t(blockIdx.x) * 32 + threadIdx.x;
  const std::int64_t p = blockIdx.y;
  const std::int64_t end = min(R, (p + 1) * part_rows);
  double a = 0, b = 0;
  if (c < C) {
    for (std::int64_t r = p * part_rows + threadIdx.y; r < end; r += 8) {
      double fa, fb;
      f(r, c, fa, fb);
      a += fa;
      b += fb;
    }
  }
  s[0][threadIdx.y][threadIdx.x] = a;
  s[1][threadIdx.y][threadIdx.x] = b;
  __syncthreads();
  if (threadIdx.y == 0 && c < C) {
    for (int y = 1; y < 8; ++y) {
      a += s[0][y][threadIdx.x];
      b += s[1][y][threadIdx.x];
    }
    partial[(p * 2) * C + c] = a;
    partial[(p * 2 + 1) * C + c] = b;
  }
}

// out[j] = sum over partitions of partial[p][j], j in [0, 2C). (Grid-stride: blocks_for caps
// the grid, and 2C may be more than it covers.)
template <class T>
__global__ void merge_sums_kernel(const double* partial, std::int64_t parts, std::int64_t C, T* out,
                                  std::int64_t out_stride) {
  const std::int64_t step = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t j = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < 2 * C; j += step) {
    double s = 0;
    for (std::int64_t p = 0; p < parts; ++p) s += partial[p * 2 * C + j];
    out[(j / C) * out_stride + j % C] = T(s);
  }
}

// Runs the column sums of f over [R, C] into out rows 0 and 1 (`out_stride` apart).
template <class T, class F>
void column_sums(F f, std::int64_t R, std::int64_t C, T* out, std::int64_t out_stride,
                 Device device, cudaStream_t s, const char* op) {
  const Partitions parts = partitions(R);
  const Tensor partial = Tensor::empty(Shape{parts.count * 2 * C}, DType::f64, device);
  const dim3 grid(unsigned((C + 31) / 32), unsigned(parts.count));
  column_sums_kernel<<<grid, dim3(32, 8), 0, s>>>(f, R, C, parts.rows,
                                                  static_cast<double*>(partial.address()));
  check_launch(op);
  merge_sums_kernel<T><<<blocks_for(2 * C), kThreads, 0, s>>>(
      static_cast<const double*>(partial.address()), parts.count, C, out, out_stride);
  check_launch(op);
}

// Column statistics: per (partition, column) a Welford mean and M2 in double, merged in order.
template <class T>
__global__ void column_moments_kernel(const T* x, std::int64_t R, std::int64_t C,
                                      std::int64_t part_rows, double* partial) {
  __shared__ double s[3][8][32];
  const std::int64_t c = std::int64_t(blockIdx.x) * 32 + threadIdx.x;
  const std::int64_t p = blockIdx.y;
  const std::int64_t end = min(R, (p + 1) * part_rows);
  double n = 0, mean = 0, m2 = 0;
  if (c < C) {
    for (std::int64_t r = p * part_rows + threadIdx.y; r < end; r += 8) {
      const double v = double(x[r * C + c]);
      n += 1;
      const double d = v - mean;
      mean += d / n;
      m2 += d * (v - mean);
    }
  }
  s[0][threadIdx.y][threadIdx.x] = n;
  s[1][threadIdx.y][threadIdx.x] = mean;
  s[2][threadIdx.y][threadIdx.x] = m2;
  __syncthreads();
  if (threadIdx.y == 0 && c < C) {
    for (int y = 1; y < 8; ++y) {
      const double nb = s[0][y][threadIdx.x];
      if (nb == 0) continue;
      const double total = n + nb, delta = s[1][y][threadIdx.x] - mean;
      mean += delta * nb / total;
      m2 += s[2][y][threadIdx.x] + delta * delta * n * nb / total;
      n = total;
    }
    partial[(p * 3) * C + c] = n;
    partial[(p * 3 + 1) * C + c] = mean;
    partial[(p * 3 + 2) * C + c] = m2;
  }
}

// (Grid-stride, as merge_sums_kernel.)
template <class T>
__global__ void merge_moments_kernel(const double* partial, std::int64_t parts, std::int64_t C,
                                     T* mean_out, T* var_out) {
  const std::int64_t step = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t c = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; c < C; c += step) {
    double n = 0, mean = 0, m2 = 0;
    for (std::int64_t p = 0; p < parts; ++p) {
      const double nb = partial[(p * 3) * C + c];
      if (nb == 0) continue;
      const double total = n + nb, delta = partial[(p * 3 + 1) * C + c] - mean;
      mean += delta * nb / total;
      m2 += partial[(p * 3 + 2) * C + c] + delta * delta * n * nb / total;
      n = total;
    }
    mean_out[c] = T(mean);
    var_out[c] = T(m2 / n);
  }
}

unsigned row_blocks(std::int64_t rows) {
  return unsigned(std::clamp<std::int64_t>(rows, 1, kMaxRowBlocks));
}

template <class T>
void moments(const KernelArgs& a) {
  const std::int64_t A = a.in[0].sizes[0], B = a.in[0].sizes[1];
  const T* x = static_cast<const T*>(a.in[0].data);
  T* mean = static_cast<T*>(a.out.data);
  T* var = static_cast<T*>(a.in[1].data);
  const cudaStream_t s = prepare(a.device);
  if (a.ints[0] == 1) {
    moments_rows_kernel<T><<<row_blocks(A), kRowThreads, 0, s>>>(x, A, B, mean, var);
    check_launch("moments (cuda)");
    return;
  }
  const Partitions parts = partitions(A);
  const Tensor partial = Tensor::empty(Shape{parts.count * 3 * B}, DType::f64, a.device);
  const dim3 grid(unsigned((B + 31) / 32), unsigned(parts.count));
  column_moments_kernel<T>
      <<<grid, dim3(32, 8), 0, s>>>(x, A, B, parts.rows, static_cast<double*>(partial.address()));
  check_launch("moments (cuda)");
  merge_moments_kernel<T><<<blocks_for(B), kThreads, 0, s>>>(
      static_cast<const double*>(partial.address()), parts.count, B, mean, var);
  check_launch("moments (cuda)");
}

template <class T>
void layer_norm(const KernelArgs& a) {
  const std::int64_t M = a.in[0].sizes[0], K = a.in[0].sizes[1];
  const cudaStream_t s = prepare(a.device);
  layer_norm_kernel<T><<<row_blocks(M), kRowThreads, 0, s>>>(
      static_cast<const T*>(a.in[0].data), static_cast<const T*>(a.in[1].data),
      static_cast<const T*>(a.in[2].data), static_cast<T*>(a.out.data), M, K, a.scalar[0]);
  check_launch("layer_norm (cuda)");
}

// dscale[k] += g * xhat and doffset[k] += g over the rows, from the per-row statistics.
template <class T>
struct LayerNormParamGrads {
  const T* g;
  const T* x;
  const double* stats;
  std::int64_t K;
  __device__ void operator()(std::int64_t r, std::int64_t k, double& dscale,
                             double& doffset) const {
    const T gv = g[r * K + k];
    const T xhat = (x[r * K + k] - T(stats[2 * r])) * T(stats[2 * r + 1]);
    dscale = double(gv * xhat);
    doffset = double(gv);
  }
};

template <class T>
void layer_norm_backward(const KernelArgs& a) {
  const std::int64_t M = a.in[1].sizes[0], K = a.in[1].sizes[1];
  T* work = static_cast<T*>(a.in[2].data);
  const T* g = static_cast<const T*>(a.in[0].data);
  const T* x = static_cast<const T*>(a.in[1].data);
  const bool want_params = a.ints[1] || a.ints[2];
  const cudaStream_t s = prepare(a.device);
  const Tensor stats = want_params ? Tensor::empty(Shape{2 * M}, DType::f64, a.device) : Tensor();
  double* stats_data = want_params ? static_cast<double*>(stats.address()) : nullptr;
  layer_norm_backward_kernel<T><<<row_blocks(M), kRowThreads, 0, s>>>(
      g, x, a.ints[0] ? work : nullptr, static_cast<T*>(a.out.data), stats_data, M, K, a.scalar[0]);
  check_launch("layer_norm_backward (cuda)");
  if (want_params)
    column_sums(LayerNormParamGrads<T>{g, x, stats_data, K}, M, K, work + K, K, a.device, s,
                "layer_norm_backward (cuda)");
}

template <class T>
__global__ void channel_affine_kernel(const T* x, const T* scale, const T* shift, T* y,
                                      std::int64_t n, std::int64_t C) {
  const std::int64_t step = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const std::int64_t c = i % C;
    y[i] = x[i] * scale[c] + shift[c];
  }
}

template <class T>
__global__ void batch_norm_backward_kernel(const T* g, const T* x, const T* k, T* out,
                                           std::int64_t n, std::int64_t C) {
  const std::int64_t step = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const std::int64_t c = i % C;
    out[i] = g[i] * k[c] + x[i] * k[C + c] + k[2 * C + c];
  }
}

template <class T>
void channel_affine(const KernelArgs& a) {
  const std::int64_t n = a.out.numel(), C = a.in[0].sizes[1];
  if (n == 0) return;
  const cudaStream_t s = prepare(a.device);
  channel_affine_kernel<T><<<blocks_for(n), kThreads, 0, s>>>(
      static_cast<const T*>(a.in[0].data), static_cast<const T*>(a.in[1].data),
      static_cast<const T*>(a.in[2].data), static_cast<T*>(a.out.data), n, C);
  check_launch("batch_norm (cuda)");
}

template <class T>
struct BatchNormSums {
  const T* g;
  const T* x;
  const T* mean;
  std::int64_t C;
  __device__ void operator()(std::int64_t r, std::int64_t c, double& sg, double& sgx) const {
    const double gv = double(g[r * C + c]);
    sg = gv;
    sgx = gv * (double(x[r * C + c]) - double(mean[c]));
  }
};

template <class T>
void batch_norm_backward_reduce(const KernelArgs& a) {
  const std::int64_t R = a.in[0].sizes[0], C = a.in[0].sizes[1];
  const cudaStream_t s = prepare(a.device);
  column_sums(
      BatchNormSums<T>{static_cast<const T*>(a.in[0].data), static_cast<const T*>(a.in[1].data),
                       static_cast<const T*>(a.in[2].data), C},
      R, C, static_cast<T*>(a.out.data), C, a.device, s, "batch_norm_backward (cuda)");
}

template <class T>
void batch_norm_backward(const KernelArgs& a) {
  const std::int64_t n = a.out.numel(), C = a.in[0].sizes[1];
  if (n == 0) return;
  const cudaStream_t s = prepare(a.device);
  batch_norm_backward_kernel<T><<<blocks_for(n), kThreads, 0, s>>>(
      static_cast<const T*>(a.in[0].data), static_cast<const T*>(a.in[1].data),
      static_cast<const T*>(a.in[2].data), static_cast<T*>(a.out.data), n, C);
  check_launch("batch_norm_backward (cuda)");
}

// One thread per Philox block of 4 elements (the words bernoulli's uniform uses).
template <class T>
__global__ void dropout_kernel(Layout<2> l, std::int64_t n, const T* x, T* out, KeySource source,
                               std::uint32_t threshold, T keep_prob, bool dense) {
  std::uint32_t key[2];
  source.load(key);
  const std::int64_t blocks = (n + 3) / 4;
  const std::int64_t step = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t b = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; b < blocks;
       b += step) {
    std::uint32_t w[4];
    rng::block_words(key, std::uint64_t(b), w);
    for (int j = 0; j < 4; ++j) {
      const std::int64_t i = 4 * b + j;
      if (i >= n) break;
      std::int64_t off[2] = {i, i};
      if (!dense) l.element_offsets(i, off);
      out[off[0]] = (w[j] >> 8) < threshold ? x[off[1]] / keep_prob : T(0);
    }
  }
}

template <class T>
void dropout(const KernelArgs& a) {
  const BufferView* views[2] = {&a.out, &a.in[0]};
  const Layout<2> l = coalesce(views);
  const std::int64_t n = a.out.numel();
  if (n == 0) return;
  const bool dense = l.rank == 1 && l.strides[0][0] == 1 && l.strides[1][0] == 1;
  const std::uint32_t threshold =
      std::uint32_t(std::min(::ceil(a.scalar[0] * 16777216.0), 16777216.0));
  const cudaStream_t s = prepare(a.device);
  dropout_kernel<T><<<blocks_for((n + 3) / 4), kThreads, 0, s>>>(
      l, n, static_cast<const T*>(a.in[0].data), static_cast<T*>(a.out.data), key_source(a),
      threshold, T(a.scalar[0]), dense);
  check_launch("dropout (cuda)");
}

template <class T>
void register_for(Registry& r) {
  const DType t = dtype_of<T>();
  r.add(Op::Moments, DeviceKind::cuda, t, moments<T>);
  r.add(Op::LayerNorm, DeviceKind::cuda, t, layer_norm<T>);
  r.add(Op::LayerNormBackward, DeviceKind::cuda, t, layer_norm_backward<T>);
  r.add(Op::ChannelAffine, DeviceKind::cuda, t, channel_affine<T>);
  r.add(Op::BatchNormBackwardReduce, DeviceKind::cuda, t, batch_norm_backward_reduce<T>);
  r.add(Op::BatchNormBackward, DeviceKind::cuda, t, batch_norm_backward<T>);
  r.add(Op::Dropout, DeviceKind::cuda, t, dropout<T>);
}

}  // namespace

void register_norm(Registry& r) {
  register_for<float>(r);
  register_for<double>(r);
}

}  // namespace elegy::kernels::cuda
