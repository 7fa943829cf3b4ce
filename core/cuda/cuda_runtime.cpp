#include "elegy/core/cuda/cuda_runtime.hpp"

#include <cuda_runtime.h>

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

void set_device(int index) { ELEGY_CUDA_CHECK(cudaSetDevice(index), "set_device"); }

namespace {

struct DeviceState {
  cudaStream_t stream = nullptr;
  std::unique_ptr<Allocator> allocator;
};

// Plain cudaMallocAsync/cudaFreeAsync on the device's stream: the driver's stream-ordered pool
// already caches and reuses blocks without synchronising.
class StreamOrderedAllocator final : public Allocator {
 public:
  StreamOrderedAllocator(int index, cudaStream_t stream) : index_(index), stream_(stream) {}

  void* allocate(std::size_t nbytes) override {
    if (nbytes == 0) nbytes = 1;
    set_device(index_);
    void* p = nullptr;
    ELEGY_CUDA_CHECK(cudaMallocAsync(&p, nbytes, stream_), "cuda allocator");
    std::lock_guard lock(mutex_);
    ++stats_.num_allocs;
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
    std::lock_guard lock(mutex_);
    return stats_;
  }

  void empty_cache() override {
    cudaMemPool_t pool;
    if (cudaDeviceGetDefaultMemPool(&pool, index_) == cudaSuccess) {
      cudaStreamSynchronize(stream_);
      cudaMemPoolTrimTo(pool, 0);
    }
  }

 private:
  int index_;
  cudaStream_t stream_;
  mutable std::mutex mutex_;
  AllocatorStats stats_;
};

DeviceState& state(int index) {
  static std::mutex mutex;
  static auto* states = new std::vector<std::unique_ptr<DeviceState>>();  // leaked: see cpu_allocator
  std::lock_guard lock(mutex);
  const int count = device_count();
  if (index < 0 || index >= count) fail("cuda", "device cuda:", index, " requested but ", count, " visible");
  if (states->empty()) states->resize(std::size_t(count));
  auto& s = (*states)[std::size_t(index)];
  if (!s) {
    s = std::make_unique<DeviceState>();
    set_device(index);
    ELEGY_CUDA_CHECK(cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking), "cuda stream");
    s->allocator = std::make_unique<StreamOrderedAllocator>(index, s->stream);
  }
  return *s;
}

}  // namespace

Allocator& device_allocator(int index) { return *state(index).allocator; }

CUstream_st* stream(int index) { return state(index).stream; }

void synchronize(int index) {
  ELEGY_CUDA_CHECK(cudaStreamSynchronize(state(index).stream), "synchronize");
}

}  // namespace elegy::cuda
