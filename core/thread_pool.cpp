#include "elegy/core/thread_pool.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "elegy/core/cpu_quota.hpp"
#include "elegy/core/error.hpp"

namespace elegy {
namespace {

thread_local bool t_inside_pool_task = false;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// How long a thread spins on a condition before sleeping on its futex. The gaps between the
// kernels of a step (a Model's bookkeeping, small ops run inline) last tens of µs, and waking a
// sleeping worker costs as much again on a VM. Measured on the 2-vCPU dev VM (MLP 784-512-512-10,
// 2 threads): a 20 µs window left the b128 Model step at 2.30 ms and b32 at 1.51 ms; 200 µs gave
// 2.11 and 1.22 ms; 600 µs no better. The spinning only ever costs the spinner's own core:
// elegy's pool is the process's only compute pool (OpenBLAS runs single-threaded).
constexpr auto kSpinTime = std::chrono::microseconds(200);

// True while a spin that started at `start` may go on; reads the clock once every 64 spins.
inline bool keep_spinning(int spin, std::chrono::steady_clock::time_point start) {
  return (spin & 63) != 63 || std::chrono::steady_clock::now() - start < kSpinTime;
}

// The published job's chunks, in one atomic word so that claiming a chunk also checks which job
// it belongs to: job id (26 bits), chunk count (19), next chunk (19). A worker that was slow to
// see one job's end can then never take a chunk of the next job with the old job's count, nor
// claim a chunk before the next job's `pending_` is set. (With separate counters both happened
// at 16 threads: a chunk ran twice, so a parallel_for returned while a worker was still inside
// it, or a decrement was lost and it never returned.)
struct WorkWord {
  static constexpr int kChunkBits = 19;
  static constexpr std::uint64_t kChunkMask = (std::uint64_t(1) << kChunkBits) - 1;
  static constexpr std::int64_t kMaxChunks = std::int64_t(kChunkMask);
  static std::uint64_t make(std::uint64_t job, std::int64_t chunks) {
    return (job << (2 * kChunkBits)) | (std::uint64_t(chunks) << kChunkBits);
  }
  static std::int64_t chunks(std::uint64_t w) {
    return std::int64_t((w >> kChunkBits) & kChunkMask);
  }
  static std::int64_t next(std::uint64_t w) { return std::int64_t(w & kChunkMask); }
};

class ThreadPool {
 public:
  explicit ThreadPool(int n) { start(n); }
  ~ThreadPool() { stop(); }

  int size() const { return int(workers_.size()) + 1; }

  void resize(int n) {
    std::lock_guard lock(dispatch_mutex_);
    stop();
    start(n);
  }

  void run(std::int64_t n, std::int64_t grain, FunctionRef<void(std::int64_t, std::int64_t)> fn) {
    std::unique_lock lock(dispatch_mutex_, std::try_to_lock);
    // Another user thread is running a parallel job: do this one inline instead of queueing.
    if (!lock.owns_lock()) return fn(0, n);
    const std::int64_t chunks =
        std::min({std::int64_t(size()), (n + grain - 1) / grain, WorkWord::kMaxChunks});
    // Everything a chunk reads is written before the release store of work_ publishes the job;
    // a worker reads job_fn_ and job_n_ only after its claim on that word succeeded.
    job_fn_ = &fn;
    job_n_ = n;
    pending_.store(chunks, std::memory_order_relaxed);
    error_ = nullptr;
    work_.store(WorkWord::make(++job_id_, chunks), std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    work_on_chunks();
    const auto spin_start = std::chrono::steady_clock::now();
    for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
      if (keep_spinning(spin, spin_start)) {
        cpu_relax();
      } else {
        std::int64_t p = pending_.load(std::memory_order_acquire);
        if (p != 0) pending_.wait(p, std::memory_order_acquire);
      }
    }
    job_fn_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void start(int n) {
    shutdown_.store(false);
    // Workers start from the generation current *now*: a worker scheduled late must still see a
    // job (or a shutdown) published before it first runs.
    const std::uint64_t start_generation = generation_.load(std::memory_order_acquire);
    for (int i = 1; i < n; ++i)
      workers_.emplace_back([this, start_generation] { worker_loop(start_generation); });
  }

  void stop() {
    shutdown_.store(true);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  void worker_loop(std::uint64_t seen) {
    t_inside_pool_task = true;
    while (true) {
      std::uint64_t g;
      const auto spin_start = std::chrono::steady_clock::now();
      for (int spin = 0; (g = generation_.load(std::memory_order_acquire)) == seen; ++spin) {
        if (keep_spinning(spin, spin_start))
          cpu_relax();
        else
          generation_.wait(seen, std::memory_order_acquire);
      }
      seen = g;
      if (shutdown_.load()) return;
      work_on_chunks();
    }
  }

  void work_on_chunks() {
    const bool was_inside = t_inside_pool_task;
    t_inside_pool_task = true;
    std::uint64_t w = work_.load(std::memory_order_acquire);
    while (WorkWord::next(w) < WorkWord::chunks(w)) {
      // Claim chunk next(w) of the job `w` names; on failure w holds the current word.
      if (!work_.compare_exchange_weak(w, w + 1, std::memory_order_acq_rel,
                                       std::memory_order_acquire))
        continue;
      const std::int64_t c = WorkWord::next(w), chunks = WorkWord::chunks(w);
      // The job cannot end (nor the next one start) before this chunk's decrement below.
      const std::int64_t n = job_n_;
      const std::int64_t begin = n * c / chunks, end = n * (c + 1) / chunks;
      try {
        (*job_fn_)(begin, end);
      } catch (...) {
        std::lock_guard lock(error_mutex_);
        if (!error_) error_ = std::current_exception();
      }
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_all();
      w = work_.load(std::memory_order_acquire);
    }
    t_inside_pool_task = was_inside;
  }

  std::vector<std::thread> workers_;
  std::mutex dispatch_mutex_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<bool> shutdown_{false};
  std::atomic<std::uint64_t> work_{0};  // WorkWord
  std::atomic<std::int64_t> pending_{0};
  std::uint64_t job_id_ = 0;  // written by the dispatching thread only (under dispatch_mutex_)
  const FunctionRef<void(std::int64_t, std::int64_t)>* job_fn_ = nullptr;
  std::int64_t job_n_ = 0;
  std::mutex error_mutex_;
  std::exception_ptr error_;
};

int default_thread_count() {
  if (const char* env = std::getenv("ELEGY_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  return available_cpus();
}

struct PoolState {
  std::mutex mutex;
  // Written under `mutex`, read without it by every parallel_for.
  std::atomic<int> threads{default_thread_count()};
  std::vector<std::function<void(int)>> listeners;
  ThreadPool pool{threads};
};

PoolState& state() {
  // Leaked on purpose: kernels may run from static destructors of user code.
  static auto* s = new PoolState();
  return *s;
}

}  // namespace

int num_threads() {
  return state().threads.load(std::memory_order_relaxed);
}

void set_num_threads(int n) {
  ELEGY_CHECK(n >= 1, "set_num_threads", "thread count must be >= 1, got ", n);
  PoolState& s = state();
  std::lock_guard lock(s.mutex);
  if (n != s.threads.load(std::memory_order_relaxed)) {
    s.pool.resize(n);
    s.threads.store(n, std::memory_order_relaxed);
  }
  for (auto& l : s.listeners) l(n);
}

void on_num_threads_changed(std::function<void(int)> listener) {
  PoolState& s = state();
  std::lock_guard lock(s.mutex);
  listener(s.threads.load(std::memory_order_relaxed));
  s.listeners.push_back(std::move(listener));
}

void parallel_for(std::int64_t n, std::int64_t grain,
                  FunctionRef<void(std::int64_t, std::int64_t)> fn) {
  if (n <= 0) return;
  grain = std::max<std::int64_t>(grain, 1);
  PoolState& s = state();
  if (n <= grain || s.threads.load(std::memory_order_relaxed) == 1 || t_inside_pool_task)
    return fn(0, n);
  s.pool.run(n, grain, fn);
}

}  // namespace elegy
