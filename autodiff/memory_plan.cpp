#include "elegy/autodiff/memory_plan.hpp"

#include <algorithm>
#include <map>
#include <numeric>

namespace elegy::autodiff {

namespace {

std::size_t aligned(std::size_t n) {
  return (n + MemoryPlan::kAlignment - 1) / MemoryPlan::kAlignment * MemoryPlan::kAlignment;
}

bool alive_together(const BlockLifetime& a, const BlockLifetime& b) {
  return a.first < b.end && b.first < a.end;
}

bool planned(const BlockLifetime& b) {
  return b.nbytes > 0 && !b.device.is_meta();
}

// The blocks placed so far, found by lifetime without a scan of them all (a deep model's step
// makes tens of thousands of blocks). A block alive together with [first, end) is either alive
// at `first` (a stabbing query over a segment tree of lifetimes) or made in (first, end).
class PlacedBlocks {
 public:
  explicit PlacedBlocks(std::size_t times)
      : size_(std::max<std::size_t>(times, 1)), tree_(2 * size_) {}

  void add(std::size_t index, std::size_t first, std::size_t end) {
    for (std::size_t l = first + size_, r = clamp(end) + size_; l < r; l >>= 1, r >>= 1) {
      if (l & 1) tree_[l++].push_back(index);
      if (r & 1) tree_[--r].push_back(index);
    }
    by_first_.emplace(first, index);
  }

  // Every placed block alive at some time in [first, end), each once.
  void alive_during(std::size_t first, std::size_t end, std::vector<std::size_t>& out) const {
    out.clear();
    if (first >= size_ || clamp(end) <= first) return;
    for (std::size_t node = first + size_; node >= 1; node >>= 1)
      out.insert(out.end(), tree_[node].begin(), tree_[node].end());
    const auto last = by_first_.lower_bound(clamp(end));
    for (auto it = by_first_.upper_bound(first); it != last; ++it) out.push_back(it->second);
  }

 private:
  std::size_t clamp(std::size_t t) const { return std::min(t, size_); }
  std::size_t size_;
  std::vector<std::vector<std::size_t>> tree_;  // node -> blocks alive over its whole span
  std::multimap<std::size_t, std::size_t> by_first_;
};

}  // namespace

std::shared_ptr<const MemoryPlan> MemoryPlan::pack(std::span<const BlockLifetime> blocks) {
  auto plan = std::make_shared<MemoryPlan>();
  std::vector<Placement>& out = plan->placements_;
  out.resize(blocks.size());
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    out[i].device = blocks[i].device;
    out[i].nbytes = blocks[i].nbytes;
    out[i].in_arena = planned(blocks[i]);
  }
  // Largest first: the big activations fix the arena's size, small blocks fill the gaps.
  std::vector<std::size_t> order(blocks.size());
  std::iota(order.begin(), order.end(), std::size_t(0));
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return out[a].nbytes > out[b].nbytes; });
  std::size_t times = 1;
  for (const BlockLifetime& b : blocks)
    times = std::max(
        {times, b.first + 1, b.end == BlockLifetime::kAliveAtEnd ? std::size_t(0) : b.end});
  PlacedBlocks placed(times);
  std::vector<std::size_t> alive;
  std::vector<std::pair<std::size_t, std::size_t>> taken;  // (offset, end) of the conflicting
  for (const std::size_t i : order) {
    if (!out[i].in_arena) continue;
    const std::size_t size = aligned(out[i].nbytes);
    placed.alive_during(blocks[i].first, blocks[i].end, alive);
    taken.clear();
    for (const std::size_t j : alive)
      if (out[j].device == out[i].device && alive_together(blocks[i], blocks[j]))
        taken.emplace_back(out[j].offset, out[j].offset + aligned(out[j].nbytes));
    std::sort(taken.begin(), taken.end());
    std::size_t offset = 0;
    for (const auto& [begin, end] : taken) {
      if (offset + size <= begin) break;  // fits in the gap before this one
      offset = std::max(offset, end);
    }
    out[i].offset = offset;
    placed.add(i, blocks[i].first, blocks[i].end);
    auto arena = std::find_if(plan->arenas_.begin(), plan->arenas_.end(),
                              [&](const auto& a) { return a.first == out[i].device; });
    if (arena == plan->arenas_.end())
      plan->arenas_.emplace_back(out[i].device, offset + size);
    else
      arena->second = std::max(arena->second, offset + size);
  }
  return plan;
}

}  // namespace elegy::autodiff
