// MulAdd on the CPU: out = a * b + c over float32/float64, the three inputs broadcast to out's
// shape (stride-0 dims) and possibly strided, walked by elementwise_loop.hpp. The product is
// rounded before the add (no FMA), so the result is bit for bit Mul then Add: the tape uses it to
// fold a scaled cotangent into an accumulation (autodiff/grad.cpp) without changing a value.

// Highway re-includes this file once per target (first undef to allow the re-inclusion).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "elegy/kernels/cpu/mul_add.cpp"
#include <hwy/foreach_target.h>  // must come before highway.h
// (a blank line keeps clang-format from sorting the two apart)

#include <hwy/highway.h>

#include <cstdint>
#include <type_traits>

#include "elegy/kernels/cpu/elementwise_loop.hpp"
#include "elegy/kernels/dispatch.hpp"

HWY_BEFORE_NAMESPACE();
namespace elegy::kernels::mul_add::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using elementwise::row_ptr;
using elementwise::Run;

// kA / kB / kC: that input is dense within a row (else one broadcast value per row).
template <class T, bool kA, bool kB, bool kC>
HWY_INLINE void MulAddRows(const Run<4>& r) {
  const hn::ScalableTag<T> d;
  const std::int64_t lanes = std::int64_t(hn::Lanes(d));
  for (std::int64_t row = 0; row < r.rows; ++row) {
    T* HWY_RESTRICT out = row_ptr<T>(r, 0, row);
    const T* HWY_RESTRICT a = row_ptr<T>(r, 1, row);
    const T* HWY_RESTRICT b = row_ptr<T>(r, 2, row);
    const T* HWY_RESTRICT c = row_ptr<T>(r, 3, row);
    const auto a0 = hn::Set(d, a[0]);
    const auto b0 = hn::Set(d, b[0]);
    const auto c0 = hn::Set(d, c[0]);
    std::int64_t i = 0;
    // Mul then Add, two roundings: this file is built with -ffp-contract=off (CMakeLists.txt).
    for (; i + lanes <= r.n; i += lanes) {
      const auto va = kA ? hn::LoadU(d, a + i) : a0;
      const auto vb = kB ? hn::LoadU(d, b + i) : b0;
      const auto vc = kC ? hn::LoadU(d, c + i) : c0;
      hn::StoreU(hn::Add(hn::Mul(va, vb), vc), d, out + i);
    }
    if (i < r.n) {
      const auto m = hn::FirstN(d, std::size_t(r.n - i));
      const auto va = kA ? hn::MaskedLoad(m, d, a + i) : a0;
      const auto vb = kB ? hn::MaskedLoad(m, d, b + i) : b0;
      const auto vc = kC ? hn::MaskedLoad(m, d, c + i) : c0;
      hn::BlendedStore(hn::Add(hn::Mul(va, vb), vc), m, d, out + i);
    }
  }
}

template <class T>
void MulAddRun(const Run<4>& r) {
  elementwise::with_dense_flags(r, [&](auto dense_a, auto dense_b, auto dense_c) {
    MulAddRows<T, decltype(dense_a)::value, decltype(dense_b)::value, decltype(dense_c)::value>(r);
  });
}

elementwise::RunFn<4> SimdMulAddRun(DType t) {
  return t == DType::f64 ? &MulAddRun<double> : &MulAddRun<float>;
}

}  // namespace elegy::kernels::mul_add::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace elegy::kernels {
namespace mul_add {

HWY_EXPORT(SimdMulAddRun);

}  // namespace mul_add

namespace {

// The best target's run function per dtype (index: is f64), filled once at registration.
elementwise::RunFn<4> g_runs[2] = {};

template <class T>
void mul_add_kernel(const KernelArgs& a) {
  constexpr int kSize = int(sizeof(T));
  const int size[4] = {kSize, kSize, kSize, kSize};
  elementwise::for_each_run(a, size, elementwise::kGrain, g_runs[std::is_same_v<T, double>]);
}

}  // namespace

void register_cpu_mul_add(Registry& r) {
  g_runs[0] = HWY_DYNAMIC_DISPATCH(mul_add::SimdMulAddRun)(DType::f32);
  g_runs[1] = HWY_DYNAMIC_DISPATCH(mul_add::SimdMulAddRun)(DType::f64);
  r.add(Op::MulAdd, DeviceKind::cpu, DType::f32, mul_add_kernel<float>);
  r.add(Op::MulAdd, DeviceKind::cpu, DType::f64, mul_add_kernel<double>);
}

}  // namespace elegy::kernels
#endif  // HWY_ONCE
