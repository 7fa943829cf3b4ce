// Where host -> device copies stage their bytes: a ring of `capacity` bytes (pinned memory on a
// GPU, core/cuda/host_staging.cpp), handed out in order. A region stays in use until the copy
// reading it has finished, which its fence says; a new region waits only for the oldest copies
// whose regions it overlaps. So the host copies into one part of the ring while the DMA engine
// reads another, and waits only when it runs a whole ring ahead of the GPU.
//
// The ring knows nothing of CUDA: `Fence` is any movable type with
//   bool done();   // the copy has finished (never blocks)
//   void wait();   // blocks until it has; may throw (the ring is then unchanged)
// which lets the tests drive it with fences of their own.
#pragma once

#include <cstddef>
#include <deque>
#include <utility>

#include "elegy/core/error.hpp"

namespace elegy {

template <class Fence>
class StagingRing {
 public:
  // Regions start on this boundary: a DMA engine reads aligned sources fastest.
  static constexpr std::size_t kAlign = 256;

  explicit StagingRing(std::size_t capacity) : capacity_(capacity) {
    ELEGY_CHECK(capacity >= 2 * kAlign && capacity % kAlign == 0, "StagingRing",
                "capacity must be a multiple of ", kAlign, " of at least ", 2 * kAlign,
                " bytes, got ", capacity);
  }

  std::size_t capacity() const { return capacity_; }
  // The most one region holds: half the ring, so the host fills one half while the other's
  // copy is in flight. Larger copies go through in pieces of this size.
  std::size_t max_region() const { return capacity_ / 2; }
  std::size_t in_flight() const { return regions_.size(); }

  struct Reserved {
    std::size_t offset;  // where the region starts
    std::size_t waits;   // how many copies in flight it waited for
  };

  // `bytes` (1 to max_region()) bytes no copy in flight reads. Regions whose copy has finished
  // are let go first; then, oldest first, it waits for those it still overlaps.
  // `on_retired(Fence&&)` receives each let-go fence (to recycle it).
  template <class OnRetired>
  Reserved reserve(std::size_t bytes, OnRetired&& on_retired) {
    ELEGY_CHECK(bytes >= 1 && bytes <= max_region(), "StagingRing::reserve", "a region of ", bytes,
                " bytes: expected 1 to ", max_region());
    while (!regions_.empty() && regions_.front().fence.done()) retire_front(on_retired);
    std::size_t begin = round_up(head_);
    if (begin + bytes > capacity_) begin = 0;  // (the tail past the head goes unused this lap)
    const std::size_t end = begin + bytes;
    std::size_t waits = 0;
    while (overlaps_any(begin, end)) {
      regions_.front().fence.wait();  // (throws before anything changed)
      ++waits;
      retire_front(on_retired);
    }
    reserved_ = {begin, end};
    return {begin, waits};
  }

  // The region reserve() last returned is read by the copy `fence` follows.
  void commit(Fence fence) {
    ELEGY_CHECK(reserved_.second > reserved_.first, "StagingRing::commit",
                "no region was reserved");
    regions_.push_back({reserved_.first, reserved_.second, std::move(fence)});
    head_ = reserved_.second;
    reserved_ = {0, 0};
  }

  // Gives up the region reserve() last returned (its copy was never queued).
  void cancel() { reserved_ = {0, 0}; }

 private:
  struct Region {
    std::size_t begin, end;
    Fence fence;
  };

  static std::size_t round_up(std::size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

  bool overlaps_any(std::size_t begin, std::size_t end) const {
    for (const Region& r : regions_)
      if (r.begin < end && begin < r.end) return true;
    return false;
  }

  template <class OnRetired>
  void retire_front(OnRetired& on_retired) {
    Fence fence = std::move(regions_.front().fence);
    regions_.pop_front();
    on_retired(std::move(fence));
  }

  std::size_t capacity_;
  std::size_t head_ = 0;  // where the last committed region ended
  std::pair<std::size_t, std::size_t> reserved_{0, 0};
  std::deque<Region> regions_;  // in flight, oldest first
};

}  // namespace elegy
