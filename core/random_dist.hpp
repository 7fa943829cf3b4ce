// Distributions over Philox words, shared by the CPU and CUDA random kernels: bits -> floats,
// Box-Muller, the inverse normal CDF and bounded integers. Every helper is a pure function of
// its words, so element i of a random tensor depends only on (key, i) on any device and any
// thread count. Word layout (words are numbered as in Philox::word: word w is lane w % 4 of
// block w / 4):
//   uniform f32, normal f32:            element i <- word i       (4 elements per block)
//   uniform f64, truncated normal,
//   random ints (64 bits):              element i <- words 2i, 2i+1 (2 elements per block)
//   normal f64:                         elements 2j, 2j+1 <- block j (one Box-Muller pair)
// Normal f32 pairs elements 2j, 2j+1 as well: words 2j (radius) and 2j+1 (angle).
#pragma once

// The C math functions are called as ::log, ::erfc, ...: those names exist on the host and in
// CUDA device code, and the qualification keeps elegy's own log(Tensor) etc. out of the lookup.
#include <math.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "elegy/core/host_device.hpp"
#include "elegy/core/random.hpp"

namespace elegy::rng {

// Words 4*block .. 4*block+3 of the stream under `key` (the counter Philox::word uses).
ELEGY_HOST_DEVICE inline void block_words(const std::uint32_t key[2], std::uint64_t block,
                                          std::uint32_t out[4]) {
  const std::uint32_t counter[4] = {std::uint32_t(block), std::uint32_t(block >> 32), 0, 0};
  Philox::generate(counter, key, out);
}

// Host-side bounds the CPU and CUDA kernels compute alike before drawing:
// the largest T strictly below x (the top of a uniform's half-open range) ...
template <class T>
T below(T x) {
  return std::nextafter(x, -std::numeric_limits<T>::infinity());
}
// ... and the T nearest to x on the side that stays inside [lower, upper] (a truncated normal's
// bounds, given in double).
template <class T>
T inner_bound(double x, bool is_lower) {
  T t = T(x);
  if (is_lower && double(t) < x) t = std::nextafter(t, std::numeric_limits<T>::infinity());
  if (!is_lower && double(t) > x) t = std::nextafter(t, -std::numeric_limits<T>::infinity());
  return t;
}

ELEGY_HOST_DEVICE inline std::uint64_t join_words(std::uint32_t hi, std::uint32_t lo) {
  return (std::uint64_t(hi) << 32) | lo;
}

// [0, 1) from the top 24 bits: multiples of 2^-24, all exactly representable, never 1.
ELEGY_HOST_DEVICE inline float unit_float(std::uint32_t w) {
  return float(w >> 8) * 0x1.0p-24f;
}
// [0, 1) from the top 53 bits.
ELEGY_HOST_DEVICE inline double unit_double(std::uint64_t bits) {
  return double(bits >> 11) * 0x1.0p-53;
}
// (0, 1): the midpoints of 2^52 cells, so neither end is reachable (log and the inverse CDF
// stay finite). 52 bits, not 53: the midpoint next to 1 must itself be a double below 1.
ELEGY_HOST_DEVICE inline double open_unit_double(std::uint64_t bits) {
  return (double(bits >> 12) + 0.5) * 0x1.0p-52;
}

// a * b rounded on its own. nvcc fuses a multiply followed by an add into one FMA (one rounding
// instead of two) unless told otherwise; the CPU build never fuses, and random numbers must be
// the same bits on both devices.
template <class T>
ELEGY_HOST_DEVICE inline T mul_unfused(T a, T b) {
#ifdef __CUDA_ARCH__
  if constexpr (sizeof(T) == 4)
    return __fmul_rn(a, b);
  else
    return __dmul_rn(a, b);
#else
  return a * b;
#endif
}

// minval + (maxval - minval) * u in T, kept below maxval: rounding can land on maxval exactly,
// so such values become `below_max`, the largest T under maxval (computed once by the caller).
template <class T>
ELEGY_HOST_DEVICE inline T scale_uniform(T u, T minval, T maxval, T below_max) {
  const T x = minval + mul_unfused(maxval - minval, u);
  return x < maxval ? (x < minval ? minval : x) : below_max;
}

// Two independent standard normals from two words (Box-Muller). The radius uses all 32 bits
// of w_radius (as a float in (0, 1]), so the largest |z| is about 6.7 rather than the 5.8 that
// 24 bits would allow.
ELEGY_HOST_DEVICE inline void normal_pair_f32(std::uint32_t w_radius, std::uint32_t w_angle,
                                              float& z0, float& z1) {
  const float u = (float(w_radius) + 0.5f) * 0x1.0p-32f;
  const float r = ::sqrtf(-2.0f * ::logf(u));
  const float theta = 6.28318530717958647692f * unit_float(w_angle);
  z0 = r * ::cosf(theta);
  z1 = r * ::sinf(theta);
}

// The same in float64 from 64 bits each (largest |z| about 8.6).
ELEGY_HOST_DEVICE inline void normal_pair_f64(std::uint64_t bits_radius, std::uint64_t bits_angle,
                                              double& z0, double& z1) {
  const double r = ::sqrt(-2.0 * ::log(open_unit_double(bits_radius)));
  const double theta = 6.28318530717958647692 * unit_double(bits_angle);
  z0 = r * ::cos(theta);
  z1 = r * ::sin(theta);
}

// Standard normal CDF, accurate in relative terms in the lower tail (erfc does not cancel).
ELEGY_HOST_DEVICE inline double normal_cdf(double x) {
  return 0.5 * ::erfc(-x * 0.70710678118654752440);
}

// Inverse of normal_cdf for p in (0, 1) to about 1e-15 relative: Acklam's rational
// approximation (relative error 1.2e-9) and one Halley step on normal_cdf. Without `refine`
// only the approximation: plenty for float32 results and 3x cheaper. -inf / +inf at the ends.
ELEGY_HOST_DEVICE inline double normal_icdf(double p, bool refine = true) {
  if (!(p > 0.0)) return -HUGE_VAL;
  if (!(p < 1.0)) return HUGE_VAL;
  const double a0 = -3.969683028665376e+01, a1 = 2.209460984245205e+02, a2 = -2.759285104469687e+02,
               a3 = 1.383577518672690e+02, a4 = -3.066479806614716e+01, a5 = 2.506628277459239e+00;
  const double b0 = -5.447609879822406e+01, b1 = 1.615858368580409e+02, b2 = -1.556989798598866e+02,
               b3 = 6.680131188771972e+01, b4 = -1.328068155288572e+01;
  const double c0 = -7.784894002430293e-03, c1 = -3.223964580411365e-01,
               c2 = -2.400758277161838e+00, c3 = -2.549732539343734e+00, c4 = 4.374664141464968e+00,
               c5 = 2.938163982698783e+00;
  const double d0 = 7.784695709041462e-03, d1 = 3.224671290700398e-01, d2 = 2.445134137142996e+00,
               d3 = 3.754408661907416e+00;
  const double p_low = 0.02425;
  double x;
  if (p < p_low || p > 1.0 - p_low) {
    // Tails: a rational function of sqrt(-2 log(tail probability)).
    const double tail = p < p_low ? p : 1.0 - p;
    const double q = ::sqrt(-2.0 * ::log(tail));
    x = (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) /
        ((((d0 * q + d1) * q + d2) * q + d3) * q + 1.0);
    if (p >= p_low) x = -x;
  } else {
    const double q = p - 0.5, r = q * q;
    x = (((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q /
        (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1.0);
  }
  if (!refine) return x;
  // Halley refinement: e / pdf(x) is the Newton step; the denominator adds the curvature term.
  const double e = normal_cdf(x) - p;
  const double u = e * 2.50662827463100050242 * ::exp(0.5 * x * x);
  return x - u / (1.0 + 0.5 * x * u);
}

// A standard normal truncated to [lower, upper] by the inverse-CDF method (as
// jax.random.truncated_normal). Intervals in the upper half are mirrored into the lower one,
// where normal_cdf keeps full relative precision, so far tails such as [5, 6] still sample
// correctly.
struct TruncatedNormal {
  double lower = 0, upper = 0;  // the (possibly mirrored) interval sampled
  double p_lower = 0, p_span = 0;
  bool mirrored = false;

  ELEGY_HOST_DEVICE static TruncatedNormal make(double lower, double upper) {
    TruncatedNormal t;
    t.mirrored = lower + upper > 0.0;
    t.lower = t.mirrored ? -upper : lower;
    t.upper = t.mirrored ? -lower : upper;
    t.p_lower = normal_cdf(t.lower);
    t.p_span = normal_cdf(t.upper) - t.p_lower;
    return t;
  }

  // `refine`: see normal_icdf (float32 results do not need it).
  ELEGY_HOST_DEVICE double sample(std::uint64_t bits, bool refine = true) const {
    double x = normal_icdf(p_lower + p_span * open_unit_double(bits), refine);
    x = x < lower ? lower : (x > upper ? upper : x);  // also tames rounding at the edges
    return mirrored ? -x : x;
  }
};

// (a * b) >> 64.
ELEGY_HOST_DEVICE inline std::uint64_t mul_high(std::uint64_t a, std::uint64_t b) {
#ifdef __CUDA_ARCH__
  return __umul64hi(a, b);
#else
  return std::uint64_t((__uint128_t(a) * b) >> 64);
#endif
}

// An integer in [minval, minval + range) from 64 random bits by multiply-shift (Lemire): each
// value has probability within range / 2^64 of uniform, negligible for any tensor. `range` is
// maxval - minval computed in uint64 (so the full int64 span fits).
ELEGY_HOST_DEVICE inline std::int64_t bounded_int(std::uint64_t bits, std::int64_t minval,
                                                  std::uint64_t range) {
  return std::int64_t(std::uint64_t(minval) + mul_high(bits, range));
}

}  // namespace elegy::rng
