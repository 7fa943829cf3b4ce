#include "elegy/autodiff/graph_segments.hpp"

namespace elegy::autodiff {

std::vector<GraphSegment> graph_segments(std::span<const std::optional<Device>> capturable,
                                         std::size_t min_kernels) {
  std::vector<GraphSegment> out;
  std::size_t i = 0;
  while (i < capturable.size()) {
    if (!capturable[i]) {
      ++i;
      continue;
    }
    const Device device = *capturable[i];
    std::size_t end = i + 1;
    while (end < capturable.size() && capturable[end] == device) ++end;
    if (end - i >= min_kernels) out.push_back({i, end, device});
    i = end;
  }
  return out;
}

}  // namespace elegy::autodiff
