// Offline companion of exact_division_check.cpp, exhaustive where that one samples: for each of
// 8654 divisors b (every float value of adam's bias correction 1 - beta^t for 8 betas and
// t <= 3000, the 64 significands nearest 1 and nearest 2, random ones), every float a in [1, 2)
// (all 2^23 significands: by scaling, every normal a in the kernel's range) is divided by
// Markstein's multiply and two FMAs and by the division, and the bits compared. 7.3e10 pairs, no
// mismatch; 54 s on one core:
//   g++ -O2 -march=native -ffp-contract=off tests/reference/exact_division_exhaustive.cpp -o
//   /tmp/ede /tmp/ede [seed]
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>
static float fb(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
static uint32_t bf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
long check(float b, long* first_a) {
  const float y = 1.0f / b;
  long bad = 0;
  for (uint32_t m = 0; m < (1u << 23); ++m) {
    float a = fb(0x3f800000u | m);
    float q = a * y;
    float r = std::fmaf(-q, b, a);
    float q2 = std::fmaf(r, y, q);
    float ref = a / b;
    if (bf(q2) != bf(ref)) {
      if (!bad) *first_a = m;
      ++bad;
    }
  }
  return bad;
}
int main(int argc, char** argv) {
  std::vector<float> bs;
  // adam bias corrections for common betas
  for (double beta : {0.9, 0.99, 0.999, 0.95, 0.98, 0.9999, 0.5, 0.8})
    for (int t = 1; t <= 3000; ++t) {
      float b = float(1.0 - std::pow(beta, t));
      if (bs.empty() || b != bs.back()) bs.push_back(b);
    }
  // adversarial significands
  for (uint32_t m = 0; m < 64; ++m) {
    bs.push_back(fb(0x3f800000u | m));
    bs.push_back(fb(0x3fffffffu - m));
  }
  std::mt19937 rng(argc > 1 ? atoi(argv[1]) : 7);
  int nrand = argc > 2 ? atoi(argv[2]) : 200;
  for (int i = 0; i < nrand; ++i) bs.push_back(fb(0x3f800000u | (rng() & 0x7fffff)));
  long total_bad = 0;
  int bad_b = 0;
  for (float b : bs) {
    long fa = 0;
    long n = check(b, &fa);
    if (n) {
      ++bad_b;
      total_bad += n;
      if (bad_b < 10) printf("b=%a bad=%ld first a=%a\n", b, n, fb(0x3f800000u | fa));
    }
  }
  printf("%zu divisors, %d with mismatches, %ld mismatches\n", bs.size(), bad_b, total_bad);
}
