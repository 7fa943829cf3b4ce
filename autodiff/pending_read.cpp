#include "elegy/autodiff/pending_read.hpp"

#include <cstring>

#include "elegy/core/error.hpp"
#ifdef ELEGY_WITH_CUDA
#include "elegy/core/cuda/cuda_runtime.hpp"
#endif

namespace elegy {

PendingRead::PendingRead(const Tensor& t, const char* op) : op_(op) {
  ELEGY_CHECK(
      t.defined() && (t.dtype() == DType::i64 || t.dtype() == DType::i32) && t.numel() <= 32, op,
      "PendingRead takes at most 32 int32 or int64 values, got ", describe(t));
  const Device device = t.device();
#ifdef ELEGY_WITH_CUDA
  if (device.kind == DeviceKind::cuda) {
    source_ = t.is_contiguous() ? t : t.contiguous();
    narrow_ = t.dtype() == DType::i32;
    values_.resize(std::size_t(t.numel()));
    if (!values_.empty())
      device_read_ = cuda::queue_host_read(device.index, source_.address(),
                                           values_.size() * itemsize(t.dtype()), op);
    return;
  }
#endif
  (void)device;
  if (t.dtype() == DType::i64) {
    values_ = t.to_vector<std::int64_t>();
  } else {  // widened here, not by a Cast kernel
    const std::vector<std::int32_t> narrow = t.to_vector<std::int32_t>();
    values_.assign(narrow.begin(), narrow.end());
  }
}

const std::vector<std::int64_t>& PendingRead::values() {
#ifdef ELEGY_WITH_CUDA
  if (device_read_) {
    cuda::finish_host_read(*static_cast<cuda::HostRead*>(device_read_.get()), values_.data(), op_);
    device_read_.reset();
    source_ = Tensor();
    if (narrow_) {
      // Widen in place from the back: int32 i sits at byte 4i, int64 i goes to byte 8i >= 4i, so
      // no value is overwritten before it is read.
      for (std::size_t i = values_.size(); i-- > 0;) {
        std::int32_t v;
        std::memcpy(&v, reinterpret_cast<const char*>(values_.data()) + 4 * i, sizeof v);
        values_[i] = v;
      }
    }
  }
#endif
  return values_;
}

}  // namespace elegy
