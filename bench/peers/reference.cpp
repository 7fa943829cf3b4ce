// Hardware/vendor reference points for elegy's microbenchmarks:
//   copy_{1K,1M,16M}       out[i] = in[i] with explicit SIMD, 1..N threads: the memory-bandwidth
//                          ceiling an elementwise op can hope for (GB/s counts read + write bytes).
//   sgemm_{256,1024,2048}  cblas_sgemm straight into OpenBLAS: the GEMM ceiling without any
//                          framework overhead.
// Usage: bench_reference [--threads N] [--filter SUBSTR]; CSV on stdout, GB/s / GFLOP/s on stderr.
//
// The copy kernel uses Highway dynamic dispatch: this file is compiled once per SIMD target
// (foreach_target.h re-includes it) and the best one for the running CPU is chosen at run time,
// so the ceiling is honest without building with -march=native.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "reference.cpp"
#include <hwy/foreach_target.h>  // must precede highway.h

#include <hwy/cache_control.h>
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace elegy::peers {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Copies n floats, unrolled by four vectors so several loads are in flight per iteration.
//
// kStream selects non-temporal stores. Ordinary stores are write-allocate: each output line is
// first read into cache, so a copy moves 3 bytes of DRAM traffic per 2 counted. Streaming stores
// skip that read, which is what memcpy does for buffers far larger than the caches, and is the
// honest ceiling for a 128 MiB copy. Requires `out` aligned to the vector size (the buffers are
// page-aligned and thread chunks are whole cache lines).
template <bool kStream>
void CopyFloatsT(const float* HWY_RESTRICT in, float* HWY_RESTRICT out, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  auto store = [&](auto v, float* p) {
    if constexpr (kStream) {
      hn::Stream(v, d, p);
    } else {
      hn::StoreU(v, d, p);
    }
  };
  size_t i = 0;
  for (; i + 4 * lanes <= n; i += 4 * lanes) {
    const auto v0 = hn::LoadU(d, in + i);
    const auto v1 = hn::LoadU(d, in + i + lanes);
    const auto v2 = hn::LoadU(d, in + i + 2 * lanes);
    const auto v3 = hn::LoadU(d, in + i + 3 * lanes);
    store(v0, out + i);
    store(v1, out + i + lanes);
    store(v2, out + i + 2 * lanes);
    store(v3, out + i + 3 * lanes);
  }
  for (; i < n; ++i) out[i] = in[i];
  // Streaming stores are weakly ordered; fence so the data is visible once the pool's join
  // (an acquire/release handshake) says this chunk is done.
  if constexpr (kStream) hwy::FlushStream();
}

void CopyFloats(const float* HWY_RESTRICT in, float* HWY_RESTRICT out, size_t n) {
  CopyFloatsT<false>(in, out, n);
}
void StreamFloats(const float* HWY_RESTRICT in, float* HWY_RESTRICT out, size_t n) {
  CopyFloatsT<true>(in, out, n);
}

// The SIMD target this translation unit was compiled for; reported so results can be traced.
int64_t SimdTarget() {
  return HWY_TARGET;
}

}  // namespace HWY_NAMESPACE
}  // namespace elegy::peers
HWY_AFTER_NAMESPACE();

#if HWY_ONCE

#include <cblas.h>  // OpenBLAS's: also declares openblas_set_num_threads

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "timing.hpp"

namespace elegy::peers {

HWY_EXPORT(CopyFloats);
HWY_EXPORT(StreamFloats);
HWY_EXPORT(SimdTarget);

namespace {

using elegy::bench::median_us;
using elegy::bench::print_row;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Minimal fork-join pool with spinning workers. A copy of 1K floats takes ~100 ns, so waking
// sleeping threads (futex, ~5-50 us) or spawning std::threads per call would measure the
// scheduler, not memory. Spinning burns the workers' cores, so a pool must only live while the
// copy cases run (it is destroyed before the OpenBLAS cases start their own threads).
class SpinPool {
 public:
  explicit SpinPool(int threads) : threads_(threads) {
    for (int t = 1; t < threads; ++t) workers_.emplace_back([this, t] { WorkerLoop(t); });
  }
  ~SpinPool() {
    stop_.store(true, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    for (auto& w : workers_) w.join();
  }
  SpinPool(const SpinPool&) = delete;
  SpinPool& operator=(const SpinPool&) = delete;

  int threads() const { return threads_; }

  // Runs task(t) for every t in [0, threads()); the calling thread does t = 0. Returns when all
  // are done.
  template <class Task>
  void Run(const Task& task) {
    fn_ = [](const void* ctx, int t) { (*static_cast<const Task*>(ctx))(t); };
    ctx_ = &task;
    pending_.store(threads_ - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);  // publishes fn_, ctx_, pending_
    task(0);
    while (pending_.load(std::memory_order_acquire) != 0) cpu_relax();
  }

 private:
  void WorkerLoop(int t) {
    std::uint64_t seen = 0;
    for (;;) {
      std::uint64_t g;
      while ((g = generation_.load(std::memory_order_acquire)) == seen) cpu_relax();
      seen = g;
      if (stop_.load(std::memory_order_relaxed)) return;
      fn_(ctx_, t);
      pending_.fetch_sub(1, std::memory_order_release);
    }
  }

  const int threads_;
  std::vector<std::jthread> workers_;
  void (*fn_)(const void*, int) = nullptr;
  const void* ctx_ = nullptr;
  // Separate cache lines: workers poll generation_ while the caller polls pending_.
  alignas(64) std::atomic<std::uint64_t> generation_{0};
  alignas(64) std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
};

// Half-open range of elements for thread t; boundaries rounded to 16 floats (one cache line) so
// two threads never write the same line.
struct Range {
  std::size_t begin, end;
};
Range chunk(std::size_t n, int t, int threads) {
  constexpr std::size_t kLine = 16;
  const std::size_t per = (n / threads + kLine - 1) / kLine * kLine;
  const std::size_t b = std::min(n, per * t);
  const std::size_t e = (t == threads - 1) ? n : std::min(n, b + per);
  return {b, e};
}

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<float[], FreeDeleter>;

// Page-aligned and deliberately NOT initialised here: the first write decides which NUMA node a
// page lands on, so each thread initialises its own chunk (first touch) in run_copy.
Buffer alloc_floats(std::size_t n) {
  constexpr std::size_t kPage = 4096;
  const std::size_t bytes = (n * sizeof(float) + kPage - 1) / kPage * kPage;
  return Buffer(static_cast<float*>(std::aligned_alloc(kPage, bytes)));
}

// Median time of one parallel copy of n floats, plain or streaming stores.
double time_copy(const float* in, float* out, std::size_t n, bool stream, SpinPool& pool) {
  const int threads = pool.threads();
  // Dispatch on every call (a table lookup): caching the pointer returned before the first call
  // would keep Highway's initial trampoline, which re-runs CPU detection (cpuid, a VM exit under
  // a hypervisor) each time.
  const auto body = [&](int t) {
    const Range r = chunk(n, t, threads);
    if (stream) {
      HWY_DYNAMIC_DISPATCH(StreamFloats)(in + r.begin, out + r.begin, r.end - r.begin);
    } else {
      HWY_DYNAMIC_DISPATCH(CopyFloats)(in + r.begin, out + r.begin, r.end - r.begin);
    }
  };
  const double us = median_us([&] {
    pool.Run(body);
    elegy::bench::clobber_memory();
  });
  for (const std::size_t i : {std::size_t{0}, n / 2, n - 1}) {
    if (out[i] != in[i]) {
      std::fprintf(stderr, "copy of %zu floats produced a wrong result\n", n);
      std::exit(1);
    }
  }
  return us;
}

// Reports both store kinds: `copy_<size>` is the plain copy loop (the yardstick the issue names:
// write-allocate stores, as an ordinary kernel writes) and `copy_nt_<size>` the streaming one (the
// most the memory system gives). `stream` only says which one stderr marks as the headline.
void run_copy(const char* case_name, std::size_t n, bool stream, SpinPool& pool) {
  const int threads = pool.threads();
  Buffer in = alloc_floats(n), out = alloc_floats(n);
  float* pin = in.get();
  float* pout = out.get();

  pool.Run([&](int t) {
    const Range r = chunk(n, t, threads);
    for (std::size_t i = r.begin; i < r.end; ++i) {
      pin[i] = static_cast<float>(i);
      pout[i] = 0.0f;  // pre-touch the output so page faults are not timed
    }
  });

  const double plain_us = time_copy(pin, pout, n, /*stream=*/false, pool);
  const double stream_us = time_copy(pin, pout, n, /*stream=*/true, pool);
  print_row("ref", case_name, threads, plain_us);
  const std::string nt_name = "copy_nt_" + std::string(case_name).substr(5);
  print_row("ref", nt_name, threads, stream_us);

  const double bytes = 2.0 * static_cast<double>(n) * sizeof(float);  // read + write
  std::fprintf(stderr,
               "  ref %-12s %2d thr  plain stores %10.3f us %7.1f GB/s | streaming %10.3f us "
               "%7.1f GB/s  (CSV: %s)\n",
               case_name, threads, plain_us, bytes / (plain_us * 1e3), stream_us,
               bytes / (stream_us * 1e3), stream ? "streaming" : "plain");
}

void run_sgemm(const char* case_name, int n, int threads) {
  const std::size_t count = static_cast<std::size_t>(n) * n;
  std::vector<float> a(count), b(count), c(count, 0.0f);
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (auto& x : a) x = dist(rng);
  for (auto& x : b) x = dist(rng);

  const double us = median_us([&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n,
                0.0f, c.data(), n);
    elegy::bench::clobber_memory();
  });

  // Spot-check one element so a broken BLAS setup cannot produce a "fast" result.
  double expect = 0.0;
  for (int k = 0; k < n; ++k)
    expect += static_cast<double>(a[k]) * b[static_cast<std::size_t>(k) * n];
  if (std::abs(expect - c[0]) > 1e-3 * n) {
    std::fprintf(stderr, "%s: sgemm result mismatch (%f vs %f)\n", case_name, c[0], expect);
    std::exit(1);
  }
  print_row("ref", case_name, threads, us);
  const double flops = 2.0 * n * n * static_cast<double>(n);
  std::fprintf(stderr, "  ref %-12s %2d thr %10.1f us  %7.1f GFLOP/s\n", case_name, threads, us,
               flops / (us * 1e3));
}

}  // namespace
}  // namespace elegy::peers

int main(int argc, char** argv) {
  using namespace elegy::peers;
  const auto args = elegy::bench::parse_args(argc, argv);

  {
    SpinPool pool(args.threads);  // scoped: its spinning workers must be gone before OpenBLAS runs
    std::fprintf(stderr, "Highway target: %s\n",
                 hwy::TargetName(HWY_DYNAMIC_DISPATCH(SimdTarget)()));
    // Footprints: 8 KiB, 8 MiB (cache-resident on current server parts), 128 MiB (DRAM).
    const struct {
      const char* name;
      std::size_t n;
      bool stream;
    } copies[] = {{"copy_1K", std::size_t{1} << 10, false},
                  {"copy_1M", std::size_t{1} << 20, false},
                  {"copy_16M", std::size_t{1} << 24, true}};
    for (const auto& c : copies)
      if (args.wants(c.name)) run_copy(c.name, c.n, c.stream, pool);
  }

  openblas_set_num_threads(args.threads);
  const struct {
    const char* name;
    int n;
  } gemms[] = {{"sgemm_256", 256}, {"sgemm_1024", 1024}, {"sgemm_2048", 2048}};
  for (const auto& g : gemms)
    if (args.wants(g.name)) run_sgemm(g.name, g.n, args.threads);
  return 0;
}

#endif  // HWY_ONCE
