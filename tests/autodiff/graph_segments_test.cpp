// graph_segments (autodiff/graph_segments.hpp): the runs of a replay a CUDA graph may hold are
// the maximal runs of capturable entries on one device, long enough to be worth a graph; and
// StreamGraph::capture refuses work that is not a GPU's, without running it.
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include <elegy/autodiff/graph_segments.hpp>
#include <elegy/core/stream_graph.hpp>

using namespace elegy;
using autodiff::graph_segments;
using autodiff::GraphSegment;

namespace {

// "g" a capturable kernel on cuda:0, "h" on cuda:1, "." anything a graph may not hold.
std::vector<std::optional<Device>> entries(const std::string& pattern) {
  std::vector<std::optional<Device>> out;
  for (char c : pattern) {
    if (c == 'g')
      out.emplace_back(Device::cuda(0));
    else if (c == 'h')
      out.emplace_back(Device::cuda(1));
    else
      out.emplace_back(std::nullopt);
  }
  return out;
}

// Each segment as "begin-end@device".
std::vector<std::string> describe(const std::vector<GraphSegment>& segments) {
  std::vector<std::string> out;
  for (const GraphSegment& s : segments)
    out.push_back(std::to_string(s.begin) + "-" + std::to_string(s.end) + "@" +
                  std::to_string(s.device.index));
  return out;
}

std::vector<std::string> segments_of(const std::string& pattern, std::size_t min_kernels) {
  const auto e = entries(pattern);
  return describe(graph_segments(e, min_kernels));
}

}  // namespace

TEST_CASE("graph segments are the maximal runs of capturable entries on one device") {
  using V = std::vector<std::string>;
  CHECK(segments_of("", 3) == V{});
  CHECK(segments_of("...", 3) == V{});
  CHECK(segments_of("ggg", 3) == V{"0-3@0"});
  CHECK(segments_of("gg", 3) == V{});  // too short to be worth a graph
  CHECK(segments_of("gg", 2) == V{"0-2@0"});
  CHECK(segments_of("gggg.ggg", 3) == V{"0-4@0", "5-8@0"});
  CHECK(segments_of(".gggg.gg.ggg.", 3) == V{"1-5@0", "9-12@0"});
  // Another device ends a run (a graph is one device's stream).
  CHECK(segments_of("ggghhhggg", 3) == V{"0-3@0", "3-6@1", "6-9@0"});
  CHECK(segments_of("gghhgg", 2) == V{"0-2@0", "2-4@1", "4-6@0"});
  CHECK(segments_of("g", 1) == V{"0-1@0"});
  CHECK(segments_of("g.g", 0) == V{"0-1@0", "2-3@0"});  // (no segment is ever empty)
}

TEST_CASE("StreamGraph::capture refuses the CPU's work and runs none of it") {
  int runs = 0;
  std::string why;
  const auto graph = StreamGraph::capture(
      Device::cpu(), [&] { ++runs; }, why);
  CHECK(graph == nullptr);
  CHECK(runs == 0);
  CHECK(why.find("GPU's stream") != std::string::npos);
  CHECK(why.find("cpu") != std::string::npos);
}
