#include "elegy/autodiff/memory_plan.hpp"

#include <algorithm>
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
  std::vector<std::size_t> placed;
  std::vector<std::pair<std::size_t, std::size_t>> taken;  // (offset, end) of the conflicting
  for (const std::size_t i : order) {
    if (!out[i].in_arena) continue;
    const std::size_t size = aligned(out[i].nbytes);
    taken.clear();
    for (const std::size_t j : placed)
      if (out[j].device == out[i].device && alive_together(blocks[i], blocks[j]))
        taken.emplace_back(out[j].offset, out[j].offset + aligned(out[j].nbytes));
    std::sort(taken.begin(), taken.end());
    std::size_t offset = 0;
    for (const auto& [begin, end] : taken) {
      if (offset + size <= begin) break;  // fits in the gap before this one
      offset = std::max(offset, end);
    }
    out[i].offset = offset;
    placed.push_back(i);
    auto arena = std::find_if(plan->arenas_.begin(), plan->arenas_.end(),
                              [&](const auto& a) { return a.first == out[i].device; });
    if (arena == plan->arenas_.end())
      plan->arenas_.emplace_back(out[i].device, offset + size);
    else
      arena->second = std::max(arena->second, offset + size);
  }
  // Which earlier blocks each one shares bytes with (never alive together, by construction).
  for (std::size_t k = 0; k < out.size(); ++k) {
    if (!out[k].in_arena) continue;
    for (std::size_t j = 0; j < k; ++j) {
      if (!out[j].in_arena || out[j].device != out[k].device) continue;
      const std::size_t j_end = out[j].offset + aligned(out[j].nbytes);
      const std::size_t k_end = out[k].offset + aligned(out[k].nbytes);
      if (out[j].offset < k_end && out[k].offset < j_end) out[k].overlaps.push_back(j);
    }
  }
  return plan;
}

}  // namespace elegy::autodiff
