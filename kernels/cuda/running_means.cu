// RunningMeans on CUDA (running_means_list.hpp): one thread walks the logs, with the rounding
// of the kernels it stands for spelled out (__fmul_rn then __fadd_rn: MulAdd; __fadd_rn: the
// count's Add; __fdiv_rn: DivNoNan), never contracted into an FMA, so the values have the
// CPU's bits. The views travel in a table passed by value; more logs than one table holds take
// more launches, each reading the old count; the last writes the new one.
#include <algorithm>

#include "elegy/core/error.hpp"
#include "elegy/kernels/cuda/families.hpp"
#include "elegy/kernels/cuda/launch.cuh"
#include "elegy/kernels/running_means_list.hpp"

namespace elegy::kernels::cuda {
namespace {

constexpr const char* kName = "running_means (cuda)";
constexpr int kLogsPerLaunch = 96;  // 4 pointers each: 3 KiB of kernel arguments

struct MeansTable {
  const float* count;
  float* new_count;
  const float* value[kLogsPerLaunch];  // null: no value this batch
  const float* total[kLogsPerLaunch];
  float* new_total[kLogsPerLaunch];
  float* mean[kLogsPerLaunch];
  int logs;
  float weight;     // of the values
  float count_add;  // to the count
  bool last;        // the last launch of the list: the one that writes the new count (which may
                    // be the count itself: earlier launches must all read the old one)
};

__global__ void running_means_kernel(MeansTable t) {
  const float count = __fadd_rn(*t.count, t.count_add);
  for (int i = 0; i < t.logs; ++i) {
    float total = *t.total[i];
    if (t.value[i] != nullptr) {
      total = __fadd_rn(__fmul_rn(*t.value[i], t.weight), total);
      *t.new_total[i] = total;
    }
    *t.mean[i] = count == 0.0f ? 0.0f : __fdiv_rn(total, count);
  }
  if (t.last) *t.new_count = count;
}

void running_means(const KernelArgs& a) {
  const ViewList& list = view_list_of(kName, a);
  const int logs = running_means_logs(kName, list);
  const cudaStream_t s = prepare(a.device);
  for (int first = 0; first == 0 || first < logs; first += kLogsPerLaunch) {
    MeansTable t{};
    t.count = static_cast<const float*>(list.views[0].data);
    t.new_count = static_cast<float*>(list.views[1].data);
    t.weight = float(a.scalar[0]);
    t.count_add = float(a.scalar[1]);
    t.logs = std::min(kLogsPerLaunch, logs - first);
    t.last = first + kLogsPerLaunch >= logs;
    for (int i = 0; i < t.logs; ++i) {
      const BufferView* v = &list.views[kRunningMeansHeader + (first + i) * kRunningMeansPerLog];
      t.value[i] = static_cast<const float*>(v[0].data);
      t.total[i] = static_cast<const float*>(v[1].data);
      t.new_total[i] = static_cast<float*>(v[2].data);
      t.mean[i] = static_cast<float*>(v[3].data);
    }
    running_means_kernel<<<1, 1, 0, s>>>(t);
    check_launch(kName);
  }
}

}  // namespace

void register_running_means(Registry& r) {
  r.add(Op::RunningMeans, DeviceKind::cuda, DType::f32, running_means);
}

}  // namespace elegy::kernels::cuda
