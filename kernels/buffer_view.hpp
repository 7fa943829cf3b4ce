// BufferView and KernelArgs: the plain-data description of a kernel call. No shared_ptr, no
// tape: kernels see pointers and layouts only. Trivially copyable, so the same struct is passed
// by value to CUDA kernels.
#pragma once

#include <cstdint>

#include "elegy/core/device.hpp"
#include "elegy/core/dtype.hpp"
#include "elegy/core/shape.hpp"

namespace elegy::kernels {

struct BufferView {
  void* data = nullptr;  // element [0, ..., 0]
  DType dtype = DType::f32;
  int rank = 0;
  std::int64_t sizes[kMaxRank] = {};
  std::int64_t strides[kMaxRank] = {};  // in elements; 0 on broadcast dims

  std::int64_t numel() const {
    std::int64_t n = 1;
    for (int i = 0; i < rank; ++i) n *= sizes[i];
    return n;
  }
  bool is_contiguous() const {
    std::int64_t expected = 1;
    for (int i = rank - 1; i >= 0; --i) {
      if (sizes[i] == 1) continue;
      if (strides[i] != expected) return false;
      expected *= sizes[i];
    }
    return true;
  }
};

inline constexpr int kMaxKernelInputs = 3;

struct KernelArgs {
  BufferView out;
  BufferView in[kMaxKernelInputs];
  int num_inputs = 0;
  double scalar[2] = {0.0, 0.0};        // op-specific constants (fill value, bounds, ...)
  std::int64_t ints[4] = {0, 0, 0, 0};  // op-specific integers (axis, depth, ...)
  std::uint32_t key[2] = {0, 0};        // RNG key
  // When set, the RNG key is these two words, read when the kernel runs (device memory for a
  // CUDA kernel) instead of `key`: a replayed step's table of drawn keys, rewritten before each
  // replay, so a CUDA graph holding the kernel draws the new step's numbers.
  const std::uint32_t* key_words = nullptr;
  Device device;     // where out lives (CUDA kernels pick the stream)
  Device in_device;  // for Copy between devices: where in[0] lives
  // For Copy: `device`'s kernel writes into host memory (a device -> host copy, where `device` is
  // the GPU running it). Graph captures leave such copies out (StepRecording::use_graphs).
  bool out_on_host = false;
};

using KernelFn = void (*)(const KernelArgs&);

// The key a CPU kernel draws with (KernelArgs::key_words when set, else key).
inline void key_of(const KernelArgs& a, std::uint32_t (&key)[2]) {
  key[0] = a.key_words ? a.key_words[0] : a.key[0];
  key[1] = a.key_words ? a.key_words[1] : a.key[1];
}

}  // namespace elegy::kernels
