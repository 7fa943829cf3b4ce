// Internal helpers for op implementations: Tensor -> BufferView, and the checks every op shares.
#pragma once

#include <string_view>

#include "elegy/core/tensor.hpp"
#include "elegy/kernels/buffer_view.hpp"
#include "elegy/kernels/dispatch.hpp"

namespace elegy::autodiff {

inline kernels::BufferView buffer_view(const Tensor& t) {
  kernels::BufferView v;
  v.data = t.address();
  v.dtype = t.dtype();
  v.rank = t.ndim();
  for (int i = 0; i < v.rank; ++i) {
    v.sizes[i] = t.shape()[i];
    v.strides[i] = t.strides()[i];
  }
  return v;
}

// A view of a temporary would dangle: the tensor's buffer is freed when the full expression
// ends, before the kernel runs (on a GPU its cudaFreeAsync is ordered before the kernel, and a
// later allocation may reuse the bytes). Keep the tensor in a named local instead.
kernels::BufferView buffer_view(const Tensor&&) = delete;

// `t` seen with `shape` (which t broadcasts to): leading dims added, stride 0 where expanded.
inline kernels::BufferView broadcast_view(const Tensor& t, const Shape& shape) {
  kernels::BufferView v;
  v.data = t.address();
  v.dtype = t.dtype();
  v.rank = shape.size();
  const int extra = shape.size() - t.ndim();
  for (int i = 0; i < v.rank; ++i) {
    v.sizes[i] = shape[i];
    const int j = i - extra;
    v.strides[i] = (j < 0 || t.shape()[j] == 1) ? 0 : t.strides()[j];
  }
  return v;
}
kernels::BufferView broadcast_view(const Tensor&&, const Shape&) = delete;  // as buffer_view

// Arguments of a reduction kernel that reduces all of `x` into element `slot` of the dense
// vector `vector` (same dtype as the kernel writes): the kernels' reduction form, x's rank with
// size 1 everywhere. Several reductions land side by side this way, with no stack of 0-d
// results (a copy kernel each). The caller sets anything op-specific and runs it.
inline kernels::KernelArgs reduction_into_slot(const Tensor& x, const Tensor& vector,
                                               std::int64_t slot) {
  kernels::KernelArgs args;
  args.out = buffer_view(vector);
  args.out.data = static_cast<char*>(args.out.data) + slot * std::int64_t(itemsize(vector.dtype()));
  args.out.rank = x.ndim();
  for (int i = 0; i < x.ndim(); ++i) {
    args.out.sizes[i] = 1;
    args.out.strides[i] = 0;
  }
  args.in[0] = buffer_view(x);
  args.num_inputs = 1;
  args.device = x.device();
  return args;
}

// t's values as a dense tensor for a kernel: t itself when already dense, else a dense copy.
// Detached either way: the op calling it records itself on the tape.
inline Tensor dense(const Tensor& t) {
  return t.is_contiguous() ? t.detached() : t.detached().contiguous();
}

// Error unless `t` is defined.
inline void check_defined(std::string_view op, const Tensor& t, const char* which = "input") {
  ELEGY_CHECK(t.defined(), op, "the ", which, " is an undefined tensor");
}

// Error unless all tensors live on one device.
inline void check_same_device(std::string_view op, const Tensor& a, const Tensor& b) {
  ELEGY_CHECK(a.device() == b.device(), op, "operands are on different devices: ", describe(a),
              " and ", describe(b), "; move one with .to(device) first");
}

}  // namespace elegy::autodiff
