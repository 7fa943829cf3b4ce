// Host -> GPU copies through the pinned staging ring (core/cuda/host_staging.cpp): every byte
// arrives for any size (one piece, several pieces, several laps of the ring), the source is free
// the moment the copy returns, a copy queued behind seconds of GPU work does not wait for it, and
// a copy inside a graph capture is refused. Skipped when no GPU is visible.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "cuda/cuda_vs_cpu.hpp"

using namespace elegy;
using namespace elegy::cuda_test;

namespace {

const bool kNoGpu = !cuda_available();

// A host tensor of `n` bytes holding a pattern that differs for every (seed, position).
Tensor pattern_bytes(std::int64_t n, std::uint32_t seed) {
  Tensor t = Tensor::empty(Shape{n}, DType::u8);
  std::uint8_t* p = t.data<std::uint8_t>();
  for (std::int64_t i = 0; i < n; ++i) p[i] = std::uint8_t((i * 131 + seed * 7 + (i >> 12)) & 255);
  return t;
}

std::int64_t count_mismatches(const Tensor& got_host, const Tensor& want) {
  const std::uint8_t* g = got_host.data<std::uint8_t>();
  const std::uint8_t* w = want.data<std::uint8_t>();
  std::int64_t bad = 0;
  for (std::int64_t i = 0; i < want.numel(); ++i) bad += g[i] != w[i];
  return bad;
}

}  // namespace

TEST_CASE("cuda: host -> GPU copies of any size arrive whole through the staging ring" *
          doctest::skip(kNoGpu)) {
  // 1 byte; one unaligned piece; a batch-sized piece; just over half the ring (two pieces);
  // 40 MiB (five pieces, laps of the 16 MiB ring, so later pieces wait for earlier ones).
  const std::int64_t sizes[] = {1, 257, 100'000, (std::int64_t(8) << 20) + 3,
                                std::int64_t(40) << 20};
  std::uint32_t seed = 1;
  for (const std::int64_t n : sizes) {
    CAPTURE(n);
    const CudaStagingStats before = cuda_staging_stats();
    const Tensor host = pattern_bytes(n, seed++);
    const Tensor gpu = host.to(kGpu);
    const CudaStagingStats after = cuda_staging_stats();
    CHECK(after.capacity_bytes == std::size_t(16) << 20);
    CHECK(after.copies == before.copies + 1);
    CHECK(after.pieces - before.pieces == std::uint64_t((n + (8 << 20) - 1) / (8 << 20)));
    CHECK(after.unstaged == before.unstaged);
    CHECK(count_mismatches(gpu.to(Device::cpu()), host) == 0);
  }
}

// Some tens of milliseconds of GEMMs queued on the GPU (entries kept near 1); returns the
// result, whose read waits for them.
Tensor queue_gemms(const Tensor& a, int count) {
  Tensor busy = a;
  for (int i = 0; i < count; ++i) busy = matmul(a, busy) * (1.0 / 64);
  return busy;
}

TEST_CASE("cuda: a host buffer may be rewritten as soon as its copy to the GPU returns" *
          doctest::skip(kNoGpu)) {
  // One host buffer, rewritten after each copy: 300 copies of 64 KiB (over a lap of the 16 MiB
  // ring) queued behind GEMMs, so the ring laps onto regions whose copies have not run: the
  // host must wait for them (the staging waits grow), and each GPU tensor must hold what the
  // buffer held at its copy.
  const Tensor a = random::normal(Key(2), {4096, 4096}).to(kGpu);
  (void)sum(a).item<float>();
  const Tensor busy = queue_gemms(a, 20);
  const CudaStagingStats before = cuda_staging_stats();
  const std::int64_t n = 64 << 10;
  Tensor host = Tensor::empty(Shape{n}, DType::u8);
  std::vector<Tensor> on_gpu;
  for (std::uint32_t i = 0; i < 300; ++i) {
    std::uint8_t* p = host.data<std::uint8_t>();
    for (std::int64_t j = 0; j < n; ++j) p[j] = std::uint8_t((i + 3 * j) & 255);
    on_gpu.push_back(host.to(kGpu));
  }
  const CudaStagingStats after = cuda_staging_stats();
  CHECK(after.copies - before.copies == 300);
  CHECK(after.waits > before.waits);
  (void)sum(busy).item<float>();
  std::int64_t bad = 0;
  for (std::uint32_t i = 0; i < 300; ++i) {
    const Tensor got = on_gpu[i].to(Device::cpu());
    const std::uint8_t* g = got.data<std::uint8_t>();
    for (std::int64_t j = 0; j < n; ++j) bad += g[j] != std::uint8_t((i + 3 * j) & 255);
  }
  CHECK(bad == 0);
}

TEST_CASE("cuda: a copy to the GPU queued behind its work does not wait for it" *
          doctest::skip(kNoGpu)) {
  const Tensor a = random::normal(Key(1), {4096, 4096}).to(kGpu);
  (void)sum(a).item<float>();  // the GPU idle again
  // GEMMs queued, then a large batch's copy (6 MiB: the driver's own staging of pageable
  // memory waits for the stream at that size).
  const Tensor busy = queue_gemms(a, 20);
  const Tensor host = pattern_bytes(6 << 20, 9);
  const std::uint64_t waits = cuda_host_waits();
  const CudaStagingStats before = cuda_staging_stats();
  const auto start = std::chrono::steady_clock::now();
  const Tensor gpu = host.to(kGpu);
  const auto copied = std::chrono::steady_clock::now();
  (void)sum(busy).item<float>();
  const auto finished = std::chrono::steady_clock::now();
  CHECK(cuda_host_waits() == waits + 1);  // item()'s read only
  CHECK(cuda_staging_stats().waits == before.waits);
  // Not a speed bar: a copy that waited for the GEMMs would take as long as they do. Here it
  // returns within a small fraction of them (about 1 ms against tens of ms on an H100).
  const double copy_ms = std::chrono::duration<double, std::milli>(copied - start).count();
  const double queued_ms = std::chrono::duration<double, std::milli>(finished - start).count();
  MESSAGE("copy returned after " << copy_ms << " ms; the queued work took " << queued_ms << " ms");
  CHECK(copy_ms < 0.25 * queued_ms);
  CHECK(count_mismatches(gpu.to(Device::cpu()), host) == 0);
}

TEST_CASE("cuda: a host -> GPU copy inside a graph capture is refused" * doctest::skip(kNoGpu)) {
  const Tensor host = pattern_bytes(1000, 4);
  std::string why;
  Tensor kept;
  const auto graph = StreamGraph::capture(
      kGpu, [&] { kept = host.to(kGpu); }, why);
  CHECK(graph == nullptr);
  CHECK(why.find("while a graph is captured") != std::string::npos);
  // The device works on as before.
  CHECK(count_mismatches(host.to(kGpu).to(Device::cpu()), host) == 0);
}
