// The positions of an index list sorted by the target each one points at, on the device: what
// ScatterAdd needs to add every target's updates in one thread, in the CPU's order, with no
// atomics and without the host seeing the indices (a training step's embedding gradient must
// not stop the host).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "elegy/core/device.hpp"
#include "elegy/kernels/cuda/device_scratch.cuh"

namespace elegy::kernels::cuda {

class TargetOrder {
 public:
  // `dense`: `count` indices normalised into [0, n), or negative for a bad index the caller
  // checks (those sort last, as target n, and are skipped). Queued on `s`; a stable radix sort,
  // so the positions of one target stay in increasing order.
  TargetOrder(Device device, cudaStream_t s, const std::int64_t* dense, std::int64_t count,
              std::int64_t n);
  TargetOrder(const TargetOrder&) = delete;
  TargetOrder& operator=(const TargetOrder&) = delete;

  // The targets in increasing order (n for a bad index), and the position each came from.
  const std::uint64_t* targets() const;
  const std::int64_t* positions() const;

 private:
  std::int64_t count_;
  DeviceScratch lists_;  // targets in, positions in, targets, positions: count words each
};

}  // namespace elegy::kernels::cuda
