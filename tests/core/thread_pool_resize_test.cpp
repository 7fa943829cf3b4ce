// Regression: resizing the pool right after creating it must not deadlock. A worker that first
// ran after the resize had begun used to miss the shutdown signal and block join() forever.
#include <doctest/doctest.h>

#include <atomic>

#include <elegy/elegy.hpp>

TEST_CASE("set_num_threads can resize the pool back and forth immediately") {
  const int original = elegy::num_threads();
  for (int round = 0; round < 200; ++round) {
    elegy::set_num_threads(1 + round % 3);
    std::atomic<std::int64_t> covered{0};
    elegy::parallel_for(1000, 10, [&](std::int64_t b, std::int64_t e) { covered += e - b; });
    CHECK(covered.load() == 1000);
  }
  elegy::set_num_threads(original);
  CHECK(elegy::num_threads() == original);
}
