// Per-target SIMD math for the unary kernels (unary.cpp): hwy/contrib/math (1-4 ULP inside its
// valid ranges) plus the IEEE behaviour it leaves out, so every lane gets what std:: gives:
// exp overflows to inf and underflows to 0, log(0) = -inf, log(<0) = NaN, log(inf) = inf, NaN
// in gives NaN out. Out-of-range lanes are replaced before they reach hwy's code (its float ->
// int conversions are only defined inside those ranges), then patched afterwards.
//
// Included inside a Highway per-target compilation; the toggle guard below is Highway's
// pattern for "-inl" headers (one copy per target).
#if defined(ELEGY_KERNELS_CPU_ELEMENTWISE_MATH_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef ELEGY_KERNELS_CPU_ELEMENTWISE_MATH_INL_H_
#undef ELEGY_KERNELS_CPU_ELEMENTWISE_MATH_INL_H_
#else
#define ELEGY_KERNELS_CPU_ELEMENTWISE_MATH_INL_H_
#endif

#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace elegy::kernels::elementwise::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// e^x. Beyond +89 (float) / +710 (double) the result overflows to inf, below -110 / -1010 it
// is 0 (hwy's Exp returns 0 below -104 / -1000 itself): clamping to those bounds keeps hwy's
// exponent arithmetic in range without changing any result.
template <class D, class V>
HWY_INLINE V ExpFull(D d, V x) {
  using T = hn::TFromD<D>;
  constexpr bool kF32 = sizeof(T) == 4;
  const auto nan = hn::IsNaN(x);
  const V lo = hn::Set(d, T(kF32 ? -110.0 : -1010.0));
  const V hi = hn::Set(d, T(kF32 ? 89.0 : 710.0));
  const V clamped = hn::Min(hn::Max(hn::IfThenZeroElse(nan, x), lo), hi);
  return hn::IfThenElse(nan, x, hn::Exp(d, clamped));
}

// Natural log; hwy's Log covers (0, max] (subnormals included).
template <class D, class V>
HWY_INLINE V LogFull(D d, V x) {
  using T = hn::TFromD<D>;
  const V zero = hn::Zero(d), inf = hn::Inf(d);
  const auto finite_positive = hn::And(hn::Gt(x, zero), hn::Lt(x, inf));
  const V y = hn::Log(d, hn::IfThenElse(finite_positive, x, hn::Set(d, T(1))));
  V r = hn::IfThenElse(finite_positive, y, hn::NaN(d));  // negative or NaN
  r = hn::IfThenElse(hn::Eq(x, zero), hn::Neg(inf), r);
  return hn::IfThenElse(hn::Eq(x, inf), inf, r);
}

// log(1 + x), accurate near 0; hwy's Log1p covers (-1, max].
template <class D, class V>
HWY_INLINE V Log1pFull(D d, V x) {
  using T = hn::TFromD<D>;
  const V minus_one = hn::Set(d, T(-1)), inf = hn::Inf(d);
  const auto in_domain = hn::And(hn::Gt(x, minus_one), hn::Lt(x, inf));
  const V y = hn::Log1p(d, hn::IfThenElseZero(in_domain, x));
  V r = hn::IfThenElse(in_domain, y, hn::NaN(d));  // below -1 or NaN
  r = hn::IfThenElse(hn::Eq(x, minus_one), hn::Neg(inf), r);
  return hn::IfThenElse(hn::Eq(x, inf), inf, r);
}

// tanh is +-1 (rounded) beyond |x| = 20 in both precisions; clamping keeps hwy's Expm1 in range.
template <class D, class V>
HWY_INLINE V TanhFull(D d, V x) {
  using T = hn::TFromD<D>;
  const auto nan = hn::IsNaN(x);
  const V limit = hn::Set(d, T(20));
  const V clamped = hn::Min(hn::Max(hn::IfThenZeroElse(nan, x), hn::Neg(limit)), limit);
  return hn::IfThenElse(nan, x, hn::Tanh(d, clamped));
}

// 1 / (1 + e^-x) from e = e^-|x|, which never overflows: 1/(1+e) for x >= 0, e/(1+e) below,
// so tiny results keep their relative accuracy instead of cancelling.
template <class D, class V>
HWY_INLINE V Sigmoid(D d, V x) {
  using T = hn::TFromD<D>;
  const V e = ExpFull(d, hn::Neg(hn::Abs(x)));
  const V s = hn::Div(hn::Set(d, T(1)), hn::Add(hn::Set(d, T(1)), e));
  return hn::IfThenElse(hn::Ge(x, hn::Zero(d)), s, hn::Mul(e, s));
}

// log(1 + e^x) = log1p(e^-|x|) + max(x, 0): no overflow for large x, no cancellation for
// very negative x (where it equals e^x).
template <class D, class V>
HWY_INLINE V Softplus(D d, V x) {
  const V e = ExpFull(d, hn::Neg(hn::Abs(x)));  // in [0, 1], or NaN
  const V l = hn::Log1p(d, hn::IfThenZeroElse(hn::IsNaN(e), e));
  // max(x, 0) that keeps NaN: only negative lanes become 0.
  return hn::Add(l, hn::IfThenZeroElse(hn::Lt(x, hn::Zero(d)), x));
}

// jax.nn.gelu(approximate=True): x/2 (1 + tanh(z)), z = sqrt(2/pi) (x + 0.044715 x^3), computed
// as x * sigmoid(2z) (the same function) so negative x does not cancel in 1 + tanh(z).
template <class D, class V>
HWY_INLINE V GeluTanh(D d, V x) {
  using T = hn::TFromD<D>;
  constexpr double kSqrt2OverPi = 0.79788456080286535588;
  constexpr double kCubic = 0.044715;
  const V z = hn::Mul(x, hn::MulAdd(hn::Mul(x, x), hn::Set(d, T(kSqrt2OverPi * kCubic)),
                                    hn::Set(d, T(kSqrt2OverPi))));
  return hn::Mul(x, Sigmoid(d, hn::Add(z, z)));
}

}  // namespace elegy::kernels::elementwise::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
