// Tensor: a handle to a strided view of a Storage (shape, strides in elements, offset in
// elements, dtype, device). Copying a Tensor copies the handle, never the data: tensors are
// values that share immutable-by-convention storage, as jax.Array is.
//
// Metadata and construction live here in core/. The methods that compute (to, astype,
// contiguous, item, to_vector, printing) are ops: they are declared here so users write
// `x.to(Device::cuda())`, and defined in autodiff/ (tensor_methods.cpp), where they dispatch to
// the kernels and, inside value_and_grad, record on the tape.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <span>
#include <vector>

#include "elegy/core/device.hpp"
#include "elegy/core/dtype.hpp"
#include "elegy/core/error.hpp"
#include "elegy/core/shape.hpp"
#include "elegy/core/storage.hpp"

namespace elegy {

namespace autodiff {
struct Node;  // the tape's record of how a tensor was computed (autodiff/node.hpp)
}

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor: defined() is false, every op rejects it

  // Uninitialised dense storage of this shape.
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  // A view of existing storage; `strides` in elements; no checks beyond bounds.
  static Tensor view_of(std::shared_ptr<Storage> storage, const Shape& shape,
                        const Strides& strides, std::int64_t offset, DType dtype);

  // Copies host data into a new tensor on `device`. Without a shape the tensor is 1-D.
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape,
                            Device device = Device::cpu()) {
    return from_host(values.data(), std::int64_t(values.size()), dtype_of<T>(), shape, device);
  }
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, Device device = Device::cpu()) {
    return from_vector(values, Shape{std::int64_t(values.size())}, device);
  }
  template <class T>
  static Tensor from_span(std::span<const T> values, const Shape& shape,
                          Device device = Device::cpu()) {
    return from_host(values.data(), std::int64_t(values.size()), dtype_of<T>(), shape, device);
  }
  // `std::vector<bool>` packs bits, so bool tensors come from uint8 0/1 data:
  // Tensor::from_vector<std::uint8_t>(...).astype(DType::bool_).

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  // Size of one dimension; negative axes count from the end.
  std::int64_t shape(int axis) const;
  const Strides& strides() const { return strides_; }
  std::int64_t offset() const { return offset_; }
  int ndim() const { return shape_.size(); }
  std::int64_t numel() const { return shape_.numel(); }
  DType dtype() const { return dtype_; }
  Device device() const;
  std::size_t itemsize() const { return elegy::itemsize(dtype_); }
  std::size_t nbytes() const { return std::size_t(numel()) * itemsize(); }
  // Row-major dense: the layout the SIMD fast paths want.
  bool is_contiguous() const;
  // True when this tensor is the only one using its storage, which came from an allocator: no
  // other tensor, tape node or caller's buffer can see a write into it. The optimizer then
  // updates it in place (a donated state, as jax.jit's donate_argnums), which is the same value
  // with one stream less of memory traffic.
  // Nobody else holds this tensor's buffer (a step being compiled does not count): an in-place
  // update cannot be seen from outside.
  bool is_sole_owner() const;

  const std::shared_ptr<Storage>& storage() const { return storage_; }
  // Address of element [0, 0, ...] (storage base + offset), for host code that reads or writes
  // the bytes (a step being compiled sees that: core/step_observer.hpp). On CUDA a device
  // pointer.
  void* raw_data() const;
  // The same address, for handing to a kernel (a KernelArgs view): not a host access.
  void* address() const;
  template <class T>
  T* data() const {
    check_element_type(dtype_of<T>());
    return static_cast<T*>(raw_data());
  }

  // ---- compute methods (defined in autodiff/tensor_methods.cpp; differentiable) ----
  Tensor to(Device device) const;
  Tensor astype(DType dtype) const;
  Tensor contiguous() const;
  // Rows [start, stop) with `step` along axis 0 (negative indices count from the end).
  Tensor slice(std::int64_t start, std::int64_t stop, std::int64_t step = 1) const;

  // The value of a one-element tensor, converted to T. Error when numel() != 1.
  template <class T>
  T item() const {
    T out;
    copy_to_host(&out, dtype_of<T>(), 1, "item");
    return out;
  }
  // All elements in row-major order, converted to T.
  template <class T>
  std::vector<T> to_vector() const {
    std::vector<T> out(static_cast<std::size_t>(numel()));
    copy_to_host(out.data(), dtype_of<T>(), numel(), "to_vector");
    return out;
  }

  // ---- autodiff bookkeeping (used by autodiff/, not by users) ----
  const std::shared_ptr<autodiff::Node>& node() const { return node_; }
  void set_node(std::shared_ptr<autodiff::Node> node) { node_ = std::move(node); }
  // The same data without tape history: what stop_gradient returns.
  Tensor detached() const {
    Tensor t = *this;
    t.node_.reset();
    return t;
  }

 private:
  static Tensor from_host(const void* data, std::int64_t count, DType dtype, const Shape& shape,
                          Device device);
  void copy_to_host(void* dst, DType as, std::int64_t expected_count, const char* op) const;
  void check_element_type(DType requested) const;

  std::shared_ptr<Storage> storage_;
  Shape shape_;
  Strides strides_;
  std::int64_t offset_ = 0;
  DType dtype_ = DType::f32;
  std::shared_ptr<autodiff::Node> node_;
};

// numpy-like printing: dtype, shape, values (truncated with "..." beyond 6 per dimension edge).
// Defined in autodiff/print.cpp.
std::ostream& operator<<(std::ostream& os, const Tensor& t);

// Describes a tensor for error messages: "float32[64,784] on cpu".
std::string describe(const Tensor& t);

}  // namespace elegy
