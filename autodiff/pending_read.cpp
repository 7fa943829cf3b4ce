#include "elegy/autodiff/pending_read.hpp"

#include "elegy/core/error.hpp"
#ifdef ELEGY_WITH_CUDA
#include "elegy/core/cuda/cuda_runtime.hpp"
#endif

namespace elegy {

PendingRead::PendingRead(const Tensor& t, const char* op) : op_(op) {
  ELEGY_CHECK(t.defined() && t.dtype() == DType::i64 && t.numel() <= 32, op,
              "PendingRead takes at most 32 int64 values, got ", describe(t));
  const Device device = t.device();
#ifdef ELEGY_WITH_CUDA
  if (device.kind == DeviceKind::cuda) {
    source_ = t.is_contiguous() ? t : t.contiguous();
    values_.resize(std::size_t(t.numel()));
    if (!values_.empty())
      device_read_ = cuda::queue_host_read(device.index, source_.address(),
                                           values_.size() * sizeof(std::int64_t), op);
    return;
  }
#endif
  (void)device;
  values_ = t.to_vector<std::int64_t>();
}

const std::vector<std::int64_t>& PendingRead::values() {
#ifdef ELEGY_WITH_CUDA
  if (device_read_) {
    cuda::finish_host_read(*static_cast<cuda::HostRead*>(device_read_.get()), values_.data(), op_);
    device_read_.reset();
    source_ = Tensor();
  }
#endif
  return values_;
}

}  // namespace elegy
