#include "elegy/core/cuda/cuda_runtime.hpp"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
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
  ELEGY_CUDA_CHECK(cudaSetDevice(index), "set_device");
}

namespace {

struct DeviceState {
  cudaStream_t stream = nullptr;
  std::unique_ptr<Allocator> allocator;
};

// Plain cudaMallocAsync/cudaFreeAsync on the device's stream: the driver's stream-ordered pool
// caches and reuses blocks without synchronising. The pool's release threshold is raised to
// "never" when the device is first used (by default the driver hands freed memory back to the
// system at every synchronisation, which would make each training step allocate afresh).
class StreamOrderedAllocator final : public Allocator {
 public:
  StreamOrderedAllocator(int index, cudaStream_t stream) : index_(index), stream_(stream) {
    ELEGY_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool_, index), "cuda allocator");
    std::uint64_t keep_all = UINT64_MAX;
    ELEGY_CUDA_CHECK(cudaMemPoolSetAttribute(pool_, cudaMemPoolAttrReleaseThreshold, &keep_all),
                     "cuda allocator");
  }

  void* allocate(std::size_t nbytes) override {
    if (nbytes == 0) nbytes = 1;
    set_device(index_);
    void* p = nullptr;
    cudaError_t status = cudaMallocAsync(&p, nbytes, stream_);
    if (status == cudaErrorMemoryAllocation) {
      // Free and retry: let the stream's queued frees complete, hand the pool's unused memory
      // back to the driver (its free fragments may be too small for this request while a fresh
      // mapping fits), and ask once more. (Compiled; not yet exercised on a GPU.)
      cudaGetLastError();
      cudaStreamSynchronize(stream_);
      cudaMemPoolTrimTo(pool_, 0);
      status = cudaMallocAsync(&p, nbytes, stream_);
    }
    if (status != cudaSuccess) {
      const cudaError_t err = status;
      cudaGetLastError();
      const AllocatorStats s = stats();
      fail("cuda allocator", "cudaMallocAsync of ", nbytes, " bytes on cuda:", index_,
           " failed: ", cudaGetErrorName(err), " (", cudaGetErrorString(err), "); ", s.bytes_in_use,
           " bytes in use by elegy, ", s.bytes_cached, " cached");
    }
    // An allocation that did not grow the pool's reserved memory was served from its cache.
    const std::int64_t reserved = pool_bytes(cudaMemPoolAttrReservedMemCurrent);
    std::lock_guard lock(mutex_);
    ++stats_.num_allocs;
    if (reserved <= last_reserved_) ++stats_.num_cache_hits;
    last_reserved_ = reserved;
    stats_.bytes_in_use += std::int64_t(nbytes);
    stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
    return p;
  }

  void deallocate(void* ptr, std::size_t nbytes) override {
    if (ptr == nullptr) return;
    if (nbytes == 0) nbytes = 1;
    cudaFreeAsync(ptr, stream_);  // no throw from a destructor path
    std::lock_guard lock(mutex_);
    stats_.bytes_in_use -= std::int64_t(nbytes);
  }

  AllocatorStats stats() const override {
    // Reserved but unused pool memory is what a later allocation can reuse without the driver.
    const std::int64_t cached =
        pool_bytes(cudaMemPoolAttrReservedMemCurrent) - pool_bytes(cudaMemPoolAttrUsedMemCurrent);
    std::lock_guard lock(mutex_);
    AllocatorStats s = stats_;
    s.bytes_cached = std::max<std::int64_t>(cached, 0);
    return s;
  }

  void empty_cache() override {
    cudaStreamSynchronize(stream_);
    cudaMemPoolTrimTo(pool_, 0);
    const std::int64_t reserved = pool_bytes(cudaMemPoolAttrReservedMemCurrent);
    std::lock_guard lock(mutex_);
    last_reserved_ = reserved;
  }

 private:
  // A byte count of the pool; 0 when the driver cannot say (stats must never throw).
  std::int64_t pool_bytes(cudaMemPoolAttr attr) const {
    std::uint64_t value = 0;
    if (cudaMemPoolGetAttribute(pool_, attr, &value) != cudaSuccess) {
      cudaGetLastError();
      return 0;
    }
    return std::int64_t(value);
  }

  int index_;
  cudaStream_t stream_;
  cudaMemPool_t pool_ = nullptr;
  mutable std::mutex mutex_;
  AllocatorStats stats_;
  std::int64_t last_reserved_ = 0;
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
      fresh->allocator = std::make_unique<StreamOrderedAllocator>(index, fresh->stream);
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
  return state(index).stream;
}

void synchronize(int index) {
  ELEGY_CUDA_CHECK(cudaStreamSynchronize(state(index).stream), "synchronize");
}

}  // namespace elegy::cuda
