// Random numbers on the CPU: uniform, normal, truncated normal and bounded integers from Philox
// blocks. Philox itself, the costly part, runs in Highway SIMD (one counter per 64-bit lane);
// the distributions then read its words with the host/device helpers of core/random_dist.hpp.
// Block b always fills the same elements (4 or 2 of them, see random_dist.hpp for the layout),
// so neither the SIMD width nor the chunking of parallel_for can change a single bit.

// Highway re-includes this file once per target (first undef to allow the re-inclusion).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "elegy/kernels/cpu/random.cpp"
#include <hwy/foreach_target.h>  // must come before highway.h
#include <hwy/highway.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "elegy/core/random_dist.hpp"
#include "elegy/core/thread_pool.hpp"
#include "elegy/kernels/dispatch.hpp"
#include "elegy/kernels/layout.hpp"

HWY_BEFORE_NAMESPACE();
namespace elegy::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Philox-4x32-10 (the arithmetic of Philox::generate) on the counters {b, b >> 32, 0, 0} for
// b = first .. first+count-1, each block's 4 words stored in order at out[4 * (b - first)].
// Every 32-bit word lives in the low half of a 64-bit lane, so MulEven gives the full
// 32x32 -> 64-bit products Philox needs.
void PhiloxBlocks(const std::uint32_t* HWY_RESTRICT key, std::uint64_t first, std::int64_t count,
                  std::uint32_t* HWY_RESTRICT out) {
#if HWY_TARGET == HWY_SCALAR
  // One-lane vectors cannot split a 64-bit lane into two 32-bit ones: use the scalar generator.
  for (std::int64_t i = 0; i < count; ++i)
    rng::block_words(key, first + std::uint64_t(i), out + 4 * i);
#else
  const hn::ScalableTag<std::uint64_t> d;
  const hn::Repartition<std::uint32_t, decltype(d)> d32;
  const std::int64_t lanes = std::int64_t(hn::Lanes(d));
  const auto low32 = hn::Set(d, 0xFFFFFFFFull);
  const auto m0 = hn::BitCast(d32, hn::Set(d, 0xD2511F53ull));
  const auto m1 = hn::BitCast(d32, hn::Set(d, 0xCD9E8D57ull));
  for (std::int64_t i = 0; i < count; i += lanes) {
    const auto counter = hn::Iota(d, first + std::uint64_t(i));
    auto c0 = hn::And(counter, low32), c1 = hn::ShiftRight<32>(counter);
    auto c2 = hn::Zero(d), c3 = hn::Zero(d);
    std::uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; ++round) {
      const auto p0 = hn::MulEven(hn::BitCast(d32, c0), m0);
      const auto p1 = hn::MulEven(hn::BitCast(d32, c2), m1);
      const auto n0 = hn::Xor(hn::Xor(hn::ShiftRight<32>(p1), c1), hn::Set(d, k0));
      const auto n2 = hn::Xor(hn::Xor(hn::ShiftRight<32>(p0), c3), hn::Set(d, k1));
      c1 = hn::And(p1, low32);
      c3 = hn::And(p0, low32);
      c0 = n0;
      c2 = n2;
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    // Little-endian 64-bit lanes {c0 | c1 << 32} and {c2 | c3 << 32}, interleaved, are the
    // words c0 c1 c2 c3 of each block in turn.
    const auto w01 = hn::Or(c0, hn::ShiftLeft<32>(c1));
    const auto w23 = hn::Or(c2, hn::ShiftLeft<32>(c3));
    if (i + lanes <= count) {
      hn::StoreInterleaved2(w01, w23, d, reinterpret_cast<std::uint64_t*>(out + 4 * i));
    } else {
      HWY_ALIGN std::uint64_t tail[2 * HWY_MAX_BYTES / sizeof(std::uint64_t)];
      hn::StoreInterleaved2(w01, w23, d, tail);
      std::memcpy(out + 4 * i, tail, std::size_t(count - i) * 4 * sizeof(std::uint32_t));
    }
  }
#endif
}

}  // namespace elegy::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace elegy::kernels {

HWY_EXPORT(PhiloxBlocks);

namespace {

// Elements per parallel chunk: tens of microseconds of work, far above the pool's wake-up cost.
constexpr std::int64_t kGrainElements = 1 << 15;
// Philox blocks generated per SIMD call into a stack buffer (4 KiB of words).
constexpr std::int64_t kBatchBlocks = 256;

// Calls gen(words, values) for every Philox block, with values[0..kPerBlock) the block's
// elements, and stores them (the last block may be partial) into a.out, which may be strided.
template <class T, int kPerBlock, class Gen>
void fill_from_blocks(const KernelArgs& a, Gen gen) {
  const BufferView* views[1] = {&a.out};
  const Layout<1> l = coalesce(views);
  const std::int64_t n = l.numel();
  if (n == 0) return;
  const bool dense = l.rank == 1 && l.strides[0][0] == 1;
  T* const out = static_cast<T*>(a.out.data);
  std::uint32_t key[2];
  key_of(a, key);
  const std::int64_t blocks = (n + kPerBlock - 1) / kPerBlock;
  parallel_for(blocks, kGrainElements / kPerBlock, [&](std::int64_t b0, std::int64_t b1) {
    HWY_ALIGN std::uint32_t words[4 * kBatchBlocks];
    for (std::int64_t base = b0; base < b1; base += kBatchBlocks) {
      const std::int64_t count = std::min(kBatchBlocks, b1 - base);
      HWY_DYNAMIC_DISPATCH(PhiloxBlocks)(key, std::uint64_t(base), count, words);
      const std::int64_t first = base * kPerBlock;
      if (dense && first + count * kPerBlock <= n) {
        for (std::int64_t j = 0; j < count; ++j) gen(words + 4 * j, out + first + j * kPerBlock);
        continue;
      }
      for (std::int64_t j = 0; j < count; ++j) {
        T values[kPerBlock];
        gen(words + 4 * j, values);
        const std::int64_t start = first + j * kPerBlock;
        for (std::int64_t e = start; e < std::min(n, start + kPerBlock); ++e) {
          std::int64_t off[1] = {e};
          if (!dense) l.element_offsets(e, off);
          out[off[0]] = values[e - start];
        }
      }
    }
  });
}

template <class T>
void uniform_kernel(const KernelArgs& a) {
  const T lo = T(a.scalar[0]), hi = T(a.scalar[1]), below_hi = rng::below(hi);
  if constexpr (std::is_same_v<T, float>) {
    fill_from_blocks<float, 4>(a, [&](const std::uint32_t* w, float* v) {
      for (int j = 0; j < 4; ++j)
        v[j] = rng::scale_uniform(rng::unit_float(w[j]), lo, hi, below_hi);
    });
  } else {
    fill_from_blocks<double, 2>(a, [&](const std::uint32_t* w, double* v) {
      for (int j = 0; j < 2; ++j)
        v[j] = rng::scale_uniform(rng::unit_double(rng::join_words(w[2 * j], w[2 * j + 1])), lo, hi,
                                  below_hi);
    });
  }
}

template <class T>
void normal_kernel(const KernelArgs& a) {
  if constexpr (std::is_same_v<T, float>) {
    fill_from_blocks<float, 4>(a, [](const std::uint32_t* w, float* v) {
      rng::normal_pair_f32(w[0], w[1], v[0], v[1]);
      rng::normal_pair_f32(w[2], w[3], v[2], v[3]);
    });
  } else {
    fill_from_blocks<double, 2>(a, [](const std::uint32_t* w, double* v) {
      rng::normal_pair_f64(rng::join_words(w[0], w[1]), rng::join_words(w[2], w[3]), v[0], v[1]);
    });
  }
}

template <class T>
void truncated_normal_kernel(const KernelArgs& a) {
  const rng::TruncatedNormal dist = rng::TruncatedNormal::make(a.scalar[0], a.scalar[1]);
  // Sampled in float64, then held inside the bounds once more in T: a float32 rounding of a
  // value near a bound must not step outside it.
  const T lo = rng::inner_bound<T>(a.scalar[0], true), hi = rng::inner_bound<T>(a.scalar[1], false);
  // The inverse CDF's approximation alone (relative error 1.2e-9) is exact enough for float32.
  constexpr bool kRefine = std::is_same_v<T, double>;
  fill_from_blocks<T, 2>(a, [&](const std::uint32_t* w, T* v) {
    for (int j = 0; j < 2; ++j) {
      const T x = T(dist.sample(rng::join_words(w[2 * j], w[2 * j + 1]), kRefine));
      v[j] = x < lo ? lo : (x > hi ? hi : x);
    }
  });
}

// Bounds come exactly from ints[0], ints[1] (scalar[] would round int64 bounds above 2^53).
template <class T>
void bits_kernel(const KernelArgs& a) {
  const std::int64_t lo = a.ints[0];
  const std::uint64_t range = std::uint64_t(a.ints[1]) - std::uint64_t(a.ints[0]);
  fill_from_blocks<T, 2>(a, [&](const std::uint32_t* w, T* v) {
    for (int j = 0; j < 2; ++j)
      v[j] = T(rng::bounded_int(rng::join_words(w[2 * j], w[2 * j + 1]), lo, range));
  });
}

}  // namespace

void register_cpu_random(Registry& r) {
  r.add(Op::RandomUniform, DeviceKind::cpu, DType::f32, uniform_kernel<float>);
  r.add(Op::RandomUniform, DeviceKind::cpu, DType::f64, uniform_kernel<double>);
  r.add(Op::RandomNormal, DeviceKind::cpu, DType::f32, normal_kernel<float>);
  r.add(Op::RandomNormal, DeviceKind::cpu, DType::f64, normal_kernel<double>);
  r.add(Op::RandomTruncatedNormal, DeviceKind::cpu, DType::f32, truncated_normal_kernel<float>);
  r.add(Op::RandomTruncatedNormal, DeviceKind::cpu, DType::f64, truncated_normal_kernel<double>);
  r.add(Op::RandomBits, DeviceKind::cpu, DType::u8, bits_kernel<std::uint8_t>);
  r.add(Op::RandomBits, DeviceKind::cpu, DType::i32, bits_kernel<std::int32_t>);
  r.add(Op::RandomBits, DeviceKind::cpu, DType::i64, bits_kernel<std::int64_t>);
}

}  // namespace elegy::kernels
#endif  // HWY_ONCE
