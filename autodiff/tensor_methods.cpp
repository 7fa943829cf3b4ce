// Tensor's compute methods (declared in core/tensor.hpp): device moves, casts, dense copies and
// host reads. Each is an op: inside value_and_grad, to/astype/contiguous record on the tape.
#include <cstring>

#include "elegy/autodiff/kernel_call.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_shape.hpp"
#include "elegy/autodiff/step_recording.hpp"
#include "elegy/autodiff/tape.hpp"

namespace elegy {

using autodiff::buffer_view;

namespace {

// Dense copy of `src` into a new tensor on `device` with `dtype`, no tape.
Tensor copy_raw(const char* what, const Tensor& src, Device device, DType dtype) {
  Tensor out = Tensor::empty(src.shape(), dtype, device);
  if (src.numel() == 0 || device.is_meta()) return out;  // a meta copy has no values to move
  if (src.device().is_meta()) kernels::fail_meta_read(what);
  kernels::KernelArgs args;
  args.out = buffer_view(out);
  args.in[0] = buffer_view(src);
  args.num_inputs = 1;
  args.device = device;
  args.in_device = src.device();
  if (dtype != src.dtype()) {
    kernels::run(what, kernels::Op::Cast, src.dtype(), args);
  } else {
    // A cross-device copy is run by the device side's kernel (the only one that can reach both).
    const Device runner = device.is_cuda() ? device : src.device();
    args.device = runner;
    args.out_on_host = device.is_cpu() && !runner.is_cpu();
    kernels::call(kernels::lookup(what, kernels::Op::Copy, runner, dtype), what, kernels::Op::Copy,
                  dtype, args);
  }
  return out;
}

}  // namespace

Tensor Tensor::from_host(const void* data, std::int64_t count, DType dtype, const Shape& shape,
                         Device device) {
  ELEGY_CHECK(count == shape.numel(), "Tensor::from_vector", "got ", count, " values for shape ",
              shape, " (", shape.numel(), " elements expected)");
  Tensor host = Tensor::empty(shape, dtype, Device::cpu());
  if (count > 0) std::memcpy(host.address(), data, std::size_t(count) * elegy::itemsize(dtype));
  // Host data inside a step being compiled: a constant of the step, compared between two
  // recordings (a value that changes from step to step keeps the step eager).
  if (autodiff::StepRecording* r = autodiff::StepRecording::current()) [[unlikely]]
    r->add_constant(host);
  return device.is_cpu() ? host : host.to(device);
}

void Tensor::copy_to_host(void* dst, DType as, std::int64_t expected_count, const char* op) const {
  ELEGY_CHECK(defined(), op, "the tensor is undefined");
  if (std::string_view(op) == "item")
    ELEGY_CHECK(numel() == 1, op, "expected a tensor with exactly one element, got ",
                describe(*this));
  ELEGY_CHECK(numel() == expected_count, op, "size mismatch: ", describe(*this));
  if (numel() == 0) return;
  Tensor host = *this;
  if (!host.device().is_cpu() || host.dtype() != as || !host.is_contiguous())
    host = copy_raw(op, host.device().is_cpu() ? host : copy_raw(op, host, Device::cpu(), dtype()),
                    Device::cpu(), as);
  std::memcpy(dst, host.raw_data(), std::size_t(numel()) * elegy::itemsize(as));
}

Tensor Tensor::to(Device device) const {
  autodiff::check_defined("to", *this);
  if (device == this->device()) return *this;
  // A strided source is made dense on its own device first, so the transfer is one block.
  const Tensor src = is_contiguous() ? *this : copy_raw("to", *this, this->device(), dtype_);
  Tensor out = copy_raw("to", src, device, dtype_);
  if (autodiff::should_record(*this) && is_floating(dtype_)) {
    const Device from = this->device();
    autodiff::record("to", out, {this}, [from](const Tensor& g, const Tensor&) {
      return autodiff::Cotangents{g.to(from)};
    });
  }
  return out;
}

Tensor Tensor::astype(DType dtype) const {
  autodiff::check_defined("astype", *this);
  if (dtype == dtype_) return *this;
  Tensor out = copy_raw("astype", *this, device(), dtype);
  // Only float -> float casts carry a gradient (as in JAX, integers have none).
  if (is_floating(dtype_) && is_floating(dtype) && autodiff::should_record(*this)) {
    const DType from = dtype_;
    autodiff::record("astype", out, {this}, [from](const Tensor& g, const Tensor&) {
      return autodiff::Cotangents{g.astype(from)};
    });
  }
  return out;
}

Tensor Tensor::contiguous() const {
  autodiff::check_defined("contiguous", *this);
  if (is_contiguous()) return *this;
  Tensor out = copy_raw("contiguous", *this, device(), dtype_);
  if (autodiff::should_record(*this))
    autodiff::record("contiguous", out, {this},
                     [](const Tensor& g, const Tensor&) { return autodiff::Cotangents{g}; });
  return out;
}

Tensor Tensor::slice(std::int64_t start, std::int64_t stop, std::int64_t step) const {
  return elegy::slice(*this, start, stop, step, 0);
}

}  // namespace elegy
