// Where a CUDA RNG kernel gets its key: the launcher's value, or (KernelArgs::key_words) two
// words in device memory read when the kernel runs, so a CUDA graph holding the kernel draws
// with whatever key a replay wrote there before launching it.
#pragma once

#include <cstdint>

#include "elegy/kernels/buffer_view.hpp"

namespace elegy::kernels::cuda {

struct KeySource {
  std::uint32_t value[2];
  const std::uint32_t* words;  // device memory, or null: use value

  __device__ __forceinline__ void load(std::uint32_t (&key)[2]) const {
    key[0] = words != nullptr ? words[0] : value[0];
    key[1] = words != nullptr ? words[1] : value[1];
  }
};

inline KeySource key_source(const KernelArgs& a) {
  return {{a.key[0], a.key[1]}, a.key_words};
}

}  // namespace elegy::kernels::cuda
