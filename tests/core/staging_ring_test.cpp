// StagingRing (core/staging_ring.hpp): the region bookkeeping behind the pinned staging of host ->
// device copies, driven by fences the test completes by hand. What must hold: a region handed out
// is never one a copy in flight still reads; the host waits only for the oldest copies whose
// regions it needs, never for one already done; a failed wait changes nothing.
#include <doctest/doctest.h>

#include <memory>
#include <stdexcept>
#include <vector>

#include "elegy/core/staging_ring.hpp"

using elegy::StagingRing;

namespace {

// A copy in flight: done when the test says so; wait() marks it done (the GPU finished it) and
// logs which copy the host waited for, or throws when told to.
struct FakeCopy {
  int id = 0;
  bool done = false;
  bool fail_wait = false;
};

struct Log {
  std::vector<int> waited;   // ids, in the order the host waited for them
  std::vector<int> retired;  // ids, in the order their fences were let go
};

struct FakeFence {
  std::shared_ptr<FakeCopy> copy;
  Log* log = nullptr;
  bool done() const { return copy->done; }
  void wait() const {
    if (copy->fail_wait) throw std::runtime_error("event failed");
    log->waited.push_back(copy->id);
    copy->done = true;
  }
};

struct Harness {
  explicit Harness(std::size_t capacity) : ring(capacity) {}
  StagingRing<FakeFence> ring;
  Log log;
  std::vector<std::shared_ptr<FakeCopy>> copies;

  // Reserves and commits `bytes`: returns (offset, waits).
  StagingRing<FakeFence>::Reserved stage(std::size_t bytes) {
    const auto reserved =
        ring.reserve(bytes, [&](FakeFence&& f) { log.retired.push_back(f.copy->id); });
    auto copy = std::make_shared<FakeCopy>();
    copy->id = int(copies.size());
    copies.push_back(copy);
    ring.commit(FakeFence{copy, &log});
    return reserved;
  }
};

}  // namespace

TEST_CASE("StagingRing hands out aligned regions in order and wraps at the end") {
  Harness h(4096);  // max region 2048
  CHECK(h.ring.max_region() == 2048);
  CHECK(h.stage(100).offset == 0);
  CHECK(h.stage(300).offset == 256);    // 100 rounded up to the 256-byte boundary
  CHECK(h.stage(1000).offset == 768);   // 256 + 300 = 556 -> 768
  CHECK(h.stage(2048).offset == 1792);  // 1768 -> 1792: [1792, 3840)
  CHECK(h.log.waited.empty());
  CHECK(h.ring.in_flight() == 4);
  // The next region does not fit past 3840: it wraps to 0, which copies 0 and 1 still read.
  // The host waits for them (oldest first), not for copy 2 ([768, 1768)): [0, 700) ends before.
  const auto wrapped = h.stage(700);
  CHECK(wrapped.offset == 0);
  CHECK(wrapped.waits == 2);
  CHECK(h.log.waited == std::vector<int>{0, 1});
  CHECK(h.log.retired == std::vector<int>{0, 1});
  CHECK(h.ring.in_flight() == 3);  // copies 2, 3 and 4
}

TEST_CASE("StagingRing lets finished copies go without waiting for them") {
  Harness h(4096);
  h.stage(2048);  // copy 0: [0, 2048)
  h.stage(2048);  // copy 1: [2048, 4096)
  h.copies[0]->done = true;
  h.copies[1]->done = true;
  const auto r = h.stage(1024);  // wraps onto both: both done, so no wait
  CHECK(r.offset == 0);
  CHECK(r.waits == 0);
  CHECK(h.log.waited.empty());
  CHECK(h.log.retired == std::vector<int>{0, 1});
  CHECK(h.ring.in_flight() == 1);
}

TEST_CASE("StagingRing waits only until the region it needs is free") {
  Harness h(8192);  // max region 4096
  for (int i = 0; i < 8; ++i) CHECK(h.stage(1024).offset == std::size_t(1024 * i));
  // Wrapping 1500 bytes needs [0, 1500): copies 0 and 1. Copy 5 finishing first changes
  // nothing (the GPU completes in order; an early done() past the oldest is not looked at).
  h.copies[5]->done = true;
  const auto r = h.stage(1500);
  CHECK(r.offset == 0);
  CHECK(r.waits == 2);
  CHECK(h.log.waited == std::vector<int>{0, 1});
  CHECK(h.ring.in_flight() == 7);  // copies 2-7 and the new one
  // Next: [1536, 2560) overlaps copy 2 ([2048, 3072)) only.
  const auto next = h.stage(1024);
  CHECK(next.offset == 1536);
  CHECK(next.waits == 1);
  CHECK(h.log.waited == std::vector<int>{0, 1, 2});
}

TEST_CASE("StagingRing: a region that would overlap nothing in flight never waits") {
  // A long run of small copies, the GPU two copies behind: the ring never makes the host wait,
  // and every region handed out is disjoint from those in flight.
  Harness h(1 << 16);
  for (int i = 0; i < 2000; ++i) {
    const std::size_t bytes = std::size_t(1 + (i * 37) % 900);
    const auto r = h.stage(bytes);
    CHECK(r.waits == 0);
    if (i >= 2) h.copies[std::size_t(i - 2)]->done = true;
  }
  CHECK(h.log.waited.empty());
  CHECK(h.ring.in_flight() <= 3);
}

TEST_CASE("StagingRing waits for the oldest copy when max_in_flight copies are in flight") {
  StagingRing<FakeFence> ring(1 << 16, /*max_in_flight=*/3);
  Log log;
  std::vector<std::shared_ptr<FakeCopy>> copies;
  const auto stage = [&](std::size_t bytes) {
    const auto r = ring.reserve(bytes, [&](FakeFence&& f) { log.retired.push_back(f.copy->id); });
    auto copy = std::make_shared<FakeCopy>();
    copy->id = int(copies.size());
    copies.push_back(copy);
    ring.commit(FakeFence{copy, &log});
    return r;
  };
  // Tiny copies far from overlapping anything: the fourth and fifth still wait, each for the
  // oldest, and the ring keeps its order through the circular buffer's wrap.
  for (int i = 0; i < 3; ++i) CHECK(stage(10).waits == 0);
  CHECK(stage(10).waits == 1);
  CHECK(stage(10).waits == 1);
  CHECK(log.waited == std::vector<int>{0, 1});
  copies[2]->done = true;  // the oldest now: let go without a wait
  CHECK(stage(10).waits == 0);
  CHECK(log.retired == std::vector<int>{0, 1, 2});
  CHECK(ring.in_flight() == 3);
  CHECK(stage(10).offset == 6 * 256);
}

TEST_CASE("StagingRing: a failed wait leaves the ring as it was") {
  Harness h(4096);
  h.stage(2048);
  h.stage(2048);
  h.copies[0]->fail_wait = true;
  CHECK_THROWS_AS(h.stage(512), std::runtime_error);
  CHECK(h.ring.in_flight() == 2);
  CHECK(h.log.retired.empty());
  // Once the copy is done, the same request goes through at the same place.
  h.copies[0]->fail_wait = false;
  h.copies[0]->done = true;
  const auto r = h.stage(512);
  CHECK(r.offset == 0);
  CHECK(r.waits == 0);
}

TEST_CASE("StagingRing: cancel gives the region back; bad sizes and capacities raise") {
  Harness h(4096);
  const auto r = h.ring.reserve(1000, [](FakeFence&&) {});
  CHECK(r.offset == 0);
  h.ring.cancel();
  CHECK_THROWS_WITH_AS(h.ring.commit(FakeFence{}), doctest::Contains("no region was reserved"),
                       elegy::Error);
  CHECK(h.stage(10).offset == 0);  // the cancelled region was never in flight
  CHECK_THROWS_WITH_AS(h.ring.reserve(0, [](FakeFence&&) {}),
                       doctest::Contains("expected 1 to 2048"), elegy::Error);
  CHECK_THROWS_WITH_AS(h.ring.reserve(2049, [](FakeFence&&) {}),
                       doctest::Contains("a region of 2049 bytes"), elegy::Error);
  CHECK_THROWS_AS(StagingRing<FakeFence>(100), elegy::Error);
  CHECK_THROWS_AS(StagingRing<FakeFence>(1000), elegy::Error);  // not a multiple of 256
  CHECK_THROWS_AS(StagingRing<FakeFence>(4096, 0), elegy::Error);
}
