// Shared by the CPU conv kernel files (conv.cpp, conv_col2im.cpp).
#pragma once

#include <cstdint>

#include "elegy/kernels/buffer_view.hpp"

namespace elegy::kernels::conv_cpu {

// Elements of work per parallel chunk: below this a chunk runs inline.
inline constexpr std::int64_t kGrainElements = 32768;

// The 5-D [N, D, H, W, C] operand of a kernel call: base pointer and strides.
template <class T>
struct Image5 {
  T* data;
  std::int64_t n, d, h, w, c;  // strides in elements
  explicit Image5(const BufferView& v)
      : data(static_cast<T*>(v.data)),
        n(v.strides[0]),
        d(v.strides[1]),
        h(v.strides[2]),
        w(v.strides[3]),
        c(v.strides[4]) {}
};

// The Col2Im kernels (conv_col2im.cpp), dispatched to the best SIMD target.
void col2im_f32(const KernelArgs& args);
void col2im_f64(const KernelArgs& args);

}  // namespace elegy::kernels::conv_cpu
