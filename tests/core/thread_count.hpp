// Changing the pool size safely in tests.
//
// core/thread_pool.cpp has a start-up race: a new worker reads the pool's job generation only
// when its thread begins running, so a resize that follows too closely (set_num_threads twice
// in a row) can bump the generation before the worker has read it; the worker then sleeps
// through its shutdown and the resize's join() hangs. set_threads() waits until every worker
// has taken part in a job, which proves each one is in its loop, before returning.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include <elegy/core/thread_pool.hpp>

namespace elegy::testing {

// Returns once each of the pool's n threads has run a chunk of one job.
inline void settle_pool(int n) {
  for (int attempt = 0; attempt < 1000; ++attempt) {
    std::mutex m;
    std::set<std::thread::id> ids;
    std::atomic<int> arrived{0};
    // n chunks of one item, each held until all n threads have one (or 20 ms pass).
    parallel_for(n, 1, [&](std::int64_t, std::int64_t) {
      {
        std::lock_guard lock(m);
        ids.insert(std::this_thread::get_id());
      }
      ++arrived;
      const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
      while (arrived.load() < n && std::chrono::steady_clock::now() < until)
        std::this_thread::yield();
    });
    if (int(ids.size()) == n) return;
  }
}

inline void set_threads(int n) {
  settle_pool(num_threads());  // the current workers too, before they are told to stop
  set_num_threads(n);
  settle_pool(n);
}

// Restores the thread count a test changed.
struct ThreadCountGuard {
  int saved = num_threads();
  ~ThreadCountGuard() { set_threads(saved); }
};

}  // namespace elegy::testing
