// The fused optimizer step on the CPU (Op::OptimUpdate, arguments in optim_fused.hpp): one pass
// over each parameter reading grad, moments (and param) and writing the new moments and the
// update, Highway SIMD over chunks of ~32K elements spread on the thread pool. The formulas are
// evaluated op for op as the composed path evaluates them (no fused multiply-add: contraction is
// off for this file), so both give the same bits; the one rewrite, the bias-correction divisions
// as multiplies and FMAs (ConstantDivisor), is exact.

// GCC would otherwise contract a * b + c into an FMA on targets that have one.
#pragma GCC optimize("fp-contract=off")

// Highway re-includes this file once per target (first undef to allow the re-inclusion).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "elegy/kernels/cpu/optim_update.cpp"
#include <hwy/foreach_target.h>  // must come before highway.h
// (a blank line keeps clang-format from sorting the two apart)

#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h>
#endif

#include "elegy/core/thread_pool.hpp"
#include "elegy/kernels/cpu/optim_fused.hpp"
#include "elegy/kernels/dispatch.hpp"

HWY_BEFORE_NAMESPACE();
namespace elegy::kernels::optim_update::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// The scalars of one step, rounded to T.
template <class T>
struct Coefs {
  T one_minus_b1, b1, one_minus_b2, b2, bc1, bc2, bc1_next, eps, eps_root, decay, step;
  explicit Coefs(const OptimUpdateArgs& a)
      : one_minus_b1(T(1.0 - a.b1)),
        b1(T(a.b1)),
        one_minus_b2(T(1.0 - a.b2)),
        b2(T(a.b2)),
        bc1(T(a.bc1)),
        bc2(T(a.bc2)),
        bc1_next(T(a.bc1_next)),
        eps(T(a.eps)),
        eps_root(T(a.eps_root)),
        decay(T(a.decay)),
        step(T(a.step)) {}
};

// Division by a number that is the same for every element (adam's bias corrections) without the
// divider. On AVX-512, adam was bound by its three divisions and one square root per vector: 0.70
// ns per element at one thread whatever the size, from L2 to L3. With y = 1/b rounded to
// nearest, q = a y and the residual r = a - q b (exact through an FMA), RN(q + r y) is exactly
// RN(a / b) (Markstein's theorem; Handbook of Floating-Point Arithmetic, 2nd ed., §4.9): the
// division's bits from a multiply and two FMAs. The theorem needs r and the quotient to be normal
// numbers (this kernel flushes denormals) and a fused multiply-add, so lanes with |a| outside
// [2^-75, 2^100] (float; [2^-900, 2^1000] double), divisors outside [2^-20, 2^20] and targets
// without FMA take the division; a zero takes a y, the exact signed zero. Checked against the
// division on 6e8 random pairs (tests/reference/exact_division_check.cpp) and exhaustively over
// every float a for 8654 divisors (exact_division_exhaustive.cpp), bc1/bc2 divisors among
// them (and the mismatches the bound prevents do appear below 2^-79 under flush-to-zero); the
// fused-equals-composed tests check it too. Adam at 669k parameters, 2 threads: 0.237 -> 0.19 ms.
template <class D>
class ConstantDivisor {
  using T = hn::TFromD<D>;
  using V = hn::Vec<D>;

 public:
  ConstantDivisor(D d, T b)
      : b_(hn::Set(d, b)),
        y_(hn::Set(d, T(1) / b)),
        lo_(hn::Set(d, std::ldexp(T(1), sizeof(T) == 4 ? -75 : -900))),
        hi_(hn::Set(d, std::ldexp(T(1), sizeof(T) == 4 ? 100 : 1000))),
        exact_(HWY_NATIVE_FMA && b >= std::ldexp(T(1), -20) && b <= std::ldexp(T(1), 20)) {}

  V Divide(D d, V a) const {
    if (!exact_) return hn::Div(a, b_);
    const V q = hn::Mul(a, y_);
    const V quotient = hn::MulAdd(hn::NegMulAdd(q, b_, a), y_, q);
    const V magnitude = hn::Abs(a);
    const auto normal = hn::And(hn::Ge(magnitude, lo_), hn::Le(magnitude, hi_));
    if (HWY_LIKELY(hn::AllTrue(d, normal))) return quotient;
    const auto zero = hn::Eq(a, hn::Zero(d));
    // Zeros are common (a dead unit's moments), and need no division either.
    if (hn::AllTrue(d, hn::Or(normal, zero))) return hn::IfThenElse(normal, quotient, q);
    return hn::IfThenElse(normal, quotient, hn::IfThenElse(zero, q, hn::Div(a, b_)));
  }

 private:
  V b_, y_, lo_, hi_;
  bool exact_;
};

// Adam on elements [i0, i1) of one tensor. With kSums, accumulates u^2 and p^2 (lamb) into
// sums[0..1] (double lanes).
template <class T, bool kSums>
void AdamRange(const OptimUpdateArgs& a, const OptimTensor& t, std::int64_t i0, std::int64_t i1,
               double* sums) {
  const hn::ScalableTag<T> d;
  const Coefs<T> c(a);
  const T* g = static_cast<const T*>(t.grad);
  const T* m0 = static_cast<const T*>(t.mu);
  const T* v0 = static_cast<const T*>(t.nu);
  const T* p = static_cast<const T*>(t.param);
  T* m_out = static_cast<T*>(t.mu_out);
  T* v_out = static_cast<T*>(t.nu_out);
  T* u_out = static_cast<T*>(t.update);
  T* p_out = static_cast<T*>(t.param_out);
  const T wd = T(t.weight_decay);
  const bool decay_weights = t.weight_decay != 0.0;
  const bool root = a.eps_root != 0.0;
  const auto vb1 = hn::Set(d, c.b1), v1mb1 = hn::Set(d, c.one_minus_b1);
  const auto vb2 = hn::Set(d, c.b2), v1mb2 = hn::Set(d, c.one_minus_b2);
  const ConstantDivisor by_bc1(d, c.bc1), by_bc2(d, c.bc2), by_bc1_next(d, c.bc1_next);
  const auto veps = hn::Set(d, c.eps), veps_root = hn::Set(d, c.eps_root);
  const auto vwd = hn::Set(d, wd), vstep = hn::Set(d, c.step);
  const std::int64_t N = std::int64_t(hn::Lanes(d));
  double su = 0.0, sp = 0.0;
  std::int64_t i = i0;
  for (; i + N <= i1; i += N) {
    const auto vg = hn::LoadU(d, g + i);
    const auto m = hn::Add(hn::Mul(vg, v1mb1), hn::Mul(hn::LoadU(d, m0 + i), vb1));
    const auto v = hn::Add(hn::Mul(hn::Mul(vg, vg), v1mb2), hn::Mul(hn::LoadU(d, v0 + i), vb2));
    const auto m_hat = a.nesterov ? hn::Add(hn::Mul(by_bc1_next.Divide(d, m), vb1),
                                            hn::Mul(by_bc1.Divide(d, vg), v1mb1))
                                  : by_bc1.Divide(d, m);
    auto v_hat = by_bc2.Divide(d, v);
    if (root) v_hat = hn::Add(v_hat, veps_root);
    auto u = hn::Div(m_hat, hn::Add(hn::Sqrt(v_hat), veps));
    if (decay_weights) u = hn::Add(u, hn::Mul(hn::LoadU(d, p + i), vwd));
    hn::StoreU(m, d, m_out + i);
    hn::StoreU(v, d, v_out + i);
    if constexpr (kSums) {
      hn::StoreU(u, d, u_out + i);
      const auto vp = hn::LoadU(d, p + i);
      su += double(hn::GetLane(hn::SumOfLanes(d, hn::Mul(u, u))));
      sp += double(hn::GetLane(hn::SumOfLanes(d, hn::Mul(vp, vp))));
    } else if (p_out) {
      hn::StoreU(hn::Add(hn::LoadU(d, p + i), hn::Mul(u, vstep)), d, p_out + i);
    } else {
      hn::StoreU(hn::Mul(u, vstep), d, u_out + i);
    }
  }
  for (; i < i1; ++i) {
    const T gi = g[i];
    const T m = T(gi * c.one_minus_b1) + T(m0[i] * c.b1);
    const T v = T(T(gi * gi) * c.one_minus_b2) + T(v0[i] * c.b2);
    const T m_hat = a.nesterov ? T(T(T(m / c.bc1_next) * c.b1) + T(T(gi / c.bc1) * c.one_minus_b1))
                               : T(m / c.bc1);
    T v_hat = T(v / c.bc2);
    if (root) v_hat = T(v_hat + c.eps_root);
    T u = T(m_hat / T(std::sqrt(v_hat) + c.eps));
    if (decay_weights) u = T(u + T(p[i] * wd));
    m_out[i] = m;
    v_out[i] = v;
    if constexpr (kSums) {
      u_out[i] = u;
      su += double(u * u);
      sp += double(p[i] * p[i]);
    } else if (p_out) {
      p_out[i] = T(p[i] + T(u * c.step));
    } else {
      u_out[i] = T(u * c.step);
    }
  }
  if constexpr (kSums) {
    sums[0] += su;
    sums[1] += sp;
  }
}

template <class T>
void MomentumRange(const OptimUpdateArgs& a, const OptimTensor& t, std::int64_t i0,
                   std::int64_t i1) {
  const hn::ScalableTag<T> d;
  const Coefs<T> c(a);
  const T* g = static_cast<const T*>(t.grad);
  const T* tr0 = static_cast<const T*>(t.mu);
  T* tr_out = static_cast<T*>(t.mu_out);
  T* u_out = static_cast<T*>(t.update);
  const T* p = static_cast<const T*>(t.param);
  T* p_out = static_cast<T*>(t.param_out);
  const auto vdecay = hn::Set(d, c.decay), vstep = hn::Set(d, c.step);
  const std::int64_t N = std::int64_t(hn::Lanes(d));
  std::int64_t i = i0;
  for (; i + N <= i1; i += N) {
    const auto vg = hn::LoadU(d, g + i);
    const auto tr = hn::Add(vg, hn::Mul(hn::LoadU(d, tr0 + i), vdecay));
    const auto u = a.nesterov ? hn::Add(vg, hn::Mul(tr, vdecay)) : tr;
    hn::StoreU(tr, d, tr_out + i);
    if (p_out)
      hn::StoreU(hn::Add(hn::LoadU(d, p + i), hn::Mul(u, vstep)), d, p_out + i);
    else
      hn::StoreU(hn::Mul(u, vstep), d, u_out + i);
  }
  for (; i < i1; ++i) {
    const T tr = T(g[i] + T(tr0[i] * c.decay));
    const T u = a.nesterov ? T(g[i] + T(tr * c.decay)) : tr;
    tr_out[i] = tr;
    if (p_out)
      p_out[i] = T(p[i] + T(u * c.step));
    else
      u_out[i] = T(u * c.step);
  }
}

template <class T>
void LambScaleRange(const OptimUpdateArgs& a, const OptimTensor& t, std::int64_t i0,
                    std::int64_t i1) {
  const hn::ScalableTag<T> d;
  const Coefs<T> c(a);
  // ||p|| / (||u|| + 0) in T, 1 when either norm is 0 (optax's scale_by_trust_ratio).
  const T pn = T(std::sqrt(T(t.sums[1]))), un = T(std::sqrt(T(t.sums[0])));
  const T ratio = (pn == T(0) || un == T(0)) ? T(1) : T(pn / un);
  T* u = static_cast<T*>(t.update);
  const T* p = static_cast<const T*>(t.param);
  T* p_out = static_cast<T*>(t.param_out);
  const auto vratio = hn::Set(d, ratio), vstep = hn::Set(d, c.step);
  const std::int64_t N = std::int64_t(hn::Lanes(d));
  std::int64_t i = i0;
  for (; i + N <= i1; i += N) {
    const auto scaled = hn::Mul(hn::Mul(hn::LoadU(d, u + i), vratio), vstep);
    if (p_out)
      hn::StoreU(hn::Add(hn::LoadU(d, p + i), scaled), d, p_out + i);
    else
      hn::StoreU(scaled, d, u + i);
  }
  for (; i < i1; ++i) {
    const T scaled = T(T(u[i] * ratio) * c.step);
    if (p_out)
      p_out[i] = T(p[i] + scaled);
    else
      u[i] = scaled;
  }
}

// Flush-to-zero and denormals-are-zero on this thread while it lives. The moments of a parameter
// whose gradient stays zero (a dead unit, a pixel that is always black) decay geometrically, mu by
// b1 every step, and reach the denormal range after a few hundred steps; there every x86 multiply
// takes a microcode assist, about 100x slower. Measured on the mlp example (Fashion-MNIST): 1% of
// the state denormal after two epochs, and the step grew from 1 ms to 5 ms over 10 epochs. So
// the update flushes them to zero, as XLA's CPU runtime does for all its kernels; values that
// are not denormal are computed exactly as before.
class FlushDenormals {
 public:
#if defined(__x86_64__) || defined(_M_X64)
  FlushDenormals() : saved_(_mm_getcsr()) {
    _mm_setcsr(saved_ | 0x8040u);
  }  // FTZ | DAZ
  ~FlushDenormals() {
    _mm_setcsr(saved_);
  }

 private:
  unsigned saved_;
#endif
};

// One chunk of work: elements [begin, end) of tensor `tensor`.
struct Chunk {
  int tensor;
  std::int64_t begin, end;
  double sums[2];
};

template <class T>
void Run(const OptimUpdateArgs& a) {
  constexpr std::int64_t kChunk = std::int64_t(1) << 15;
  std::vector<Chunk> chunks;
  for (int k = 0; k < a.num_tensors; ++k)
    for (std::int64_t b = 0; b < a.tensors[k].numel; b += kChunk)
      chunks.push_back(Chunk{k, b, std::min(b + kChunk, a.tensors[k].numel), {0.0, 0.0}});
  auto body = [&](std::int64_t c0, std::int64_t c1) {
    const FlushDenormals flush;
    for (std::int64_t ci = c0; ci < c1; ++ci) {
      Chunk& c = chunks[std::size_t(ci)];
      const OptimTensor& t = a.tensors[c.tensor];
      switch (a.kind) {
        case OptimKind::adam:
          AdamRange<T, false>(a, t, c.begin, c.end, nullptr);
          break;
        case OptimKind::lamb_moments:
          AdamRange<T, true>(a, t, c.begin, c.end, c.sums);
          break;
        case OptimKind::momentum:
          MomentumRange<T>(a, t, c.begin, c.end);
          break;
        case OptimKind::lamb_scale:
          LambScaleRange<T>(a, t, c.begin, c.end);
          break;
      }
    }
  };
  parallel_for(std::int64_t(chunks.size()), 1, body);
  if (a.kind == OptimKind::lamb_moments) {
    // Per-tensor sums, chunk partials added in chunk order (deterministic).
    for (int k = 0; k < a.num_tensors; ++k) a.tensors[k].sums[0] = a.tensors[k].sums[1] = 0.0;
    for (const Chunk& c : chunks) {
      a.tensors[c.tensor].sums[0] += c.sums[0];
      a.tensors[c.tensor].sums[1] += c.sums[1];
    }
  }
}

void RunF32(const OptimUpdateArgs& a) {
  Run<float>(a);
}
void RunF64(const OptimUpdateArgs& a) {
  Run<double>(a);
}

}  // namespace elegy::kernels::optim_update::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace elegy::kernels {
namespace optim_update {

HWY_EXPORT(RunF32);
HWY_EXPORT(RunF64);

}  // namespace optim_update

namespace {

const OptimUpdateArgs& args_of(const KernelArgs& a) {
  return *reinterpret_cast<const OptimUpdateArgs*>(static_cast<std::uintptr_t>(a.ints[0]));
}

void optim_update_f32(const KernelArgs& a) {
  HWY_DYNAMIC_DISPATCH(optim_update::RunF32)(args_of(a));
}
void optim_update_f64(const KernelArgs& a) {
  HWY_DYNAMIC_DISPATCH(optim_update::RunF64)(args_of(a));
}

}  // namespace

void register_cpu_optim(Registry& r) {
  r.add(Op::OptimUpdate, DeviceKind::cpu, DType::f32, optim_update_f32);
  r.add(Op::OptimUpdate, DeviceKind::cpu, DType::f64, optim_update_f64);
}

}  // namespace elegy::kernels
#endif  // HWY_ONCE
