// Where a replayed step's kernels can run as CUDA graphs (core/stream_graph.hpp): the maximal
// runs of consecutive entries a graph may hold, each on one device. Entries a graph may not hold
// (host code, checks, constants, a copy from or to the host, a CPU kernel) end a run, so every
// entry still runs in the recorded order.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "elegy/core/device.hpp"

namespace elegy::autodiff {

struct GraphSegment {
  std::size_t begin = 0, end = 0;  // entries [begin, end)
  Device device;
};

// `capturable[i]`: the device entry i's kernel runs on when a graph may hold it, else nullopt.
// Runs shorter than `min_kernels` are left out: a graph of one or two kernels saves nothing.
std::vector<GraphSegment> graph_segments(std::span<const std::optional<Device>> capturable,
                                         std::size_t min_kernels);

// A run whose capture was refused (one of its kernels waits on the host, or keeps a block),
// cut into halves to try again: after a few replays the runs around the offending kernel are
// graphs and it runs alone. The halves at least `min_kernels` long; none when the run is too
// short to cut.
std::vector<GraphSegment> split_refused(const GraphSegment& refused, std::size_t min_kernels);

}  // namespace elegy::autodiff
