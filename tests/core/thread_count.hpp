// Restores the kernel thread count after a test that changes it.
#pragma once

#include <elegy/core/thread_pool.hpp>

namespace elegy::testing {

struct ThreadCountGuard {
  int saved = num_threads();
  ~ThreadCountGuard() { set_num_threads(saved); }
};

}  // namespace elegy::testing
