// Dropout on the CPU: out[i] = keep_i ? x[i] / keep_prob : 0, with keep_i drawn exactly as
// random::bernoulli(key, keep_prob) draws element i (the float32 uniform of Philox word i below
// keep_prob; core/random_dist.hpp), so the mask is a pure function of (key, i).
//
// The Philox blocks come from random.cpp's SIMD generator (PhiloxBlocks, one per Highway
// target, declared below); the masking runs in SIMD too.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "elegy/kernels/cpu/dropout.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>

#include "elegy/core/random_dist.hpp"
#include "elegy/core/thread_pool.hpp"
#include "elegy/kernels/dispatch.hpp"
#include "elegy/kernels/layout.hpp"

HWY_BEFORE_NAMESPACE();
namespace elegy::kernels::HWY_NAMESPACE {

// Defined in random.cpp for every target: the 4 words of blocks first .. first+count-1.
void PhiloxBlocks(const std::uint32_t* HWY_RESTRICT key, std::uint64_t first, std::int64_t count,
                  std::uint32_t* HWY_RESTRICT out);

void DropoutPhiloxBlocks(const std::uint32_t* key, std::uint64_t first, std::int64_t count,
                         std::uint32_t* out) {
  PhiloxBlocks(key, first, count, out);
}

namespace hn = hwy::HWY_NAMESPACE;

// out[i] = (words[i] >> 8) < threshold ? x[i] / keep_prob : 0 over n dense elements, in SIMD
// (the mask is random: a branch would be mispredicted half the time).
template <class T>
void MaskDense(T* HWY_RESTRICT out, const T* HWY_RESTRICT x,
               const std::uint32_t* HWY_RESTRICT words, std::int64_t n, std::int32_t threshold,
               T keep_prob) {
  const hn::ScalableTag<T> d;
  const hn::Rebind<std::int32_t, decltype(d)> d32;  // one word per lane of T
  const hn::Rebind<std::uint32_t, decltype(d)> du32;
  const std::int64_t N = std::int64_t(hn::Lanes(d));
  const auto keep = hn::Set(d, keep_prob);
  auto masked = [&](std::int64_t i, auto x_lanes) {
    // A logical shift (the words are unsigned), then signed lanes: the values fit in 24 bits.
    const auto w = hn::BitCast(d32, hn::ShiftRight<8>(hn::LoadU(du32, words + i)));
    if constexpr (sizeof(T) == 4) {
      return hn::IfThenElseZero(hn::RebindMask(d, hn::Lt(w, hn::Set(d32, threshold))),
                                hn::Div(x_lanes, keep));
    } else {
      const hn::Rebind<std::int64_t, decltype(d)> d64;
      const auto w64 = hn::PromoteTo(d64, w);
      return hn::IfThenElseZero(hn::RebindMask(d, hn::Lt(w64, hn::Set(d64, threshold))),
                                hn::Div(x_lanes, keep));
    }
  };
  std::int64_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(masked(i, hn::LoadU(d, x + i)), d, out + i);
  for (; i < n; ++i) out[i] = std::int32_t(words[i] >> 8) < threshold ? x[i] / keep_prob : T(0);
}

void MaskDenseF32(float* out, const float* x, const std::uint32_t* words, std::int64_t n,
                  std::int32_t threshold, float keep_prob) {
  MaskDense(out, x, words, n, threshold, keep_prob);
}
void MaskDenseF64(double* out, const double* x, const std::uint32_t* words, std::int64_t n,
                  std::int32_t threshold, double keep_prob) {
  MaskDense(out, x, words, n, threshold, keep_prob);
}

}  // namespace elegy::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace elegy::kernels {

HWY_EXPORT(DropoutPhiloxBlocks);
HWY_EXPORT(MaskDenseF32);
HWY_EXPORT(MaskDenseF64);

namespace {

constexpr std::int64_t kGrainElements = 1 << 15;
constexpr std::int64_t kBatchBlocks = 256;  // Philox blocks per SIMD call (4 KiB of words)

// keep_i <=> unit_float(word_i) < p <=> (word_i >> 8) < ceil(p * 2^24): the same comparison
// bernoulli makes, in integers.
std::uint32_t keep_threshold(double p) {
  return std::uint32_t(std::min(std::ceil(p * 16777216.0), 16777216.0));
}

void mask_dense(float* out, const float* x, const std::uint32_t* words, std::int64_t n,
                std::int32_t threshold, float keep_prob) {
  HWY_DYNAMIC_DISPATCH(MaskDenseF32)(out, x, words, n, threshold, keep_prob);
}
void mask_dense(double* out, const double* x, const std::uint32_t* words, std::int64_t n,
                std::int32_t threshold, double keep_prob) {
  HWY_DYNAMIC_DISPATCH(MaskDenseF64)(out, x, words, n, threshold, keep_prob);
}

template <class T>
void dropout_kernel(const KernelArgs& a) {
  const BufferView* views[2] = {&a.out, &a.in[0]};
  const Layout<2> l = coalesce(views);
  const std::int64_t n = a.out.numel();
  if (n == 0) return;
  const bool dense = l.rank == 1 && l.strides[0][0] == 1 && l.strides[1][0] == 1;
  const T keep_prob = T(a.scalar[0]);
  const std::uint32_t threshold = keep_threshold(a.scalar[0]);
  const T* x = static_cast<const T*>(a.in[0].data);
  T* out = static_cast<T*>(a.out.data);
  std::uint32_t key[2];
  key_of(a, key);
  const std::int64_t blocks = (n + 3) / 4;
  parallel_for(blocks, kGrainElements / 4, [&](std::int64_t b0, std::int64_t b1) {
    HWY_ALIGN std::uint32_t words[4 * kBatchBlocks];
    for (std::int64_t base = b0; base < b1; base += kBatchBlocks) {
      const std::int64_t count = std::min(kBatchBlocks, b1 - base);
      HWY_DYNAMIC_DISPATCH(DropoutPhiloxBlocks)(key, std::uint64_t(base), count, words);
      const std::int64_t first = base * 4, last = std::min(n, (base + count) * 4);
      if (dense) {
        mask_dense(out + first, x + first, words, last - first, std::int32_t(threshold), keep_prob);
        continue;
      }
      for (std::int64_t i = first; i < last; ++i) {
        std::int64_t off[2];
        l.element_offsets(i, off);
        out[off[0]] = (words[i - first] >> 8) < threshold ? x[off[1]] / keep_prob : T(0);
      }
    }
  });
}

}  // namespace

void register_cpu_dropout(Registry& r) {
  r.add(Op::Dropout, DeviceKind::cpu, DType::f32, dropout_kernel<float>);
  r.add(Op::Dropout, DeviceKind::cpu, DType::f64, dropout_kernel<double>);
}

}  // namespace elegy::kernels
#endif  // HWY_ONCE
