// The offline check behind ConstantDivisor (kernels/cpu/optim_update.cpp): with y = RN(1/b),
// q = RN(a y) and r = a - q b (exact through an FMA), RN(q + r y) equals RN(a / b) bit for bit,
// under flush-to-zero and denormals-are-zero as the fused optimizer kernel runs, for |a| in the
// kernel's range ([2^-75, 2^100] float, [2^-900, 2^1000] double) and divisors in [2^-20, 2^20]
// (half of them adam bias corrections 1 - beta^count). Too long for the test suite (11 s);
// run it when that code changes:
//   g++ -O2 -march=native -ffp-contract=off tests/reference/exact_division_check.cpp -o /tmp/edc
//   /tmp/edc [seed]     # prints the mismatches (none, for 4e8 float and 2e8 double pairs)
// Widening the float range below 2^-79 shows why the bound exists: mismatches appear.
#include <pmmintrin.h>
#include <xmmintrin.h>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
template <class T, class U>
T from_bits(U u) {
  T t;
  std::memcpy(&t, &u, sizeof t);
  return t;
}
int main(int argc, char** argv) {
  _MM_SET_FLUSH_ZERO_MODE(_MM_FLUSH_ZERO_ON);
  _MM_SET_DENORMALS_ZERO_MODE(_MM_DENORMALS_ZERO_ON);
  std::mt19937_64 rng(argc > 1 ? atoi(argv[1]) : 1);
  long bad = 0, n = 0;
  // f32: a with exponent in [-75, 100], random mantissa/sign; b: bc values and random in [2^-20,
  // 2^20]
  for (long it = 0; it < 400000000L; ++it) {
    uint64_t r = rng();
    uint32_t e_a = uint32_t(127 - 75 + (r % 176));
    float a = from_bits<float>(uint32_t((r >> 8) & 0x7fffff) | (e_a << 23) |
                               (uint32_t(r >> 40 & 1) << 31));
    float b;
    if (it & 1) {
      int count = int((r >> 41) % 20000) + 1;
      double beta = (r >> 60) & 1 ? 0.9 : 0.999;
      if (((r >> 61) & 3) == 3) beta = 0.95 + ((r >> 30) % 1000) * 4.9e-5;
      b = float(1.0 - std::pow(beta, count));
    } else {
      uint32_t e_b = uint32_t(127 - 20 + ((r >> 41) % 41));
      b = from_bits<float>(uint32_t(rng() & 0x7fffff) | (e_b << 23));
    }
    const float y = 1.0f / b;
    const float q = a * y;
    const float rr = std::fmaf(-q, b, a);
    const float q2 = std::fmaf(rr, y, q);
    const float ref = a / b;
    ++n;
    if (std::memcmp(&q2, &ref, 4) != 0) {
      if (bad < 5) std::printf("f32 mismatch a=%a b=%a got %a want %a\n", a, b, q2, ref);
      ++bad;
    }
  }
  std::printf("f32: %ld / %ld mismatches\n", bad, n);
  bad = 0;
  n = 0;
  for (long it = 0; it < 200000000L; ++it) {
    uint64_t r = rng();
    uint64_t e_a = uint64_t(1023 - 900 + (r % 1901));
    double a =
        from_bits<double>((rng() & 0xfffffffffffffULL) | (e_a << 52) | ((r >> 40 & 1) << 63));
    double b;
    if (it & 1) {
      int count = int((r >> 41) % 20000) + 1;
      double beta = (r >> 60) & 1 ? 0.9 : 0.999;
      b = 1.0 - std::pow(beta, count);
    } else {
      uint64_t e_b = uint64_t(1023 - 20 + ((r >> 41) % 41));
      b = from_bits<double>((rng() & 0xfffffffffffffULL) | (e_b << 52));
    }
    const double y = 1.0 / b;
    const double q = a * y;
    const double rr = std::fma(-q, b, a);
    const double q2 = std::fma(rr, y, q);
    const double ref = a / b;
    ++n;
    if (std::memcmp(&q2, &ref, 8) != 0) {
      if (bad < 5) std::printf("f64 mismatch a=%a b=%a got %a want %a\n", a, b, q2, ref);
      ++bad;
    }
  }
  std::printf("f64: %ld / %ld mismatches\n", bad, n);
}
