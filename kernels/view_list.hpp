// The tensors of a kernel that takes a list of them (Op::SumSquaresMany, Op::RunningMeans,
// Op::MulAddMany): KernelArgs has room for three inputs, so a list op's ints[0] points at a
// ViewList that the caller keeps alive for the call (host_table.hpp). A step being recorded keeps
// its own copy of the list (autodiff/step_recording.cpp), so a replay, or a CUDA graph captured
// from one, sees the same tensors.
#pragma once

#include "elegy/kernels/host_table.hpp"

namespace elegy::kernels {

struct ViewList {
  const BufferView* views = nullptr;
  int count = 0;
  const BufferView* entries() const { return views; }
};

inline const ViewList& view_list_of(const char* op, const KernelArgs& a) {
  return host_table<ViewList>(op, a);
}

}  // namespace elegy::kernels
