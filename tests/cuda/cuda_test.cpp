// The CUDA backend's data movement: host <-> device round trips, device fills, casts, strided
// copies, the allocator's counters, and the errors for missing kernels, mixed devices and a
// missing GPU. Every GPU case is marked skip when no GPU is visible, so the runner reports it.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "cuda/cuda_checks.hpp"

using namespace elegy;
using namespace elegy::cuda_test;
using kernels::Op;

namespace {

const bool kNoGpu = !cuda_available();

constexpr DType kAllDTypes[] = {DType::bool_, DType::u8,  DType::i32,
                                DType::i64,   DType::f32, DType::f64};

// n host values of `dtype`, small non-negative numbers every dtype represents (floats get
// quarter fractions, so float -> int casts truncate; every 388th element is 0, a false bool).
Tensor sample(DType dtype, std::int64_t n) {
  std::vector<double> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) v[std::size_t(i)] = double(i % 97) + (i % 4) * 0.25;
  return Tensor::from_vector(v).astype(dtype);
}

}  // namespace

TEST_CASE("cuda: moving a tensor to a GPU that is not there raises an Error" *
          doctest::skip(cuda_available())) {
  const Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3});
  for (const std::string& msg :
       {error_message([&] { (void)x.to(Device::cuda()); }),
        error_message([&] { (void)Tensor::from_vector(std::vector<float>{1}, Device::cuda()); }),
        error_message([&] { (void)zeros(Shape{2}, DType::f32, Device::cuda()); })}) {
    CAPTURE(msg);
    CHECK(contains(msg, "cuda:0"));
    if (cuda_compiled())
      CHECK(contains(msg, "0 CUDA device(s) are visible"));
    else
      CHECK(contains(msg, "no CUDA backend"));
  }
}

TEST_CASE("cuda: host -> device -> host round trip, every dtype" * doctest::skip(kNoGpu)) {
  for (DType dtype : kAllDTypes) {
    for (std::int64_t n : {0, 1, 17, 1025, (1 << 20) + 3}) {
      CAPTURE(dtype);
      CAPTURE(n);
      const Tensor host = sample(dtype, n);
      const Tensor dev = host.to(kGpu);
      CHECK(dev.device() == kGpu);
      CHECK(dev.dtype() == dtype);
      CHECK(dev.shape() == host.shape());
      const Tensor back = dev.to(Device::cpu());
      CHECK(back.device() == Device::cpu());
      // Through a device -> host copy straight into the caller's vector, and through a tensor.
      check_close(dev.to_vector<double>(), host.to_vector<double>(), 0.0, "to_vector");
      check_close(back.to_vector<double>(), host.to_vector<double>(), 0.0, "to(cpu)");
    }
  }
  const Tensor dev = Tensor::from_vector(std::vector<std::int64_t>{-5, 1LL << 40}, kGpu);
  CHECK(dev.to_vector<std::int64_t>() == std::vector<std::int64_t>{-5, 1LL << 40});
  CHECK(dev.to(kGpu).storage() == dev.storage());  // same device: no copy
  CHECK(Tensor::from_vector(std::vector<float>{2.5f}, kGpu).item<float>() == 2.5f);
}

TEST_CASE("cuda: fill and arange on the device" * doctest::skip(kNoGpu)) {
  for (DType dtype : kAllDTypes) {
    for (std::int64_t n : {1, 5, 1024, 100003}) {
      CAPTURE(dtype);
      CAPTURE(n);
      const Tensor t = full(Shape{n}, 2.5, dtype, kGpu);
      CHECK(t.device() == kGpu);
      const double want = dtype == DType::bool_ ? 1.0 : is_floating(dtype) ? 2.5 : 2.0;
      check_close(t.to_vector<double>(), std::vector<double>(std::size_t(n), want), 0.0, "full");
    }
  }
  // A strided fill writes only the viewed elements.
  const Tensor base = zeros(Shape{10}, DType::f32, kGpu);
  kernels::KernelArgs args;
  const Tensor every_other = view(base, Shape{5}, Strides{2});
  args.out = autodiff::buffer_view(every_other);
  args.scalar[0] = 7.0;
  args.device = kGpu;
  kernels::run("fill", Op::Fill, DType::f32, args);
  CHECK(base.to_vector<float>() == std::vector<float>{7, 0, 7, 0, 7, 0, 7, 0, 7, 0});

  check_close(arange(0.0, 10.0, 0.5, DType::f32, kGpu).to_vector<double>(),
              arange(0.0, 10.0, 0.5, DType::f32).to_vector<double>(), 0.0, "arange f32");
  check_close(arange(1000, DType::i64, kGpu).to_vector<double>(),
              arange(1000, DType::i64).to_vector<double>(), 0.0, "arange i64");
}

TEST_CASE("cuda: astype on the device, every dtype pair, dense and transposed" *
          doctest::skip(kNoGpu)) {
  for (DType from : kAllDTypes) {
    const Tensor host = sample(from, 37 * 29);
    const Tensor dev = host.to(kGpu);
    // A transposed view of the same data: the strided path.
    const Tensor host_t = view(host, Shape{29, 37}, Strides{1, 29});
    const Tensor dev_t = view(dev, Shape{29, 37}, Strides{1, 29});
    for (DType to : kAllDTypes) {
      CAPTURE(from);
      CAPTURE(to);
      const Tensor cast = dev.astype(to);
      CHECK(cast.device() == kGpu);
      CHECK(cast.dtype() == to);
      check_close(cast.to_vector<double>(), host.astype(to).to_vector<double>(), 0.0, "dense");
      check_close(dev_t.astype(to).to_vector<double>(), host_t.astype(to).to_vector<double>(), 0.0,
                  "transposed");
    }
  }
}

TEST_CASE("cuda: strided device copies" * doctest::skip(kNoGpu)) {
  const std::int64_t rows = 37, cols = 29;
  const std::vector<float> data = random_values<float>(rows * cols, 7, -1.0, 1.0);
  const Tensor dev = Tensor::from_vector(data, Shape{rows, cols}, kGpu);
  const Tensor dev_t = view(dev, Shape{cols, rows}, Strides{1, cols});
  const std::vector<float> want = materialize(data, Shape{cols, rows}, Strides{1, cols});

  SUBCASE("contiguous() on a transposed device tensor gathers on the device") {
    const Tensor dense = dev_t.contiguous();
    CHECK(dense.device() == kGpu);
    CHECK(dense.is_contiguous());
    CHECK(dense.shape() == Shape{cols, rows});
    check_close(dense.to_vector<float>(), want, 0.0, "contiguous");
  }
  SUBCASE("a transposed device tensor read by the host") {
    check_close(dev_t.to_vector<float>(), want, 0.0, "to_vector");
    check_close(dev_t.to(Device::cpu()).to_vector<float>(), want, 0.0, "to(cpu)");
  }
  SUBCASE("the Copy kernel writes a strided destination and nothing else") {
    const Tensor target = poisoned(Shape{2 * rows * cols}, DType::f32);
    kernels::KernelArgs args;
    const Tensor target_view = view(target, Shape{cols, rows}, Strides{2 * rows, 2});
    args.out = autodiff::buffer_view(target_view);
    args.in[0] = autodiff::buffer_view(dev_t);
    args.num_inputs = 1;
    args.device = args.in_device = kGpu;
    kernels::run("copy", Op::Copy, DType::f32, args);
    const std::vector<float> got = target.to_vector<float>();
    std::vector<float> even, odd;
    for (std::size_t i = 0; i < got.size(); ++i) (i % 2 ? odd : even).push_back(got[i]);
    check_close(even, want, 0.0, "written elements");
    CHECK(std::all_of(odd.begin(), odd.end(), [](float x) { return std::isnan(x); }));
  }
  SUBCASE("a dense device -> device Copy") {
    const Tensor out = poisoned(Shape{rows, cols}, DType::f32);
    kernels::KernelArgs args;
    args.out = autodiff::buffer_view(out);
    args.in[0] = autodiff::buffer_view(dev);
    args.num_inputs = 1;
    args.device = args.in_device = kGpu;
    kernels::run("copy", Op::Copy, DType::f32, args);
    check_close(out.to_vector<float>(), data, 0.0, "dense copy");
  }
}

TEST_CASE("cuda: copies between two GPUs" * doctest::skip(cuda_device_count() < 2)) {
  const std::vector<double> data = random_values<double>(100003, 3, -1.0, 1.0);
  const Tensor a = Tensor::from_vector(data, Device::cuda(0));
  const Tensor b = a.to(Device::cuda(1));
  CHECK(b.device() == Device::cuda(1));
  check_close(b.to_vector<double>(), data, 0.0, "cuda:0 -> cuda:1");
  check_close(b.to(Device::cuda(0)).to_vector<double>(), data, 0.0, "cuda:1 -> cuda:0");
}

TEST_CASE("cuda: the allocator counts allocations and reuses freed blocks" *
          doctest::skip(kNoGpu)) {
  Allocator& alloc = allocator_for(kGpu);
  const std::int64_t bytes = 1 << 22;
  const AllocatorStats before = alloc.stats();
  { const Tensor t = Tensor::empty(Shape{bytes / 4}, DType::f32, kGpu); }
  const AllocatorStats after_one = alloc.stats();
  CHECK(after_one.num_allocs == before.num_allocs + 1);
  CHECK(after_one.bytes_in_use == before.bytes_in_use);
  CHECK(after_one.peak_bytes_in_use >= before.bytes_in_use + bytes);
  // The same size again comes from the pool the first one went back to.
  { const Tensor t = Tensor::empty(Shape{bytes / 4}, DType::f32, kGpu); }
  const AllocatorStats after_two = alloc.stats();
  const char* cache_env = std::getenv("ELEGY_CUDA_CACHE");
  if (cache_env && std::string(cache_env) == "0") {
    // Freed blocks went straight back to the driver (as under compute-sanitizer).
    CHECK(after_two.num_cache_hits == after_one.num_cache_hits);
    CHECK(after_two.bytes_cached == 0);
    return;
  }
  CHECK(after_two.num_cache_hits == after_one.num_cache_hits + 1);
  // Freed blocks stay cached (no driver call to reuse them) until empty_cache.
  CHECK(after_two.bytes_cached >= bytes);
  alloc.empty_cache();
  CHECK(alloc.stats().bytes_cached == 0);
  CHECK(alloc.stats().bytes_in_use == before.bytes_in_use);
  // Sizes a little apart share a size class: the second is a hit.
  { const Tensor t = Tensor::empty(Shape{1000}, DType::f32, kGpu); }
  const AllocatorStats after_small = alloc.stats();
  { const Tensor t = Tensor::empty(Shape{1001}, DType::f32, kGpu); }
  CHECK(alloc.stats().num_cache_hits == after_small.num_cache_hits + 1);
}

TEST_CASE("cuda: an allocation past the GPU's memory raises an Error; the device stays usable" *
          doctest::skip(kNoGpu)) {
  // 4 TiB of float32, more than any GPU: the allocator trims its pool, retries once, then names
  // the request. (bench/gpu/run.sh leaves this case out of compute-sanitizer, which reports the
  // failed cudaMallocAsync as an API error.)
  const std::int64_t elements = std::int64_t(1) << 40;
  const std::string msg =
      error_message([&] { (void)Tensor::empty(Shape{elements}, DType::f32, kGpu); });
  CHECK(contains(msg, "cuda allocator"));
  CHECK(contains(msg, std::to_string(elements * 4) + " bytes"));
  // No error stays behind for the next call.
  CHECK(sum(ones(Shape{1000}, DType::f32, kGpu)).item<float>() == 1000.0f);
}

TEST_CASE("cuda: errors name the op and the devices" * doctest::skip(kNoGpu)) {
  const Tensor a = ones(Shape{4, 4}, DType::f32, kGpu);
  const Tensor cpu = ones(Shape{4, 4}, DType::f32);

  // Shape and axis errors on GPU tensors are raised before any kernel runs, as on the CPU.
  const Tensor b = ones(Shape{3, 5}, DType::f32, kGpu);
  std::string msg = error_message([&] { (void)matmul(a, b); });
  CHECK(contains(msg, "matmul"));
  CHECK(contains(msg, "[4,4]"));
  CHECK(contains(msg, "[3,5]"));
  msg = error_message([&] { (void)log_softmax(a, 5); });
  CHECK(contains(msg, "log_softmax"));
  msg = error_message([&] { (void)add(a, cpu); });
  CHECK(contains(msg, "cuda:0"));
  CHECK(contains(msg, "cpu"));
  // Integer division has no CUDA kernel: the dispatch table says which key is missing.
  msg = error_message([] { (void)kernels::lookup("div", Op::Div, kGpu, DType::i32); });
  CHECK(contains(msg, "div: no Div kernel for int32 on cuda:0"));
  // The caller must make a strided host source dense before a host -> device copy.
  msg = error_message([&] {
    kernels::KernelArgs args;
    const Tensor out = Tensor::empty(Shape{4, 4}, DType::f32, kGpu);
    args.out = autodiff::buffer_view(out);
    const Tensor transposed = view(cpu, Shape{4, 4}, Strides{1, 4});
    args.in[0] = autodiff::buffer_view(transposed);
    args.num_inputs = 1;
    args.device = kGpu;
    args.in_device = Device::cpu();
    kernels::run("to", Op::Copy, DType::f32, args);
  });
  CHECK(contains(msg, "copy (cuda)"));
  CHECK(contains(msg, "dense"));
}
