// Binary elementwise kernels on the CPU, with broadcasting (inputs carry stride-0 dims) and
// strided inputs, walked by elementwise_loop.hpp. float32/float64 arithmetic is Highway SIMD
// with one loop per dense/broadcast combination of the two inputs; pow calls std::pow (exact
// special cases: negative bases with integer exponents, 0^0, infinities); integer, bool,
// comparison, logical and where kernels are plain loops the compiler vectorises.

// Highway re-includes this file once per target (first undef to allow the re-inclusion).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "elegy/kernels/cpu/binary.cpp"
#include <hwy/foreach_target.h>  // must come before highway.h
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <type_traits>

#include "elegy/kernels/cpu/elementwise_loop.hpp"
#include "elegy/kernels/dispatch.hpp"

HWY_BEFORE_NAMESPACE();
namespace elegy::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
namespace ew = elegy::kernels::elementwise;

struct AddOp {
  template <class V>
  HWY_INLINE V operator()(V a, V b) const {
    return hn::Add(a, b);
  }
};
struct SubOp {
  template <class V>
  HWY_INLINE V operator()(V a, V b) const {
    return hn::Sub(a, b);
  }
};
struct MulOp {
  template <class V>
  HWY_INLINE V operator()(V a, V b) const {
    return hn::Mul(a, b);
  }
};
struct DivOp {
  template <class V>
  HWY_INLINE V operator()(V a, V b) const {
    return hn::Div(a, b);
  }
};
// NaN-propagating like jnp.maximum (x86 max returns its second operand when either is NaN).
struct MaximumOp {
  template <class V>
  HWY_INLINE V operator()(V a, V b) const {
    return hn::IfThenElse(hn::Or(hn::Gt(a, b), hn::IsNaN(a)), a, b);
  }
};
struct MinimumOp {
  template <class V>
  HWY_INLINE V operator()(V a, V b) const {
    return hn::IfThenElse(hn::Or(hn::Lt(a, b), hn::IsNaN(a)), a, b);
  }
};

// kA / kB: the input is dense (else one broadcast value).
template <class Op, class T, bool kA, bool kB>
HWY_INLINE void BinaryLoop(T* HWY_RESTRICT out, const T* HWY_RESTRICT a,
                           const T* HWY_RESTRICT b, std::int64_t n) {
  const hn::ScalableTag<T> d;
  const Op op;
  const std::int64_t lanes = std::int64_t(hn::Lanes(d));
  const auto a0 = hn::Set(d, a[0]);
  const auto b0 = hn::Set(d, b[0]);
  std::int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    const auto va = kA ? hn::LoadU(d, a + i) : a0;
    const auto vb = kB ? hn::LoadU(d, b + i) : b0;
    hn::StoreU(op(va, vb), d, out + i);
  }
  if (i < n) {
    const auto m = hn::FirstN(d, std::size_t(n - i));
    const auto va = kA ? hn::MaskedLoad(m, d, a + i) : a0;
    const auto vb = kB ? hn::MaskedLoad(m, d, b + i) : b0;
    hn::BlendedStore(op(va, vb), m, d, out + i);
  }
}

template <class Op, class T>
void BinaryRun(const ew::Run<3>& r) {
  T* out = reinterpret_cast<T*>(r.ptr[0]);
  const T* a = reinterpret_cast<const T*>(r.ptr[1]);
  const T* b = reinterpret_cast<const T*>(r.ptr[2]);
  if (r.stride[1] == 1 && r.stride[2] == 1)
    BinaryLoop<Op, T, true, true>(out, a, b, r.n);
  else if (r.stride[1] == 1)
    BinaryLoop<Op, T, true, false>(out, a, b, r.n);
  else if (r.stride[2] == 1)
    BinaryLoop<Op, T, false, true>(out, a, b, r.n);
  else
    BinaryLoop<Op, T, false, false>(out, a, b, r.n);
}

// This target's run function for (op, float dtype); null for ops without a SIMD version.
ew::RunFn<3> SimdBinaryRun(Op op, DType t) {
  auto pick = [t](auto tag) -> ew::RunFn<3> {
    using O = decltype(tag);
    return t == DType::f64 ? &BinaryRun<O, double> : &BinaryRun<O, float>;
  };
  switch (op) {
    case Op::Add:
      return pick(AddOp{});
    case Op::Sub:
      return pick(SubOp{});
    case Op::Mul:
      return pick(MulOp{});
    case Op::Div:
      return pick(DivOp{});
    case Op::Maximum:
      return pick(MaximumOp{});
    case Op::Minimum:
      return pick(MinimumOp{});
    default:
      return nullptr;
  }
}

}  // namespace elegy::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace elegy::kernels {

HWY_EXPORT(SimdBinaryRun);

namespace {

namespace ew = elementwise;

constexpr Op kSimdOps[] = {Op::Add, Op::Sub, Op::Mul, Op::Div, Op::Maximum, Op::Minimum};

// The best target's run function per [op][dtype is f64], filled once by register_cpu_binary
// (the registry is built under a function-local static, before any kernel runs).
ew::RunFn<3> g_simd_runs[kNumOps][2] = {};

template <Op kOp, class T>
void simd_binary_kernel(const KernelArgs& a) {
  const int size[3] = {int(sizeof(T)), int(sizeof(T)), int(sizeof(T))};
  ew::for_each_run(a, size, ew::kGrain, g_simd_runs[int(kOp)][std::is_same_v<T, double>]);
}

// ---- plain loops: integers (wrapping, as numpy and XLA), bools, pow, comparisons ----

template <class T>
using Unsigned = std::make_unsigned_t<T>;

// Bool tensors are bytes holding 0/1; any nonzero byte reads as true.
inline bool truth(std::uint8_t x) {
  return x != 0;
}

struct IntAdd {
  template <class T>
  T operator()(T a, T b) const {
    return T(Unsigned<T>(a) + Unsigned<T>(b));
  }
};
struct IntSub {
  template <class T>
  T operator()(T a, T b) const {
    return T(Unsigned<T>(a) - Unsigned<T>(b));
  }
};
struct IntMul {
  template <class T>
  T operator()(T a, T b) const {
    return T(Unsigned<T>(a) * Unsigned<T>(b));
  }
};
struct IntMaximum {
  template <class T>
  T operator()(T a, T b) const {
    return a < b ? b : a;
  }
};
struct IntMinimum {
  template <class T>
  T operator()(T a, T b) const {
    return b < a ? b : a;
  }
};
// Integer power by squaring, wrapping. A negative exponent gives 0 except for bases 1 and -1
// (what lax.pow does for integers: 1/b^n truncated).
struct IntPow {
  template <class T>
  T operator()(T base, T exponent) const {
    if constexpr (std::is_signed_v<T>) {
      if (exponent < 0) {
        if (base == 1) return 1;
        if (base == -1) return (exponent & 1) ? T(-1) : T(1);
        return 0;
      }
    }
    Unsigned<T> result = 1, b = Unsigned<T>(base);
    for (Unsigned<T> e = Unsigned<T>(exponent); e != 0; e >>= 1) {
      if (e & 1) result = Unsigned<T>(result * b);
      b = Unsigned<T>(b * b);
    }
    return T(result);
  }
};
struct FloatPow {
  template <class T>
  T operator()(T a, T b) const {
    return std::pow(a, b);
  }
};
struct BoolOr {
  std::uint8_t operator()(std::uint8_t a, std::uint8_t b) const { return truth(a) || truth(b); }
};
struct BoolAnd {
  std::uint8_t operator()(std::uint8_t a, std::uint8_t b) const { return truth(a) && truth(b); }
};
struct BoolXor {
  std::uint8_t operator()(std::uint8_t a, std::uint8_t b) const { return truth(a) != truth(b); }
};

// Comparisons yield bool (a 0/1 byte). kBool compares truth values, not raw bytes.
template <bool kBool, class Cmp>
struct Compare {
  template <class T>
  std::uint8_t operator()(T a, T b) const {
    if constexpr (kBool)
      return Cmp{}(truth(a), truth(b));
    else
      return Cmp{}(a, b);
  }
};

template <class F, class In, class Out>
void plain_binary_run(const ew::Run<3>& r) {
  Out* out = reinterpret_cast<Out*>(r.ptr[0]);
  const In* a = reinterpret_cast<const In*>(r.ptr[1]);
  const In* b = reinterpret_cast<const In*>(r.ptr[2]);
  const F f;
  ew::with_dense_flags(r, [&](auto dense_a, auto dense_b) {
    constexpr bool kA = decltype(dense_a)::value, kB = decltype(dense_b)::value;
    for (std::int64_t i = 0; i < r.n; ++i) out[i] = Out(f(a[kA ? i : 0], b[kB ? i : 0]));
  });
}

template <class F, class In, class Out, std::int64_t kGrain = ew::kGrain>
void plain_binary_kernel(const KernelArgs& a) {
  const int size[3] = {int(sizeof(Out)), int(sizeof(In)), int(sizeof(In))};
  ew::for_each_run(a, size, kGrain, &plain_binary_run<F, In, Out>);
}

// out = cond ? a : b; cond is bool, a/b/out are T.
template <class T>
void where_run(const ew::Run<4>& r) {
  T* out = reinterpret_cast<T*>(r.ptr[0]);
  const std::uint8_t* c = reinterpret_cast<const std::uint8_t*>(r.ptr[1]);
  const T* a = reinterpret_cast<const T*>(r.ptr[2]);
  const T* b = reinterpret_cast<const T*>(r.ptr[3]);
  ew::with_dense_flags(r, [&](auto dense_c, auto dense_a, auto dense_b) {
    constexpr bool kC = decltype(dense_c)::value, kA = decltype(dense_a)::value,
                   kB = decltype(dense_b)::value;
    for (std::int64_t i = 0; i < r.n; ++i)
      out[i] = c[kC ? i : 0] != 0 ? a[kA ? i : 0] : b[kB ? i : 0];
  });
}

template <class T>
void where_kernel(const KernelArgs& a) {
  const int size[4] = {int(sizeof(T)), 1, int(sizeof(T)), int(sizeof(T))};
  ew::for_each_run(a, size, ew::kGrain, &where_run<T>);
}

// T is the C++ element type; bools are handled as uint8_t bytes (kBool).
template <class T, bool kBool>
void add_comparisons(Registry& r, DType t) {
  using B = std::uint8_t;
  r.add(Op::Equal, DeviceKind::cpu, t, plain_binary_kernel<Compare<kBool, std::equal_to<>>, T, B>);
  r.add(Op::NotEqual, DeviceKind::cpu, t,
        plain_binary_kernel<Compare<kBool, std::not_equal_to<>>, T, B>);
  r.add(Op::Less, DeviceKind::cpu, t, plain_binary_kernel<Compare<kBool, std::less<>>, T, B>);
  r.add(Op::LessEqual, DeviceKind::cpu, t,
        plain_binary_kernel<Compare<kBool, std::less_equal<>>, T, B>);
  r.add(Op::Greater, DeviceKind::cpu, t, plain_binary_kernel<Compare<kBool, std::greater<>>, T, B>);
  r.add(Op::GreaterEqual, DeviceKind::cpu, t,
        plain_binary_kernel<Compare<kBool, std::greater_equal<>>, T, B>);
  r.add(Op::Where, DeviceKind::cpu, t, where_kernel<T>);
}

template <class T>
void add_float_ops(Registry& r) {
  const DType t = dtype_of<T>();
  const int f64 = std::is_same_v<T, double>;
  for (Op op : kSimdOps) g_simd_runs[int(op)][f64] = HWY_DYNAMIC_DISPATCH(SimdBinaryRun)(op, t);
  r.add(Op::Add, DeviceKind::cpu, t, simd_binary_kernel<Op::Add, T>);
  r.add(Op::Sub, DeviceKind::cpu, t, simd_binary_kernel<Op::Sub, T>);
  r.add(Op::Mul, DeviceKind::cpu, t, simd_binary_kernel<Op::Mul, T>);
  r.add(Op::Div, DeviceKind::cpu, t, simd_binary_kernel<Op::Div, T>);
  r.add(Op::Maximum, DeviceKind::cpu, t, simd_binary_kernel<Op::Maximum, T>);
  r.add(Op::Minimum, DeviceKind::cpu, t, simd_binary_kernel<Op::Minimum, T>);
  // std::pow costs ~20x an add per element: split over threads sooner.
  r.add(Op::Pow, DeviceKind::cpu, t, plain_binary_kernel<FloatPow, T, T, ew::kGrain / 16>);
  add_comparisons<T, false>(r, t);
}

template <class T>
void add_integer_ops(Registry& r) {
  const DType t = dtype_of<T>();
  r.add(Op::Add, DeviceKind::cpu, t, plain_binary_kernel<IntAdd, T, T>);
  r.add(Op::Sub, DeviceKind::cpu, t, plain_binary_kernel<IntSub, T, T>);
  r.add(Op::Mul, DeviceKind::cpu, t, plain_binary_kernel<IntMul, T, T>);
  r.add(Op::Maximum, DeviceKind::cpu, t, plain_binary_kernel<IntMaximum, T, T>);
  r.add(Op::Minimum, DeviceKind::cpu, t, plain_binary_kernel<IntMinimum, T, T>);
  r.add(Op::Pow, DeviceKind::cpu, t, plain_binary_kernel<IntPow, T, T>);
  add_comparisons<T, false>(r, t);
}

// bool arithmetic as numpy: + and maximum are "or", * and minimum are "and".
void add_bool_ops(Registry& r) {
  using B = std::uint8_t;
  const DType t = DType::bool_;
  r.add(Op::Add, DeviceKind::cpu, t, plain_binary_kernel<BoolOr, B, B>);
  r.add(Op::Maximum, DeviceKind::cpu, t, plain_binary_kernel<BoolOr, B, B>);
  r.add(Op::Mul, DeviceKind::cpu, t, plain_binary_kernel<BoolAnd, B, B>);
  r.add(Op::Minimum, DeviceKind::cpu, t, plain_binary_kernel<BoolAnd, B, B>);
  r.add(Op::LogicalAnd, DeviceKind::cpu, t, plain_binary_kernel<BoolAnd, B, B>);
  r.add(Op::LogicalOr, DeviceKind::cpu, t, plain_binary_kernel<BoolOr, B, B>);
  r.add(Op::LogicalXor, DeviceKind::cpu, t, plain_binary_kernel<BoolXor, B, B>);
  add_comparisons<B, true>(r, t);
}

}  // namespace

void register_cpu_binary(Registry& r) {
  add_float_ops<float>(r);
  add_float_ops<double>(r);
  add_integer_ops<std::int32_t>(r);
  add_integer_ops<std::int64_t>(r);
  add_integer_ops<std::uint8_t>(r);
  add_bool_ops(r);
}

}  // namespace elegy::kernels
#endif  // HWY_ONCE
