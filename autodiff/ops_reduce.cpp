#include "elegy/autodiff/ops_reduce.hpp"

namespace elegy {

Tensor argmax(const Tensor& x, int axis, bool keepdims) {
  fail("argmax", "not implemented yet");
}

Tensor argmin(const Tensor& x, int axis, bool keepdims) {
  fail("argmin", "not implemented yet");
}

Tensor argmax(const Tensor& x) {
  fail("argmax", "not implemented yet");
}

Tensor argmin(const Tensor& x) {
  fail("argmin", "not implemented yet");
}

Tensor softmax(const Tensor& x, int axis) {
  fail("softmax", "not implemented yet");
}

Tensor log_softmax(const Tensor& x, int axis) {
  fail("log_softmax", "not implemented yet");
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  fail("sum_to", "not implemented yet");
}

}  // namespace elegy
