// TargetOrder: CUB's device radix sort of (target, position) pairs, over only the bits a target
// below n+1 can have.
#include "elegy/kernels/cuda/index_sort.cuh"

#include <cub/device/device_radix_sort.cuh>

#include <algorithm>
#include <bit>

#include "elegy/core/error.hpp"
#include "elegy/kernels/cuda/launch.cuh"

namespace elegy::kernels::cuda {
namespace {

__global__ void sort_keys_kernel(const std::int64_t* dense, std::int64_t count, std::int64_t n,
                                 std::uint64_t* targets, std::int64_t* positions) {
  const std::int64_t step = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += step) {
    const std::int64_t k = dense[i];
    targets[i] = k < 0 ? std::uint64_t(n) : std::uint64_t(k);
    positions[i] = i;
  }
}

}  // namespace

TargetOrder::TargetOrder(Device device, cudaStream_t s, const std::int64_t* dense,
                         std::int64_t count, std::int64_t n)
    : count_(count), lists_(device, std::size_t(count) * 4 * sizeof(std::int64_t)) {
  constexpr const char* kOp = "index_add (cuda sort)";
  if (count == 0) return;
  // lists_: targets in, positions in, targets, positions (count words each).
  auto* targets_in = static_cast<std::uint64_t*>(lists_.get());
  auto* positions_in = reinterpret_cast<std::int64_t*>(targets_in + count);
  auto* targets_out = targets_in + 2 * count;
  auto* positions_out = positions_in + 2 * count;
  sort_keys_kernel<<<blocks_for(count), kThreads, 0, s>>>(dense, count, n, targets_in,
                                                          positions_in);
  check_launch(kOp);
  // Only the bits a target in [0, n] uses: one 8-bit pass per byte of n, not eight.
  const int end_bit = std::max(1, int(std::bit_width(std::uint64_t(n))));
  const auto sort = [&](void* temp, std::size_t& temp_bytes) {
    ELEGY_CUDA_CHECK(
        cub::DeviceRadixSort::SortPairs(temp, temp_bytes, targets_in, targets_out, positions_in,
                                        positions_out, count, 0, end_bit, s),
        kOp);
  };
  std::size_t temp_bytes = 0;
  sort(nullptr, temp_bytes);  // asks for the scratch size only
  // Freed stream-ordered when this scope ends: the sort queued before it still sees it.
  DeviceScratch temp(device, std::max<std::size_t>(temp_bytes, 1));
  sort(temp.get(), temp_bytes);
}

const std::uint64_t* TargetOrder::targets() const {
  return static_cast<const std::uint64_t*>(lists_.get()) + 2 * count_;
}

const std::int64_t* TargetOrder::positions() const {
  return static_cast<const std::int64_t*>(lists_.get()) + 3 * count_;
}

}  // namespace elegy::kernels::cuda
