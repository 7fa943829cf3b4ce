// Binary elementwise ops on CUDA with broadcasting (stride-0 operands) and strided inputs: one
// functor per op, run by the shared map kernels (launch.cuh): 16-byte vector loads when every
// operand is dense and aligned, the coalesced strided walk otherwise. Ops and dtypes are the
// CPU's (kernels/cpu/binary.cpp): float arithmetic and pow; wrapping integer arithmetic and
// integer pow; bool "arithmetic" (+ and maximum are or, * and minimum are and) and the logical
// ops; comparisons of every dtype into bool. Where is in where.cu.
#include <cstdint>
#include <type_traits>

#include "elegy/kernels/cuda/families.hpp"
#include "elegy/kernels/cuda/launch.cuh"
#include "elegy/kernels/integer_pow.hpp"

namespace elegy::kernels::cuda {
namespace {

template <class T>
using Unsigned = std::make_unsigned_t<T>;

// Integer sums, differences and products wrap (two's complement) instead of overflowing into
// undefined behaviour: computed in the unsigned type, as on the CPU.
struct op_add {
  static constexpr const char* kName = "add (cuda)";
  template <class T>
  __device__ T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>)
      return T(Unsigned<T>(a) + Unsigned<T>(b));
    else
      return a + b;
  }
};
struct op_sub {
  static constexpr const char* kName = "sub (cuda)";
  template <class T>
  __device__ T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>)
      return T(Unsigned<T>(a) - Unsigned<T>(b));
    else
      return a - b;
  }
};
struct op_mul {
  static constexpr const char* kName = "mul (cuda)";
  template <class T>
  __device__ T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>)
      return T(Unsigned<T>(a) * Unsigned<T>(b));
    else
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
// NaN-propagating, as jnp.maximum / jnp.minimum: a NaN in either operand gives NaN (the NaN
// tests are always false for integers).
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
// 0 where b == 0, a / b elsewhere (the CPU's FloatDivNoNan).
struct op_div_no_nan {
  static constexpr const char* kName = "divide_no_nan (cuda)";
  template <class T>
  __device__ T operator()(T a, T b) const {
    return b == T(0) ? T(0) : a / b;
  }
};
// C's pow, whose special cases (negative bases with integer exponents, 0^0, infinities) the
// CPU's std::pow shares.
struct op_pow {
  static constexpr const char* kName = "pow (cuda)";
  template <class T>
  __device__ T operator()(T a, T b) const {
    if constexpr (std::is_same_v<T, float>)
      return powf(a, b);
    else
      return ::pow(a, b);
  }
};
// Integer power by squaring, wrapping (kernels/integer_pow.hpp, shared with the CPU).
struct op_int_pow {
  static constexpr const char* kName = "pow (cuda)";
  template <class T>
  __device__ T operator()(T base, T exponent) const {
    return integer_pow(base, exponent);
  }
};

// ---- bools: bytes holding 0/1, any nonzero byte reads as true; results are 0/1 ----

struct op_logical_and {
  static constexpr const char* kName = "logical_and (cuda)";
  __device__ std::uint8_t operator()(std::uint8_t a, std::uint8_t b) const {
    return a != 0 && b != 0;
  }
};
struct op_logical_or {
  static constexpr const char* kName = "logical_or (cuda)";
  __device__ std::uint8_t operator()(std::uint8_t a, std::uint8_t b) const {
    return a != 0 || b != 0;
  }
};
struct op_logical_xor {
  static constexpr const char* kName = "logical_xor (cuda)";
  __device__ std::uint8_t operator()(std::uint8_t a, std::uint8_t b) const {
    return (a != 0) != (b != 0);
  }
};

// ---- comparisons: (a, b) -> 0/1 byte. kBool compares truth values, not bytes ----

#define ELEGY_CUDA_COMPARE(NAME, TEXT, CXX_OP)           \
  template <bool kBool>                                  \
  struct NAME {                                          \
    static constexpr const char* kName = TEXT " (cuda)"; \
    template <class T>                                   \
    __device__ std::uint8_t operator()(T a, T b) const { \
      if constexpr (kBool)                               \
        return bool(a != T(0)) CXX_OP bool(b != T(0));   \
      else                                               \
        return a CXX_OP b;                               \
    }                                                    \
  };
ELEGY_CUDA_COMPARE(op_equal, "equal", ==)
ELEGY_CUDA_COMPARE(op_not_equal, "not_equal", !=)
ELEGY_CUDA_COMPARE(op_less, "less", <)
ELEGY_CUDA_COMPARE(op_less_equal, "less_equal", <=)
ELEGY_CUDA_COMPARE(op_greater, "greater", >)
ELEGY_CUDA_COMPARE(op_greater_equal, "greater_equal", >=)
#undef ELEGY_CUDA_COMPARE

template <class T, class F>
void binary_kernel(const KernelArgs& a) {
  map<T, T, 2>(a, F{}, F::kName);
}

template <class T, class F>
void compare_kernel(const KernelArgs& a) {
  map<std::uint8_t, T, 2>(a, F{}, F::kName);
}

template <class T, class... Fs>
void add_ops(Registry& r, DType t, const Op (&ops)[sizeof...(Fs)]) {
  const KernelFn fns[] = {binary_kernel<T, Fs>...};
  for (std::size_t i = 0; i < sizeof...(Fs); ++i) r.add(ops[i], DeviceKind::cuda, t, fns[i]);
}

// T is the element type (uint8_t for bool); kBool compares truth values.
template <class T, bool kBool>
void add_comparisons(Registry& r, DType t) {
  r.add(Op::Equal, DeviceKind::cuda, t, compare_kernel<T, op_equal<kBool>>);
  r.add(Op::NotEqual, DeviceKind::cuda, t, compare_kernel<T, op_not_equal<kBool>>);
  r.add(Op::Less, DeviceKind::cuda, t, compare_kernel<T, op_less<kBool>>);
  r.add(Op::LessEqual, DeviceKind::cuda, t, compare_kernel<T, op_less_equal<kBool>>);
  r.add(Op::Greater, DeviceKind::cuda, t, compare_kernel<T, op_greater<kBool>>);
  r.add(Op::GreaterEqual, DeviceKind::cuda, t, compare_kernel<T, op_greater_equal<kBool>>);
}

template <class T>
void add_float_ops(Registry& r) {
  constexpr Op kOps[] = {Op::Add,     Op::Sub,     Op::Mul, Op::Div,
                         Op::Maximum, Op::Minimum, Op::Pow, Op::DivNoNan};
  add_ops<T, op_add, op_sub, op_mul, op_div, op_maximum, op_minimum, op_pow, op_div_no_nan>(
      r, dtype_of<T>(), kOps);
  add_comparisons<T, false>(r, dtype_of<T>());
}

// No integer division: the CPU has none either (the op layer divides in float).
template <class T>
void add_integer_ops(Registry& r) {
  constexpr Op kOps[] = {Op::Add, Op::Sub, Op::Mul, Op::Maximum, Op::Minimum, Op::Pow};
  add_ops<T, op_add, op_sub, op_mul, op_maximum, op_minimum, op_int_pow>(r, dtype_of<T>(), kOps);
  add_comparisons<T, false>(r, dtype_of<T>());
}

// bool arithmetic as numpy: + and maximum are "or", * and minimum are "and".
void add_bool_ops(Registry& r) {
  using B = std::uint8_t;
  constexpr Op kOps[] = {Op::Add,        Op::Maximum,   Op::Mul,       Op::Minimum,
                         Op::LogicalAnd, Op::LogicalOr, Op::LogicalXor};
  add_ops<B, op_logical_or, op_logical_or, op_logical_and, op_logical_and, op_logical_and,
          op_logical_or, op_logical_xor>(r, DType::bool_, kOps);
  add_comparisons<B, true>(r, DType::bool_);
}

}  // namespace

void register_binary(Registry& r) {
  add_float_ops<float>(r);
  add_float_ops<double>(r);
  add_integer_ops<std::int32_t>(r);
  add_integer_ops<std::int64_t>(r);
  add_integer_ops<std::uint8_t>(r);
  add_bool_ops(r);
}

}  // namespace elegy::kernels::cuda
