// The CPU caching pool. Sizes are rounded up to a size class (64 B steps below 1 KiB, then four
// classes per power of two, so at most 25% is wasted) and freed blocks go to a per-class free
// list. The cache is capped (ELEGY_CPU_CACHE_MB, default 4096): past the cap, blocks go straight
// back to the system so a one-off huge temporary cannot pin memory forever.
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "elegy/core/allocator.hpp"
#include "elegy/core/error.hpp"

namespace elegy {
namespace {

std::size_t size_class(std::size_t n) {
  if (n <= 1024) return std::max<std::size_t>(64, (n + 63) & ~std::size_t(63));
  std::size_t pow2 = std::size_t(1) << (63 - __builtin_clzll(n));  // largest power of two <= n
  const std::size_t step = pow2 / 4;
  return (n + step - 1) / step * step;
}

std::size_t cache_limit_bytes() {
  if (const char* env = std::getenv("ELEGY_CPU_CACHE_MB"))
    return std::size_t(std::atoll(env)) << 20;
  return std::size_t(4096) << 20;
}

class CpuCachingAllocator final : public Allocator {
 public:
  void* allocate(std::size_t nbytes) override {
    const std::size_t cls = size_class(nbytes);
    {
      std::lock_guard lock(mutex_);
      ++stats_.num_allocs;
      stats_.bytes_in_use += std::int64_t(cls);
      stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
      auto it = free_.find(cls);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        stats_.bytes_cached -= std::int64_t(cls);
        ++stats_.num_cache_hits;
        return p;
      }
    }
    void* p = std::aligned_alloc(kCpuAlignment, cls);
    if (p == nullptr) {
      empty_cache();  // the cache may hold what the system lacks: free it and retry once
      p = std::aligned_alloc(kCpuAlignment, cls);
    }
    if (p == nullptr) {
      std::lock_guard lock(mutex_);
      stats_.bytes_in_use -= std::int64_t(cls);
      fail_out_of_memory("cpu_allocator", "out of memory allocating ", nbytes, " bytes");
    }
    return p;
  }

  void deallocate(void* ptr, std::size_t nbytes) override {
    if (ptr == nullptr) return;
    const std::size_t cls = size_class(nbytes);
    {
      std::lock_guard lock(mutex_);
      stats_.bytes_in_use -= std::int64_t(cls);
      if (std::size_t(stats_.bytes_cached) + cls <= limit_) {
        free_[cls].push_back(ptr);
        stats_.bytes_cached += std::int64_t(cls);
        return;
      }
    }
    std::free(ptr);
  }

  AllocatorStats stats() const override {
    std::lock_guard lock(mutex_);
    return stats_;
  }

  void empty_cache() override {
    std::unordered_map<std::size_t, std::vector<void*>> drained;
    {
      std::lock_guard lock(mutex_);
      drained.swap(free_);
      stats_.bytes_cached = 0;
    }
    for (auto& [cls, blocks] : drained)
      for (void* p : blocks) std::free(p);
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::size_t, std::vector<void*>> free_;
  AllocatorStats stats_;
  std::size_t limit_ = cache_limit_bytes();
};

}  // namespace

Allocator& cpu_allocator() {
  // Leaked on purpose: tensors held in static objects may be freed after main returns.
  static auto* instance = new CpuCachingAllocator();
  return *instance;
}

}  // namespace elegy
