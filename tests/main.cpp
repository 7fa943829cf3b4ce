// doctest's main, in its own file so the test files compile independently.
//
// ELEGY_TEST_SIMD=avx2 (or sse4, scalar) runs the suite with the better SIMD targets disabled,
// as on a machine without AVX-512 (or without AVX2): results that must not depend on the vector
// width, or on the thread count at every width, are checked on this machine too.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <hwy/targets.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

// Disables every x86 target better than `best`; false for an unknown name.
bool limit_simd(std::string_view best) {
  std::int64_t disabled = 0;
#if HWY_ARCH_X86
  constexpr std::int64_t kAvx512 = HWY_AVX3 | HWY_AVX3_DL;
  if (best == "avx2")
    disabled = kAvx512;
  else if (best == "sse4")
    disabled = kAvx512 | HWY_AVX2;
  else if (best == "scalar")
    disabled = kAvx512 | HWY_AVX2 | HWY_SSE4 | HWY_SSSE3;
  else
    return false;
#else
  if (best != "scalar") return false;
  disabled = ~std::int64_t(HWY_SCALAR | HWY_EMU128);
#endif
  hwy::DisableTargets(disabled);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (const char* simd = std::getenv("ELEGY_TEST_SIMD")) {
    if (!limit_simd(simd)) {
      std::fprintf(stderr, "ELEGY_TEST_SIMD=%s: expected avx2, sse4 or scalar\n", simd);
      return 2;
    }
    std::fprintf(stderr, "elegy_tests: SIMD limited to %s\n", simd);
  }
  doctest::Context context(argc, argv);
  return context.run();
}
