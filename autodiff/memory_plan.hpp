// Where a compiled step's blocks go (autodiff/step_recording.hpp). A recorded step keeps every
// block it allocated, so a replay writes the same addresses; laid end to end they take more
// than the eager step ever held at once (1.0-1.3x its peak on the benchmark models), since
// most are temporaries dead long before the step ends. A MemoryPlan packs them by lifetime: the
// first recording tells when each block was allocated and when the step last held it, and
// blocks never alive at the same time share bytes of one arena per device. The second
// recording allocates from the arenas at the planned offsets (checking, block by block, that
// what it shares bytes with is dead by then), and the replays reuse its addresses.
#pragma once

#include <cstddef>
#include <limits>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "elegy/core/device.hpp"

namespace elegy::autodiff {

// One block of a recorded step: allocated as the step's `first`-th block, alive until the
// step's `end`-th allocation (the first one made after its last reference went), or to the
// step's end (kAliveAtEnd).
struct BlockLifetime {
  static constexpr std::size_t kAliveAtEnd = std::numeric_limits<std::size_t>::max();
  Device device;
  std::size_t nbytes = 0;
  std::size_t first = 0;
  std::size_t end = kAliveAtEnd;
};

class MemoryPlan {
 public:
  // Offsets are multiples of this (a CUDA kernel's 16-byte vector loads, a cache line).
  static constexpr std::size_t kAlignment = 256;

  struct Placement {
    Device device;
    std::size_t nbytes = 0;  // as allocated
    bool in_arena = false;   // false: meta or empty, allocated as usual
    std::size_t offset = 0;  // in its device's arena
  };

  // Blocks alive at the same time get disjoint bytes of their device's arena (largest first,
  // each at the lowest offset free for its whole lifetime). Blocks of the meta device and empty
  // ones are left out.
  static std::shared_ptr<const MemoryPlan> pack(std::span<const BlockLifetime> blocks);

  // One per block, in allocation order.
  const std::vector<Placement>& placements() const { return placements_; }
  // The bytes each device's arena needs.
  const std::vector<std::pair<Device, std::size_t>>& arenas() const { return arenas_; }

 private:
  std::vector<Placement> placements_;
  std::vector<std::pair<Device, std::size_t>> arenas_;
};

}  // namespace elegy::autodiff
