// Host -> device copies through a pinned staging ring per device (core/staging_ring.hpp).
//
// Why not cudaMemcpyAsync straight from the caller's memory: from pageable memory the driver
// stages the bytes itself and may first wait for the stream's earlier work, so a training step's
// batch copy-in would wait for the previous step to finish on the GPU and the host could not
// run ahead. From pinned memory the copy is asynchronous, but the caller's buffer would have to
// outlive it. The ring gives both: the bytes are copied into pinned memory the DMA engine reads
// later, each region fenced by an event recorded after its copy, and the caller's buffer is free
// when the call returns.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "elegy/core/cuda/cuda_runtime.hpp"
#include "elegy/core/error.hpp"
#include "elegy/core/staging_ring.hpp"
#include "elegy/core/thread_pool.hpp"

namespace elegy::cuda {
namespace {

// 16 MiB per device, pinned on its first copy: pieces of up to 8 MiB, double-buffered, so a
// large copy runs at the rate of the host's memcpy into the ring; a step's small copies (a
// batch, its labels, a replay's keys) fill it only when the host is hundreds of steps ahead.
constexpr std::size_t kStagingBytes = std::size_t(16) << 20;
// Pieces of at least two chunks are copied into the ring by the thread pool, a chunk per task.
constexpr std::size_t kParallelChunk = std::size_t(512) << 10;

// The op a failed wait for a staged copy names.
constexpr const char* kRingOp = "host -> cuda copy (the staging ring's oldest copy)";

// The event recorded after a region's copy.
struct EventFence {
  cudaEvent_t event = nullptr;

  bool done() const {
    const cudaError_t status = cudaEventQuery(event);
    if (status == cudaSuccess) return true;
    cudaGetLastError();  // (left set, the next kernel's launch check would be blamed for it)
    if (status == cudaErrorNotReady) return false;
    check(int(status), "cudaEventQuery", kRingOp);
    return false;  // (not reached: check raised)
  }
  void wait() const {
    note_host_wait();
    ELEGY_CUDA_CHECK(cudaEventSynchronize(event), kRingOp);
  }
};

struct Staging {
  std::mutex mutex;
  char* pinned = nullptr;
  bool unavailable = false;  // cudaMallocHost failed: copies go straight from the source
  std::unique_ptr<StagingRing<EventFence>> ring;
  std::vector<cudaEvent_t> spare_events;  // fences let go, for reuse
  CudaStagingStats stats;
};

Staging& staging(int index) {
  static std::mutex mutex;
  static auto* all = new std::vector<std::unique_ptr<Staging>>();  // leaked, with its pinned
  std::lock_guard lock(mutex);                                     // memory: see cpu_allocator
  const int count = device_count();
  if (index < 0 || index >= count)
    fail("cuda", "device cuda:", index, " requested but ", count, " CUDA device(s) are visible");
  if (all->empty()) all->resize(std::size_t(count));
  auto& s = (*all)[std::size_t(index)];
  if (!s) s = std::make_unique<Staging>();
  return *s;
}

// Pins the ring on the first copy; false when the driver has no pinned memory to give.
bool ensure_ring(Staging& st) {
  if (st.ring) return true;
  if (st.unavailable) return false;
  // The host memory first (a bad_alloc then leaks no pinned memory), with room for every event
  // there can be (those in flight and the one in hand): a fence's event goes back to the spares
  // after the ring has moved on, where an allocation failure would lose it.
  auto ring = std::make_unique<StagingRing<EventFence>>(kStagingBytes);
  st.spare_events.reserve(StagingRing<EventFence>::kMaxInFlight + 1);
  void* p = nullptr;
  if (cudaMallocHost(&p, kStagingBytes) != cudaSuccess) {
    cudaGetLastError();
    st.unavailable = true;
    return false;
  }
  st.pinned = static_cast<char*>(p);
  st.ring = std::move(ring);
  st.stats.capacity_bytes = kStagingBytes;
  return true;
}

cudaEvent_t take_event(Staging& st, const char* op) {
  if (!st.spare_events.empty()) {
    const cudaEvent_t e = st.spare_events.back();
    st.spare_events.pop_back();
    return e;
  }
  cudaEvent_t e = nullptr;
  ELEGY_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), op);
  return e;
}

void copy_into_ring(char* to, const char* from, std::size_t bytes) {
  if (bytes < 2 * kParallelChunk) {
    std::memcpy(to, from, bytes);
    return;
  }
  const auto chunks = std::int64_t((bytes + kParallelChunk - 1) / kParallelChunk);
  parallel_for(chunks, 1, [&](std::int64_t begin, std::int64_t end) {
    const std::size_t first = std::size_t(begin) * kParallelChunk;
    const std::size_t last = std::min(bytes, std::size_t(end) * kParallelChunk);
    std::memcpy(to + first, from + first, last - first);
  });
}

}  // namespace

void copy_host_to_device(int index, void* device_dst, const void* host_src, std::size_t bytes,
                         const char* op) {
  if (bytes == 0) return;
  if (const CaptureBlocks* capture = capture_blocks();
      capture != nullptr && capture->device == index)
    fail(op, "a host -> cuda:", index,
         " copy while a graph is captured on that device: every launch of the graph would copy "
         "the bytes staged during the capture, not the caller's");
  Staging& st = staging(index);
  std::lock_guard lock(st.mutex);
  set_device(index);
  const cudaStream_t s = stream(index);
  if (!ensure_ring(st)) {
    // Straight from the source, then a wait: from pinned memory the copy would still be
    // reading it after this call returns. (Not synchronize_stream: a capture on another device
    // is no reason to refuse this wait.)
    ++st.stats.unstaged;
    ELEGY_CUDA_CHECK(cudaMemcpyAsync(device_dst, host_src, bytes, cudaMemcpyHostToDevice, s), op);
    note_host_wait();
    ELEGY_CUDA_CHECK(cudaStreamSynchronize(s), op);
    return;
  }
  ++st.stats.copies;
  StagingRing<EventFence>& ring = *st.ring;
  const auto keep_event = [&](EventFence&& f) { st.spare_events.push_back(f.event); };
  const char* from = static_cast<const char*>(host_src);
  char* to = static_cast<char*>(device_dst);
  for (std::size_t done = 0; done < bytes;) {
    const std::size_t piece = std::min(bytes - done, ring.max_region());
    const auto [at, waits] = ring.reserve(piece, keep_event);
    st.stats.waits += waits;
    cudaEvent_t event = nullptr;
    try {
      event = take_event(st, op);
    } catch (...) {
      ring.cancel();
      throw;
    }
    copy_into_ring(st.pinned + at, from + done, piece);
    if (const cudaError_t e =
            cudaMemcpyAsync(to + done, st.pinned + at, piece, cudaMemcpyHostToDevice, s);
        e != cudaSuccess) {
      ring.cancel();  // (nothing was queued)
      st.spare_events.push_back(event);
      check(int(e), "cudaMemcpyAsync", op);
    }
    if (const cudaError_t e = cudaEventRecord(event, s); e != cudaSuccess) {
      // The copy is queued but nothing can say when it has read its region: the region is
      // handed out again only once the stream is known to be done, else never (the ring goes:
      // later copies take the unstaged path). The event is not reused.
      cudaGetLastError();
      if (cudaEventDestroy(event) != cudaSuccess) cudaGetLastError();
      if (cudaStreamSynchronize(s) == cudaSuccess) {
        ring.cancel();
      } else {
        cudaGetLastError();
        st.ring.release();  // (leaked with its pinned memory: a DMA may still read it)
        st.unavailable = true;
      }
      check(int(e), "cudaEventRecord", op);
    }
    ring.commit(EventFence{event});
    ++st.stats.pieces;
    done += piece;
  }
}

CudaStagingStats staging_stats(int index) {
  Staging& st = staging(index);
  std::lock_guard lock(st.mutex);
  return st.stats;
}

}  // namespace elegy::cuda
