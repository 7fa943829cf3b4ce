// ArgMaxMatches on CUDA: 1.0f where the ArgMax of a row of dense [R, K] scores is the row's
// label (int32, int64 or uint8, any stride), else 0.0f. A warp per row (row_matches): each lane
// keeps the best (value, index) of every 32nd element, then a shuffle tree combines them with
// the ArgMax reducer's total order (reduce_common.cuh: the first maximum, a NaN the maximum), so
// the index compared is the one the ArgMax kernel returns. ArgMaxMatchCount counts those rows
// (below).
#include <algorithm>
#include <cstdint>

#include "elegy/core/cuda/cuda_runtime.hpp"
#include "elegy/kernels/argmax_matches_args.hpp"
#include "elegy/kernels/cuda/device_scratch.cuh"
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

// Whether row r's ArgMax is its label, in lane 0: each lane keeps the best of every 32nd score,
// then a shuffle tree combines them. Every lane of the warp must call it.
template <class T, class L>
__device__ bool row_matches(const T* scores, std::int64_t r, std::int64_t K, const L* labels,
                            std::int64_t label_stride, int lane) {
  using Rd = ArgReducer<true, T, false>;
  const T* row = scores + r * K;
  typename Rd::Acc best = Rd::identity();
  for (std::int64_t j = lane; j < K; j += kWarp) best = Rd::combine(best, Rd::load(row[j], j));
  best = warp_reduce(best, ArgMaxCombine<T>{});
  return std::int64_t(labels[r * label_stride]) == best.index;
}

template <class T, class L>
__global__ void argmax_matches_kernel(const T* scores, std::int64_t R, std::int64_t K,
                                      const L* labels, std::int64_t label_stride, float* out) {
  const int lane = int(threadIdx.x) % kWarp;
  const std::int64_t step = std::int64_t(gridDim.x) * kRowsPerBlock;
  // (r is the same for the whole warp: every lane reaches the shuffles.)
  for (std::int64_t r = std::int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp; r < R;
       r += step) {
    const bool hit = row_matches(scores, r, K, labels, label_stride, lane);
    if (lane == 0) out[r] = hit ? 1.0f : 0.0f;
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

// ArgMaxMatchCount: the same rows, counted as integers (exact, so the order blocks add in does
// not matter) and rounded to float32 once, as the CPU does. One block when the scores are few
// (a training batch: one launch), else blocks of at least kCountScoresPerBlock scores writing
// their counts and one block adding them.
constexpr const char* kCountName = "argmax_match_count (cuda)";
constexpr std::int64_t kCountScoresPerBlock = std::int64_t(1) << 15;
constexpr std::int64_t kMaxCountBlocks = 1024;

struct AddCounts {
  __device__ unsigned long long operator()(unsigned long long a, unsigned long long b) const {
    return a + b;
  }
};

// Writes the block's count to partial[blockIdx.x], or the float total to *out when the grid is
// one block.
template <class T, class L>
__global__ void argmax_match_count_kernel(const T* scores, std::int64_t R, std::int64_t K,
                                          const L* labels, std::int64_t label_stride,
                                          unsigned long long* partial, float* out) {
  const int lane = int(threadIdx.x) % kWarp;
  const std::int64_t step = std::int64_t(gridDim.x) * kRowsPerBlock;
  unsigned long long hits = 0;  // (lane 0's of each warp; the others stay 0)
  // (r is the same for the whole warp: every lane reaches the shuffles.)
  for (std::int64_t r = std::int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp; r < R;
       r += step) {
    const bool hit = row_matches(scores, r, K, labels, label_stride, lane);
    if (lane == 0 && hit) ++hits;
  }
  hits = block_all_reduce(hits, AddCounts{});  // (every thread of the block calls it)
  if (threadIdx.x != 0) return;
  if (gridDim.x == 1)
    *out = float(hits);
  else
    partial[blockIdx.x] = hits;
}

__global__ void add_counts_kernel(const unsigned long long* partial, int n, float* out) {
  unsigned long long total = 0;
  for (int i = int(threadIdx.x); i < n; i += kThreads) total += partial[i];
  total = block_all_reduce(total, AddCounts{});
  if (threadIdx.x == 0) *out = float(total);
}

template <class T, class L>
void launch_count(const KernelArgs& a) {
  const std::int64_t R = a.in[0].sizes[0], K = a.in[0].sizes[1];
  const cudaStream_t s = prepare(a.device);
  float* out = static_cast<float*>(a.out.data);
  if (R == 0) {
    ELEGY_CUDA_CHECK(cudaMemsetAsync(out, 0, sizeof(float), s), kCountName);  // (0.0f's bits)
    return;
  }
  const std::int64_t by_scores = (R * K + kCountScoresPerBlock - 1) / kCountScoresPerBlock;
  const std::int64_t by_rows = (R + kRowsPerBlock - 1) / kRowsPerBlock;
  const int blocks =
      int(std::clamp<std::int64_t>(std::min(by_scores, by_rows), 1, kMaxCountBlocks));
  const T* scores = static_cast<const T*>(a.in[0].data);
  const L* labels = static_cast<const L*>(a.in[1].data);
  if (blocks == 1) {
    argmax_match_count_kernel<T, L>
        <<<1, kThreads, 0, s>>>(scores, R, K, labels, a.in[1].strides[0], nullptr, out);
    check_launch(kCountName);
    return;
  }
  const DeviceScratch partial(a.device, std::size_t(blocks) * sizeof(unsigned long long));
  auto* counts = static_cast<unsigned long long*>(partial.get());
  argmax_match_count_kernel<T, L>
      <<<unsigned(blocks), kThreads, 0, s>>>(scores, R, K, labels, a.in[1].strides[0], counts, out);
  check_launch(kCountName);
  add_counts_kernel<<<1, kThreads, 0, s>>>(counts, blocks, out);
  check_launch(kCountName);
}

template <class T>
void argmax_match_count(const KernelArgs& a) {
  with_argmax_matches_labels(
      kCountName, a, [&]<class L>() { launch_count<T, L>(a); }, /*count=*/true);
}

}  // namespace

void register_argmax_matches(Registry& r) {
  r.add(Op::ArgMaxMatches, DeviceKind::cuda, DType::f32, argmax_matches<float>);
  r.add(Op::ArgMaxMatches, DeviceKind::cuda, DType::f64, argmax_matches<double>);
  r.add(Op::ArgMaxMatchCount, DeviceKind::cuda, DType::f32, argmax_match_count<float>);
  r.add(Op::ArgMaxMatchCount, DeviceKind::cuda, DType::f64, argmax_match_count<double>);
}

}  // namespace elegy::kernels::cuda
