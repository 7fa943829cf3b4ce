// Random numbers on the CPU: uniform, normal, truncated normal and bounded integers from Philox
// blocks. The output is walked one Philox block at a time (4 words -> 4 or 2 elements, see
// core/random_dist.hpp for the layout), and block b always fills the same elements, so the
// chunking of parallel_for cannot change a single bit.
#include <cmath>
#include <limits>

#include "elegy/core/random_dist.hpp"
#include "elegy/core/thread_pool.hpp"
#include "elegy/kernels/dispatch.hpp"
#include "elegy/kernels/layout.hpp"

namespace elegy::kernels {
namespace {

// Elements per parallel chunk: a Philox block costs ~20 multiply rounds, so chunks of this size
// take tens of microseconds, far above the pool's wake-up cost.
constexpr std::int64_t kGrainElements = 1 << 14;

// Calls gen(words, values) for every Philox block, with values[kPerBlock] the block's elements,
// and stores those elements (the last block may be partial) into a.out, which may be strided.
template <class T, int kPerBlock, class Gen>
void fill_from_blocks(const KernelArgs& a, Gen gen) {
  const BufferView* views[1] = {&a.out};
  const Layout<1> l = coalesce(views);
  const std::int64_t n = l.numel();
  if (n == 0) return;
  const bool dense = l.rank == 1 && l.strides[0][0] == 1;
  T* out = static_cast<T*>(a.out.data);
  const std::int64_t blocks = (n + kPerBlock - 1) / kPerBlock;
  parallel_for(blocks, kGrainElements / kPerBlock, [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b) {
      std::uint32_t words[4];
      rng::block_words(a.key, std::uint64_t(b), words);
      T values[kPerBlock];
      gen(words, values);
      const std::int64_t first = b * kPerBlock;
      const int count = int(std::min<std::int64_t>(kPerBlock, n - first));
      for (int j = 0; j < count; ++j) {
        if (dense) {
          out[first + j] = values[j];
        } else {
          std::int64_t off[1];
          l.element_offsets(first + j, off);
          out[off[0]] = values[j];
        }
      }
    }
  });
}

// The largest T strictly below x.
template <class T>
T below(T x) {
  return std::nextafter(x, -std::numeric_limits<T>::infinity());
}

// The T nearest to x on the side that stays inside [lower, upper] (bounds given in double).
template <class T>
T inner_bound(double x, bool is_lower) {
  T t = T(x);
  if (is_lower && double(t) < x) t = std::nextafter(t, std::numeric_limits<T>::infinity());
  if (!is_lower && double(t) > x) t = std::nextafter(t, -std::numeric_limits<T>::infinity());
  return t;
}

template <class T>
void uniform_kernel(const KernelArgs& a) {
  const T lo = T(a.scalar[0]), hi = T(a.scalar[1]), below_hi = below(hi);
  if constexpr (std::is_same_v<T, float>) {
    fill_from_blocks<float, 4>(a, [&](const std::uint32_t w[4], float v[4]) {
      for (int j = 0; j < 4; ++j) v[j] = rng::scale_uniform(rng::unit_float(w[j]), lo, hi, below_hi);
    });
  } else {
    fill_from_blocks<double, 2>(a, [&](const std::uint32_t w[4], double v[2]) {
      for (int j = 0; j < 2; ++j)
        v[j] = rng::scale_uniform(rng::unit_double(rng::join_words(w[2 * j], w[2 * j + 1])), lo, hi,
                                  below_hi);
    });
  }
}

template <class T>
void normal_kernel(const KernelArgs& a) {
  if constexpr (std::is_same_v<T, float>) {
    fill_from_blocks<float, 4>(a, [](const std::uint32_t w[4], float v[4]) {
      rng::normal_pair_f32(w[0], w[1], v[0], v[1]);
      rng::normal_pair_f32(w[2], w[3], v[2], v[3]);
    });
  } else {
    fill_from_blocks<double, 2>(a, [](const std::uint32_t w[4], double v[2]) {
      rng::normal_pair_f64(rng::join_words(w[0], w[1]), rng::join_words(w[2], w[3]), v[0], v[1]);
    });
  }
}

template <class T>
void truncated_normal_kernel(const KernelArgs& a) {
  const rng::TruncatedNormal dist = rng::TruncatedNormal::make(a.scalar[0], a.scalar[1]);
  // Sampled in float64, then held inside the bounds once more in T: a float32 rounding of a
  // value near a bound must not step outside it.
  const T lo = inner_bound<T>(a.scalar[0], true), hi = inner_bound<T>(a.scalar[1], false);
  fill_from_blocks<T, 2>(a, [&](const std::uint32_t w[4], T v[2]) {
    for (int j = 0; j < 2; ++j) {
      const T x = T(dist.sample(rng::join_words(w[2 * j], w[2 * j + 1])));
      v[j] = x < lo ? lo : (x > hi ? hi : x);
    }
  });
}

// Bounds come exactly from ints[0], ints[1] (scalar[] would round int64 bounds above 2^53).
template <class T>
void bits_kernel(const KernelArgs& a) {
  const std::int64_t lo = a.ints[0];
  const std::uint64_t range = std::uint64_t(a.ints[1]) - std::uint64_t(a.ints[0]);
  fill_from_blocks<T, 2>(a, [&](const std::uint32_t w[4], T v[2]) {
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
