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
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace elegy::peers {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Copies n floats. Unrolled by four vectors so that several loads are in flight per iteration;
// plain (write-allocate) stores, i.e. the same store path an elementwise kernel would use.
void CopyFloats(const float* HWY_RESTRICT in, float* HWY_RESTRICT out, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  size_t i = 0;
  for (; i + 4 * lanes <= n; i += 4 * lanes) {
    const auto v0 = hn::LoadU(d, in + i);
    const auto v1 = hn::LoadU(d, in + i + lanes);
    const auto v2 = hn::LoadU(d, in + i + 2 * lanes);
    const auto v3 = hn::LoadU(d, in + i + 3 * lanes);
    hn::StoreU(v0, d, out + i);
    hn::StoreU(v1, d, out + i + lanes);
    hn::StoreU(v2, d, out + i + 2 * lanes);
    hn::StoreU(v3, d, out + i + 3 * lanes);
  }
  for (; i < n; ++i) out[i] = in[i];
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
#include <thread>
#include <vector>

#include "timing.hpp"

namespace elegy::peers {

HWY_EXPORT(CopyFloats);

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

void run_copy(const char* case_name, std::size_t n, SpinPool& pool) {
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

  // Dispatch on every call (a table lookup): caching the pointer returned before the first call
  // would keep Highway's initial trampoline, which re-runs CPU detection (cpuid, a VM exit under
  // a hypervisor) each time.
  const auto body = [&](int t) {
    const Range r = chunk(n, t, threads);
    HWY_DYNAMIC_DISPATCH(CopyFloats)(pin + r.begin, pout + r.begin, r.end - r.begin);
  };
  const double us = median_us([&] {
    pool.Run(body);
    elegy::bench::clobber_memory();
  });

  if (pout[n - 1] != static_cast<float>(n - 1)) {
    std::fprintf(stderr, "%s: copy produced a wrong result\n", case_name);
    std::exit(1);
  }
  print_row("ref", case_name, threads, us);
  const double bytes = 2.0 * static_cast<double>(n) * sizeof(float);  // read + write
  std::fprintf(stderr, "  ref %-12s %2d thr %10.3f us  %7.1f GB/s\n", case_name, threads, us,
               bytes / (us * 1e3));
}

void run_sgemm(const char* case_name, int n, int threads) {
  const std::size_t count = static_cast<std::size_t>(n) * n;
  std::vector<float> a(count), b(count), c(count, 0.0f);
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (auto& x : a) x = dist(rng);
  for (auto& x : b) x = dist(rng);

  const double us = median_us([&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(),
                n, 0.0f, c.data(), n);
    elegy::bench::clobber_memory();
  });

  // Spot-check one element so a broken BLAS setup cannot produce a "fast" result.
  double expect = 0.0;
  for (int k = 0; k < n; ++k) expect += static_cast<double>(a[k]) * b[static_cast<std::size_t>(k) * n];
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
    const struct {
      const char* name;
      std::size_t n;
    } copies[] = {{"copy_1K", 1u << 10}, {"copy_1M", 1u << 20}, {"copy_16M", 1u << 24}};
    for (const auto& c : copies)
      if (args.wants(c.name)) run_copy(c.name, c.n, pool);
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
