// The CPU caching allocator: statistics, reuse of freed blocks, size classes and alignment.
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include <elegy/elegy.hpp>

using namespace elegy;

namespace {

bool aligned(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) % kCpuAlignment == 0;
}

}  // namespace

TEST_CASE("cpu_allocator stats follow allocations, frees and cache hits") {
  Allocator& a = cpu_allocator();
  a.empty_cache();
  const AllocatorStats s0 = a.stats();
  CHECK(s0.bytes_cached == 0);

  void* p = a.allocate(1000);  // rounded to the 1024-byte class
  const AllocatorStats s1 = a.stats();
  CHECK(s1.bytes_in_use - s0.bytes_in_use == 1024);
  CHECK(s1.num_allocs - s0.num_allocs == 1);
  CHECK(s1.num_cache_hits == s0.num_cache_hits);
  CHECK(s1.peak_bytes_in_use >= s1.bytes_in_use);

  a.deallocate(p, 1000);
  const AllocatorStats s2 = a.stats();
  CHECK(s2.bytes_in_use == s0.bytes_in_use);
  CHECK(s2.bytes_cached == 1024);

  // Any request of the same class (961..1024 bytes) gets the cached block back, warm.
  void* q = a.allocate(1020);
  const AllocatorStats s3 = a.stats();
  CHECK(q == p);
  CHECK(s3.num_cache_hits - s2.num_cache_hits == 1);
  CHECK(s3.bytes_cached == 0);
  CHECK(s3.bytes_in_use - s0.bytes_in_use == 1024);
  a.deallocate(q, 1020);

  // A different class does not take it.
  void* r = a.allocate(5000);  // 4096 + 1024: four classes per power of two above 1 KiB
  CHECK(r != p);
  CHECK(a.stats().num_cache_hits == s3.num_cache_hits);
  CHECK(a.stats().bytes_in_use - s0.bytes_in_use == 5120);
  a.deallocate(r, 5000);

  a.empty_cache();
  CHECK(a.stats().bytes_cached == 0);
  CHECK(a.stats().bytes_in_use == s0.bytes_in_use);
}

TEST_CASE("peak_bytes_in_use keeps the high-water mark") {
  Allocator& a = cpu_allocator();
  const std::int64_t before = a.stats().bytes_in_use;
  const std::size_t big = std::size_t(32) << 20;  // 32 MiB: a power of two is its own class
  void* p = a.allocate(big);
  CHECK(a.stats().peak_bytes_in_use >= before + std::int64_t(big));
  a.deallocate(p, big);
  CHECK(a.stats().bytes_in_use == before);
  CHECK(a.stats().peak_bytes_in_use >= before + std::int64_t(big));
  a.empty_cache();
}

TEST_CASE("every block is 64-byte aligned, including tiny and empty requests") {
  Allocator& a = cpu_allocator();
  const std::int64_t before = a.stats().bytes_in_use;
  std::vector<std::pair<void*, std::size_t>> blocks;
  for (std::size_t n : {0u, 1u, 3u, 63u, 64u, 65u, 1025u, 4097u, 100000u}) {
    void* p = a.allocate(n);
    CHECK(p != nullptr);
    CHECK(aligned(p));
    blocks.emplace_back(p, n);
  }
  // 0 and 1 byte take the smallest (64-byte) class.
  for (auto [p, n] : blocks) a.deallocate(p, n);
  CHECK(a.stats().bytes_in_use == before);
  // Tensor storage comes from the same pool.
  for (std::int64_t n : {1, 3, 17, 1000}) CHECK(aligned(Tensor::empty(Shape{n}).raw_data()));
  a.deallocate(nullptr, 0);  // a no-op
  a.empty_cache();
}

TEST_CASE("tensor storage returns to the cache when the last view goes") {
  Allocator& a = cpu_allocator();
  a.empty_cache();
  const std::int64_t before = a.stats().bytes_in_use;
  void* first;
  {
    Tensor t = Tensor::empty(Shape{256}, DType::f32);  // 1024 bytes
    Tensor view = t;
    first = t.raw_data();
    CHECK(a.stats().bytes_in_use - before == 1024);
    t = Tensor();
    CHECK(a.stats().bytes_in_use - before == 1024);  // the copy still holds it
  }
  CHECK(a.stats().bytes_in_use == before);
  CHECK(a.stats().bytes_cached == 1024);
  const std::int64_t hits = a.stats().num_cache_hits;
  const Tensor again = Tensor::empty(Shape{128}, DType::f64);
  CHECK(again.raw_data() == first);
  CHECK(a.stats().num_cache_hits == hits + 1);
}

TEST_CASE("allocator_for maps devices to allocators") {
  CHECK(&allocator_for(Device::cpu()) == &cpu_allocator());
  if (!cuda_compiled()) {
    CHECK_THROWS_WITH_AS(allocator_for(Device::cuda(0)),
                         doctest::Contains("allocator_for: device cuda:0 requested but this build "
                                           "of elegy has no CUDA backend"),
                         Error);
  } else {
    CHECK_THROWS_WITH_AS(allocator_for(Device::cuda(cuda_device_count())),
                         doctest::Contains("CUDA device(s) are visible"), Error);
  }
}
