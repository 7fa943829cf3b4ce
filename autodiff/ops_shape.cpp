#include "elegy/autodiff/ops_shape.hpp"

namespace elegy {

Tensor reshape(const Tensor& x, const Shape& shape) {
  fail("reshape", "not implemented yet");
}

Tensor swapaxes(const Tensor& x, int axis1, int axis2) {
  fail("swapaxes", "not implemented yet");
}

Tensor moveaxis(const Tensor& x, int source, int destination) {
  fail("moveaxis", "not implemented yet");
}

Tensor expand_dims(const Tensor& x, int axis) {
  fail("expand_dims", "not implemented yet");
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  fail("broadcast_to", "not implemented yet");
}

Tensor slice(const Tensor& x, std::int64_t start, std::int64_t stop, std::int64_t step, int axis) {
  fail("slice", "not implemented yet");
}

Tensor ravel(const Tensor& x) {
  fail("ravel", "not implemented yet");
}

Tensor flatten(const Tensor& x, int preserve_dims) {
  fail("flatten", "not implemented yet");
}

Tensor contiguous(const Tensor& x) {
  fail("contiguous", "not implemented yet");
}

Tensor concatenate(std::span<const Tensor> xs, int axis) {
  fail("concatenate", "not implemented yet");
}

Tensor concatenate(std::initializer_list<Tensor> xs, int axis) {
  fail("concatenate", "not implemented yet");
}

Tensor stack(std::span<const Tensor> xs, int axis) {
  fail("stack", "not implemented yet");
}

Tensor stack(std::initializer_list<Tensor> xs, int axis) {
  fail("stack", "not implemented yet");
}

Tensor pad(const Tensor& x, std::span<const std::pair<std::int64_t, std::int64_t>> widths, double value) {
  fail("pad", "not implemented yet");
}

Tensor pad(const Tensor& x, std::initializer_list<std::pair<std::int64_t, std::int64_t>> widths, double value) {
  fail("pad", "not implemented yet");
}

}  // namespace elegy
