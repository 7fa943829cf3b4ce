// MulAddMany on the CPU (mul_add_list.hpp): the MulAdd kernel (mul_add.cpp) per tensor, b
// broadcast as the mul_add op broadcasts a 0-d operand, so each tensor gets exactly the bits a
// mul_add of its own would.
#include "elegy/kernels/dispatch.hpp"
#include "elegy/kernels/mul_add_list.hpp"

namespace elegy::kernels {
namespace {

template <DType kDType>
void mul_add_many_kernel(const KernelArgs& a) {
  const ViewList& list = view_list_of("mul_add_many (cpu)", a);
  const int terms = mul_add_terms("mul_add_many (cpu)", list, kDType);
  const KernelFn mul_add = registry().find(Op::MulAdd, DeviceKind::cpu, kDType);
  for (int t = 0; t < terms; ++t) {
    const BufferView* v = &list.views[t * kMulAddViews];
    if (v[0].numel() == 0) continue;
    // (All dense with out's element count: read in out's shape.)
    KernelArgs one;
    one.out = v[0];
    one.in[0] = v[0];
    one.in[0].data = v[1].data;
    one.in[1] = v[0];  // b: out's shape, every stride 0
    one.in[1].data = v[2].data;
    for (int d = 0; d < one.in[1].rank; ++d) one.in[1].strides[d] = 0;
    one.in[2] = v[0];
    one.in[2].data = v[3].data;
    one.num_inputs = 3;
    one.device = a.device;
    mul_add(one);
  }
}

}  // namespace

void register_cpu_mul_add_many(Registry& r) {
  r.add(Op::MulAddMany, DeviceKind::cpu, DType::f32, mul_add_many_kernel<DType::f32>);
  r.add(Op::MulAddMany, DeviceKind::cpu, DType::f64, mul_add_many_kernel<DType::f64>);
}

}  // namespace elegy::kernels
