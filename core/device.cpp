// Device queries and the device -> allocator map. The CUDA side (core/cuda/) is compiled only
// when the toolkit is found; without it every CUDA request raises a clear Error.
#include "elegy/core/device.hpp"
#include "elegy/core/allocator.hpp"
#include "elegy/core/error.hpp"

#ifdef ELEGY_WITH_CUDA
#include "elegy/core/cuda/cuda_runtime.hpp"
#endif

namespace elegy {

bool cuda_compiled() {
#ifdef ELEGY_WITH_CUDA
  return true;
#else
  return false;
#endif
}

int cuda_device_count() {
#ifdef ELEGY_WITH_CUDA
  return cuda::device_count();
#else
  return 0;
#endif
}

std::uint64_t cuda_host_waits() {
#ifdef ELEGY_WITH_CUDA
  return cuda::host_waits();
#else
  return 0;
#endif
}

CudaStagingStats cuda_staging_stats(int index) {
#ifdef ELEGY_WITH_CUDA
  return cuda::staging_stats(index);
#else
  (void)index;
  return {};
#endif
}

bool cuda_available() {
  return cuda_device_count() > 0;
}

Allocator& allocator_for(Device device) {
  if (device.is_cpu()) return cpu_allocator();
  if (device.is_meta()) return meta_allocator();
#ifdef ELEGY_WITH_CUDA
  const int count = cuda::device_count();
  ELEGY_CHECK(device.index >= 0 && device.index < count, "allocator_for", "device ", device,
              " requested but ", count, " CUDA device(s) are visible");
  return cuda::device_allocator(device.index);
#else
  fail("allocator_for", "device ", device,
       " requested but this build of elegy has no CUDA backend (the CUDA toolkit was not found "
       "when it was built)");
#endif
}

}  // namespace elegy
