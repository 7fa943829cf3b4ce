// Random numbers on CUDA: RandomUniform, RandomNormal, RandomTruncatedNormal and RandomBits with
// the CPU kernels' element layout (kernels/cpu/random.cpp): element i depends only on the key
// and i. One thread per Philox block runs core/random.hpp's generator and core/random_dist.hpp's
// distributions, the very helpers the CPU runs, and stores the block's 4 (float32 uniform and
// normal) or 2 elements into out, which may be strided. Bounds are prepared on the host exactly
// as the CPU prepares them.
//
// Uniform and integer draws are bit-identical to the CPU's (integer arithmetic, and products
// rounded on their own: random_dist.hpp keeps nvcc from fusing them into FMAs). Normal and
// truncated normal draws go through log, sin, cos, erfc and exp, which CUDA's libdevice and the
// host's libm round differently in the last bit now and then: those agree to a few ulp.
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "elegy/core/random_dist.hpp"
#include "elegy/kernels/cuda/families.hpp"
#include "elegy/kernels/cuda/key_source.cuh"
#include "elegy/kernels/cuda/launch.cuh"

namespace elegy::kernels::cuda {
namespace {

// Philox block b fills elements b * kPerBlock .. + kPerBlock - 1 (those below n) of out, walked
// in row-major order through `l`; gen(words, values) turns the block's 4 words into values.
template <class T, int kPerBlock, class Gen>
__global__ void random_kernel(Layout<1> l, std::int64_t n, T* out, KeySource source, Gen gen) {
  std::uint32_t key[2];
  source.load(key);
  const std::int64_t blocks = (n + kPerBlock - 1) / kPerBlock;
  const std::int64_t step = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t b = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; b < blocks;
       b += step) {
    std::uint32_t words[4];
    rng::block_words(key, std::uint64_t(b), words);
    T values[kPerBlock];
    gen(words, values);
#pragma unroll
    for (int j = 0; j < kPerBlock; ++j) {
      const std::int64_t e = b * kPerBlock + j;
      if (e >= n) break;
      std::int64_t off[1];
      if (l.rank == 1)
        off[0] = e * l.strides[0][0];
      else
        l.element_offsets(e, off);
      out[off[0]] = values[j];
    }
  }
}

template <class T, int kPerBlock, class Gen>
void fill_from_blocks(const KernelArgs& a, Gen gen, const char* op) {
  const BufferView* views[1] = {&a.out};
  const Layout<1> l = coalesce(views);
  const std::int64_t n = l.numel();
  if (n == 0) return;
  const cudaStream_t s = prepare(a.device);
  random_kernel<T, kPerBlock><<<blocks_for((n + kPerBlock - 1) / kPerBlock), kThreads, 0, s>>>(
      l, n, static_cast<T*>(a.out.data), key_source(a), gen);
  check_launch(op);
}

// ---- the distributions, one functor per (distribution, dtype) ----

struct UniformF32 {
  float lo, hi, below_hi;
  __device__ void operator()(const std::uint32_t* w, float* v) const {
#pragma unroll
    for (int j = 0; j < 4; ++j) v[j] = rng::scale_uniform(rng::unit_float(w[j]), lo, hi, below_hi);
  }
};
struct UniformF64 {
  double lo, hi, below_hi;
  __device__ void operator()(const std::uint32_t* w, double* v) const {
#pragma unroll
    for (int j = 0; j < 2; ++j)
      v[j] = rng::scale_uniform(rng::unit_double(rng::join_words(w[2 * j], w[2 * j + 1])), lo, hi,
                                below_hi);
  }
};
struct NormalF32 {
  __device__ void operator()(const std::uint32_t* w, float* v) const {
    rng::normal_pair_f32(w[0], w[1], v[0], v[1]);
    rng::normal_pair_f32(w[2], w[3], v[2], v[3]);
  }
};
struct NormalF64 {
  __device__ void operator()(const std::uint32_t* w, double* v) const {
    rng::normal_pair_f64(rng::join_words(w[0], w[1]), rng::join_words(w[2], w[3]), v[0], v[1]);
  }
};
// Sampled in float64, then held inside [lo, hi] once more in T (a float32 rounding of a value
// near a bound must not step outside it). Float32 skips the inverse CDF's refinement, as on the
// CPU.
template <class T>
struct TruncatedNormalOf {
  rng::TruncatedNormal dist;
  T lo, hi;
  __device__ void operator()(const std::uint32_t* w, T* v) const {
    constexpr bool kRefine = std::is_same_v<T, double>;
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      const T x = T(dist.sample(rng::join_words(w[2 * j], w[2 * j + 1]), kRefine));
      v[j] = x < lo ? lo : (x > hi ? hi : x);
    }
  }
};
// An integer in [lo, lo + range) from 64 bits (range computed in uint64 from ints[]).
template <class T>
struct BitsOf {
  std::int64_t lo;
  std::uint64_t range;
  __device__ void operator()(const std::uint32_t* w, T* v) const {
#pragma unroll
    for (int j = 0; j < 2; ++j)
      v[j] = T(rng::bounded_int(rng::join_words(w[2 * j], w[2 * j + 1]), lo, range));
  }
};

// ---- host-side bounds, computed as the CPU kernels compute them ----

template <class T>
void uniform_kernel(const KernelArgs& a) {
  const T lo = T(a.scalar[0]), hi = T(a.scalar[1]);
  if constexpr (std::is_same_v<T, float>)
    fill_from_blocks<float, 4>(a, UniformF32{lo, hi, rng::below(hi)}, "uniform (cuda)");
  else
    fill_from_blocks<double, 2>(a, UniformF64{lo, hi, rng::below(hi)}, "uniform (cuda)");
}

template <class T>
void normal_kernel(const KernelArgs& a) {
  if constexpr (std::is_same_v<T, float>)
    fill_from_blocks<float, 4>(a, NormalF32{}, "normal (cuda)");
  else
    fill_from_blocks<double, 2>(a, NormalF64{}, "normal (cuda)");
}

template <class T>
void truncated_normal_kernel(const KernelArgs& a) {
  // The interval's CDF values come from the host's erfc, as on the CPU.
  const TruncatedNormalOf<T> gen{rng::TruncatedNormal::make(a.scalar[0], a.scalar[1]),
                                 rng::inner_bound<T>(a.scalar[0], true),
                                 rng::inner_bound<T>(a.scalar[1], false)};
  fill_from_blocks<T, 2>(a, gen, "truncated_normal (cuda)");
}

// Bounds come exactly from ints[0], ints[1] (scalar[] would round int64 bounds above 2^53).
template <class T>
void bits_kernel(const KernelArgs& a) {
  const BitsOf<T> gen{a.ints[0], std::uint64_t(a.ints[1]) - std::uint64_t(a.ints[0])};
  fill_from_blocks<T, 2>(a, gen, "randint (cuda)");
}

}  // namespace

void register_random(Registry& r) {
  r.add(Op::RandomUniform, DeviceKind::cuda, DType::f32, uniform_kernel<float>);
  r.add(Op::RandomUniform, DeviceKind::cuda, DType::f64, uniform_kernel<double>);
  r.add(Op::RandomNormal, DeviceKind::cuda, DType::f32, normal_kernel<float>);
  r.add(Op::RandomNormal, DeviceKind::cuda, DType::f64, normal_kernel<double>);
  r.add(Op::RandomTruncatedNormal, DeviceKind::cuda, DType::f32, truncated_normal_kernel<float>);
  r.add(Op::RandomTruncatedNormal, DeviceKind::cuda, DType::f64, truncated_normal_kernel<double>);
  r.add(Op::RandomBits, DeviceKind::cuda, DType::u8, bits_kernel<std::uint8_t>);
  r.add(Op::RandomBits, DeviceKind::cuda, DType::i32, bits_kernel<std::int32_t>);
  r.add(Op::RandomBits, DeviceKind::cuda, DType::i64, bits_kernel<std::int64_t>);
}

}  // namespace elegy::kernels::cuda
