// How long the thread pool takes to run a trivial job after the caller was away for a while:
// workers spin for 200 µs after each job, then sleep on a futex, and waking them costs whatever
// the machine's scheduler and hypervisor make it cost. Also the cost of std::async (fit's GPU
// prefetch starts one per step). A diagnostic for hosts where fit's steps are slow for no
// visible kernel reason (the H200 host of 2026-12-04).
//
//   bench_pool_latency [THREADS...]   (default: 2 and available_cpus())
//   -> "pool,<threads>,gap <µs>,median <µs>,p90 <µs>" per gap, then "async,median <µs>,..."
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <thread>
#include <vector>

#include <elegy/elegy.hpp>

namespace {

using Clock = std::chrono::steady_clock;

double micros(Clock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

// Waits `gap` without sleeping (the caller stays on its core, as a host doing other work would).
void busy_wait(std::chrono::microseconds gap) {
  const auto until = Clock::now() + gap;
  while (Clock::now() < until) {
  }
}

void report(const char* what, int threads, int gap_us, std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  const double median = samples[samples.size() / 2];
  const double p90 = samples[samples.size() * 9 / 10];
  std::printf("%s,threads %d,gap %d us,median %.1f us,p90 %.1f us,max %.1f us\n", what, threads,
              gap_us, median, p90, samples.back());
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> thread_counts;
  for (int i = 1; i < argc; ++i) thread_counts.push_back(std::atoi(argv[i]));
  if (thread_counts.empty()) thread_counts = {2, elegy::available_cpus()};
  std::printf("online CPUs %u, available_cpus() %d, default pool %d threads\n",
              std::thread::hardware_concurrency(), elegy::available_cpus(), elegy::num_threads());

  for (int threads : thread_counts) {
    if (threads < 1) continue;
    elegy::set_num_threads(threads);
    for (int gap_us : {0, 50, 300, 2000, 20000}) {
      const int samples = gap_us >= 20000 ? 50 : 400;
      std::vector<double> times;
      std::atomic<std::int64_t> sink{0};
      for (int s = 0; s < samples + 5; ++s) {
        busy_wait(std::chrono::microseconds(gap_us));
        const auto t0 = Clock::now();
        // One chunk per thread, each a few ns of work: the time is the pool's own.
        elegy::parallel_for(threads, 1, [&](std::int64_t b, std::int64_t e) {
          sink.fetch_add(e - b, std::memory_order_relaxed);
        });
        if (s >= 5) times.push_back(micros(Clock::now() - t0));
      }
      report("pool", threads, gap_us, times);
    }
  }

  std::vector<double> times;
  for (int s = 0; s < 205; ++s) {
    const auto t0 = Clock::now();
    std::async(std::launch::async, [] { return 1; }).get();
    if (s >= 5) times.push_back(micros(Clock::now() - t0));
  }
  report("async", 1, 0, times);
  return 0;
}
