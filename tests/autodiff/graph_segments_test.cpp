// graph_segments (autodiff/graph_segments.hpp): the runs of a replay a CUDA graph may hold are
// the maximal runs of capturable entries on one device, long enough to be worth a graph; and
// StreamGraph::capture refuses work that is not a GPU's, without running it.
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include <elegy/autodiff/graph_segments.hpp>
#include <elegy/autodiff/step_recording.hpp>
#include <elegy/core/stream_graph.hpp>
#include <elegy/elegy.hpp>

using namespace elegy;
using autodiff::graph_segments;
using autodiff::GraphSegment;
using autodiff::split_refused;

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

TEST_CASE("a refused run is cut into halves long enough for a graph") {
  using V = std::vector<std::string>;
  const Device gpu = Device::cuda(1);
  CHECK(describe(split_refused({0, 8, gpu}, 3)) == V{"0-4@1", "4-8@1"});
  CHECK(describe(split_refused({10, 17, gpu}, 3)) == V{"10-13@1", "13-17@1"});
  CHECK(describe(split_refused({10, 15, gpu}, 3)) == V{"12-15@1"});  // 10-12 runs kernel by kernel
  CHECK(describe(split_refused({0, 5, gpu}, 2)) == V{"0-2@1", "2-5@1"});
  CHECK(describe(split_refused({4, 7, gpu}, 3)) == V{});  // too short to cut
  // Cut again and again, a run of 64 ends in runs of 4 around whichever kernel is refused.
  std::vector<GraphSegment> level{{0, 64, gpu}};
  for (int depth = 0; depth < 4; ++depth) {
    std::vector<GraphSegment> next;
    for (const GraphSegment& s : level)
      for (const GraphSegment& h : split_refused(s, 3)) next.push_back(h);
    level = next;
  }
  REQUIRE(level.size() == 16);
  for (std::size_t i = 0; i < level.size(); ++i) {
    CHECK(level[i].begin == 4 * i);
    CHECK(level[i].end == 4 * i + 4);
  }
  CHECK(split_refused(level[5], 3).empty());
}

TEST_CASE("a replay that runs out of memory drops its graphs for good, and raises") {
  // The graphs keep their launchers' temporaries out of the allocator's reach, so a replay that
  // runs out of memory lets them go. (On the CPU the plan has no graph; the status shows it.)
  bool hungry = false;
  const Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3}, Shape{3});
  autodiff::StepRecording recording;
  recording.add_inputs(std::vector<Tensor>{x});
  const Tensor y = x * 2.0;
  autodiff::check_on_host("test", {y}, [&] {
    if (hungry) throw OutOfMemoryError("test allocator: out of memory allocating 1 bytes");
  });
  recording.stop();
  recording.use_graphs(true);
  recording.replay();
  CHECK(recording.graph_status().why_not.find("dropped") == std::string::npos);
  hungry = true;
  CHECK_THROWS_AS(recording.replay(), OutOfMemoryError);
  CHECK(recording.graph_status().why_not.find("graphs dropped when a replay ran out of memory") !=
        std::string::npos);
  hungry = false;
  recording.replay();  // kernel by kernel from now on
  CHECK(recording.graph_status().why_not.find("dropped") != std::string::npos);
  recording.use_graphs(false);
  recording.use_graphs(true);  // turned on again: planned again at the next replay
  recording.replay();
  CHECK(recording.graph_status().why_not.find("dropped") == std::string::npos);
}
