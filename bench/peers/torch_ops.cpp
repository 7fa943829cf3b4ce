// libtorch (C++ API) on the same cases as elegy's microbenchmarks, written the way a user writes
// them: `auto c = a + b;` allocates its output every call, autograd runs through Tensor::backward.
// Usage: bench_torch_ops [--threads N] [--filter SUBSTR]; CSV on stdout, GB/s / GFLOP/s on stderr.
#include <torch/torch.h>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

#include "timing.hpp"

// libtorch parallelises its own kernels with OpenMP, but GEMM goes to OpenBLAS, whose pthreads
// pool is sized independently (default: all cores). Both must be set for a fair N-thread figure.
// Declared by hand rather than via cblas.h so no BLAS header is mixed into the torch includes.
extern "C" void openblas_set_num_threads(int num_threads);

namespace {

using elegy::bench::Args;
using elegy::bench::median_us;
using elegy::bench::print_row;

enum class Unit { kBytes, kFlops, kNone };

// Times `body`, prints the CSV row, and a human-readable rate on stderr. `work` is bytes moved
// (reads + writes) or floating-point operations, depending on `unit`.
void report(const Args& args, const std::string& name, const std::function<void()>& body,
            double work, Unit unit) {
  if (!args.wants(name)) return;
  const double us = median_us(body);
  print_row("torch", name, args.threads, us);
  std::fprintf(stderr, "  torch %-32s %2d thr %10.3f us", name.c_str(), args.threads, us);
  if (unit == Unit::kBytes) std::fprintf(stderr, "  %7.1f GB/s", work / (us * 1e3));
  if (unit == Unit::kFlops) std::fprintf(stderr, "  %7.1f GFLOP/s", work / (us * 1e3));
  std::fprintf(stderr, "\n");
}

// Stderr-only companion figure, outside the CSV contract: explains a CSV number without adding
// cases the shared format does not know.
void note(const Args& args, const std::string& name, const std::string& what,
          const std::function<void()>& body, double bytes) {
  if (!args.wants(name)) return;
  const double us = median_us(body);
  std::fprintf(stderr, "  torch %-32s %2d thr %10.3f us  %7.1f GB/s  (note: %s)\n", name.c_str(),
               args.threads, us, bytes / (us * 1e3), what.c_str());
}

torch::Tensor randn(std::initializer_list<int64_t> shape, bool requires_grad = false) {
  return torch::randn(shape,
                      torch::TensorOptions().dtype(torch::kFloat32).requires_grad(requires_grad));
}

void bench_elementwise(const Args& args) {
  const struct {
    const char* suffix;
    int64_t n;
  } sizes[] = {{"1K", int64_t{1} << 10}, {"1M", int64_t{1} << 20}, {"16M", int64_t{1} << 24}};
  constexpr double kF = sizeof(float);

  for (const auto& s : sizes) {
    torch::Tensor a = randn({s.n}), b = randn({s.n});
    report(
        args, std::string("add_") + s.suffix, [&] { auto c = a + b; }, 3 * kF * s.n, Unit::kBytes);
    report(
        args, std::string("mul_") + s.suffix, [&] { auto c = a * b; }, 3 * kF * s.n, Unit::kBytes);
    report(
        args, std::string("exp_") + s.suffix, [&] { auto c = torch::exp(a); }, 2 * kF * s.n,
        Unit::kBytes);
    // b + a * s with a 0-d tensor s: torch's one-kernel form of elegy's mul_add.
    torch::Tensor scale = randn({});
    report(
        args, std::string("muladd_") + s.suffix, [&] { auto c = torch::addcmul(b, a, scale); },
        3 * kF * s.n, Unit::kBytes);

    // A 64 MiB output exceeds glibc's largest mmap threshold (32 MiB), so every `a + b` above
    // maps fresh pages and pays a page fault per 4 KiB; that is what users get, hence the CSV
    // figure. The out= variant shows the kernel alone, for telling the two costs apart.
    if (s.n >= (int64_t{1} << 24)) {
      torch::Tensor c = torch::empty_like(a);
      const std::string what = "out= into preallocated output";
      note(
          args, std::string("add_") + s.suffix, what, [&] { torch::add_out(c, a, b); },
          3 * kF * s.n);
      note(
          args, std::string("mul_") + s.suffix, what, [&] { torch::mul_out(c, a, b); },
          3 * kF * s.n);
      note(
          args, std::string("exp_") + s.suffix, what, [&] { torch::exp_out(c, a); }, 2 * kF * s.n);
    }
  }
}

void bench_reductions(const Args& args) {
  {
    const int64_t n = int64_t{1} << 24;
    torch::Tensor a = randn({n});
    report(
        args, "sum_16M", [&] { auto s = a.sum(); }, sizeof(float) * n, Unit::kBytes);
  }
  {
    torch::Tensor x = randn({4096, 1024});
    report(
        args, "softmax_4096x1024", [&] { auto y = torch::softmax(x, /*dim=*/-1); },
        2.0 * sizeof(float) * x.numel(), Unit::kBytes);
  }
}

void bench_matmul(const Args& args) {
  for (const int64_t n : {256, 1024, 2048}) {
    torch::Tensor a = randn({n, n}), b = randn({n, n});
    report(
        args, "sgemm_" + std::to_string(n), [&] { auto c = torch::matmul(a, b); }, 2.0 * n * n * n,
        Unit::kFlops);
  }
}

// Framework cost per op: tensors so small that the arithmetic is negligible, so the time is
// dispatch, allocation and (for the second case) autograd graph construction and traversal.
void bench_overhead(const Args& args) {
  {
    torch::Tensor a = randn({1000}), b = randn({1000});
    report(
        args, "overhead_add_1000", [&] { auto c = a + b; }, 0, Unit::kNone);
  }
  {
    torch::Tensor a = randn({1000}, true), b = randn({1000}, true);
    report(
        args, "overhead_mul_sum_backward_1000",
        [&] {
          // Clear (set to None, as optimizer.zero_grad() does by default in PyTorch 2.x) so that
          // backward allocates fresh grads instead of accumulating into ever-growing values.
          a.mutable_grad().reset();
          b.mutable_grad().reset();
          auto y = (a * b).sum();
          y.backward();
        },
        0, Unit::kNone);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = elegy::bench::parse_args(argc, argv);
  torch::set_num_threads(args.threads);
  openblas_set_num_threads(args.threads);
  torch::manual_seed(0);
  // Which SIMD kernels ATen dispatched to (distro builds may cap this below the CPU's best).
  std::string capability = "unknown";
  const std::string config = at::show_config();
  if (const auto pos = config.find("CPU capability usage: "); pos != std::string::npos)
    capability = config.substr(pos + 22, config.find('\n', pos) - pos - 22);
  std::fprintf(stderr, "libtorch %s, intra-op threads %d, CPU capability %s\n", TORCH_VERSION,
               torch::get_num_threads(), capability.c_str());

  bench_elementwise(args);
  bench_reductions(args);
  bench_matmul(args);
  bench_overhead(args);
  return 0;
}
