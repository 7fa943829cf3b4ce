// Binary elementwise kernels on the CPU (and where), with broadcasting (inputs carry stride-0
// dims) and strided inputs, walked by elementwise_loop.hpp. float32/float64 arithmetic,
// comparisons and where are Highway SIMD with one loop per dense/broadcast combination of the
// inputs; pow calls std::pow (exact special cases: negative bases with integer exponents, 0^0,
// infinities); integer and bool kernels are plain loops the compiler vectorises.

// Highway re-includes this file once per target (first undef to allow the re-inclusion).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "elegy/kernels/cpu/binary.cpp"
#include <hwy/foreach_target.h>  // must come before highway.h
// (a blank line keeps clang-format from sorting the two apart)

#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <type_traits>

#include "elegy/kernels/cpu/elementwise_loop.hpp"
#include "elegy/kernels/dispatch.hpp"
#include "elegy/kernels/integer_pow.hpp"

HWY_BEFORE_NAMESPACE();
// Inside elementwise:: so these names cannot collide with other kernel files' per-target code.
namespace elegy::kernels::elementwise::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// ---- arithmetic: (a, b) -> value ----

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

// kA / kB: the input is dense within a row (else one broadcast value per row).
template <class Op, class T, bool kA, bool kB>
HWY_INLINE void ArithmeticLoop(const Run<3>& r) {
  const hn::ScalableTag<T> d;
  const Op op;
  const std::int64_t lanes = std::int64_t(hn::Lanes(d));
  for (std::int64_t row = 0; row < r.rows; ++row) {
    T* HWY_RESTRICT out = row_ptr<T>(r, 0, row);
    const T* HWY_RESTRICT a = row_ptr<T>(r, 1, row);
    const T* HWY_RESTRICT b = row_ptr<T>(r, 2, row);
    const auto a0 = hn::Set(d, a[0]);
    const auto b0 = hn::Set(d, b[0]);
    std::int64_t i = 0;
    for (; i + lanes <= r.n; i += lanes) {
      const auto va = kA ? hn::LoadU(d, a + i) : a0;
      const auto vb = kB ? hn::LoadU(d, b + i) : b0;
      hn::StoreU(op(va, vb), d, out + i);
    }
    if (i < r.n) {
      const auto m = hn::FirstN(d, std::size_t(r.n - i));
      const auto va = kA ? hn::MaskedLoad(m, d, a + i) : a0;
      const auto vb = kB ? hn::MaskedLoad(m, d, b + i) : b0;
      hn::BlendedStore(op(va, vb), m, d, out + i);
    }
  }
}

// ---- comparisons: (a, b) -> bool byte ----

#define ELEGY_COMPARE_OP(NAME, HWY_OP, CXX_OP)   \
  struct NAME {                                  \
    template <class V>                           \
    HWY_INLINE auto operator()(V a, V b) const { \
      return hn::HWY_OP(a, b);                   \
    }                                            \
    template <class T>                           \
    static std::uint8_t Scalar(T a, T b) {       \
      return a CXX_OP b;                         \
    }                                            \
  };
ELEGY_COMPARE_OP(EqOp, Eq, ==)
ELEGY_COMPARE_OP(LtOp, Lt, <)
ELEGY_COMPARE_OP(LeOp, Le, <=)
ELEGY_COMPARE_OP(GtOp, Gt, >)
ELEGY_COMPARE_OP(GeOp, Ge, >=)
#undef ELEGY_COMPARE_OP

// a != b is true when either is NaN (IEEE, C++, numpy). Highway 1.0's Ne is an *ordered*
// compare on x86 (_CMP_NEQ_OQ: false for NaN), so it is written as not-equal's definition.
struct NeOp {
  template <class V>
  HWY_INLINE auto operator()(V a, V b) const {
    return hn::Not(hn::Eq(a, b));
  }
  template <class T>
  static std::uint8_t Scalar(T a, T b) {
    return a != b;
  }
};

// One mask lane -> one 0/1 byte: through int32 lanes, then a saturating narrow to uint8.
template <class D, class M>
HWY_INLINE void StoreBools(D d, M m, std::uint8_t* HWY_RESTRICT out) {
  using T = hn::TFromD<D>;
  const hn::Rebind<std::int32_t, D> d32;
  const hn::Rebind<std::uint8_t, D> d8;
  if constexpr (sizeof(T) == 4) {
    const hn::RebindToSigned<D> di;
    hn::StoreU(hn::DemoteTo(d8, hn::IfThenElseZero(hn::RebindMask(di, m), hn::Set(di, 1))), d8,
               out);
  } else {
    const auto ones = hn::IfThenElseZero(m, hn::Set(d, T(1)));
    hn::StoreU(hn::DemoteTo(d8, hn::DemoteTo(d32, ones)), d8, out);
  }
}

// One 0/1 (or any nonzero) byte per lane -> a mask of D.
template <class D>
HWY_INLINE auto LoadBools(D d, const std::uint8_t* HWY_RESTRICT in) {
  using T = hn::TFromD<D>;
  const hn::Rebind<std::int32_t, D> d32;
  const hn::Rebind<std::uint8_t, D> d8;
  const auto v32 = hn::PromoteTo(d32, hn::LoadU(d8, in));
  if constexpr (sizeof(T) == 4)
    return hn::RebindMask(d, hn::Ne(v32, hn::Zero(d32)));
  else
    return hn::Ne(hn::PromoteTo(d, v32), hn::Zero(d));
}

template <class Op, class T, bool kA, bool kB>
HWY_INLINE void CompareLoop(const Run<3>& r) {
  const hn::ScalableTag<T> d;
  const Op op;
  const std::int64_t lanes = std::int64_t(hn::Lanes(d));
  for (std::int64_t row = 0; row < r.rows; ++row) {
    std::uint8_t* HWY_RESTRICT out = row_ptr<std::uint8_t>(r, 0, row);
    const T* HWY_RESTRICT a = row_ptr<T>(r, 1, row);
    const T* HWY_RESTRICT b = row_ptr<T>(r, 2, row);
    const auto a0 = hn::Set(d, a[0]);
    const auto b0 = hn::Set(d, b[0]);
    std::int64_t i = 0;
    for (; i + lanes <= r.n; i += lanes) {
      const auto va = kA ? hn::LoadU(d, a + i) : a0;
      const auto vb = kB ? hn::LoadU(d, b + i) : b0;
      StoreBools(d, op(va, vb), out + i);
    }
    for (; i < r.n; ++i) out[i] = Op::Scalar(a[kA ? i : 0], b[kB ? i : 0]);
  }
}

template <class Op, class T, template <class, class, bool, bool> class Loop>
void DispatchBroadcast(const Run<3>& r) {
  if (r.stride[1] == 1 && r.stride[2] == 1)
    Loop<Op, T, true, true>::Call(r);
  else if (r.stride[1] == 1)
    Loop<Op, T, true, false>::Call(r);
  else if (r.stride[2] == 1)
    Loop<Op, T, false, true>::Call(r);
  else
    Loop<Op, T, false, false>::Call(r);
}
template <class Op, class T, bool kA, bool kB>
struct Arithmetic {
  static void Call(const Run<3>& r) { ArithmeticLoop<Op, T, kA, kB>(r); }
};
template <class Op, class T, bool kA, bool kB>
struct Comparison {
  static void Call(const Run<3>& r) { CompareLoop<Op, T, kA, kB>(r); }
};

template <class Op, class T>
void ArithmeticRun(const Run<3>& r) {
  DispatchBroadcast<Op, T, Arithmetic>(r);
}
template <class Op, class T>
void CompareRun(const Run<3>& r) {
  DispatchBroadcast<Op, T, Comparison>(r);
}

// ---- where: (cond byte, a, b) -> cond ? a : b ----

template <class T, bool kA, bool kB>
HWY_INLINE void WhereRow(T* HWY_RESTRICT out, const std::uint8_t* HWY_RESTRICT c,
                         const T* HWY_RESTRICT a, const T* HWY_RESTRICT b, std::int64_t n) {
  const hn::ScalableTag<T> d;
  const std::int64_t lanes = std::int64_t(hn::Lanes(d));
  const auto a0 = hn::Set(d, a[0]);
  const auto b0 = hn::Set(d, b[0]);
  std::int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    const auto va = kA ? hn::LoadU(d, a + i) : a0;
    const auto vb = kB ? hn::LoadU(d, b + i) : b0;
    hn::StoreU(hn::IfThenElse(LoadBools(d, c + i), va, vb), d, out + i);
  }
  for (; i < n; ++i) out[i] = c[i] != 0 ? a[kA ? i : 0] : b[kB ? i : 0];
}

template <class T>
void WhereRun(const Run<4>& r) {
  for (std::int64_t row = 0; row < r.rows; ++row) {
    T* out = row_ptr<T>(r, 0, row);
    const std::uint8_t* c = row_ptr<std::uint8_t>(r, 1, row);
    const T* a = row_ptr<T>(r, 2, row);
    const T* b = row_ptr<T>(r, 3, row);
    if (r.stride[1] == 0) {  // one condition for the whole row: a copy of a or of b
      const T* src = c[0] != 0 ? a : b;
      const bool dense = r.stride[c[0] != 0 ? 2 : 3] == 1;
      for (std::int64_t i = 0; i < r.n; ++i) out[i] = src[dense ? i : 0];
    } else if (r.stride[2] == 1 && r.stride[3] == 1) {
      WhereRow<T, true, true>(out, c, a, b, r.n);
    } else if (r.stride[2] == 1) {
      WhereRow<T, true, false>(out, c, a, b, r.n);
    } else if (r.stride[3] == 1) {
      WhereRow<T, false, true>(out, c, a, b, r.n);
    } else {
      WhereRow<T, false, false>(out, c, a, b, r.n);
    }
  }
}

// ---- this target's run functions, looked up once at registration ----

RunFn<3> SimdBinaryRun(Op op, DType t) {
#define ELEGY_PICK(OP, RUN, FUNCTOR) \
  case Op::OP:                       \
    return t == DType::f64 ? &RUN<FUNCTOR, double> : &RUN<FUNCTOR, float>;
  switch (op) {
    ELEGY_PICK(Add, ArithmeticRun, AddOp)
    ELEGY_PICK(Sub, ArithmeticRun, SubOp)
    ELEGY_PICK(Mul, ArithmeticRun, MulOp)
    ELEGY_PICK(Div, ArithmeticRun, DivOp)
    ELEGY_PICK(Maximum, ArithmeticRun, MaximumOp)
    ELEGY_PICK(Minimum, ArithmeticRun, MinimumOp)
    ELEGY_PICK(Equal, CompareRun, EqOp)
    ELEGY_PICK(NotEqual, CompareRun, NeOp)
    ELEGY_PICK(Less, CompareRun, LtOp)
    ELEGY_PICK(LessEqual, CompareRun, LeOp)
    ELEGY_PICK(Greater, CompareRun, GtOp)
    ELEGY_PICK(GreaterEqual, CompareRun, GeOp)
    default:
      return nullptr;
  }
#undef ELEGY_PICK
}

RunFn<4> SimdWhereRun(DType t) {
  return t == DType::f64 ? &WhereRun<double> : &WhereRun<float>;
}

}  // namespace elegy::kernels::elementwise::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace elegy::kernels {
namespace elementwise {

HWY_EXPORT(SimdBinaryRun);
HWY_EXPORT(SimdWhereRun);

// The run functions of the best target this CPU supports.
static RunFn<3> best_binary_run(Op op, DType t) {
  return HWY_DYNAMIC_DISPATCH(SimdBinaryRun)(op, t);
}
static RunFn<4> best_where_run(DType t) {
  return HWY_DYNAMIC_DISPATCH(SimdWhereRun)(t);
}

}  // namespace elementwise

namespace {

namespace ew = elementwise;

constexpr Op kSimdOps[] = {Op::Add,     Op::Sub,       Op::Mul,     Op::Div,
                           Op::Maximum, Op::Minimum,   Op::Equal,   Op::NotEqual,
                           Op::Less,    Op::LessEqual, Op::Greater, Op::GreaterEqual};

// The best target's run functions per [op][dtype is f64], filled once by register_cpu_binary
// (the registry is built under a function-local static, before any kernel runs).
ew::RunFn<3> g_simd_runs[kNumOps][2] = {};
ew::RunFn<4> g_where_runs[2] = {};

template <class T>
constexpr int f64_index() {
  return std::is_same_v<T, double> ? 1 : 0;
}

// Float arithmetic (out is T) and comparisons (out is bool) through the SIMD table.
template <Op kOp, class T>
void simd_binary_kernel(const KernelArgs& a) {
  constexpr bool kCompare = kOp >= Op::Equal && kOp <= Op::GreaterEqual;
  const int size[3] = {kCompare ? 1 : int(sizeof(T)), int(sizeof(T)), int(sizeof(T))};
  ew::for_each_run(a, size, ew::kGrain, g_simd_runs[int(kOp)][f64_index<T>()]);
}

template <class T>
void simd_where_kernel(const KernelArgs& a) {
  const int size[4] = {int(sizeof(T)), 1, int(sizeof(T)), int(sizeof(T))};
  ew::for_each_run(a, size, ew::kGrain, g_where_runs[f64_index<T>()]);
}

// ---- plain loops: integers (wrapping, as numpy and XLA), bools, pow ----

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
// Integer power by squaring, wrapping (kernels/integer_pow.hpp, shared with CUDA).
struct IntPow {
  template <class T>
  T operator()(T base, T exponent) const {
    return integer_pow(base, exponent);
  }
};
struct FloatPow {
  template <class T>
  T operator()(T a, T b) const {
    return std::pow(a, b);
  }
};
// 0 where b == 0 (whatever a is: 0/0 and inf/0 too), a / b elsewhere: the mean of a running
// total over a count that may still be zero, in one pass (metrics, running means).
struct FloatDivNoNan {
  template <class T>
  T operator()(T a, T b) const {
    return b == T(0) ? T(0) : a / b;
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

// Comparisons of integers and bools yield a 0/1 byte; kBool compares truth values, not bytes.
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
  const F f;
  ew::with_dense_flags(r, [&](auto dense_a, auto dense_b) {
    constexpr bool kA = decltype(dense_a)::value, kB = decltype(dense_b)::value;
    for (std::int64_t row = 0; row < r.rows; ++row) {
      Out* out = ew::row_ptr<Out>(r, 0, row);
      const In* a = ew::row_ptr<In>(r, 1, row);
      const In* b = ew::row_ptr<In>(r, 2, row);
      for (std::int64_t i = 0; i < r.n; ++i) out[i] = Out(f(a[kA ? i : 0], b[kB ? i : 0]));
    }
  });
}

template <class F, class In, class Out, std::int64_t kGrain = ew::kGrain>
void plain_binary_kernel(const KernelArgs& a) {
  const int size[3] = {int(sizeof(Out)), int(sizeof(In)), int(sizeof(In))};
  ew::for_each_run(a, size, kGrain, &plain_binary_run<F, In, Out>);
}

// out = cond ? a : b; cond is bool, a/b/out are T.
template <class T>
void plain_where_run(const ew::Run<4>& r) {
  ew::with_dense_flags(r, [&](auto dense_c, auto dense_a, auto dense_b) {
    constexpr bool kC = decltype(dense_c)::value, kA = decltype(dense_a)::value,
                   kB = decltype(dense_b)::value;
    for (std::int64_t row = 0; row < r.rows; ++row) {
      T* out = ew::row_ptr<T>(r, 0, row);
      const std::uint8_t* c = ew::row_ptr<std::uint8_t>(r, 1, row);
      const T* a = ew::row_ptr<T>(r, 2, row);
      const T* b = ew::row_ptr<T>(r, 3, row);
      for (std::int64_t i = 0; i < r.n; ++i)
        out[i] = c[kC ? i : 0] != 0 ? a[kA ? i : 0] : b[kB ? i : 0];
    }
  });
}

template <class T>
void plain_where_kernel(const KernelArgs& a) {
  const int size[4] = {int(sizeof(T)), 1, int(sizeof(T)), int(sizeof(T))};
  ew::for_each_run(a, size, ew::kGrain, &plain_where_run<T>);
}

// Integer and bool comparisons and where; T is the C++ element type (uint8_t for bool).
template <class T, bool kBool>
void add_plain_comparisons(Registry& r, DType t) {
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
  r.add(Op::Where, DeviceKind::cpu, t, plain_where_kernel<T>);
}

template <class T>
void add_float_ops(Registry& r) {
  const DType t = dtype_of<T>();
  for (Op op : kSimdOps) g_simd_runs[int(op)][f64_index<T>()] = ew::best_binary_run(op, t);
  g_where_runs[f64_index<T>()] = ew::best_where_run(t);
  r.add(Op::Add, DeviceKind::cpu, t, simd_binary_kernel<Op::Add, T>);
  r.add(Op::Sub, DeviceKind::cpu, t, simd_binary_kernel<Op::Sub, T>);
  r.add(Op::Mul, DeviceKind::cpu, t, simd_binary_kernel<Op::Mul, T>);
  r.add(Op::Div, DeviceKind::cpu, t, simd_binary_kernel<Op::Div, T>);
  r.add(Op::Maximum, DeviceKind::cpu, t, simd_binary_kernel<Op::Maximum, T>);
  r.add(Op::Minimum, DeviceKind::cpu, t, simd_binary_kernel<Op::Minimum, T>);
  r.add(Op::Equal, DeviceKind::cpu, t, simd_binary_kernel<Op::Equal, T>);
  r.add(Op::NotEqual, DeviceKind::cpu, t, simd_binary_kernel<Op::NotEqual, T>);
  r.add(Op::Less, DeviceKind::cpu, t, simd_binary_kernel<Op::Less, T>);
  r.add(Op::LessEqual, DeviceKind::cpu, t, simd_binary_kernel<Op::LessEqual, T>);
  r.add(Op::Greater, DeviceKind::cpu, t, simd_binary_kernel<Op::Greater, T>);
  r.add(Op::GreaterEqual, DeviceKind::cpu, t, simd_binary_kernel<Op::GreaterEqual, T>);
  r.add(Op::Where, DeviceKind::cpu, t, simd_where_kernel<T>);
  // std::pow costs ~20x an add per element: split over threads sooner.
  r.add(Op::Pow, DeviceKind::cpu, t, plain_binary_kernel<FloatPow, T, T, ew::kGrain / 16>);
  r.add(Op::DivNoNan, DeviceKind::cpu, t, plain_binary_kernel<FloatDivNoNan, T, T>);
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
  add_plain_comparisons<T, false>(r, t);
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
  add_plain_comparisons<B, true>(r, t);
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
