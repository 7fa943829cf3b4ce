// elegy's CUDA microbenchmarks: elementwise ops and a reduction against a device-to-device copy
// of the same size (the bar: >= 85% of copy bandwidth at 64M elements), broadcasting, a
// strided gather, float32 GEMMs (cuBLAS through elegy's Matmul; torch_peer.py times cuBLAS
// through PyTorch) and host <-> device transfers, each timed as a burst of kBurst calls followed by
// one stream synchronisation (so launch overhead overlaps with execution, as in a real training
// step), divided by kBurst. Output: one CSV line per case on stdout,
// "elegy_gpu,<case>,1,<median_us>" (bench/peers' contract); GB/s (GFLOP/s for the matmuls) on
// stderr. A case whose op is missing prints "skipped" on stderr.
//
// Built by bench/gpu/run.sh straight against the build tree (no CMake target):
//   g++ -O2 -std=c++20 -I<build>/include -Ibench/peers gpu_micro.cpp -L... -lelegy_*
// Usage: gpu_micro [--filter SUBSTR]
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>

#include "elegy/autodiff/kernel_call.hpp"
#include "elegy/core/cuda/cuda_runtime.hpp"
#include "elegy/elegy.hpp"
#include "timing.hpp"

namespace {

using namespace elegy;

constexpr int kBurst = 10;
constexpr Device kGpu = Device::cuda(0);

const char* g_filter = nullptr;

// `bytes` counts reads + writes of one call; a negative value is minus the FLOPs of a matmul.
void run_case(const std::string& name, double bytes, const std::function<void()>& call) {
  if (g_filter != nullptr && name.find(g_filter) == std::string::npos) return;
  try {
    const double us = bench::median_us([&] {
                        for (int i = 0; i < kBurst; ++i) call();
                        cuda::synchronize(0);
                      }) /
                      kBurst;
    std::printf("elegy_gpu,%s,1,%.3f\n", name.c_str(), us);
    if (bytes < 0)
      std::fprintf(stderr, "  elegy_gpu %-24s %10.3f us  %8.1f GFLOP/s\n", name.c_str(), us,
                   -bytes / (us * 1e3));
    else
      std::fprintf(stderr, "  elegy_gpu %-24s %10.3f us  %8.1f GB/s\n", name.c_str(), us,
                   bytes / (us * 1e3));
  } catch (const Error& e) {
    std::fprintf(stderr, "  elegy_gpu %-24s skipped: %s\n", name.c_str(), e.what());
  }
}

// A fresh dense copy of `t` on its device through the Copy kernel (cudaMemcpyAsync device to
// device): the bandwidth the elementwise kernels are measured against.
Tensor device_copy(const Tensor& t) {
  Tensor out = Tensor::empty(t.shape(), t.dtype(), t.device());
  kernels::KernelArgs args;
  args.out = autodiff::buffer_view(out);
  args.in[0] = autodiff::buffer_view(t);
  args.num_inputs = 1;
  args.device = t.device();
  args.in_device = t.device();
  kernels::run("copy", kernels::Op::Copy, t.dtype(), args);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--filter") == 0) g_filter = argv[i + 1];
  if (!cuda_available()) {
    std::fprintf(stderr, "gpu_micro: no CUDA device visible\n");
    return 1;
  }
  const std::int64_t m1 = 1 << 20, m16 = 16 << 20, m64 = 64 << 20;
  const Tensor a1 = ones(Shape{m1}, DType::f32, kGpu), b1 = ones(Shape{m1}, DType::f32, kGpu);
  const Tensor a16 = ones(Shape{m16}, DType::f32, kGpu), b16 = ones(Shape{m16}, DType::f32, kGpu);
  const Tensor mat = ones(Shape{4096, 1024}, DType::f32, kGpu);
  const Tensor row = ones(Shape{1024}, DType::f32, kGpu);
  const Tensor host16 = ones(Shape{m16}, DType::f32);
  const Tensor a64 = ones(Shape{m64}, DType::f32, kGpu), b64 = ones(Shape{m64}, DType::f32, kGpu);
  const Tensor sq1024 = random::normal(Key(1), Shape{1024, 1024}, DType::f32, kGpu);
  const Tensor sq4096 = random::normal(Key(2), Shape{4096, 4096}, DType::f32, kGpu);
  Tensor sink;

  // Four elements: the GPU's work is nothing, so the time is the host's cost of one op
  // (checks, allocation, launch): what a small model's training step is made of.
  const Tensor a4 = ones(Shape{4}, DType::f32, kGpu), b4 = ones(Shape{4}, DType::f32, kGpu);
  run_case("add_4_host_per_op", 12.0 * 4, [&] { sink = add(a4, b4); });
  run_case("add_1M", 12.0 * m1, [&] { sink = add(a1, b1); });
  run_case("add_16M", 12.0 * m16, [&] { sink = add(a16, b16); });
  run_case("copy_64M", 8.0 * m64, [&] { sink = device_copy(a64); });
  run_case("add_64M", 12.0 * m64, [&] { sink = add(a64, b64); });
  run_case("exp_64M", 8.0 * m64, [&] { sink = exp(a64); });
  run_case("sum_64M", 4.0 * m64, [&] { sink = sum(a64); });
  run_case("mul_16M", 12.0 * m16, [&] { sink = mul(a16, b16); });
  run_case("exp_16M", 8.0 * m16, [&] { sink = exp(a16); });
  run_case("add_bcast_4096x1024", 8.0 * 4096 * 1024, [&] { sink = add(mat, row); });
  run_case("full_16M", 4.0 * m16, [&] { sink = full(Shape{m16}, 2.0, DType::f32, kGpu); });
  run_case("astype_f64_16M", 12.0 * m16, [&] { sink = a16.astype(DType::f64); });
  run_case("transpose_copy_4096x1024", 8.0 * 4096 * 1024,
           [&] { sink = transpose(mat).contiguous(); });
  run_case("matmul_f32_1024", -2.0 * 1024 * 1024 * 1024, [&] { sink = matmul(sq1024, sq1024); });
  run_case("matmul_f32_4096", -2.0 * 4096 * 4096 * 4096, [&] { sink = matmul(sq4096, sq4096); });
  run_case("h2d_64MB", 4.0 * m16, [&] { sink = host16.to(kGpu); });
  run_case("d2h_64MB", 4.0 * m16, [&] { sink = a16.to(Device::cpu()); });
  return 0;
}
