// Where host -> device copies stage their bytes: a ring of `capacity` bytes (pinned memory on a
// GPU, core/cuda/host_staging.cpp), handed out in order. A region stays in use until the copy
// reading it has finished, which its fence says; a new region waits only for the oldest copies
// whose regions it overlaps. So the host copies into one part of the ring while the DMA engine
// reads another, and waits only when it runs a whole ring ahead of the GPU.
//
// The ring knows nothing of CUDA: `Fence` is any default-constructible, movable type with
//   bool done();   // the copy has finished (never blocks)
//   void wait();   // blocks until it has
// either of which may throw (the ring then hands nothing out). So the tests drive it with fences of
// their own. Its bookkeeping allocates once, when it is made: committing a queued copy cannot
// fail.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "elegy/core/error.hpp"

namespace elegy {

template <class Fence>
class StagingRing {
 public:
  // Regions start on this boundary: a DMA engine reads aligned sources fastest.
  static constexpr std::size_t kAlign = 256;
  // At most this many copies in flight (each holds a fence, an event on a GPU): tiny copies
  // queued behind long GPU work would otherwise pile up thousands.
  static constexpr std::size_t kMaxInFlight = 1024;

  explicit StagingRing(std::size_t capacity, std::size_t max_in_flight = kMaxInFlight)
      : capacity_(capacity), regions_(max_in_flight) {
    ELEGY_CHECK(capacity >= 2 * kAlign && capacity % kAlign == 0 && max_in_flight >= 1,
                "StagingRing", "capacity must be a multiple of ", kAlign, " of at least ",
                2 * kAlign, " bytes, got ", capacity,
                ", with room for at least one copy in flight");
  }

  std::size_t capacity() const { return capacity_; }
  // The most one region holds: half the ring, so the host fills one half while the other's
  // copy is in flight. Larger copies go through in pieces of this size.
  std::size_t max_region() const { return capacity_ / 2; }
  std::size_t in_flight() const { return count_; }

  struct Reserved {
    std::size_t offset;  // where the region starts
    std::size_t waits;   // how many copies in flight it waited for
  };

  // `bytes` (1 to max_region()) bytes no copy in flight reads. Regions whose copy has finished
  // are let go first; then, oldest first, it waits for those it still overlaps (and for the
  // oldest when max_in_flight copies are in flight). `on_retired(Fence&&)` receives each let-go
  // fence (to recycle it). A fence that throws hands nothing out (what was let go before it was
  // done).
  template <class OnRetired>
  Reserved reserve(std::size_t bytes, OnRetired&& on_retired) {
    ELEGY_CHECK(bytes >= 1 && bytes <= max_region(), "StagingRing::reserve", "a region of ", bytes,
                " bytes: expected 1 to ", max_region());
    while (count_ > 0 && oldest().fence.done()) retire_oldest(on_retired);
    std::size_t begin = round_up(head_);
    if (begin + bytes > capacity_) begin = 0;  // (the tail past the head goes unused this lap)
    const std::size_t end = begin + bytes;
    std::size_t waits = 0;
    while (count_ == regions_.size() || overlaps_any(begin, end)) {
      oldest().fence.wait();
      ++waits;
      retire_oldest(on_retired);
    }
    reserved_ = {begin, end};
    return {begin, waits};
  }

  // The region reserve() last returned is read by the copy `fence` follows. (No allocation: the
  // copy is queued already, so this must not fail.)
  void commit(Fence fence) {
    ELEGY_CHECK(reserved_.second > reserved_.first && count_ < regions_.size(),
                "StagingRing::commit", "no region was reserved");
    Region& r = regions_[(first_ + count_) % regions_.size()];
    r.begin = reserved_.first;
    r.end = reserved_.second;
    r.fence = std::move(fence);
    ++count_;
    head_ = reserved_.second;
    reserved_ = {0, 0};
  }

  // Gives up the region reserve() last returned (its copy was never queued).
  void cancel() { reserved_ = {0, 0}; }

 private:
  struct Region {
    std::size_t begin = 0, end = 0;
    Fence fence{};
  };

  static std::size_t round_up(std::size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

  Region& oldest() { return regions_[first_]; }

  bool overlaps_any(std::size_t begin, std::size_t end) const {
    for (std::size_t i = 0; i < count_; ++i) {
      const Region& r = regions_[(first_ + i) % regions_.size()];
      if (r.begin < end && begin < r.end) return true;
    }
    return false;
  }

  template <class OnRetired>
  void retire_oldest(OnRetired& on_retired) {
    Fence fence = std::move(oldest().fence);
    first_ = (first_ + 1) % regions_.size();
    --count_;
    on_retired(std::move(fence));
  }

  std::size_t capacity_;
  std::size_t head_ = 0;  // where the last committed region ended
  std::pair<std::size_t, std::size_t> reserved_{0, 0};
  std::vector<Region> regions_;  // a circular buffer: count_ in flight from first_, oldest first
  std::size_t first_ = 0, count_ = 0;
};

}  // namespace elegy
