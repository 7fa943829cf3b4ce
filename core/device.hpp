// Device: where a tensor's storage lives (the host, or one CUDA GPU).
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>

namespace elegy {

// meta: tensors with shapes and dtypes but no data; kernels on it do nothing (Model::summary
// computes its table this way, as Elegy used jax.eval_shape).
enum class DeviceKind : std::uint8_t { cpu, cuda, meta };
inline constexpr int kNumDeviceKinds = 3;

struct Device {
  DeviceKind kind = DeviceKind::cpu;
  int index = 0;

  static constexpr Device cpu() { return {DeviceKind::cpu, 0}; }
  static constexpr Device cuda(int index = 0) { return {DeviceKind::cuda, index}; }
  static constexpr Device meta() { return {DeviceKind::meta, 0}; }
  constexpr bool is_cpu() const { return kind == DeviceKind::cpu; }
  constexpr bool is_cuda() const { return kind == DeviceKind::cuda; }
  constexpr bool is_meta() const { return kind == DeviceKind::meta; }
  friend constexpr bool operator==(Device, Device) = default;
};

// True when this build has the CUDA backend and at least one GPU is visible.
bool cuda_available();
// Number of visible GPUs; 0 in a build without CUDA.
int cuda_device_count();
// True when the CUDA backend was compiled into this build (GPU present or not).
bool cuda_compiled();
// How many times the host has waited for a GPU (stream synchronisations, finished host reads)
// since the process started; 0 in a build without CUDA. What a test reads around a training step
// to prove that the step does not stop the host before its logs.
std::uint64_t cuda_host_waits();

// What the pinned staging ring of a GPU has done since the process started: every host -> GPU
// copy goes through it (core/cuda/host_staging.cpp), so it is queued without waiting for the
// GPU's earlier work and its source is free when the copy returns.
struct CudaStagingStats {
  std::size_t capacity_bytes = 0;  // 0 until the first copy (then pinned for good)
  std::uint64_t copies = 0;        // copies that staged their bytes
  std::uint64_t pieces = 0;        // ring regions they took (a copy over half the ring: several)
  std::uint64_t waits = 0;         // times the host waited for a copy in flight to free space
  std::uint64_t unstaged = 0;      // copies made straight from the source (no pinned memory)
};
// All zero in a build without CUDA; raises for a GPU that is not visible.
CudaStagingStats cuda_staging_stats(int index = 0);

std::ostream& operator<<(std::ostream& os, Device d);  // "cpu", "cuda:0"

}  // namespace elegy
