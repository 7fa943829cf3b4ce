// The values of a small tensor on their way to the host. On a GPU the copy is queued behind the
// work that computes them (into pinned memory, with an event), and the host waits only in
// values(), for that copy alone: a training step can check its labels without stopping the
// host between its forward and backward passes. On the CPU the values are read at once.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "elegy/core/tensor.hpp"

namespace elegy {

class PendingRead {
 public:
  // `t`: int32 or int64 (widened on the host), at most 32 elements. `op` names the caller in
  // errors.
  PendingRead(const Tensor& t, const char* op);
  // Waits for the copy (once) and returns the values in row-major order.
  const std::vector<std::int64_t>& values();

 private:
  const char* op_;
  Tensor source_;                      // alive until the copy has landed
  std::vector<std::int64_t> values_;   // final once device_read_ is empty
  bool narrow_ = false;                // int32 values, landing in values_' first half
  std::shared_ptr<void> device_read_;  // cuda::HostRead while the copy is in flight
};

}  // namespace elegy
