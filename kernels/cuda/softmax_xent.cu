// Softmax cross-entropy with integer labels on CUDA, forward (SoftmaxXent) and backward
// (SoftmaxXentBackward), float32/float64: one warp per row, with softmax.cu's formulas (the
// NaN-aware maximum m, s = sum exp(z - m)), so loss = -((z[label] - m) - log(s)) and
// dz = g * (exp(z - m) * (1 / s) - (j == label)). A label outside [0, K) gives NaN (the CUDA op
// does not read labels back to check them; the losses do, unless told not to).
#include <cstdint>
#include <limits>

#include "elegy/core/error.hpp"
#include "elegy/kernels/cuda/families.hpp"
#include "elegy/kernels/cuda/launch.cuh"
#include "elegy/kernels/cuda/math.cuh"
#include "elegy/kernels/cuda/reduce_common.cuh"

namespace elegy::kernels::cuda {
namespace {

constexpr int kRowsPerBlock = kThreads / kWarp;

// This warp's row: m and s over lanes taking every 32nd element.
template <class T>
__device__ void row_stats(const T* z, std::int64_t k, int lane, T& m, T& s) {
  m = -std::numeric_limits<T>::infinity();
  for (std::int64_t j = lane; j < k; j += kWarp) m = MaxCombine{}(m, z[j]);
  m = group_all_reduce<kWarp>(m, MaxCombine{});
  s = T(0);
  for (std::int64_t j = lane; j < k; j += kWarp) s += exp_of(z[j] - m);
  s = group_all_reduce<kWarp>(s, SumCombine{});
}

// This warp's first row and the stride to its next; the loop bound is the same for the whole
// warp, so the shuffles see every lane.
__device__ std::int64_t first_row() {
  return std::int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp;
}
__device__ std::int64_t row_step() {
  return std::int64_t(gridDim.x) * kRowsPerBlock;
}

// L: the labels' type, int32 or int64 (read as they come, no cast kernel).
template <class T, class L>
__global__ void xent_kernel(std::int64_t rows, std::int64_t k, const T* z, const L* labels,
                            T* loss) {
  const int lane = threadIdx.x % kWarp;
  for (std::int64_t r = first_row(); r < rows; r += row_step()) {
    const T* zr = z + r * k;
    T m, s;
    row_stats(zr, k, lane, m, s);
    if (lane == 0) {
      const std::int64_t label = labels[r];
      loss[r] = label >= 0 && label < k ? -((zr[label] - m) - log_of(s))
                                        : std::numeric_limits<T>::quiet_NaN();
    }
  }
}

template <class T, class L>
__global__ void xent_backward_kernel(std::int64_t rows, std::int64_t k, const T* z, const L* labels,
                                     const T* g, std::int64_t g_stride, T* dz) {
  const int lane = threadIdx.x % kWarp;
  for (std::int64_t r = first_row(); r < rows; r += row_step()) {
    const T* zr = z + r * k;
    T m, s;
    row_stats(zr, k, lane, m, s);
    const std::int64_t label = labels[r];
    const T gr = label >= 0 && label < k ? g[r * g_stride] : std::numeric_limits<T>::quiet_NaN();
    const T inv = T(1) / s;
    for (std::int64_t j = lane; j < k; j += kWarp)
      dz[r * k + j] = gr * (exp_of(zr[j] - m) * inv - T(j == label));
  }
}

unsigned row_blocks(std::int64_t rows) {
  return unsigned(
      std::clamp<std::int64_t>((rows + kRowsPerBlock - 1) / kRowsPerBlock, 1, kMaxBlocks));
}

template <class T, class L>
void launch_xent(const KernelArgs& a, cudaStream_t s) {
  const std::int64_t rows = a.in[0].sizes[0], k = a.in[0].sizes[1];
  xent_kernel<T, L><<<row_blocks(rows), kThreads, 0, s>>>(
      rows, k, static_cast<const T*>(a.in[0].data), static_cast<const L*>(a.in[1].data),
      static_cast<T*>(a.out.data));
}

// The labels' dtype is not part of the registry's key: the launchers check it.
void check_label_dtype(const KernelArgs& a) {
  ELEGY_CHECK(a.in[1].dtype == DType::i32 || a.in[1].dtype == DType::i64,
              "softmax_cross_entropy_with_integer_labels (cuda)",
              "the kernel reads int32 or int64 labels, got ", a.in[1].dtype);
}

template <class T>
void xent(const KernelArgs& a) {
  check_label_dtype(a);
  if (a.in[0].sizes[0] == 0) return;
  const cudaStream_t s = prepare(a.device);
  if (a.in[1].dtype == DType::i32)
    launch_xent<T, std::int32_t>(a, s);
  else
    launch_xent<T, std::int64_t>(a, s);
  check_launch("softmax_cross_entropy_with_integer_labels (cuda)");
}

template <class T, class L>
void launch_xent_backward(const KernelArgs& a, cudaStream_t s) {
  const std::int64_t rows = a.in[0].sizes[0], k = a.in[0].sizes[1];
  xent_backward_kernel<T, L><<<row_blocks(rows), kThreads, 0, s>>>(
      rows, k, static_cast<const T*>(a.in[0].data), static_cast<const L*>(a.in[1].data),
      static_cast<const T*>(a.in[2].data), a.in[2].strides[0], static_cast<T*>(a.out.data));
}

template <class T>
void xent_backward(const KernelArgs& a) {
  check_label_dtype(a);
  if (a.in[0].sizes[0] * a.in[0].sizes[1] == 0) return;
  const cudaStream_t s = prepare(a.device);
  if (a.in[1].dtype == DType::i32)
    launch_xent_backward<T, std::int32_t>(a, s);
  else
    launch_xent_backward<T, std::int64_t>(a, s);
  check_launch("softmax_cross_entropy_with_integer_labels backward (cuda)");
}

}  // namespace

void register_softmax_xent(Registry& r) {
  r.add(Op::SoftmaxXent, DeviceKind::cuda, DType::f32, xent<float>);
  r.add(Op::SoftmaxXent, DeviceKind::cuda, DType::f64, xent<double>);
  r.add(Op::SoftmaxXentBackward, DeviceKind::cuda, DType::f32, xent_backward<float>);
  r.add(Op::SoftmaxXentBackward, DeviceKind::cuda, DType::f64, xent_backward<double>);
}

}  // namespace elegy::kernels::cuda
