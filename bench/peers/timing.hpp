// Median wall-clock timer shared by elegy's benchmarks and the peer/reference benchmarks in
// bench/peers. Header-only, standard library only, so any benchmark binary can include it without
// pulling in a framework.
//
// Output contract: every benchmark prints one header-less CSV line per case to stdout,
//   impl,case,threads,median_us
// e.g. "torch,add_1M,1,152.8". Anything human-oriented (GB/s, GFLOP/s) goes to stderr so that
// stdout can be concatenated across binaries and diffed/plotted directly.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace elegy::bench {

// Keeps the compiler from deleting a computation whose result is otherwise unused: the empty asm
// claims to read `value` (and memory), so it must be materialised. GCC/Clang only, like the repo.
template <class T>
inline void do_not_optimize(const T& value) {
  asm volatile("" : : "r,m"(value) : "memory");
}

// Forces pending stores to be treated as observable (e.g. after writing an output buffer).
inline void clobber_memory() {
  asm volatile("" : : : "memory");
}

struct TimingOptions {
  double min_seconds = 0.3;      // keep sampling at least this long ...
  int min_samples = 5;           // ... and for at least this many samples (slow cases)
  double max_seconds = 10.0;     // hard stop so a pathological case cannot stall a run
  double sample_seconds = 5e-4;  // batch fast calls so one sample lasts >= this (clock resolution)
  double warmup_seconds = 0.05;  // first-touch pages, fill allocator caches, spin up thread pools
};

// Runs `fn` repeatedly and returns the median time of one call in microseconds.
//
// Very fast calls (~1 us) are batched: one sample times `batch` back-to-back calls and is divided
// by `batch`, so steady_clock overhead (~20 ns) and its granularity do not dominate. The median of
// the samples (rather than the mean or minimum) is robust to the occasional preemption or page
// fault without hiding a systematic cost that every call pays.
template <class Fn>
double median_us(Fn&& fn, const TimingOptions& opt = {}) {
  using clock = std::chrono::steady_clock;
  auto seconds_since = [](clock::time_point t0) {
    return std::chrono::duration<double>(clock::now() - t0).count();
  };

  // Warm-up; also yields a rough per-call cost for choosing the batch size.
  long warm_calls = 0;
  const auto warm_start = clock::now();
  do {
    fn();
    ++warm_calls;
  } while (seconds_since(warm_start) < opt.warmup_seconds);
  const double per_call = seconds_since(warm_start) / static_cast<double>(warm_calls);
  const long batch = std::max(1L, static_cast<long>(opt.sample_seconds / per_call));

  std::vector<double> samples;
  const auto start = clock::now();
  for (;;) {
    const auto t0 = clock::now();
    for (long i = 0; i < batch; ++i) fn();
    const double dt = std::chrono::duration<double>(clock::now() - t0).count();
    samples.push_back(dt * 1e6 / static_cast<double>(batch));

    const double elapsed = seconds_since(start);
    const bool enough =
        elapsed >= opt.min_seconds && samples.size() >= static_cast<std::size_t>(opt.min_samples);
    if (enough || elapsed >= opt.max_seconds) break;
  }

  // Median: middle element, or mean of the two middle ones for an even count.
  const std::size_t n = samples.size();
  std::nth_element(samples.begin(), samples.begin() + n / 2, samples.end());
  const double upper = samples[n / 2];
  if (n % 2 == 1) return upper;
  const double lower = *std::max_element(samples.begin(), samples.begin() + n / 2);
  return 0.5 * (lower + upper);
}

// Prints one result line in the shared CSV format. Sub-10 us figures keep three decimals so that
// per-op overheads (~0.5 us) stay comparable; larger ones need only one.
inline void print_row(std::string_view impl, std::string_view case_name, int threads,
                      double median) {
  std::printf("%.*s,%.*s,%d,%.*f\n", static_cast<int>(impl.size()), impl.data(),
              static_cast<int>(case_name.size()), case_name.data(), threads, median < 10.0 ? 3 : 1,
              median);
  std::fflush(stdout);  // results appear as they are measured, even when piped
}

// Parses "--threads N" (default 1) and "--filter SUBSTR" (run only cases whose name contains
// SUBSTR). Exits with a usage message on anything else, so typos do not silently run defaults.
struct Args {
  int threads = 1;
  std::string_view filter;

  bool wants(std::string_view case_name) const {
    return filter.empty() || case_name.find(filter) != std::string_view::npos;
  }
};

inline Args parse_args(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--threads" && i + 1 < argc) {
      args.threads = std::atoi(argv[++i]);
    } else if (arg == "--filter" && i + 1 < argc) {
      args.filter = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--threads N] [--filter SUBSTR]\n", argv[0]);
      std::exit(2);
    }
  }
  if (args.threads < 1) {
    std::fprintf(stderr, "--threads must be >= 1\n");
    std::exit(2);
  }
  return args;
}

}  // namespace elegy::bench
