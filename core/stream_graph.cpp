// StreamGraph::capture: CUDA devices go to core/cuda/stream_graph.cpp; nothing else has a
// stream to capture.
#include "elegy/core/stream_graph.hpp"

#include <sstream>
#include <utility>

#ifdef ELEGY_WITH_CUDA
#include "elegy/core/cuda/cuda_runtime.hpp"
#endif

namespace elegy {

std::unique_ptr<StreamGraph> StreamGraph::capture(Device device,
                                                  const std::function<void()>& enqueue,
                                                  std::string& why_not) {
  if (!device.is_cuda()) {
    std::ostringstream os;
    os << "graphs capture work queued on a GPU's stream; these kernels run on " << device;
    why_not = os.str();
    return nullptr;
  }
#ifdef ELEGY_WITH_CUDA
  return cuda::capture_graph(device.index, enqueue, why_not);
#else
  why_not = "this build of elegy has no CUDA backend";
  return nullptr;
#endif
}

CaptureSuspended::CaptureSuspended() {
#ifdef ELEGY_WITH_CUDA
  suspended_ = std::exchange(cuda::capture_blocks(), nullptr);
#endif
}

CaptureSuspended::~CaptureSuspended() {
#ifdef ELEGY_WITH_CUDA
  cuda::capture_blocks() = static_cast<cuda::CaptureBlocks*>(suspended_);
#endif
}

}  // namespace elegy
