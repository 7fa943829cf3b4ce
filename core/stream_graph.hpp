// StreamGraph: work queued on a device's stream, captured once and launched again as one unit
// (a CUDA graph). A replayed step's run of kernels costs the host one launch instead of one per
// kernel: on a GPU whose step is bound by the host's ~5 µs per launch, that is the step's time.
//
// What a capture may hold: kernels, cuBLAS calls and copies between device buffers, all on the
// device's one stream, with their arguments fixed (the graph launches them with the same
// arguments, pointers and sizes every time). Temporaries the launchers allocate and free while
// captured (a reduction's partial sums, a sort's scratch) stay the graph's own until it dies, so
// no other tensor can be handed their bytes while a launch may still write them. A capture that
// reads or waits on the host, copies from host memory, frees a block it did not allocate or
// keeps one it did is refused, with the reason, and its work is not queued: the caller runs it
// the ordinary way.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "elegy/core/device.hpp"

namespace elegy {

class StreamGraph {
 public:
  virtual ~StreamGraph() = default;
  // Queues the captured work on the device's stream again.
  virtual void launch() = 0;
  // Kernels and copies in the graph.
  virtual std::size_t num_nodes() const = 0;

  // Runs `enqueue` with `device`'s stream capturing instead of executing; returns the graph (its
  // work not yet run: launch() runs it), or null with `why_not` set when the work cannot be a
  // graph (`enqueue` raised, did something a capture refuses, queued nothing, the device is not
  // a GPU, this build has no CUDA). Nothing of a refused capture has run.
  static std::unique_ptr<StreamGraph> capture(Device device, const std::function<void()>& enqueue,
                                              std::string& why_not);
};

// While it lives, work this thread queues is not part of the graph it may be capturing: it runs
// on the device's stream as usual (before the graph's launch, queued later on that stream). For
// values made once and cached for later steps (device constants): captured, they would be
// written only if the graph is kept and launched. Nothing to do without CUDA.
class CaptureSuspended {
 public:
  CaptureSuspended();
  ~CaptureSuspended();
  CaptureSuspended(const CaptureSuspended&) = delete;
  CaptureSuspended& operator=(const CaptureSuspended&) = delete;

 private:
  void* suspended_ = nullptr;  // this thread's cuda::CaptureBlocks, restored at the end
};

}  // namespace elegy
