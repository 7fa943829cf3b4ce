// Unary elementwise ops on CUDA: one functor per op over the shared map kernels (launch.cuh),
// with the same formulas and dtypes as the CPU kernels (kernels/cpu/unary.cpp and
// elementwise_math-inl.hpp): float32/float64 for the math ops, wrapping integer Neg/Abs/Sign/
// Square/Relu for int32/int64/uint8, LogicalNot for bool. Each float functor calls the float or
// double CUDA math function explicitly (CUDA's are within 1-4 ulp of the host's).
#include <cstdint>
#include <type_traits>

#include "elegy/kernels/cuda/families.hpp"
#include "elegy/kernels/cuda/launch.cuh"
#include "elegy/kernels/cuda/math.cuh"

namespace elegy::kernels::cuda {
namespace {

template <class T>
constexpr bool kF32 = std::is_same_v<T, float>;

// 1 / (1 + e^-x) from e = e^-|x|, which never overflows: 1/(1+e) for x >= 0, e/(1+e) below,
// so tiny results keep their relative accuracy (the CPU's Sigmoid).
template <class T>
__device__ T stable_sigmoid(T x) {
  const T e = exp_of(-abs_of(x));
  const T s = T(1) / (T(1) + e);
  return x >= T(0) ? s : e * s;
}

// ---- float ops ----

struct op_neg {
  static constexpr const char* kName = "neg (cuda)";
  template <class T>
  __device__ T operator()(T x) const {
    return -x;
  }
};
struct op_abs {
  static constexpr const char* kName = "abs (cuda)";
  template <class T>
  __device__ T operator()(T x) const {
    return abs_of(x);
  }
};
struct op_exp {
  static constexpr const char* kName = "exp (cuda)";
  template <class T>
  __device__ T operator()(T x) const {
    return exp_of(x);
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
struct op_log1p {
  static constexpr const char* kName = "log1p (cuda)";
  template <class T>
  __device__ T operator()(T x) const {
    return log1p_of(x);
  }
};
// NaN-propagating, as jax.nn.relu (max(x, 0)); only values below zero are replaced, so -0 and
// NaN pass through as on the CPU.
struct op_relu {
  static constexpr const char* kName = "relu (cuda)";
  template <class T>
  __device__ T operator()(T x) const {
    return x < T(0) ? T(0) : x;
  }
};
struct op_sqrt {
  static constexpr const char* kName = "sqrt (cuda)";
  template <class T>
  __device__ T operator()(T x) const {
    return sqrt_of(x);
  }
};
// 1/sqrt rounded twice, as the CPU computes it (rsqrtf is an approximation).
struct op_rsqrt {
  static constexpr const char* kName = "rsqrt (cuda)";
  template <class T>
  __device__ T operator()(T x) const {
    return T(1) / sqrt_of(x);
  }
};
struct op_square {
  static constexpr const char* kName = "square (cuda)";
  template <class T>
  __device__ T operator()(T x) const {
    return x * x;
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
struct op_sigmoid {
  static constexpr const char* kName = "sigmoid (cuda)";
  template <class T>
  __device__ T operator()(T x) const {
    return stable_sigmoid(x);
  }
};
// jax.nn.gelu(approximate=True): x/2 (1 + tanh(z)), z = sqrt(2/pi) (x + 0.044715 x^3), computed
// as x * sigmoid(2z) (the same function) so negative x does not cancel in 1 + tanh(z).
struct op_gelu_tanh {
  static constexpr const char* kName = "gelu (cuda)";
  template <class T>
  __device__ T operator()(T x) const {
    constexpr double kSqrt2OverPi = 0.79788456080286535588;
    constexpr double kCubic = 0.044715;
    const T z = x * (x * x * T(kSqrt2OverPi * kCubic) + T(kSqrt2OverPi));
    return x * stable_sigmoid(z + z);
  }
};
// Exact GELU, x * Phi(x) = x/2 * erfc(-x/sqrt(2)) (erfc, not 1 + erf, keeps the relative
// accuracy for negative x), in double as on the CPU.
struct op_gelu_erf {
  static constexpr const char* kName = "gelu (cuda)";
  template <class T>
  __device__ T operator()(T x) const {
    const double xd = double(x);
    return T(0.5 * xd * ::erfc(-xd * 0.70710678118654752440));
  }
};
// log(1 + e^x) = log1p(e^-|x|) + max(x, 0): no overflow for large x, no cancellation for very
// negative x. NaN in gives NaN out.
struct op_softplus {
  static constexpr const char* kName = "softplus (cuda)";
  template <class T>
  __device__ T operator()(T x) const {
    return log1p_of(exp_of(-abs_of(x))) + (x < T(0) ? T(0) : x);
  }
};
// +1 / -1, and x itself for +-0 and NaN (as jnp.sign).
struct op_sign {
  static constexpr const char* kName = "sign (cuda)";
  template <class T>
  __device__ T operator()(T x) const {
    return x > T(0) ? T(1) : (x < T(0) ? T(-1) : x);
  }
};

// ---- integer ops: wrapping arithmetic (as numpy and XLA), computed in the unsigned type ----

template <class T>
using Unsigned = std::make_unsigned_t<T>;

struct op_int_neg {
  static constexpr const char* kName = "neg (cuda)";
  template <class T>
  __device__ T operator()(T x) const {
    return T(Unsigned<T>(0) - Unsigned<T>(x));
  }
};
struct op_int_abs {
  static constexpr const char* kName = "abs (cuda)";
  template <class T>
  __device__ T operator()(T x) const {
    if constexpr (std::is_signed_v<T>)
      return x < T(0) ? op_int_neg{}(x) : x;
    else
      return x;
  }
};
struct op_int_sign {
  static constexpr const char* kName = "sign (cuda)";
  template <class T>
  __device__ T operator()(T x) const {
    if constexpr (std::is_signed_v<T>)
      return T((x > T(0)) - (x < T(0)));
    else
      return T(x != T(0));
  }
};
struct op_int_square {
  static constexpr const char* kName = "square (cuda)";
  template <class T>
  __device__ T operator()(T x) const {
    return T(Unsigned<T>(x) * Unsigned<T>(x));
  }
};
struct op_int_relu {
  static constexpr const char* kName = "relu (cuda)";
  template <class T>
  __device__ T operator()(T x) const {
    if constexpr (std::is_signed_v<T>)
      return x < T(0) ? T(0) : x;
    else
      return x;
  }
};
// Bools are bytes holding 0/1; any nonzero byte reads as true.
struct op_logical_not {
  static constexpr const char* kName = "logical_not (cuda)";
  __device__ std::uint8_t operator()(std::uint8_t x) const { return x == 0; }
};

template <class T, class F>
void unary_kernel(const KernelArgs& a) {
  map<T, T, 1>(a, F{}, F::kName);
}

// args.ints[0] == 1: the tanh approximation; 0: the exact erf form (as on the CPU).
template <class T>
void gelu_kernel(const KernelArgs& a) {
  if (a.ints[0] == 1)
    unary_kernel<T, op_gelu_tanh>(a);
  else
    unary_kernel<T, op_gelu_erf>(a);
}

template <class T>
void add_float_ops(Registry& r) {
  const DType t = dtype_of<T>();
  r.add(Op::Neg, DeviceKind::cuda, t, unary_kernel<T, op_neg>);
  r.add(Op::Abs, DeviceKind::cuda, t, unary_kernel<T, op_abs>);
  r.add(Op::Exp, DeviceKind::cuda, t, unary_kernel<T, op_exp>);
  r.add(Op::Log, DeviceKind::cuda, t, unary_kernel<T, op_log>);
  r.add(Op::Log1p, DeviceKind::cuda, t, unary_kernel<T, op_log1p>);
  r.add(Op::Sqrt, DeviceKind::cuda, t, unary_kernel<T, op_sqrt>);
  r.add(Op::Rsqrt, DeviceKind::cuda, t, unary_kernel<T, op_rsqrt>);
  r.add(Op::Square, DeviceKind::cuda, t, unary_kernel<T, op_square>);
  r.add(Op::Tanh, DeviceKind::cuda, t, unary_kernel<T, op_tanh>);
  r.add(Op::Sigmoid, DeviceKind::cuda, t, unary_kernel<T, op_sigmoid>);
  r.add(Op::Relu, DeviceKind::cuda, t, unary_kernel<T, op_relu>);
  r.add(Op::Gelu, DeviceKind::cuda, t, gelu_kernel<T>);
  r.add(Op::Softplus, DeviceKind::cuda, t, unary_kernel<T, op_softplus>);
  r.add(Op::Sign, DeviceKind::cuda, t, unary_kernel<T, op_sign>);
}

template <class T>
void add_integer_ops(Registry& r) {
  const DType t = dtype_of<T>();
  r.add(Op::Neg, DeviceKind::cuda, t, unary_kernel<T, op_int_neg>);
  r.add(Op::Abs, DeviceKind::cuda, t, unary_kernel<T, op_int_abs>);
  r.add(Op::Sign, DeviceKind::cuda, t, unary_kernel<T, op_int_sign>);
  r.add(Op::Square, DeviceKind::cuda, t, unary_kernel<T, op_int_square>);
  r.add(Op::Relu, DeviceKind::cuda, t, unary_kernel<T, op_int_relu>);
}

}  // namespace

void register_unary(Registry& r) {
  add_float_ops<float>(r);
  add_float_ops<double>(r);
  add_integer_ops<std::int32_t>(r);
  add_integer_ops<std::int64_t>(r);
  add_integer_ops<std::uint8_t>(r);
  r.add(Op::LogicalNot, DeviceKind::cuda, DType::bool_, unary_kernel<std::uint8_t, op_logical_not>);
}

}  // namespace elegy::kernels::cuda
