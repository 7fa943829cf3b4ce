// DeviceScratch: a temporary device buffer for a kernel family's launcher (partial results,
// index lists), from the device's stream-ordered allocator and returned when the scope ends;
// kernels queued on the stream before the return still see valid memory.
#pragma once

#include <cstddef>

#include "elegy/core/cuda/cuda_runtime.hpp"
#include "elegy/core/device.hpp"

namespace elegy::kernels::cuda {

class DeviceScratch {
 public:
  DeviceScratch(Device device, std::size_t bytes)
      : allocator_(elegy::cuda::device_allocator(device.index)),
        bytes_(bytes),
        ptr_(bytes ? allocator_.allocate(bytes) : nullptr) {}
  ~DeviceScratch() {
    if (ptr_) allocator_.deallocate(ptr_, bytes_);
  }
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;
  void* get() const { return ptr_; }

 private:
  Allocator& allocator_;
  std::size_t bytes_;
  void* ptr_;
};

}  // namespace elegy::kernels::cuda
