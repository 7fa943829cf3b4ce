#include "elegy/core/tensor.hpp"

#include <sstream>

#include "elegy/core/step_observer.hpp"

namespace elegy {

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (std::int64_t d : shape) ELEGY_CHECK(d >= 0, "empty", "negative dimension in shape ", shape);
  Tensor t;
  t.storage_ = Storage::allocate(std::size_t(shape.numel()) * elegy::itemsize(dtype), device);
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  return t;
}

Tensor Tensor::view_of(std::shared_ptr<Storage> storage, const Shape& shape, const Strides& strides,
                       std::int64_t offset, DType dtype) {
  ELEGY_CHECK(storage != nullptr, "view_of", "null storage");
  ELEGY_CHECK(shape.size() == strides.size(), "view_of", "shape ", shape, " and strides ", strides,
              " differ in rank");
  // The furthest elements the view can touch must lie inside the storage.
  std::int64_t lo = offset, hi = offset;
  bool empty_view = false;
  for (int i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0) empty_view = true;
    const std::int64_t span = (shape[i] - 1) * strides[i];
    (span < 0 ? lo : hi) += span;
  }
  const std::int64_t capacity = std::int64_t(storage->nbytes() / elegy::itemsize(dtype));
  ELEGY_CHECK(empty_view || (lo >= 0 && hi < std::max<std::int64_t>(capacity, 1)), "view_of",
              "view ", shape, " strides ", strides, " offset ", offset,
              " reaches outside its storage of ", capacity, " ", dtype, " elements");
  Tensor t;
  t.storage_ = std::move(storage);
  t.shape_ = shape;
  t.strides_ = strides;
  t.offset_ = offset;
  t.dtype_ = dtype;
  return t;
}

std::int64_t Tensor::shape(int axis) const {
  return shape_[normalize_axis("Tensor::shape", axis, ndim())];
}

Device Tensor::device() const {
  return storage_ ? storage_->device() : Device::cpu();
}

bool Tensor::is_contiguous() const {
  std::int64_t expected = 1;
  for (int i = ndim() - 1; i >= 0; --i) {
    if (shape_[i] == 1) continue;  // the stride of a size-1 dimension is never used
    if (strides_[i] != expected) return false;
    expected *= shape_[i];
  }
  return true;
}

bool Tensor::is_sole_owner() const {
  if (storage_ == nullptr || storage_->is_wrapped()) return false;
  long others = 0;
  if (const StepObserver* o = step_observer()) [[unlikely]]
    others = o->references_held(storage_.get());
  return storage_.use_count() == 1 + others;
}

void* Tensor::raw_data() const {
  if (!storage_) return nullptr;
  if (StepObserver* o = step_observer()) [[unlikely]]
    o->on_host_access(*this);
  return address();
}

void* Tensor::address() const {
  if (!storage_) return nullptr;
  return static_cast<char*>(storage_->data()) + offset_ * std::int64_t(itemsize());
}

void Tensor::check_element_type(DType requested) const {
  ELEGY_CHECK(defined(), "Tensor::data", "the tensor is undefined");
  ELEGY_CHECK(requested == dtype_, "Tensor::data", "requested ", requested, " elements of a ",
              describe(*this));
}

std::string describe(const Tensor& t) {
  if (!t.defined()) return "undefined tensor";
  std::ostringstream os;
  os << t.dtype() << t.shape() << " on " << t.device();
  return os.str();
}

}  // namespace elegy
