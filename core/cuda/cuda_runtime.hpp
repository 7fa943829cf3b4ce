// The CUDA runtime side of core/ (compiled only with ELEGY_WITH_CUDA): device discovery, one
// stream per device, the device allocator, and the error check every CUDA call goes through.
#pragma once

#include "elegy/core/allocator.hpp"

// Opaque stream handle, so this header does not pull in cuda_runtime.h for users.
struct CUstream_st;

namespace elegy::cuda {

int device_count();  // cached after the first call; 0 when no driver or GPU
Allocator& device_allocator(int index);
// The stream all of elegy's work on `index` runs on.
CUstream_st* stream(int index);
// Makes `index` the calling thread's current device.
void set_device(int index);
// Blocks until all work queued on the device's stream is done.
void synchronize(int index);

// Raises elegy::Error("<op>: <call> failed: <cuda error string>") when `status` is an error.
void check(int status, const char* call, const char* op);

}  // namespace elegy::cuda

#define ELEGY_CUDA_CHECK(call, op) ::elegy::cuda::check(int(call), #call, op)
