// Layer epilogues on the CPU: BiasAct (act(y + b), b broadcast over rows) and ReluBackward
// (g where relu's output is positive). Each is one pass where the unfused ops take two or three
// (add then relu; compare, then where), and BiasAct can run in place on rows a GEMM has just
// written, while they are still in cache (the conv forward calls it chunk by chunk).
//
// The arithmetic is that of the unfused kernels: the add rounds once, relu keeps x unless x < 0
// (so -0 and NaN pass as relu passes them), and ReluBackward tests the output > 0, which holds
// exactly where relu's input is > 0 (the unfused backward's test).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "elegy/kernels/cpu/bias_act.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cstdint>

#include "elegy/core/thread_pool.hpp"
#include "elegy/kernels/dispatch.hpp"

HWY_BEFORE_NAMESPACE();
namespace elegy::kernels::bias_act::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Rows [r0, r1) of dense [*, C] `y` into `out` (may be y): out = act(y + b), b [C] or null.
template <class T>
void Rows(T* out, const T* y, const T* b, std::int64_t C, std::int64_t r0, std::int64_t r1,
          bool relu) {
  const hn::ScalableTag<T> d;
  const std::int64_t N = std::int64_t(hn::Lanes(d));
  const auto zero = hn::Zero(d);
  for (std::int64_t r = r0; r < r1; ++r) {
    const T* yr = y + r * C;
    T* orow = out + r * C;
    std::int64_t c = 0;
    for (; c + N <= C; c += N) {
      auto v = hn::LoadU(d, yr + c);
      if (b) v = hn::Add(v, hn::LoadU(d, b + c));
      if (relu) v = hn::IfThenZeroElse(hn::Lt(v, zero), v);
      hn::StoreU(v, d, orow + c);
    }
    for (; c < C; ++c) {
      T v = b ? T(yr[c] + b[c]) : yr[c];
      if (relu && v < T(0)) v = T(0);
      orow[c] = v;
    }
  }
}

// out[i] = y[i] > 0 ? g[i] : 0 over [i0, i1).
template <class T>
void ReluGrad(T* out, const T* g, const T* y, std::int64_t i0, std::int64_t i1) {
  const hn::ScalableTag<T> d;
  const std::int64_t N = std::int64_t(hn::Lanes(d));
  const auto zero = hn::Zero(d);
  std::int64_t i = i0;
  for (; i + N <= i1; i += N)
    hn::StoreU(hn::IfThenElseZero(hn::Gt(hn::LoadU(d, y + i), zero), hn::LoadU(d, g + i)), d,
               out + i);
  for (; i < i1; ++i) out[i] = y[i] > T(0) ? g[i] : T(0);
}

void RowsF32(float* out, const float* y, const float* b, std::int64_t C, std::int64_t r0,
             std::int64_t r1, bool relu) {
  Rows(out, y, b, C, r0, r1, relu);
}
void RowsF64(double* out, const double* y, const double* b, std::int64_t C, std::int64_t r0,
             std::int64_t r1, bool relu) {
  Rows(out, y, b, C, r0, r1, relu);
}
void ReluGradF32(float* out, const float* g, const float* y, std::int64_t i0, std::int64_t i1) {
  ReluGrad(out, g, y, i0, i1);
}
void ReluGradF64(double* out, const double* g, const double* y, std::int64_t i0, std::int64_t i1) {
  ReluGrad(out, g, y, i0, i1);
}

}  // namespace elegy::kernels::bias_act::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace elegy::kernels {
namespace bias_act {

HWY_EXPORT(RowsF32);
HWY_EXPORT(RowsF64);
HWY_EXPORT(ReluGradF32);
HWY_EXPORT(ReluGradF64);

}  // namespace bias_act

namespace {

// Elements per pool task: enough that a task outweighs waking a thread.
constexpr std::int64_t kGrainElements = 1 << 15;

void rows(float* out, const float* y, const float* b, std::int64_t C, std::int64_t r0,
          std::int64_t r1, bool relu) {
  HWY_DYNAMIC_DISPATCH(bias_act::RowsF32)(out, y, b, C, r0, r1, relu);
}
void rows(double* out, const double* y, const double* b, std::int64_t C, std::int64_t r0,
          std::int64_t r1, bool relu) {
  HWY_DYNAMIC_DISPATCH(bias_act::RowsF64)(out, y, b, C, r0, r1, relu);
}
void relu_grad(float* out, const float* g, const float* y, std::int64_t i0, std::int64_t i1) {
  HWY_DYNAMIC_DISPATCH(bias_act::ReluGradF32)(out, g, y, i0, i1);
}
void relu_grad(double* out, const double* g, const double* y, std::int64_t i0, std::int64_t i1) {
  HWY_DYNAMIC_DISPATCH(bias_act::ReluGradF64)(out, g, y, i0, i1);
}

template <class T>
void bias_act_kernel(const KernelArgs& a) {
  const std::int64_t n = a.out.numel();
  if (n == 0) return;
  const std::int64_t C = a.out.sizes[a.out.rank - 1];
  const std::int64_t R = n / C;
  T* out = static_cast<T*>(a.out.data);
  const T* y = static_cast<const T*>(a.in[0].data);
  const T* b = a.num_inputs > 1 ? static_cast<const T*>(a.in[1].data) : nullptr;
  const bool relu = Activation(a.ints[0]) == Activation::relu;
  parallel_for(R, std::max<std::int64_t>(1, kGrainElements / C),
               [&](std::int64_t r0, std::int64_t r1) { rows(out, y, b, C, r0, r1, relu); });
}

template <class T>
void relu_backward_kernel(const KernelArgs& a) {
  T* out = static_cast<T*>(a.out.data);
  const T* g = static_cast<const T*>(a.in[0].data);
  const T* y = static_cast<const T*>(a.in[1].data);
  parallel_for(a.out.numel(), kGrainElements,
               [&](std::int64_t i0, std::int64_t i1) { relu_grad(out, g, y, i0, i1); });
}

}  // namespace

void register_cpu_bias_act(Registry& r) {
  r.add(Op::BiasAct, DeviceKind::cpu, DType::f32, bias_act_kernel<float>);
  r.add(Op::BiasAct, DeviceKind::cpu, DType::f64, bias_act_kernel<double>);
  r.add(Op::ReluBackward, DeviceKind::cpu, DType::f32, relu_backward_kernel<float>);
  r.add(Op::ReluBackward, DeviceKind::cpu, DType::f64, relu_backward_kernel<double>);
}

}  // namespace elegy::kernels
#endif  // HWY_ONCE
