// elegy's CUDA microbenchmarks: elementwise ops, broadcasting, a strided gather and host <->
// device transfers, each timed as a burst of kBurst calls followed by one stream synchronisation
// (so launch overhead overlaps with execution, as in a real training step), divided by kBurst.
// Output: one CSV line per case on stdout, "elegy_gpu,<case>,1,<median_us>" (bench/peers'
// contract); GB/s on stderr. A case whose op is missing prints "skipped" on stderr.
//
// Built by bench/gpu/run.sh straight against the build tree (no CMake target):
//   g++ -O2 -std=c++20 -I<build>/include -Ibench/peers gpu_micro.cpp -L... -lelegy_*
// Usage: gpu_micro [--filter SUBSTR]
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>

#include "elegy/core/cuda/cuda_runtime.hpp"
#include "elegy/elegy.hpp"
#include "timing.hpp"

namespace {

using namespace elegy;

constexpr int kBurst = 10;
constexpr Device kGpu = Device::cuda(0);

const char* g_filter = nullptr;

// `bytes` counts reads + writes of one call.
void run_case(const std::string& name, double bytes, const std::function<void()>& call) {
  if (g_filter != nullptr && name.find(g_filter) == std::string::npos) return;
  try {
    const double us = bench::median_us([&] {
                        for (int i = 0; i < kBurst; ++i) call();
                        cuda::synchronize(0);
                      }) /
                      kBurst;
    std::printf("elegy_gpu,%s,1,%.3f\n", name.c_str(), us);
    std::fprintf(stderr, "  elegy_gpu %-24s %10.3f us  %8.1f GB/s\n", name.c_str(), us,
                 bytes / (us * 1e3));
  } catch (const Error& e) {
    std::fprintf(stderr, "  elegy_gpu %-24s skipped: %s\n", name.c_str(), e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--filter") == 0) g_filter = argv[i + 1];
  if (!cuda_available()) {
    std::fprintf(stderr, "gpu_micro: no CUDA device visible\n");
    return 1;
  }
  const std::int64_t m1 = 1 << 20, m16 = 16 << 20;
  const Tensor a1 = ones(Shape{m1}, DType::f32, kGpu), b1 = ones(Shape{m1}, DType::f32, kGpu);
  const Tensor a16 = ones(Shape{m16}, DType::f32, kGpu), b16 = ones(Shape{m16}, DType::f32, kGpu);
  const Tensor mat = ones(Shape{4096, 1024}, DType::f32, kGpu);
  const Tensor row = ones(Shape{1024}, DType::f32, kGpu);
  const Tensor host16 = ones(Shape{m16}, DType::f32);
  Tensor sink;

  run_case("add_1M", 12.0 * m1, [&] { sink = add(a1, b1); });
  run_case("add_16M", 12.0 * m16, [&] { sink = add(a16, b16); });
  run_case("mul_16M", 12.0 * m16, [&] { sink = mul(a16, b16); });
  run_case("exp_16M", 8.0 * m16, [&] { sink = exp(a16); });
  run_case("add_bcast_4096x1024", 8.0 * 4096 * 1024, [&] { sink = add(mat, row); });
  run_case("full_16M", 4.0 * m16, [&] { sink = full(Shape{m16}, 2.0, DType::f32, kGpu); });
  run_case("astype_f64_16M", 12.0 * m16, [&] { sink = a16.astype(DType::f64); });
  run_case("transpose_copy_4096x1024", 8.0 * 4096 * 1024,
           [&] { sink = transpose(mat).contiguous(); });
  run_case("h2d_64MB", 4.0 * m16, [&] { sink = host16.to(kGpu); });
  run_case("d2h_64MB", 4.0 * m16, [&] { sink = a16.to(Device::cpu()); });
  return 0;
}
