// Unary elementwise float ops on CUDA: one functor per op over the shared map kernels
// (launch.cuh). Each functor calls the float or double CUDA math function explicitly.
#include <type_traits>

#include "elegy/kernels/cuda/families.hpp"
#include "elegy/kernels/cuda/launch.cuh"

namespace elegy::kernels::cuda {
namespace {

template <class T>
constexpr bool kF32 = std::is_same_v<T, float>;

struct op_neg {
  static constexpr const char* kName = "neg (cuda)";
  template <class T>
  __device__ T operator()(T x) const {
    return -x;
  }
};
struct op_exp {
  static constexpr const char* kName = "exp (cuda)";
  template <class T>
  __device__ T operator()(T x) const {
    if constexpr (kF32<T>)
      return expf(x);
    else
      return ::exp(x);
  }
};
struct op_log {
  static constexpr const char* kName = "log (cuda)";
  template <class T>
  __device__ T operator()(T x) const {
    if constexpr (kF32<T>)
      return logf(x);
    else
      return ::log(x);
  }
};
// NaN-propagating, as jax.nn.relu (max(x, 0)).
struct op_relu {
  static constexpr const char* kName = "relu (cuda)";
  template <class T>
  __device__ T operator()(T x) const {
    return (x > T(0) || x != x) ? x : T(0);
  }
};
struct op_sqrt {
  static constexpr const char* kName = "sqrt (cuda)";
  template <class T>
  __device__ T operator()(T x) const {
    if constexpr (kF32<T>)
      return sqrtf(x);
    else
      return ::sqrt(x);
  }
};
struct op_tanh {
  static constexpr const char* kName = "tanh (cuda)";
  template <class T>
  __device__ T operator()(T x) const {
    if constexpr (kF32<T>)
      return tanhf(x);
    else
      return ::tanh(x);
  }
};
// 1 / (1 + e^-x): for very negative x, e^-x overflows to inf and the result is exactly 0.
struct op_sigmoid {
  static constexpr const char* kName = "sigmoid (cuda)";
  template <class T>
  __device__ T operator()(T x) const {
    if constexpr (kF32<T>)
      return 1.0f / (1.0f + expf(-x));
    else
      return 1.0 / (1.0 + ::exp(-x));
  }
};

template <class T, class F>
void unary_kernel(const KernelArgs& a) {
  map<T, T, 1>(a, F{}, F::kName);
}

template <class T>
void add_ops(Registry& r) {
  const DType t = dtype_of<T>();
  r.add(Op::Neg, DeviceKind::cuda, t, unary_kernel<T, op_neg>);
  r.add(Op::Exp, DeviceKind::cuda, t, unary_kernel<T, op_exp>);
  r.add(Op::Log, DeviceKind::cuda, t, unary_kernel<T, op_log>);
  r.add(Op::Relu, DeviceKind::cuda, t, unary_kernel<T, op_relu>);
  r.add(Op::Sqrt, DeviceKind::cuda, t, unary_kernel<T, op_sqrt>);
  r.add(Op::Tanh, DeviceKind::cuda, t, unary_kernel<T, op_tanh>);
  r.add(Op::Sigmoid, DeviceKind::cuda, t, unary_kernel<T, op_sigmoid>);
}

}  // namespace

void register_unary(Registry& r) {
  add_ops<float>(r);
  add_ops<double>(r);
}

}  // namespace elegy::kernels::cuda
