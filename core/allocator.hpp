// Allocator: where tensor storage comes from. The CPU one is a 64-byte aligned caching pool:
// freed blocks are kept by size class and handed back warm, so a training step that allocates
// the same temporaries every iteration stops page-faulting after the first one.
#pragma once

#include <cstddef>
#include <cstdint>

#include "elegy/core/device.hpp"

namespace elegy {

struct AllocatorStats {
  std::int64_t bytes_in_use = 0;       // handed out and not yet returned
  std::int64_t bytes_cached = 0;       // returned and kept for reuse
  std::int64_t peak_bytes_in_use = 0;  // high-water mark of bytes_in_use
  std::int64_t num_allocs = 0;         // calls to allocate()
  std::int64_t num_cache_hits = 0;     // of which were served from the cache
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  // Returns at least `nbytes` bytes (nbytes may be 0); throws Error when memory runs out.
  virtual void* allocate(std::size_t nbytes) = 0;
  // `nbytes` must be the size that was asked of allocate().
  virtual void deallocate(void* ptr, std::size_t nbytes) = 0;
  virtual AllocatorStats stats() const = 0;
  // Releases every cached block back to the system.
  virtual void empty_cache() = 0;
};

// Alignment of every CPU block: one cache line, and the widest SIMD load (AVX-512).
inline constexpr std::size_t kCpuAlignment = 64;

Allocator& cpu_allocator();
// Storage for Device::meta(): every allocation is the start of one large reserved region with
// no access rights, so a meta tensor costs no memory and any stray read or write of its "data"
// faults at once instead of touching real memory.
Allocator& meta_allocator();
// The allocator of `device`; Error when the device does not exist in this build or machine.
Allocator& allocator_for(Device device);

}  // namespace elegy
