// RunningMeans on the CPU (running_means_list.hpp): a loop over a few scalars. Built with
// -ffp-contract=off (kernels/CMakeLists.txt): value * weight + total must round the product
// before the add, as the MulAdd and Mul kernels it stands for do, and GCC would make it an FMA.
#include "elegy/core/error.hpp"
#include "elegy/kernels/dispatch.hpp"
#include "elegy/kernels/running_means_list.hpp"

namespace elegy::kernels {
namespace {

float& at(const BufferView& v) {
  return *static_cast<float*>(v.data);
}

void running_means_kernel(const KernelArgs& a) {
  const ViewList& list = view_list_of("running_means (cpu)", a);
  running_means_logs("running_means (cpu)", list);
  const float weight = float(a.scalar[0]);
  const float count = at(list.views[0]) + float(a.scalar[1]);
  for (int i = kRunningMeansHeader; i < list.count; i += kRunningMeansPerLog) {
    const BufferView *value = &list.views[i], *total = value + 1, *new_total = value + 2,
                     *mean = value + 3;
    float t = at(*total);
    if (value->data != nullptr) {
      t = at(*value) * weight + t;
      at(*new_total) = t;
    }
    at(*mean) = count == 0.0f ? 0.0f : t / count;
  }
  at(list.views[1]) = count;
}

}  // namespace

void register_cpu_running_means(Registry& r) {
  r.add(Op::RunningMeans, DeviceKind::cpu, DType::f32, running_means_kernel);
}

}  // namespace elegy::kernels
