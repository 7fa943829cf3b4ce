// Softmax cross-entropy rows with the Softmax kernels' SIMD row code (kernels/cpu/softmax.cpp),
// for the SoftmaxXent kernels (softmax_xent.cpp).
#pragma once

#include <cstdint>

#include "elegy/core/dtype.hpp"

namespace elegy::kernels::softmax_detail {

// Rows [r0, r1) of dense z [rows, classes] with int32 or int64 labels [rows]. Forward (g null):
// out[r] = -log_softmax(z[r])[label[r]], through `scratch` (classes values). Backward: out [rows,
// classes] = g[r * g_stride] * (softmax(z[r]) - one_hot(label[r])). The log-softmax and softmax
// rows have the bits of the LogSoftmax / Softmax kernels on a contiguous axis; a label outside [0,
// classes) gives NaN.
struct XentTask {
  const void* z = nullptr;
  const void* labels = nullptr;
  bool labels_i32 = false;  // else int64: the dtypes labels come in, read without a cast kernel
  const void* g = nullptr;
  std::int64_t g_stride = 1;  // 0: one g for every row (a mean's broadcast gradient)
  void* out = nullptr;
  void* scratch = nullptr;
  std::int64_t classes = 0, r0 = 0, r1 = 0;
};
void xent_rows(DType dtype, const XentTask& task);

inline std::int64_t label_at(const XentTask& t, std::int64_t r) {
  return t.labels_i32 ? static_cast<const std::int32_t*>(t.labels)[r]
                      : static_cast<const std::int64_t*>(t.labels)[r];
}

}  // namespace elegy::kernels::softmax_detail
