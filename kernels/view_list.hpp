// The tensors of a kernel that takes a list of them (Op::SumSquaresMany, Op::RunningMeans,
// Op::MulAddMany):
// KernelArgs has room for three inputs, so a list op's ints[0] points at a ViewList that the
// caller keeps alive for the call. A step being recorded keeps its own copy of the list
// (autodiff/step_recording.cpp), so a replay, or a CUDA graph captured from one, sees the same
// tensors.
#pragma once

#include <cstdint>

#include "elegy/core/error.hpp"
#include "elegy/kernels/buffer_view.hpp"

namespace elegy::kernels {

struct ViewList {
  const BufferView* views = nullptr;
  int count = 0;
};

// The list at ints[0]; Error naming `op` when there is none.
inline const ViewList& view_list_of(const char* op, const KernelArgs& a) {
  ELEGY_CHECK(a.ints[0] != 0, op, "needs its list of tensors (ints[0] = &ViewList)");
  const auto& list = *reinterpret_cast<const ViewList*>(std::uintptr_t(a.ints[0]));
  ELEGY_CHECK(list.count >= 0 && (list.count == 0 || list.views != nullptr), op, "a list of ",
              list.count, " tensors without its views");
  return list;
}

inline std::int64_t address_of(const ViewList& list) {
  return std::int64_t(reinterpret_cast<std::uintptr_t>(&list));
}

}  // namespace elegy::kernels
