#include "elegy/autodiff/graph_segments.hpp"

#include <utility>

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

std::vector<GraphSegment> split_refused(const GraphSegment& refused, std::size_t min_kernels) {
  std::vector<GraphSegment> out;
  const std::size_t middle = refused.begin + (refused.end - refused.begin) / 2;
  for (const auto& [begin, end] :
       {std::pair{refused.begin, middle}, std::pair{middle, refused.end}})
    if (end - begin >= min_kernels) out.push_back({begin, end, refused.device});
  return out;
}

}  // namespace elegy::autodiff
