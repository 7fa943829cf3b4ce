// SumSquaresMany on CUDA: scale * the sum over a list of dense float tensors (view_list.hpp) of
// their sums of squares, the global L2 norm's square of a parameter tree, in two launches
// whatever the number of tensors (one more per kTensorsPerLaunch tensors), where a SumSquares
// per tensor and a ScaledSum over their results took one launch or two per tensor and one more.
//
//   partial_squares: each tensor gets its own range of blocks (as the multi-tensor optimizer
//     updates do, optim.cu); block b of a tensor sums the squares of the tensor's elements
//     b, b + B, b + 2B, ... (B = its blocks x kThreads, in 16-byte packs where the tensor starts
//     16-byte aligned) and writes one partial;
//   total_squares: one block adds every partial, in block order, and writes the scaled total.
//
// The grouping depends on the sizes and the alignment only, so the result is reproducible (no
// atomics); it rounds differently from the CPU's pairwise sums, within a few ulp.
#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "elegy/core/cuda/cuda_runtime.hpp"
#include "elegy/core/error.hpp"
#include "elegy/kernels/cuda/device_scratch.cuh"
#include "elegy/kernels/cuda/families.hpp"
#include "elegy/kernels/cuda/launch.cuh"
#include "elegy/kernels/cuda/reduce_common.cuh"
#include "elegy/kernels/view_list.hpp"

namespace elegy::kernels::cuda {
namespace {

constexpr const char* kName = "sum_of_squares (cuda)";
// The table is a kernel argument (at most 4 KiB): 64 entries of 24 bytes.
constexpr int kTensorsPerLaunch = 64;
// Blocks one tensor gets: enough elements per thread to hide the load latency (16 packs of 16
// bytes), at most kMaxBlocksPerTensor; larger tensors loop.
constexpr std::int64_t kElementsPerBlock = std::int64_t(kThreads) * 64;
constexpr std::int64_t kMaxBlocksPerTensor = 1024;

template <class T>
struct SquaresTable {
  const T* data[kTensorsPerLaunch];
  std::int64_t numel[kTensorsPerLaunch];
  std::int64_t
      first_block[kTensorsPerLaunch + 1];  // this launch's blocks of tensor t: [first, next)
  std::int64_t base;                       // this launch's block 0 writes partial `base`
  int count;
};

template <class T>
__device__ __forceinline__ T square_sum(const Pack<T>& p, T acc) {
#pragma unroll
  for (int j = 0; j < Pack<T>::kWidth; ++j) acc += p.v[j] * p.v[j];
  return acc;
}

template <class T>
__global__ void partial_squares(SquaresTable<T> table, T* partials) {
  const auto b = std::int64_t(blockIdx.x);
  int t = 0;
  while (t + 1 < table.count && table.first_block[t + 1] <= b) ++t;
  const std::int64_t blocks = table.first_block[t + 1] - table.first_block[t];
  const std::int64_t local = b - table.first_block[t];
  const T* x = table.data[t];
  const std::int64_t n = table.numel[t];
  const std::int64_t step = blocks * kThreads;
  T acc = T(0);
  std::int64_t done = 0;
  if ((reinterpret_cast<std::uintptr_t>(x) & 15u) == 0) {  // 16-byte packs
    constexpr int kWidth = Pack<T>::kWidth;
    const std::int64_t packs = n / kWidth;
    const auto* p = reinterpret_cast<const Pack<T>*>(x);
    for (std::int64_t i = local * kThreads + threadIdx.x; i < packs; i += step)
      acc = square_sum(p[i], acc);
    done = packs * kWidth;
  }
  for (std::int64_t i = done + local * kThreads + threadIdx.x; i < n; i += step) acc += x[i] * x[i];
  acc = block_all_reduce(acc, SumCombine{});
  if (threadIdx.x == 0) partials[table.base + b] = acc;
}

template <class T>
__global__ void total_squares(const T* partials, std::int64_t count, double scale, T* out) {
  T acc = T(0);
  for (std::int64_t i = threadIdx.x; i < count; i += kThreads) acc += partials[i];
  acc = block_all_reduce(acc, SumCombine{});
  if (threadIdx.x == 0) {
    if constexpr (std::is_same_v<T, float>)
      *out = __fmul_rn(acc, float(scale));
    else
      *out = __dmul_rn(acc, scale);
  }
}

std::int64_t blocks_of(std::int64_t numel) {
  return std::min(kMaxBlocksPerTensor, (numel + kElementsPerBlock - 1) / kElementsPerBlock);
}

template <class T>
void sum_squares_many(const KernelArgs& a) {
  const ViewList& list = view_list_of(kName, a);
  ELEGY_CHECK(list.count > 0 && a.out.numel() == 1, kName,
              "adds a non-empty list of tensors into one value, got ", list.count, " tensors into ",
              a.out.numel(), " elements");
  std::vector<std::int64_t> first(std::size_t(list.count) + 1, 0);  // each tensor's first block
  for (int t = 0; t < list.count; ++t) {
    const BufferView& v = list.views[t];
    ELEGY_CHECK((v.numel() == 0 || v.is_contiguous()) && v.dtype == dtype_of<T>(), kName, "tensor ",
                t, " of the list is not dense ", name(dtype_of<T>()), " (", name(v.dtype), ")");
    first[std::size_t(t) + 1] = first[std::size_t(t)] + blocks_of(v.numel());
  }
  const std::int64_t partial_count = first.back();
  const cudaStream_t s = prepare(a.device);
  DeviceScratch partials(a.device,
                         std::size_t(std::max<std::int64_t>(partial_count, 1)) * sizeof(T));
  auto* partial = static_cast<T*>(partials.get());
  for (int begin = 0; begin < list.count; begin += kTensorsPerLaunch) {
    const int end = std::min(list.count, begin + kTensorsPerLaunch);
    SquaresTable<T> table{};
    table.count = 0;
    for (int t = begin; t < end; ++t) {
      if (blocks_of(list.views[t].numel()) == 0) continue;  // empty: adds nothing
      table.data[table.count] = static_cast<const T*>(list.views[t].data);
      table.numel[table.count] = list.views[t].numel();
      table.first_block[table.count] = first[std::size_t(t)];
      ++table.count;
    }
    if (table.count == 0) continue;
    table.first_block[table.count] = first[std::size_t(end)];
    table.base = table.first_block[0];
    for (int t = 0; t <= table.count; ++t) table.first_block[t] -= table.base;
    partial_squares<T>
        <<<unsigned(table.first_block[table.count]), kThreads, 0, s>>>(table, partial);
    check_launch(kName);
  }
  total_squares<T>
      <<<1, kThreads, 0, s>>>(partial, partial_count, a.scalar[0], static_cast<T*>(a.out.data));
  check_launch(kName);
}

}  // namespace

void register_sum_squares_many(Registry& r) {
  r.add(Op::SumSquaresMany, DeviceKind::cuda, DType::f32, sum_squares_many<float>);
  r.add(Op::SumSquaresMany, DeviceKind::cuda, DType::f64, sum_squares_many<double>);
}

}  // namespace elegy::kernels::cuda
