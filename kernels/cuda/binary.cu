// Binary elementwise ops on CUDA with broadcasting (stride-0 operands) and strided inputs: one
// functor per op, run by the shared map kernels (launch.cuh): 16-byte vector loads when every
// operand is dense and aligned, the coalesced strided walk otherwise.
#include <type_traits>

#include "elegy/kernels/cuda/families.hpp"
#include "elegy/kernels/cuda/launch.cuh"

namespace elegy::kernels::cuda {
namespace {

struct op_add {
  static constexpr const char* kName = "add (cuda)";
  template <class T>
  __device__ T operator()(T a, T b) const {
    return a + b;
  }
};
struct op_sub {
  static constexpr const char* kName = "sub (cuda)";
  template <class T>
  __device__ T operator()(T a, T b) const {
    return a - b;
  }
};
struct op_mul {
  static constexpr const char* kName = "mul (cuda)";
  template <class T>
  __device__ T operator()(T a, T b) const {
    return a * b;
  }
};
struct op_div {
  static constexpr const char* kName = "div (cuda)";
  template <class T>
  __device__ T operator()(T a, T b) const {
    return a / b;
  }
};
// NaN-propagating, as jnp.maximum / jnp.minimum: a NaN in either operand gives NaN.
struct op_maximum {
  static constexpr const char* kName = "maximum (cuda)";
  template <class T>
  __device__ T operator()(T a, T b) const {
    return (a != a || a > b) ? a : b;
  }
};
struct op_minimum {
  static constexpr const char* kName = "minimum (cuda)";
  template <class T>
  __device__ T operator()(T a, T b) const {
    return (a != a || a < b) ? a : b;
  }
};

template <class T, class F>
void binary_kernel(const KernelArgs& a) {
  map<T, T, 2>(a, F{}, F::kName);
}

template <class T, class... Fs>
void add_ops(Registry& r, const Op (&ops)[sizeof...(Fs)]) {
  const KernelFn fns[] = {binary_kernel<T, Fs>...};
  for (std::size_t i = 0; i < sizeof...(Fs); ++i)
    r.add(ops[i], DeviceKind::cuda, dtype_of<T>(), fns[i]);
}

}  // namespace

void register_binary(Registry& r) {
  constexpr Op kAll[] = {Op::Add, Op::Sub, Op::Mul, Op::Div, Op::Maximum, Op::Minimum};
  add_ops<float, op_add, op_sub, op_mul, op_div, op_maximum, op_minimum>(r, kAll);
  add_ops<double, op_add, op_sub, op_mul, op_div, op_maximum, op_minimum>(r, kAll);
  constexpr Op kRing[] = {Op::Add, Op::Sub, Op::Mul};
  add_ops<std::int32_t, op_add, op_sub, op_mul>(r, kRing);
  add_ops<std::int64_t, op_add, op_sub, op_mul>(r, kRing);
}

}  // namespace elegy::kernels::cuda
