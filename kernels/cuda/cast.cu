// Cast on CUDA: a strided map converting in.dtype -> out.dtype, for every pair of dtypes.
// As on the CPU, bool outputs are normalised to 0/1 (2.5 casts to true, stored as 1).
#include <type_traits>

#include "elegy/kernels/cuda/families.hpp"
#include "elegy/kernels/cuda/launch.cuh"

namespace elegy::kernels::cuda {
namespace {

template <class To, class From>
struct convert {
  __device__ To operator()(From x) const {
    if constexpr (std::is_same_v<To, bool>)
      return x != From(0);
    else
      return To(x);
  }
};

// Both operands live on args.device: Copy is the only op that crosses devices.
template <class From>
void cast_from(const KernelArgs& a) {
  visit_dtype(a.out.dtype, [&](auto to) {
    using To = decltype(to);
    map<To, From, 1>(a, convert<To, From>{}, "astype (cuda)");
  });
}

}  // namespace

void register_cast(Registry& r) {
  for (int t = 0; t < kNumDTypes; ++t)
    visit_dtype(DType(t), [&](auto tag) {
      r.add(Op::Cast, DeviceKind::cuda, DType(t), cast_from<decltype(tag)>);
    });
}

}  // namespace elegy::kernels::cuda
