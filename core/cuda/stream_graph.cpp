// StreamGraph on CUDA: stream capture in relaxed mode (the device allocator may still allocate
// through a stream of its own while capturing) on the device's capture stream, instantiated
// once, launched on the device's stream. The temporaries the captured launchers allocated and freed
// are kept by the graph (CaptureBlocks) and go back to the allocator's cache when it dies: the
// cache hands a block out again only to work queued after the graph's last launch, on the same
// stream.
#include <cuda_runtime.h>

#include <exception>
#include <mutex>
#include <sstream>

#include "elegy/core/cuda/cuda_runtime.hpp"
#include "elegy/core/error.hpp"

namespace elegy::cuda {
namespace {

class CudaStreamGraph final : public StreamGraph {
 public:
  CudaStreamGraph(int index, cudaGraphExec_t exec, std::size_t nodes,
                  std::vector<std::pair<void*, std::size_t>> blocks)
      : index_(index), exec_(exec), nodes_(nodes), blocks_(std::move(blocks)) {}

  ~CudaStreamGraph() override {
    // A launch still running completes first: the driver frees an executing graph afterwards,
    // and the blocks' next users are queued after it on the same stream. (A failure left set
    // would be blamed on the next kernel's launch check.)
    if (cudaGraphExecDestroy(exec_) != cudaSuccess) cudaGetLastError();
    Allocator& allocator = device_allocator(index_);
    for (const auto& [p, n] : blocks_) allocator.deallocate(p, n);
  }
  CudaStreamGraph(const CudaStreamGraph&) = delete;
  CudaStreamGraph& operator=(const CudaStreamGraph&) = delete;

  void launch() override {
    set_device(index_);
    ELEGY_CUDA_CHECK(cudaGraphLaunch(exec_, stream(index_)), "cuda graph launch");
  }

  std::size_t num_nodes() const override { return nodes_; }

 private:
  int index_;
  cudaGraphExec_t exec_;
  std::size_t nodes_;
  std::vector<std::pair<void*, std::size_t>> blocks_;
};

std::string error_text(const char* call, cudaError_t status) {
  std::ostringstream os;
  os << call << " failed: " << cudaGetErrorName(status) << " (" << cudaGetErrorString(status)
     << ")";
  return os.str();
}

// Owners of a captured graph and of its executable until the StreamGraph takes the latter, so
// that no path out of capture_graph (an exception included) leaks either. (A failed destroy is
// cleared: left set, the next kernel's launch check would be blamed for it.)
template <class Handle, cudaError_t (*kDestroy)(Handle)>
struct Owned {
  Handle handle = nullptr;
  Owned() = default;
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  ~Owned() {
    if (handle != nullptr && kDestroy(handle) != cudaSuccess) cudaGetLastError();
  }
};
using GraphHandle = Owned<cudaGraph_t, cudaGraphDestroy>;
using ExecHandle = Owned<cudaGraphExec_t, cudaGraphExecDestroy>;

// What an exception the captured work raised says.
// (Never throws: its caller still has the capture's blocks to hand back. Never empty: an empty
// reason would read as no failure.)
std::string what_of(const std::exception_ptr& raised) noexcept {
  try {
    std::rethrow_exception(raised);
  } catch (const std::exception& e) {
    try {
      if (*e.what() != '\0') return e.what();
    } catch (...) {  // (no memory for the text)
    }
  } catch (...) {
  }
  return "an exception";  // (short enough to live in the string itself: no allocation)
}

// While it lives, this thread captures on the device's capture stream (CaptureBlocks); however
// the capture ends, the thread's allocator hooks and its stream are restored.
class Capturing {
 public:
  explicit Capturing(CaptureBlocks& blocks) { capture_blocks() = &blocks; }
  ~Capturing() { capture_blocks() = nullptr; }
  Capturing(const Capturing&) = delete;
  Capturing& operator=(const Capturing&) = delete;
};

}  // namespace

std::unique_ptr<StreamGraph> capture_graph(int index, const std::function<void()>& enqueue,
                                           std::string& why_not) {
  // (capture_blocks() is null inside a CaptureSuspended scope too: this counts captures.)
  thread_local int captures_open = 0;
  ELEGY_CHECK(capture_blocks() == nullptr && captures_open == 0, "cuda graph capture",
              "this thread is capturing a graph already");
  ++captures_open;
  struct Closed {
    ~Closed() { --captures_open; }
  } closed;
  // One capture at a time per device: its capture stream can hold one (captures only queue
  // work, so another thread waits a few hundred microseconds at most).
  std::lock_guard<std::mutex> one_at_a_time(capture_mutex(index));
  set_device(index);
  const cudaStream_t s = capture_stream(index);
  CaptureBlocks blocks;
  blocks.device = index;
  blocks.stream = s;
  // Room made before the capture begins: the allocator's hooks fill these from destructors,
  // where a bad_alloc would end the process.
  blocks.live.reserve(256);
  blocks.retained.reserve(256);
  blocks.older_frees.reserve(64);
  ELEGY_CUDA_CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed), "cuda graph capture");
  // Nothing between the capture's begin and end may throw: a capture left open would refuse
  // every later one on this device. So what the work raised is kept as it is (no string made)
  // and described once the capture has ended.
  std::exception_ptr raised;
  {
    Capturing capturing(blocks);
    try {
      enqueue();
    } catch (...) {
      raised = std::current_exception();
    }
  }
  GraphHandle graph;
  const cudaError_t ended = cudaStreamEndCapture(s, &graph.handle);
  Allocator& allocator = device_allocator(index);
  // Until a graph owns them, the capture's temporaries go back to the allocator on every way out
  // (a refusal, or a bad_alloc while its reason is written): nothing captured has run.
  struct HandBack {
    Allocator& allocator;
    std::vector<std::pair<void*, std::size_t>>* blocks;
    ~HandBack() {
      if (blocks != nullptr)
        for (const auto& [p, n] : *blocks) allocator.deallocate(p, n);
    }
  } hand_back{allocator, &blocks.retained};
  std::string failure = raised ? what_of(raised) : std::string();
  if (ended != cudaSuccess) {
    cudaGetLastError();  // an invalidated capture is no error of the work queued after it
    if (failure.empty()) failure = error_text("cudaStreamEndCapture", ended);
  }
  for (const auto& [p, n] : blocks.older_frees) allocator.deallocate(p, n);
  if (failure.empty() && !blocks.older_frees.empty())
    failure = "a launcher freed a block allocated before the capture (a launch would still use it)";
  if (failure.empty() && !blocks.live.empty())
    failure = "a launcher kept a block it allocated while captured (the graph would write it)";
  std::size_t nodes = 0;
  if (failure.empty()) {
    const cudaError_t counted = cudaGraphGetNodes(graph.handle, nullptr, &nodes);
    if (counted != cudaSuccess)
      failure = error_text("cudaGraphGetNodes", counted);
    else if (nodes == 0)
      failure = "nothing was queued";
  }
  ExecHandle exec;
  if (failure.empty()) {
    const cudaError_t made = cudaGraphInstantiate(&exec.handle, graph.handle, 0);
    if (made != cudaSuccess) failure = error_text("cudaGraphInstantiate", made);
  }
  if (failure.empty()) {
    // Uploaded now, on the stream it will run on, rather than at its first launch.
    const cudaError_t uploaded = cudaGraphUpload(exec.handle, stream(index));
    if (uploaded != cudaSuccess) failure = error_text("cudaGraphUpload", uploaded);
  }
  if (!failure.empty()) {
    cudaGetLastError();
    why_not = std::move(failure);
    return nullptr;  // (hand_back returns the temporaries)
  }
  auto made = std::make_unique<CudaStreamGraph>(index, exec.handle, nodes, blocks.retained);
  exec.handle = nullptr;       // (the graph owns it now,
  hand_back.blocks = nullptr;  // and its temporaries)
  return made;
}

}  // namespace elegy::cuda
