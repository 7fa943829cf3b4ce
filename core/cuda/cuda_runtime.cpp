#include "elegy/core/cuda/cuda_runtime.hpp"

#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <sstream>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "elegy/core/error.hpp"

namespace elegy::cuda {

void check(int status, const char* call, const char* op) {
  if (status == cudaSuccess) return;
  const auto err = cudaError_t(status);
  cudaGetLastError();  // clear the sticky-free error so later calls are not blamed for it
  fail(op, call, " failed: ", cudaGetErrorName(err), " (", cudaGetErrorString(err), ")");
}

int device_count() {
  static const int count = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      cudaGetLastError();
      return 0;
    }
    return n;
  }();
  return count;
}

void set_device(int index) {
  // cudaSetDevice is a driver call; on a slow host each of the ~7 driver calls around a kernel
  // (allocate, launch, free) costs 1-2 µs, and every op asked for the device it already had.
  // (Code of the user's that switches devices behind elegy's back makes elegy's next launch fail
  // with an invalid-handle Error, never run elsewhere: each stream belongs to one device.)
  thread_local int current = -1;
  if (current == index) return;
  ELEGY_CUDA_CHECK(cudaSetDevice(index), "set_device");
  current = index;
}

CaptureBlocks*& capture_blocks() {
  thread_local CaptureBlocks* capture = nullptr;
  return capture;
}

namespace {

std::atomic<std::uint64_t>& host_wait_count() {
  static std::atomic<std::uint64_t> count{0};
  return count;
}

}  // namespace

void note_host_wait() {
  host_wait_count().fetch_add(1, std::memory_order_relaxed);
}

namespace {

struct DeviceState {
  cudaStream_t stream = nullptr;
  cudaStream_t capture_stream = nullptr;  // made on the first graph capture
  std::mutex capture_mutex;               // held by the thread capturing on capture_stream
  std::unique_ptr<Allocator> allocator;
};

// The bytes a request of `nbytes` is served with: classes 512 bytes apart up to 1 MiB, 64 KiB
// apart above, so the temporaries of one training step find the blocks the previous step freed
// (a step allocates the same sizes every time) and rounding wastes at most 6%.
std::size_t size_class(std::size_t nbytes) {
  const std::size_t step = nbytes <= (std::size_t(1) << 20) ? 512 : (std::size_t(64) << 10);
  return (std::max<std::size_t>(nbytes, 1) + step - 1) / step * step;
}

// Whether freed blocks are kept by elegy (default) or handed straight back to the driver's
// pool: ELEGY_CUDA_CACHE=0, for compute-sanitizer, which cannot see a use after free of a
// block that stayed allocated.
bool keep_freed_blocks() {
  static const bool keep = [] {
    const char* env = std::getenv("ELEGY_CUDA_CACHE");
    return !(env && std::string_view(env) == "0");
  }();
  return keep;
}

// A caching allocator over the driver's stream-ordered pool (cudaMallocAsync on the device's
// one stream). Freed blocks go to a free list per size class and are handed out again with no
// driver call: every kernel runs on the same stream, so a block's next user is ordered after its
// last one. The driver's pool (release threshold "never") backs misses and splits its large
// reservations into blocks. Out of memory: every cached block is freed, the stream synchronised,
// the pool trimmed, and the request retried once.
class CachingDeviceAllocator final : public Allocator {
 public:
  CachingDeviceAllocator(int index, cudaStream_t stream) : index_(index), stream_(stream) {
    ELEGY_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool_, index), "cuda allocator");
    std::uint64_t keep_all = UINT64_MAX;
    ELEGY_CUDA_CHECK(cudaMemPoolSetAttribute(pool_, cudaMemPoolAttrReleaseThreshold, &keep_all),
                     "cuda allocator");
  }

  void* allocate(std::size_t nbytes) override {
    const std::size_t block = size_class(nbytes);
    CaptureBlocks* capture = capturing();
    if (capture) {
      // A temporary freed earlier in this capture: the graph's kernels run in capture order, so
      // the earlier user is done with it (its bytes stay counted in use, as the graph's).
      auto& retained = capture->retained;
      for (auto it = retained.begin(); it != retained.end(); ++it) {
        if (size_class(it->second) != block) continue;
        const auto [p, kept_nbytes] = *it;
        // Charged now as this request's bytes: a launcher that keeps it (a refused capture)
        // frees it later with its own size. (Recorded before it leaves `retained`: a bad_alloc
        // must not lose it.)
        capture->live.emplace(p, nbytes);
        retained.erase(it);
        std::lock_guard lock(mutex_);
        ++stats_.num_allocs;
        ++stats_.num_cache_hits;
        note_in_use(std::int64_t(nbytes) - std::int64_t(kept_nbytes));
        return p;
      }
    }
    {
      std::lock_guard lock(mutex_);
      ++stats_.num_allocs;
      auto it = free_.find(block);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        if (capture) capture->live.emplace(p, nbytes);  // (first: a bad_alloc loses nothing)
        it->second.pop_back();
        ++stats_.num_cache_hits;
        stats_.bytes_cached -= std::int64_t(block);
        note_in_use(std::int64_t(nbytes));
        return p;
      }
    }
    set_device(index_);
    void* p = nullptr;
    if (capture) {
      // On the capturing stream cudaMallocAsync would become a node of the graph; the block comes
      // from the same pool through a stream of its own instead, ready once that stream is. Out of
      // memory, the cache is emptied and the request retried, as below: empty_cache frees on and
      // waits for the device's stream, not the capturing one (legal in relaxed capture mode).
      BesideCapture got = allocate_beside_capture(&p, block);
      if (got.status == cudaErrorMemoryAllocation && got.call == kSideMalloc) {
        cudaGetLastError();
        empty_cache();
        got = allocate_beside_capture(&p, block);
      }
      if (got.status != cudaSuccess) {
        cudaGetLastError();
        std::ostringstream what;
        what << got.call << " for " << nbytes << " bytes on cuda:" << index_
             << " while capturing a graph failed: " << cudaGetErrorName(got.status) << " ("
             << cudaGetErrorString(got.status) << ")";
        if (got.status == cudaErrorMemoryAllocation && got.call == kSideMalloc)
          fail_out_of_memory("cuda allocator", what.str());
        fail("cuda allocator", what.str());  // (a fault of earlier work, seen by the wait, ...)
      }
      // (Recorded first: should the host have no memory for the entry, the block is lost to
      // this process, but the stats stay true.)
      capture->live.emplace(p, nbytes);
      std::lock_guard lock(mutex_);
      note_in_use(std::int64_t(nbytes));
      return p;
    }
    cudaError_t status = cudaMallocAsync(&p, block, stream_);
    if (status == cudaErrorMemoryAllocation) {
      // Free and retry: the cached blocks go back, the stream's queued frees complete, the pool
      // hands its unused memory back to the driver (its free fragments may be too small for
      // this request while a fresh mapping fits), and the request is made once more.
      cudaGetLastError();
      empty_cache();
      status = cudaMallocAsync(&p, block, stream_);
    }
    if (status != cudaSuccess) {
      const cudaError_t err = status;
      cudaGetLastError();
      const AllocatorStats s = stats();
      std::ostringstream what;
      what << "cudaMallocAsync of " << nbytes << " bytes on cuda:" << index_
           << " failed: " << cudaGetErrorName(err) << " (" << cudaGetErrorString(err) << "); "
           << s.bytes_in_use << " bytes in use by elegy, " << s.bytes_cached << " cached";
      if (err == cudaErrorMemoryAllocation) fail_out_of_memory("cuda allocator", what.str());
      fail("cuda allocator", what.str());
    }
    std::lock_guard lock(mutex_);
    note_in_use(std::int64_t(nbytes));
    return p;
  }

  void deallocate(void* ptr, std::size_t nbytes) override {
    if (ptr == nullptr) return;
    if (CaptureBlocks* capture = capturing()) {
      // The graph's temporaries stay its own (their bytes stay in use); an older block's free
      // waits for the capture's end (a cudaFreeAsync now would be captured).
      // (With the bytes counted in use when it was first handed out: the same size class.)
      // (Called from destructors: should the host have no memory for the entry, the block
      // leaks rather than ending the process. capture_graph makes room for hundreds first.)
      try {
        if (const auto it = capture->live.find(ptr); it != capture->live.end()) {
          capture->retained.emplace_back(ptr, it->second);
          capture->live.erase(it);
        } else {
          capture->older_frees.emplace_back(ptr, nbytes);
        }
      } catch (const std::bad_alloc&) {
      }
      return;
    }
    const std::size_t block = size_class(nbytes);
    std::lock_guard lock(mutex_);
    stats_.bytes_in_use -= std::int64_t(nbytes);
    if (keep_freed_blocks()) {
      free_[block].push_back(ptr);
      stats_.bytes_cached += std::int64_t(block);
    } else if (cudaFreeAsync(ptr, stream_) != cudaSuccess) {  // no throw from a destructor path
      cudaGetLastError();  // (left set, the next kernel's check would be blamed for it)
    }
  }

  AllocatorStats stats() const override {
    std::lock_guard lock(mutex_);
    return stats_;
  }

  void empty_cache() override {
    {
      std::lock_guard lock(mutex_);
      for (auto& [block, pointers] : free_)
        for (void* p : pointers)
          if (cudaFreeAsync(p, stream_) != cudaSuccess) cudaGetLastError();
      free_.clear();
      stats_.bytes_cached = 0;
    }
    note_host_wait();
    // (Failures here are not this call's to report: the retry or the next checked call sees
    // them; left set, an unrelated kernel's launch check would be blamed.)
    if (cudaStreamSynchronize(stream_) != cudaSuccess) cudaGetLastError();
    if (cudaMemPoolTrimTo(pool_, 0) != cudaSuccess) cudaGetLastError();
  }

 private:
  CaptureBlocks* capturing() const {
    CaptureBlocks* capture = capture_blocks();
    return capture != nullptr && capture->device == index_ ? capture : nullptr;
  }

  // Which call of allocate_beside_capture failed, and how: only the allocation itself running
  // out of memory is an OutOfMemoryError (the wait also reports faults of earlier kernels).
  static constexpr const char* kSideMalloc = "cudaMallocAsync on a side stream";
  struct BesideCapture {
    cudaError_t status = cudaSuccess;
    const char* call = "";
  };

  BesideCapture allocate_beside_capture(void** p, std::size_t block) {
    std::lock_guard lock(side_mutex_);
    if (side_stream_ == nullptr) {
      const cudaError_t made = cudaStreamCreateWithFlags(&side_stream_, cudaStreamNonBlocking);
      if (made != cudaSuccess) return {made, "cudaStreamCreateWithFlags (side stream)"};
    }
    const cudaError_t status = cudaMallocAsync(p, block, side_stream_);
    if (status != cudaSuccess) return {status, kSideMalloc};
    // Usually a wait for an empty stream. The pool may make the allocation wait for a block
    // freed earlier on the device's stream (its internal-dependency reuse), then it waits for
    // that work: only with the cache off or after empty_cache, and not counted in host_waits
    // (a capture's first replay only).
    const cudaError_t ready = cudaStreamSynchronize(side_stream_);
    if (ready != cudaSuccess) {
      // The block cannot be trusted to be ready: handed back (ordered on the side stream).
      if (cudaFreeAsync(*p, side_stream_) != cudaSuccess) cudaGetLastError();
      *p = nullptr;
      return {ready, "cudaStreamSynchronize (side stream)"};
    }
    return {};
  }

  void note_in_use(std::int64_t nbytes) {  // under mutex_
    stats_.bytes_in_use += nbytes;
    stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
  }

  int index_;
  cudaStream_t stream_;
  std::mutex side_mutex_;
  cudaStream_t side_stream_ = nullptr;  // allocations while a graph is captured
  cudaMemPool_t pool_ = nullptr;
  mutable std::mutex mutex_;
  AllocatorStats stats_;
  std::unordered_map<std::size_t, std::vector<void*>> free_;  // size class -> blocks
};

DeviceState& state(int index) {
  static std::mutex mutex;
  static auto* states =
      new std::vector<std::unique_ptr<DeviceState>>();  // leaked: see cpu_allocator
  std::lock_guard lock(mutex);
  const int count = device_count();
  if (index < 0 || index >= count)
    fail("cuda", "device cuda:", index, " requested but ", count, " CUDA device(s) are visible");
  if (states->empty()) states->resize(std::size_t(count));
  auto& s = (*states)[std::size_t(index)];
  if (!s) {
    // Built aside and published only when complete, so a failure leaves no half-made state.
    auto fresh = std::make_unique<DeviceState>();
    set_device(index);
    ELEGY_CUDA_CHECK(cudaStreamCreateWithFlags(&fresh->stream, cudaStreamNonBlocking),
                     "cuda stream");
    try {
      fresh->allocator = std::make_unique<CachingDeviceAllocator>(index, fresh->stream);
    } catch (...) {
      cudaStreamDestroy(fresh->stream);
      throw;
    }
    s = std::move(fresh);
  }
  return *s;
}

}  // namespace

Allocator& device_allocator(int index) {
  return *state(index).allocator;
}

CUstream_st* stream(int index) {
  if (const CaptureBlocks* capture = capture_blocks();
      capture != nullptr && capture->device == index) [[unlikely]]
    return capture->stream;
  return state(index).stream;
}

std::mutex& capture_mutex(int index) {
  return state(index).capture_mutex;
}

CUstream_st* capture_stream(int index) {
  DeviceState& s = state(index);
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  if (s.capture_stream == nullptr) {
    set_device(index);
    ELEGY_CUDA_CHECK(cudaStreamCreateWithFlags(&s.capture_stream, cudaStreamNonBlocking),
                     "cuda graph capture stream");
  }
  return s.capture_stream;
}

namespace {

// A wait for the GPU or a host read while this thread captures a graph: nothing captured has
// run, so what the host would read is not the captured work's result.
void refuse_wait_while_capturing(const char* op) {
  if (capture_blocks() != nullptr) [[unlikely]]
    fail(op,
         "the host waits for the GPU or reads its memory while a graph is being captured "
         "(nothing captured runs until the graph is launched)");
}

}  // namespace

// A pinned slot and an event, reused: cudaMallocHost and cudaEventCreate each cost far more
// than the copy they would serve.
class HostRead {
 public:
  HostRead(int index, void* pinned, cudaEvent_t event, std::size_t bytes)
      : index_(index), pinned_(pinned), event_(event), bytes_(bytes) {}
  ~HostRead();
  HostRead(const HostRead&) = delete;
  HostRead& operator=(const HostRead&) = delete;
  void* pinned() const { return pinned_; }
  cudaEvent_t event() const { return event_; }
  std::size_t bytes() const { return bytes_; }

 private:
  int index_;  // the pool slot's device
  void* pinned_;
  cudaEvent_t event_;
  std::size_t bytes_;
};

namespace {

struct HostReadPool {
  std::mutex mutex;
  struct Slot {
    int index;  // events belong to the device they were made on
    void* pinned;
    cudaEvent_t event;
  };
  std::vector<Slot> free;  // leaked at exit
};

HostReadPool& host_read_pool() {
  static auto* pool = new HostReadPool();  // leaked: the driver may be gone at static exit
  return *pool;
}

}  // namespace

HostRead::~HostRead() {
  // The copy may still be in flight when a failed step drops its reads: it must land first.
  if (cudaEventSynchronize(event_) != cudaSuccess) cudaGetLastError();
  HostReadPool& pool = host_read_pool();
  std::lock_guard lock(pool.mutex);
  pool.free.push_back({index_, pinned_, event_});
}

std::shared_ptr<HostRead> queue_host_read(int index, const void* device_src, std::size_t bytes,
                                          const char* op) {
  if (bytes > kMaxHostReadBytes)
    fail(op, "queue_host_read of ", bytes, " bytes: at most ", kMaxHostReadBytes);
  refuse_wait_while_capturing(op);
  const cudaStream_t s = state(index).stream;
  set_device(index);
  HostReadPool::Slot slot{index, nullptr, nullptr};
  {
    HostReadPool& pool = host_read_pool();
    std::lock_guard lock(pool.mutex);
    for (std::size_t i = pool.free.size(); i-- > 0;) {
      if (pool.free[i].index != index) continue;
      slot = pool.free[i];
      pool.free.erase(pool.free.begin() + std::ptrdiff_t(i));
      break;
    }
  }
  if (slot.pinned == nullptr) {
    ELEGY_CUDA_CHECK(cudaMallocHost(&slot.pinned, kMaxHostReadBytes), op);
    if (const cudaError_t e = cudaEventCreateWithFlags(&slot.event, cudaEventDisableTiming);
        e != cudaSuccess) {
      cudaFreeHost(slot.pinned);
      check(int(e), "cudaEventCreateWithFlags", op);
    }
  }
  auto read = std::make_shared<HostRead>(index, slot.pinned, slot.event, bytes);
  ELEGY_CUDA_CHECK(cudaMemcpyAsync(slot.pinned, device_src, bytes, cudaMemcpyDeviceToHost, s), op);
  if (const cudaError_t e = cudaEventRecord(slot.event, s); e != cudaSuccess) {
    // The event cannot say when the queued copy lands: wait for the stream before the slot goes
    // back to the pool (as `read` is dropped), or the next read's copy could share it.
    if (cudaStreamSynchronize(s) != cudaSuccess) cudaGetLastError();
    check(int(e), "cudaEventRecord", op);
  }
  return read;
}

void finish_host_read(HostRead& read, void* dst, const char* op) {
  note_host_wait();
  ELEGY_CUDA_CHECK(cudaEventSynchronize(read.event()), op);
  std::memcpy(dst, read.pinned(), read.bytes());
}

void synchronize(int index) {
  synchronize_stream(state(index).stream, "synchronize");
}

void synchronize_stream(CUstream_st* stream, const char* op) {
  refuse_wait_while_capturing(op);
  note_host_wait();
  ELEGY_CUDA_CHECK(cudaStreamSynchronize(stream), op);
}

std::uint64_t host_waits() {
  return host_wait_count().load(std::memory_order_relaxed);
}

}  // namespace elegy::cuda
