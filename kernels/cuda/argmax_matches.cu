// ArgMaxMatches on CUDA: 1.0f where the ArgMax of a row of dense [R, K] scores is the row's
// label (int32, int64 or uint8, any stride), else 0.0f. A warp per row: each lane keeps the best
// (value, index) of every 32nd element, then a shuffle tree combines them with the ArgMax
// reducer's total order (reduce_common.cuh: the first maximum, a NaN the maximum), so the index
// compared is the one the ArgMax kernel returns.
#include <cstdint>

#include "elegy/kernels/argmax_matches_args.hpp"
#include "elegy/kernels/cuda/families.hpp"
#include "elegy/kernels/cuda/launch.cuh"
#include "elegy/kernels/cuda/reduce_common.cuh"

namespace elegy::kernels::cuda {
namespace {

constexpr const char* kName = "argmax_matches (cuda)";
constexpr int kRowsPerBlock = kThreads / kWarp;

template <class T>
struct ArgMaxCombine {
  using Rd = ArgReducer<true, T, false>;
  __device__ typename Rd::Acc operator()(const typename Rd::Acc& a,
                                         const typename Rd::Acc& b) const {
    return Rd::combine(a, b);
  }
};

template <class T, class L>
__global__ void argmax_matches_kernel(const T* scores, std::int64_t R, std::int64_t K,
                                      const L* labels, std::int64_t label_stride, float* out) {
  using Rd = ArgReducer<true, T, false>;
  const int lane = int(threadIdx.x) % kWarp;
  const std::int64_t step = std::int64_t(gridDim.x) * kRowsPerBlock;
  // (r is the same for the whole warp: every lane reaches the shuffles.)
  for (std::int64_t r = std::int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp; r < R;
       r += step) {
    const T* row = scores + r * K;
    typename Rd::Acc best = Rd::identity();
    for (std::int64_t j = lane; j < K; j += kWarp) best = Rd::combine(best, Rd::load(row[j], j));
    best = warp_reduce(best, ArgMaxCombine<T>{});
    if (lane == 0) out[r] = std::int64_t(labels[r * label_stride]) == best.index ? 1.0f : 0.0f;
  }
}

template <class T, class L>
void launch(const KernelArgs& a) {
  const std::int64_t R = a.in[0].sizes[0], K = a.in[0].sizes[1];
  if (R == 0) return;
  const cudaStream_t s = prepare(a.device);
  const auto blocks =
      unsigned(std::min<std::int64_t>((R + kRowsPerBlock - 1) / kRowsPerBlock, kMaxBlocks));
  argmax_matches_kernel<T, L><<<blocks, kThreads, 0, s>>>(
      static_cast<const T*>(a.in[0].data), R, K, static_cast<const L*>(a.in[1].data),
      a.in[1].strides[0], static_cast<float*>(a.out.data));
  check_launch(kName);
}

template <class T>
void argmax_matches(const KernelArgs& a) {
  with_argmax_matches_labels(kName, a, [&]<class L>() { launch<T, L>(a); });
}

}  // namespace

void register_argmax_matches(Registry& r) {
  r.add(Op::ArgMaxMatches, DeviceKind::cuda, DType::f32, argmax_matches<float>);
  r.add(Op::ArgMaxMatches, DeviceKind::cuda, DType::f64, argmax_matches<double>);
}

}  // namespace elegy::kernels::cuda
