// Constant and range constructors (random ones are in random.cpp).
#include <cmath>

#include "elegy/autodiff/kernel_call.hpp"
#include "elegy/autodiff/ops_creation.hpp"

namespace elegy {

using autodiff::buffer_view;

Tensor full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor out = Tensor::empty(shape, dtype, device);
  if (out.numel() == 0) return out;
  kernels::KernelArgs args;
  args.out = buffer_view(out);
  args.scalar[0] = value;
  args.device = device;
  kernels::run("full", kernels::Op::Fill, dtype, args);
  return out;
}

Tensor zeros(const Shape& shape, DType dtype, Device device) {
  return full(shape, 0.0, dtype, device);
}
Tensor ones(const Shape& shape, DType dtype, Device device) {
  return full(shape, 1.0, dtype, device);
}

Tensor full_like(const Tensor& x, double value) {
  autodiff::check_defined("full_like", x);
  return full(x.shape(), value, x.dtype(), x.device());
}
Tensor zeros_like(const Tensor& x) {
  return full_like(x, 0.0);
}
Tensor ones_like(const Tensor& x) {
  return full_like(x, 1.0);
}

Tensor scalar(double value, DType dtype, Device device) {
  return full(Shape{}, value, dtype, device);
}

Tensor arange(double start, double stop, double step, DType dtype, Device device) {
  ELEGY_CHECK(step != 0.0, "arange", "step must not be zero");
  const double span = std::ceil((stop - start) / step);
  const std::int64_t n = span > 0 ? std::int64_t(span) : 0;
  Tensor out = Tensor::empty(Shape{n}, dtype, device);
  if (n == 0) return out;
  kernels::KernelArgs args;
  args.out = buffer_view(out);
  args.scalar[0] = start;
  args.scalar[1] = step;
  args.device = device;
  kernels::run("arange", kernels::Op::Arange, dtype, args);
  return out;
}

Tensor arange(std::int64_t n, DType dtype, Device device) {
  ELEGY_CHECK(n >= 0, "arange", "length must be >= 0, got ", n);
  return arange(0.0, double(n), 1.0, dtype, device);
}

}  // namespace elegy
