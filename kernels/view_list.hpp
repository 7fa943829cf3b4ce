// The tensors of a kernel that takes a list of them (Op::SumSquaresMany): KernelArgs has room for
// three inputs, so a list op's ints[0] points at a ViewList that the caller keeps alive for the
// call. A step being recorded keeps its own copy of the list (autodiff/step_recording.cpp), so a
// replay, or a CUDA graph captured from one, sees the same tensors.
#pragma once

#include <cstdint>

#include "elegy/kernels/buffer_view.hpp"

namespace elegy::kernels {

struct ViewList {
  const BufferView* views = nullptr;
  int count = 0;
};

inline const ViewList& view_list_of(const KernelArgs& a) {
  return *reinterpret_cast<const ViewList*>(std::uintptr_t(a.ints[0]));
}

inline std::int64_t address_of(const ViewList& list) {
  return std::int64_t(reinterpret_cast<std::uintptr_t>(&list));
}

}  // namespace elegy::kernels
