// Unary elementwise kernels on the CPU. float32/float64 ops are Highway SIMD, compiled once per
// x86 target and picked at run time; integer and bool ops are plain loops the compiler
// vectorises. The layout walk (broadcast, strided, multi-threaded) is elementwise_loop.hpp.
//
// Transcendentals use hwy/contrib/math (1-4 ULP) wrapped to give IEEE results at the edges it
// does not cover (overflow, 0, negatives, inf, NaN). The exact (erf) GELU calls std::erfc in
// double per element: no SIMD erfc of that accuracy is available in Highway 1.0.3.

// Highway re-includes this file once per target (first undef to allow the re-inclusion).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "elegy/kernels/cpu/unary.cpp"
#include <hwy/foreach_target.h>  // must come before highway.h
// (a blank line keeps clang-format from sorting the two apart)

#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "elegy/kernels/cpu/elementwise_loop.hpp"
#include "elegy/kernels/cpu/elementwise_math-inl.hpp"
#include "elegy/kernels/dispatch.hpp"

HWY_BEFORE_NAMESPACE();
// Inside elementwise:: so these names cannot collide with other kernel files' per-target code.
namespace elegy::kernels::elementwise::HWY_NAMESPACE {

// One functor per op: (tag, vector) -> vector, the same code for full and partial vectors.
#define ELEGY_UNARY_OP(NAME, EXPR)            \
  struct NAME {                               \
    template <class D, class V>               \
    HWY_INLINE V operator()(D d, V x) const { \
      (void)d;                                \
      return EXPR;                            \
    }                                         \
  };

ELEGY_UNARY_OP(NegOp, hn::Neg(x))
ELEGY_UNARY_OP(AbsOp, hn::Abs(x))
ELEGY_UNARY_OP(ExpOp, ExpFull(d, x))
ELEGY_UNARY_OP(LogOp, LogFull(d, x))
ELEGY_UNARY_OP(Log1pOp, Log1pFull(d, x))
ELEGY_UNARY_OP(SqrtOp, hn::Sqrt(x))
// 1/sqrt exactly rounded twice; the hardware estimate (ApproximateReciprocalSqrt) has ~12 bits.
ELEGY_UNARY_OP(RsqrtOp, hn::Div(hn::Set(d, hn::TFromD<D>(1)), hn::Sqrt(x)))
ELEGY_UNARY_OP(SquareOp, hn::Mul(x, x))
ELEGY_UNARY_OP(TanhOp, TanhFull(d, x))
ELEGY_UNARY_OP(SigmoidOp, Sigmoid(d, x))
// NaN-propagating like jax.nn.relu: only lanes below zero are replaced.
ELEGY_UNARY_OP(ReluOp, hn::IfThenZeroElse(hn::Lt(x, hn::Zero(d)), x))
ELEGY_UNARY_OP(GeluTanhOp, GeluTanh(d, x))
ELEGY_UNARY_OP(SoftplusOp, Softplus(d, x))
// +1 / -1, and x itself for +-0 and NaN (as jnp.sign).
ELEGY_UNARY_OP(SignOp, hn::IfThenElse(hn::Gt(x, hn::Zero(d)), hn::Set(d, hn::TFromD<D>(1)),
                                      hn::IfThenElse(hn::Lt(x, hn::Zero(d)),
                                                     hn::Set(d, hn::TFromD<D>(-1)), x)))
#undef ELEGY_UNARY_OP

template <class Op, class T>
void UnaryRun(const Run<2>& r) {
  const Op op;
  const hn::ScalableTag<T> d;
  const std::int64_t lanes = std::int64_t(hn::Lanes(d));
  for (std::int64_t row = 0; row < r.rows; ++row) {
    T* HWY_RESTRICT out = row_ptr<T>(r, 0, row);
    const T* HWY_RESTRICT in = row_ptr<T>(r, 1, row);
    if (r.stride[1] == 0) {  // a broadcast input: one value for the whole row
      const hn::CappedTag<T, 1> d1;
      std::fill(out, out + r.n, hn::GetLane(op(d1, hn::Set(d1, in[0]))));
      continue;
    }
    std::int64_t i = 0;
    for (; i + lanes <= r.n; i += lanes) hn::StoreU(op(d, hn::LoadU(d, in + i)), d, out + i);
    if (i < r.n) {
      const auto m = hn::FirstN(d, std::size_t(r.n - i));
      hn::BlendedStore(op(d, hn::MaskedLoad(m, d, in + i)), m, d, out + i);
    }
  }
}

// This target's run function for (op, float dtype); null for ops without a SIMD version.
RunFn<2> SimdUnaryRun(Op op, DType t) {
  auto pick = [t](auto tag) -> RunFn<2> {
    using O = decltype(tag);
    return t == DType::f64 ? &UnaryRun<O, double> : &UnaryRun<O, float>;
  };
  switch (op) {
    case Op::Neg:
      return pick(NegOp{});
    case Op::Abs:
      return pick(AbsOp{});
    case Op::Exp:
      return pick(ExpOp{});
    case Op::Log:
      return pick(LogOp{});
    case Op::Log1p:
      return pick(Log1pOp{});
    case Op::Sqrt:
      return pick(SqrtOp{});
    case Op::Rsqrt:
      return pick(RsqrtOp{});
    case Op::Square:
      return pick(SquareOp{});
    case Op::Tanh:
      return pick(TanhOp{});
    case Op::Sigmoid:
      return pick(SigmoidOp{});
    case Op::Relu:
      return pick(ReluOp{});
    case Op::Gelu:
      return pick(GeluTanhOp{});
    case Op::Softplus:
      return pick(SoftplusOp{});
    case Op::Sign:
      return pick(SignOp{});
    default:
      return nullptr;
  }
}

}  // namespace elegy::kernels::elementwise::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace elegy::kernels {
namespace elementwise {

HWY_EXPORT(SimdUnaryRun);

// The run function of the best target this CPU supports.
static RunFn<2> best_unary_run(Op op, DType t) {
  return HWY_DYNAMIC_DISPATCH(SimdUnaryRun)(op, t);
}

}  // namespace elementwise

namespace {

namespace ew = elementwise;

constexpr Op kSimdOps[] = {Op::Neg,  Op::Abs,   Op::Exp,      Op::Log,  Op::Log1p,
                           Op::Sqrt, Op::Rsqrt, Op::Square,   Op::Tanh, Op::Sigmoid,
                           Op::Relu, Op::Gelu,  Op::Softplus, Op::Sign};

// The best target's run function per [op][dtype is f64], filled once by register_cpu_unary
// (the registry is built under a function-local static, before any kernel runs).
ew::RunFn<2> g_simd_runs[kNumOps][2] = {};

// Transcendentals cost several times an add per element: split them over threads sooner.
constexpr std::int64_t grain_of(Op op) {
  switch (op) {
    case Op::Neg:
    case Op::Abs:
    case Op::Sqrt:
    case Op::Square:
    case Op::Relu:
    case Op::Sign:
    case Op::LogicalNot:
      return ew::kGrain;
    default:
      return ew::kGrain / 8;
  }
}

template <class T>
constexpr int f64_index() {
  return std::is_same_v<T, double> ? 1 : 0;
}

template <Op kOp, class T>
void simd_unary_kernel(const KernelArgs& a) {
  const int size[2] = {int(sizeof(T)), int(sizeof(T))};
  ew::for_each_run(a, size, grain_of(kOp), g_simd_runs[int(kOp)][f64_index<T>()]);
}

// Exact GELU, x * Phi(x) = x/2 * erfc(-x/sqrt(2)) (erfc, not 1 + erf, keeps the relative
// accuracy for negative x), in double.
struct GeluErf {
  template <class T>
  T operator()(T x) const {
    const double xd = double(x);
    return T(0.5 * xd * std::erfc(-xd * 0.70710678118654752440));
  }
};

template <class F, class T>
void plain_unary_run(const ew::Run<2>& r) {
  const F f;
  for (std::int64_t row = 0; row < r.rows; ++row) {
    T* out = ew::row_ptr<T>(r, 0, row);
    const T* in = ew::row_ptr<T>(r, 1, row);
    if (r.stride[1] == 0) {
      std::fill(out, out + r.n, f(in[0]));
      continue;
    }
    for (std::int64_t i = 0; i < r.n; ++i) out[i] = f(in[i]);
  }
}

// args.ints[0] == 1: the tanh approximation (SIMD); 0: the exact erf form.
template <class T>
void gelu_kernel(const KernelArgs& a) {
  const int size[2] = {int(sizeof(T)), int(sizeof(T))};
  if (a.ints[0] == 1)
    ew::for_each_run(a, size, grain_of(Op::Gelu), g_simd_runs[int(Op::Gelu)][f64_index<T>()]);
  else
    ew::for_each_run(a, size, ew::kGrain / 32, &plain_unary_run<GeluErf, T>);
}

// ---- integer and bool ops: plain loops (wrapping arithmetic, as numpy and XLA) ----

template <class T>
using Unsigned = std::make_unsigned_t<T>;

struct IntNeg {
  template <class T>
  T operator()(T x) const {
    return T(Unsigned<T>(0) - Unsigned<T>(x));
  }
};
struct IntAbs {
  template <class T>
  T operator()(T x) const {
    if constexpr (std::is_signed_v<T>)
      return x < 0 ? IntNeg{}(x) : x;
    else
      return x;
  }
};
struct IntSign {
  template <class T>
  T operator()(T x) const {
    if constexpr (std::is_signed_v<T>)
      return T((x > 0) - (x < 0));
    else
      return T(x != 0);
  }
};
struct IntSquare {
  template <class T>
  T operator()(T x) const {
    return T(Unsigned<T>(x) * Unsigned<T>(x));
  }
};
struct IntRelu {
  template <class T>
  T operator()(T x) const {
    if constexpr (std::is_signed_v<T>)
      return x < 0 ? T(0) : x;
    else
      return x;
  }
};
struct BoolNot {  // bools are bytes holding 0/1; any nonzero byte reads as true
  std::uint8_t operator()(std::uint8_t x) const { return x == 0; }
};

template <Op kOp, class F, class T>
void plain_unary_kernel(const KernelArgs& a) {
  const int size[2] = {int(sizeof(T)), int(sizeof(T))};
  ew::for_each_run(a, size, grain_of(kOp), &plain_unary_run<F, T>);
}

template <class T>
void add_float_ops(Registry& r) {
  const DType t = dtype_of<T>();
  for (Op op : kSimdOps) g_simd_runs[int(op)][f64_index<T>()] = ew::best_unary_run(op, t);
  const KernelFn fns[] = {simd_unary_kernel<Op::Neg, T>,      simd_unary_kernel<Op::Abs, T>,
                          simd_unary_kernel<Op::Exp, T>,      simd_unary_kernel<Op::Log, T>,
                          simd_unary_kernel<Op::Log1p, T>,    simd_unary_kernel<Op::Sqrt, T>,
                          simd_unary_kernel<Op::Rsqrt, T>,    simd_unary_kernel<Op::Square, T>,
                          simd_unary_kernel<Op::Tanh, T>,     simd_unary_kernel<Op::Sigmoid, T>,
                          simd_unary_kernel<Op::Relu, T>,     gelu_kernel<T>,
                          simd_unary_kernel<Op::Softplus, T>, simd_unary_kernel<Op::Sign, T>};
  static_assert(std::size(fns) == std::size(kSimdOps));
  for (std::size_t i = 0; i < std::size(kSimdOps); ++i)
    r.add(kSimdOps[i], DeviceKind::cpu, t, fns[i]);
}

template <class T>
void add_integer_ops(Registry& r) {
  const DType t = dtype_of<T>();
  r.add(Op::Neg, DeviceKind::cpu, t, plain_unary_kernel<Op::Neg, IntNeg, T>);
  r.add(Op::Abs, DeviceKind::cpu, t, plain_unary_kernel<Op::Abs, IntAbs, T>);
  r.add(Op::Sign, DeviceKind::cpu, t, plain_unary_kernel<Op::Sign, IntSign, T>);
  r.add(Op::Square, DeviceKind::cpu, t, plain_unary_kernel<Op::Square, IntSquare, T>);
  r.add(Op::Relu, DeviceKind::cpu, t, plain_unary_kernel<Op::Relu, IntRelu, T>);
}

}  // namespace

void register_cpu_unary(Registry& r) {
  add_float_ops<float>(r);
  add_float_ops<double>(r);
  add_integer_ops<std::int32_t>(r);
  add_integer_ops<std::int64_t>(r);
  add_integer_ops<std::uint8_t>(r);
  r.add(Op::LogicalNot, DeviceKind::cpu, DType::bool_,
        plain_unary_kernel<Op::LogicalNot, BoolNot, std::uint8_t>);
}

}  // namespace elegy::kernels
#endif  // HWY_ONCE
