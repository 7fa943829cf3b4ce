// doctest's main, in its own file so the test files compile independently.
//
// ELEGY_TEST_SIMD=avx2 (or sse4, scalar) runs the suite with the better SIMD targets disabled,
// as on a machine without AVX-512 (or without AVX2; scalar: Highway's portable fallbacks): results
// that must not depend on the vector width, or on the thread count at every width, are checked on
// this machine too.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <hwy/targets.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

// Disables every target better than `best` (Highway numbers better targets with lower bits, on
// every architecture); false for an unknown name. On x86 this build compiles no SSSE3/SSE4
// code (kernels/CMakeLists.txt), so "sse4" ends on Highway's emulated 128-bit target: the name
// of the target actually in use is printed.
bool limit_simd(std::string_view best) {
  std::int64_t disabled = 0;
  if (best == "avx2")
    disabled = HWY_AVX2 - 1;
  else if (best == "sse4")
    disabled = HWY_SSE4 - 1;
  else if (best == "scalar")
    disabled = HWY_EMU128 - 1;
  else
    return false;
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
    const std::int64_t targets = hwy::SupportedTargets();
    std::fprintf(stderr,
                 "elegy_tests: SIMD limited to %s: the CPU now offers up to %s, and the kernels "
                 "dispatch to the best of those they were compiled for\n",
                 simd, hwy::TargetName(targets & -targets));
  }
  doctest::Context context(argc, argv);
  return context.run();
}
