// The arguments of an ArgMaxMatches or ArgMaxMatchCount kernel (kernels/op.hpp), checked the
// same way by the CPU and CUDA launchers, and the dispatch on the labels' dtype (which is not part
// of the registry key).
#pragma once

#include <cstdint>

#include "elegy/core/error.hpp"
#include "elegy/kernels/buffer_view.hpp"

namespace elegy::kernels {

// Checks dense [R, K] scores (K > 0) in in[0], [R] labels in in[1] and a float32 output: dense
// [R] (ArgMaxMatches), or one element (`count`: ArgMaxMatchCount); then calls
// run.template operator()<Label>() with the labels' element type.
template <class Run>
void with_argmax_matches_labels(const char* who, const KernelArgs& a, Run&& run,
                                bool count = false) {
  const BufferView &scores = a.in[0], &labels = a.in[1];
  const bool out_ok =
      count ? a.out.numel() == 1
            : a.out.rank == 1 && a.out.sizes[0] == scores.sizes[0] && a.out.is_contiguous();
  ELEGY_CHECK(scores.rank == 2 && scores.is_contiguous() && scores.sizes[1] > 0 &&
                  labels.rank == 1 && labels.sizes[0] == scores.sizes[0] && out_ok &&
                  a.out.dtype == DType::f32,
              who, "takes dense [R, K] scores, [R] labels and a float32 ",
              count ? "one-element" : "dense [R]", " output");
  switch (labels.dtype) {
    case DType::i32:
      return run.template operator()<std::int32_t>();
    case DType::i64:
      return run.template operator()<std::int64_t>();
    case DType::u8:
      return run.template operator()<std::uint8_t>();
    default:
      fail(who, "labels must be int32, int64 or uint8, got ", name(labels.dtype));
  }
}

}  // namespace elegy::kernels
