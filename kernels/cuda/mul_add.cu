// MulAdd on CUDA: out = a * b + c over float32/float64, the inputs broadcast to out's shape
// (stride-0 dims) and possibly strided, run by the shared map kernels (launch.cuh). The product
// is rounded before the add (__fmul_rn and __fadd_rn are never contracted into an FMA), so the
// result is bit for bit the CPU's, and Mul then Add's (kernels/cpu/mul_add.cpp).
#include "elegy/kernels/cuda/families.hpp"
#include "elegy/kernels/cuda/launch.cuh"

namespace elegy::kernels::cuda {
namespace {

struct op_mul_add {
  static constexpr const char* kName = "mul_add (cuda)";
  __device__ float operator()(float a, float b, float c) const {
    return __fadd_rn(__fmul_rn(a, b), c);
  }
  __device__ double operator()(double a, double b, double c) const {
    return __dadd_rn(__dmul_rn(a, b), c);
  }
};

template <class T>
void mul_add(const KernelArgs& a) {
  map<T, T, 3>(a, op_mul_add{}, op_mul_add::kName);
}

}  // namespace

void register_mul_add(Registry& r) {
  r.add(Op::MulAdd, DeviceKind::cuda, DType::f32, mul_add<float>);
  r.add(Op::MulAdd, DeviceKind::cuda, DType::f64, mul_add<double>);
}

}  // namespace elegy::kernels::cuda
