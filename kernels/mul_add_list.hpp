// The list of one MulAddMany call (kernels/op.hpp) in a ViewList (view_list.hpp): per tensor four
// views, out, a, b and c, with out = a * b + c rounded as MulAdd rounds it (the product first).
// out, a and c are dense and of one shape, b is one element (the tape's scaled cotangents: the
// L2 term's 2 * l2 * p folded into every parameter's gradient in one launch, grad.cpp). All of
// one float dtype and on one device.
#pragma once

#include "elegy/core/error.hpp"
#include "elegy/kernels/view_list.hpp"

namespace elegy::kernels {

inline constexpr int kMulAddViews = 4;  // out, a, b, c

// The number of tensors in `list`, after checking its layout: Error naming `op` otherwise.
inline int mul_add_terms(const char* op, const ViewList& list, DType dtype) {
  ELEGY_CHECK(list.count % kMulAddViews == 0, op, "a list of ", list.count,
              " views is not four views (out, a, b, c) per tensor");
  for (int i = 0; i < list.count; i += kMulAddViews) {
    const BufferView *out = &list.views[i], *a = out + 1, *b = out + 2, *c = out + 3;
    // (An empty tensor's strides say nothing: only its element count is checked.)
    const bool dense =
        out->numel() == 0 || (out->is_contiguous() && a->is_contiguous() && c->is_contiguous());
    const bool ok = dense && out->numel() == a->numel() && out->numel() == c->numel() &&
                    b->numel() == 1 && out->dtype == dtype && a->dtype == dtype &&
                    b->dtype == dtype && c->dtype == dtype &&
                    (out->numel() == 0 || (out->data && a->data && b->data && c->data));
    ELEGY_CHECK(ok, op, "tensor ", i / kMulAddViews, " of the list is not a dense ", name(dtype),
                " out, a, c of ", out->numel(), " elements and a one-element b");
  }
  return list.count / kMulAddViews;
}

}  // namespace elegy::kernels
