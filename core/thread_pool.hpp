// The one thread pool every CPU kernel runs on. Debian's Highway 1.0.3 has no pool, and OpenMP
// would add a second set of spinning threads beside OpenBLAS's: on a 2-core machine that
// oversubscription costs 2-5x (see shared/BASELINES.md). Workers spin briefly, then sleep on a
// futex (std::atomic::wait), so they never compete with BLAS threads for long.
#pragma once

#include <cstdint>
#include <functional>
#include <type_traits>

namespace elegy {

// Non-owning reference to a callable, so parallel_for costs no allocation.
template <class Sig>
class FunctionRef;
template <class R, class... Args>
class FunctionRef<R(Args...)> {
 public:
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef>>>
  FunctionRef(F&& f)  // NOLINT: implicit by design, like std::function
      : obj_(const_cast<void*>(static_cast<const void*>(&f))),
        call_([](void* obj, Args... args) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(obj))(std::forward<Args>(args)...);
        }) {}
  R operator()(Args... args) const { return call_(obj_, std::forward<Args>(args)...); }

 private:
  void* obj_;
  R (*call_)(void*, Args...);
};

// Number of threads kernels use (caller included). Default: the ELEGY_NUM_THREADS environment
// variable, else the CPUs this process may use (available_cpus(): affinity mask and cgroup quota).
int num_threads();
// Changes the pool size and tells every listener (the BLAS backend keeps OpenBLAS in step).
void set_num_threads(int n);
// Called with the new count whenever set_num_threads runs (and once at registration).
void on_num_threads_changed(std::function<void(int)> listener);

// Runs fn(begin, end) over [0, n) in chunks of at least `grain` items, on the pool. Chunks are a
// pure function of (n, grain, thread count), never of timing. Runs inline when n <= grain, when
// the pool has one thread, or when called from inside a pool task (no nested parallelism).
void parallel_for(std::int64_t n, std::int64_t grain,
                  FunctionRef<void(std::int64_t, std::int64_t)> fn);

}  // namespace elegy
