// The allocator of Device::meta(): no memory, only an address that faults when touched.
#include <sys/mman.h>

#include <atomic>

#include "elegy/core/allocator.hpp"
#include "elegy/core/error.hpp"

namespace elegy {
namespace {

class MetaAllocator final : public Allocator {
 public:
  MetaAllocator() {
    // 64 GiB of address space without access (and without commit): meta tensors are views
    // into it, so offsets stay inside the reservation for any tensor a summary shows.
    base_ =
        ::mmap(nullptr, kReserved, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    ELEGY_CHECK(base_ != MAP_FAILED, "meta_allocator", "cannot reserve address space");
  }
  void* allocate(std::size_t nbytes) override {
    ELEGY_CHECK(nbytes <= kReserved, "meta_allocator", "a meta tensor of ", nbytes,
                " bytes exceeds the reserved ", kReserved, " bytes");
    ++allocs_;
    return base_;
  }
  void deallocate(void*, std::size_t) override {}
  AllocatorStats stats() const override {
    AllocatorStats s;
    s.num_allocs = allocs_.load();
    return s;
  }
  void empty_cache() override {}

 private:
  static constexpr std::size_t kReserved = std::size_t(64) << 30;
  void* base_ = nullptr;
  std::atomic<std::int64_t> allocs_{0};
};

}  // namespace

Allocator& meta_allocator() {
  static MetaAllocator allocator;
  return allocator;
}

}  // namespace elegy
