// Softmax cross-entropy with integer labels on the CPU, forward (SoftmaxXent) and backward
// (SoftmaxXentBackward), float32/float64, rows split over the pool.
//
// Each row's log-softmax (forward) or softmax (backward) comes from the Softmax kernels' own row
// code (softmax_rows.hpp), the forward's into a buffer that stays in L1, so the loss has the bits
// of the composed -take(log_softmax(z), label), and no [rows, classes] intermediate, one-hot or
// scatter reaches memory. A label outside [0, K) gives a NaN loss and a NaN gradient row (the op
// checks the labels of CPU tensors before it runs).
#include <algorithm>
#include <vector>

#include "elegy/core/error.hpp"
#include "elegy/core/thread_pool.hpp"
#include "elegy/kernels/cpu/softmax_rows.hpp"
#include "elegy/kernels/dispatch.hpp"

namespace elegy::kernels {
namespace {

// Elements per pool task: a row costs an exp and a few passes per element.
constexpr std::int64_t kGrainElements = 1 << 12;

template <class T>
void xent_kernel(const KernelArgs& a) {
  softmax_detail::XentTask t;
  t.z = a.in[0].data;
  ELEGY_CHECK(a.in[1].dtype == DType::i32 || a.in[1].dtype == DType::i64,
              "softmax_cross_entropy_with_integer_labels",
              "the kernel reads int32 or int64 labels, got ", a.in[1].dtype);
  t.labels = a.in[1].data;
  t.labels_i32 = a.in[1].dtype == DType::i32;
  t.g = a.num_inputs > 2 ? a.in[2].data : nullptr;
  if (t.g) t.g_stride = a.in[2].strides[0];
  t.out = a.out.data;
  t.classes = a.in[0].sizes[1];
  const std::int64_t rows = a.in[0].sizes[0];
  const std::int64_t grain =
      std::max<std::int64_t>(1, kGrainElements / std::max<std::int64_t>(1, t.classes));
  parallel_for(rows, grain, [&](std::int64_t r0, std::int64_t r1) {
    thread_local std::vector<T> scratch;
    if (std::int64_t(scratch.size()) < t.classes) scratch.resize(std::size_t(t.classes));
    softmax_detail::XentTask part = t;
    part.scratch = scratch.data();
    part.r0 = r0;
    part.r1 = r1;
    softmax_detail::xent_rows(dtype_of<T>(), part);
  });
}

}  // namespace

// Forward: out = loss [R]; backward (in[2] = g [R], dense or one value broadcast): out = dz
// [R, K]. Same kernel, g decides.
void register_cpu_softmax_xent(Registry& r) {
  r.add(Op::SoftmaxXent, DeviceKind::cpu, DType::f32, xent_kernel<float>);
  r.add(Op::SoftmaxXent, DeviceKind::cpu, DType::f64, xent_kernel<double>);
  r.add(Op::SoftmaxXentBackward, DeviceKind::cpu, DType::f32, xent_kernel<float>);
  r.add(Op::SoftmaxXentBackward, DeviceKind::cpu, DType::f64, xent_kernel<double>);
}

}  // namespace elegy::kernels
