// The kernel thread pool: exact coverage, deterministic chunks, exceptions, nesting, resizing.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <mutex>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include <elegy/elegy.hpp>

#include "core/thread_count.hpp"

using namespace elegy;
using elegy::testing::ThreadCountGuard;

namespace {

// The chunks parallel_for hands out, sorted.
std::vector<std::pair<std::int64_t, std::int64_t>> chunks_of(std::int64_t n, std::int64_t grain) {
  std::mutex m;
  std::vector<std::pair<std::int64_t, std::int64_t>> chunks;
  parallel_for(n, grain, [&](std::int64_t b, std::int64_t e) {
    std::lock_guard lock(m);
    chunks.emplace_back(b, e);
  });
  std::sort(chunks.begin(), chunks.end());
  return chunks;
}

std::atomic<int> g_listener_calls{0};
std::atomic<int> g_listener_last{0};

}  // namespace

TEST_CASE("parallel_for covers [0, n) exactly once") {
  ThreadCountGuard guard;
  for (int threads : {1, 2, 3, 5}) {
    set_num_threads(threads);
    for (std::int64_t n : {0, 1, 2, 3, 7, 64, 1000, 12345, 100003}) {
      for (std::int64_t grain : {0, 1, 2, 7, 64, 1000, 1 << 20}) {
        CAPTURE(threads);
        CAPTURE(n);
        CAPTURE(grain);
        std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
        std::atomic<int> calls{0};
        parallel_for(n, grain, [&](std::int64_t b, std::int64_t e) {
          ++calls;
          for (std::int64_t i = b; i < e; ++i) hits[std::size_t(i)].fetch_add(1);
        });
        bool once = true;
        for (auto& h : hits) once &= h.load() == 1;
        CHECK(once);
        if (n == 0) CHECK(calls.load() == 0);
        // Never more chunks than threads, and one chunk when the work fits in one grain.
        CHECK(calls.load() <= threads);
        if (n > 0 && n <= std::max<std::int64_t>(grain, 1)) CHECK(calls.load() == 1);
        // The chunks are contiguous, ordered ranges that tile [0, n).
        const auto chunks = chunks_of(n, grain);
        std::int64_t next = 0;
        for (auto [b, e] : chunks) {
          CHECK(b == next);
          CHECK(e > b);
          next = e;
        }
        CHECK(next == n);
        CHECK(chunks_of(n, grain) == chunks);  // a pure function of (n, grain, threads)
      }
    }
  }
}

TEST_CASE("parallel_for uses several threads for large work") {
  ThreadCountGuard guard;
  set_num_threads(2);
  std::mutex m;
  std::set<std::thread::id> ids;
  std::vector<int> hits(1000, 0);
  std::atomic<int> arrived{0};
  parallel_for(1000, 10, [&](std::int64_t b, std::int64_t e) {
    {
      std::lock_guard lock(m);
      ids.insert(std::this_thread::get_id());
    }
    for (std::int64_t i = b; i < e; ++i) hits[std::size_t(i)] += 1;
    // Hold each chunk until both threads have one (or 5 s pass), so the caller cannot take
    // both chunks before the worker wakes on a loaded machine.
    ++arrived;
    for (int wait = 0; arrived.load() < 2 && wait < 5000; ++wait)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  CHECK(std::all_of(hits.begin(), hits.end(), [](int h) { return h == 1; }));
  CHECK(ids.size() == 2);
}

TEST_CASE("exceptions thrown in a chunk reach the caller and the pool survives") {
  ThreadCountGuard guard;
  for (int threads : {1, 2, 4}) {
    set_num_threads(threads);
    CAPTURE(threads);
    CHECK_THROWS_WITH_AS(parallel_for(1000, 1,
                                      [](std::int64_t b, std::int64_t e) {
                                        if (b <= 500 && 500 < e) fail("kernel", "boom at 500");
                                      }),
                         doctest::Contains("kernel: boom at 500"), Error);
    std::atomic<std::int64_t> sum{0};
    parallel_for(1000, 1, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) sum += i;
    });
    CHECK(sum.load() == 999 * 1000 / 2);
  }
}

TEST_CASE("a nested parallel_for runs inline on the calling thread") {
  ThreadCountGuard guard;
  set_num_threads(3);
  std::atomic<int> inner_calls{0}, inner_whole{0}, same_thread{0};
  std::atomic<std::int64_t> total{0};
  parallel_for(300, 1, [&](std::int64_t b, std::int64_t e) {
    const auto outer_id = std::this_thread::get_id();
    for (std::int64_t i = b; i < e; ++i) {
      parallel_for(1000, 1, [&](std::int64_t ib, std::int64_t ie) {
        ++inner_calls;
        if (ib == 0 && ie == 1000) ++inner_whole;
        if (std::this_thread::get_id() == outer_id) ++same_thread;
        total += ie - ib;
      });
    }
  });
  CHECK(inner_calls.load() == 300);  // one call each: no splitting inside a pool task
  CHECK(inner_whole.load() == 300);
  CHECK(same_thread.load() == 300);
  CHECK(total.load() == 300 * 1000);
}

TEST_CASE("set_num_threads changes the pool and results stay identical") {
  ThreadCountGuard guard;
  const std::int64_t n = 1 << 20;
  auto compute = [&] {
    // Per-element values plus an exact integer sum: neither may depend on the thread count.
    std::vector<double> out(static_cast<std::size_t>(n));
    std::atomic<std::int64_t> sum{0};
    parallel_for(n, 1 << 12, [&](std::int64_t b, std::int64_t e) {
      std::int64_t local = 0;
      for (std::int64_t i = b; i < e; ++i) {
        out[std::size_t(i)] = std::sin(double(i) * 1e-3);
        local += i % 1009;
      }
      sum += local;
    });
    return std::make_pair(out, sum.load());
  };
  set_num_threads(1);
  CHECK(num_threads() == 1);
  const auto one = compute();
  set_num_threads(2);
  CHECK(num_threads() == 2);
  const auto two = compute();
  set_num_threads(3);
  CHECK(num_threads() == 3);
  const auto three = compute();
  CHECK(one.second == two.second);
  CHECK(one.second == three.second);
  CHECK(one.first == two.first);
  CHECK(one.first == three.first);

  CHECK_THROWS_WITH_AS(set_num_threads(0),
                       doctest::Contains("set_num_threads: thread count must be >= 1, got 0"),
                       Error);
  CHECK(num_threads() == 3);
}

TEST_CASE("thread-count listeners hear the current count and every change") {
  ThreadCountGuard guard;
  set_num_threads(2);
  const int before = g_listener_calls.load();
  // The listener lives for the whole process, so it may only touch globals.
  on_num_threads_changed([](int n) {
    ++g_listener_calls;
    g_listener_last = n;
  });
  CHECK(g_listener_calls.load() == before + 1);
  CHECK(g_listener_last.load() == 2);
  set_num_threads(3);
  CHECK(g_listener_calls.load() == before + 2);
  CHECK(g_listener_last.load() == 3);
}

TEST_CASE("FunctionRef calls the referenced callable without copying it") {
  int state = 0;
  auto add = [&state](int x) {
    state += x;
    return state;
  };
  FunctionRef<int(int)> ref(add);
  CHECK(ref(2) == 2);
  CHECK(ref(3) == 5);
  CHECK(state == 5);
}

TEST_CASE("back-to-back jobs at more threads than cores: every chunk once, none after return") {
  // Many short jobs in a row with 16 threads on however many cores: a worker preempted between
  // two jobs must not take a chunk of the next job with the previous job's chunk count (a chunk
  // then ran twice and parallel_for returned while a worker was still inside it, as seen in
  // the CNN example on a 16-core host), nor claim one before that job's count of pending chunks
  // is set (a lost decrement: parallel_for never returned). The jobs run on their own thread so
  // that a hang fails here, within seconds, instead of at CTest's timeout.
  ThreadCountGuard guard;
  set_num_threads(16);
  std::atomic<int> running{0};
  std::vector<std::atomic<int>> hits(64);
  int wrong = 0, late = 0;
  std::int64_t jobs = 0;
  std::promise<void> finished;
  std::future<void> done = finished.get_future();
  std::thread driver([&] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
    while (std::chrono::steady_clock::now() < deadline) {
      for (auto& h : hits) h.store(0, std::memory_order_relaxed);
      // Alternate the chunk counts (7 and 16) so a stale count would matter.
      const std::int64_t n = jobs % 2 ? 64 : 7;
      parallel_for(n, 1, [&](std::int64_t b, std::int64_t e) {
        running.fetch_add(1);
        for (std::int64_t i = b; i < e; ++i) hits[std::size_t(i)].fetch_add(1);
        running.fetch_sub(1);
      });
      late += running.load() != 0;
      for (std::int64_t i = 0; i < n; ++i) wrong += hits[std::size_t(i)].load() != 1;
      ++jobs;
    }
    finished.set_value();
  });
  if (done.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    std::fprintf(stderr, "parallel_for hung after %lld jobs (a lost chunk decrement)\n",
                 static_cast<long long>(jobs));
    std::fflush(stderr);
    std::_Exit(1);  // the driver thread cannot be joined
  }
  driver.join();
  INFO(jobs, " jobs");
  CHECK(wrong == 0);
  CHECK(late == 0);
  CHECK(jobs > 100);
}
