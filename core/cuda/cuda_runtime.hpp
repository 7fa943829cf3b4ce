// The CUDA runtime side of core/ (compiled only with ELEGY_WITH_CUDA): device discovery, one
// stream per device, the device allocator, and the error check every CUDA call goes through.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "elegy/core/allocator.hpp"
#include "elegy/core/device.hpp"
#include "elegy/core/stream_graph.hpp"

// Opaque stream handle, so this header does not pull in cuda_runtime.h for users.
struct CUstream_st;

namespace elegy::cuda {

int device_count();  // cached after the first call; 0 when no driver or GPU
Allocator& device_allocator(int index);
// The stream all of elegy's work on `index` runs on (on a thread capturing a graph on that
// device, the capture stream).
CUstream_st* stream(int index);
// The stream graphs are captured on (made on first use): see CaptureBlocks.
CUstream_st* capture_stream(int index);
// Held by the thread capturing a graph on `index` (StreamGraph::capture): one capture per
// device's capture stream at a time.
std::mutex& capture_mutex(int index);
// Makes `index` the calling thread's current device.
void set_device(int index);
// Blocks until all work queued on the device's stream is done.
void synchronize(int index);
// The same for a stream by handle (kernel launchers hold the stream); `op` names the caller in
// the Error a failure raises.
void synchronize_stream(CUstream_st* stream, const char* op);

// How many times elegy's host has waited for a GPU since the process started (stream
// synchronisations and host reads finished), on any thread. Tests read it around a training
// step to prove that the step does not stop the host before its logs are read.
std::uint64_t host_waits();
// Counts one such wait (for the runtime's own files: every wait the host makes goes through it).
void note_host_wait();

// A host -> device copy of `bytes` dense bytes, queued on the device's stream. The bytes go
// through a pinned staging ring first (core/cuda/host_staging.cpp), so the call returns once
// they are copied there, without waiting for the stream's earlier work (a copy straight from
// pageable memory may), and `host_src` may be reused at once. It waits only when the copies in
// flight fill the ring. Raises when this thread is capturing a graph on the device: a graph
// would copy the capture's staged bytes at every launch.
void copy_host_to_device(int index, void* device_dst, const void* host_src, std::size_t bytes,
                         const char* op);
CudaStagingStats staging_stats(int index);  // (elegy::cuda_staging_stats)

// A device -> host copy queued on the device's stream into pinned memory, with an event after
// it: the host waits for this copy alone (not for the work queued since) when it reads. At most
// 256 bytes. The pinned slot and the event return to a pool when the handle dies.
class HostRead;
std::shared_ptr<HostRead> queue_host_read(int index, const void* device_src, std::size_t bytes,
                                          const char* op);
// Waits for the copy and copies its bytes to `dst`.
void finish_host_read(HostRead& read, void* dst, const char* op);
inline constexpr std::size_t kMaxHostReadBytes = 256;

// StreamGraph::capture on a CUDA device (core/cuda/stream_graph.cpp).
std::unique_ptr<StreamGraph> capture_graph(int index, const std::function<void()>& enqueue,
                                           std::string& why_not);

// A thread capturing a graph on a device. Its launchers' stream(index) is a capture stream of
// the device's own, so work other threads queue meanwhile (fit's helper gathering the next batch)
// runs as usual instead of joining the graph; the graph is launched on the device's stream.
// What the device allocator hands out and takes back on that thread: a block allocated and freed
// while captured is the graph's (a launch writes it), so it is kept out of the cache until the
// graph dies (later allocations of the same capture may reuse it: a capture from one stream is
// one chain); frees of older blocks wait for the capture's end. Waits for the GPU and new host
// reads raise while capturing (a read queued before the capture may still be finished: its event
// was recorded outside it).
struct CaptureBlocks {
  int device = -1;
  CUstream_st* stream = nullptr;
  std::unordered_map<void*, std::size_t> live;             // allocated while captured, not freed
  std::vector<std::pair<void*, std::size_t>> retained;     // allocated and freed while captured
  std::vector<std::pair<void*, std::size_t>> older_frees;  // allocated before, freed while captured
};
// This thread's capture, or null.
CaptureBlocks*& capture_blocks();

// Raises elegy::Error("<op>: <call> failed: <cuda error string>") when `status` is an error.
void check(int status, const char* call, const char* op);

}  // namespace elegy::cuda

#define ELEGY_CUDA_CHECK(call, op) ::elegy::cuda::check(int(call), #call, op)
