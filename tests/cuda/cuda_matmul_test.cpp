// cuBLAS matmul against the CPU (OpenBLAS) on the same inputs: plain, transposed and strided
// (packed) operands, broadcast batches, odd sizes and K = 0. Skipped when no GPU is visible.
#include <doctest/doctest.h>

#include "cuda/cuda_checks.hpp"

using namespace elegy;
using namespace elegy::cuda_test;

namespace {

const bool kNoGpu = !cuda_available();

Tensor host_random(const Shape& shape, std::uint32_t seed, DType dtype) {
  return Tensor::from_vector(random_values<double>(shape.numel(), seed, -1.0, 1.0), shape)
      .astype(dtype);
}

void check_close(const Tensor& gpu, const Tensor& cpu, double tol) {
  REQUIRE(gpu.shape() == cpu.shape());
  const std::vector<double> g = gpu.to(Device::cpu()).astype(DType::f64).to_vector<double>();
  const std::vector<double> c = cpu.astype(DType::f64).to_vector<double>();
  double worst = 0.0;
  for (std::size_t i = 0; i < g.size(); ++i) worst = std::max(worst, std::abs(g[i] - c[i]));
  CHECK(worst <= tol);
}

}  // namespace

TEST_CASE("cuda: matmul matches the CPU for plain, transposed, strided and batched operands" *
          doctest::skip(kNoGpu)) {
  for (DType dt : {DType::f32, DType::f64}) {
    const double tol = dt == DType::f32 ? 1e-4 : 1e-12;
    struct Case {
      Shape a, b;
    };
    for (const Case& c :
         {Case{{1, 1}, {1, 1}}, Case{{17, 33}, {33, 9}}, Case{{128, 784}, {784, 300}},
          Case{{3, 5, 7}, {3, 7, 4}}, Case{{4, 6, 8}, {8, 5}}, Case{{2, 1, 3, 5}, {4, 5, 2}}}) {
      const Tensor a = host_random(c.a, 1, dt), b = host_random(c.b, 2, dt);
      check_close(matmul(a.to(kGpu), b.to(kGpu)), matmul(a, b), tol);
      // Transposed views (cuBLAS' OP_T) and a strided slice (packed first).
      const Tensor at =
          swapaxes(host_random(Shape{c.a[c.a.size() - 1], c.a[c.a.size() - 2]}, 3, dt), 0, 1);
      if (c.a.size() == 2) check_close(matmul(at.to(kGpu), b.to(kGpu)), matmul(at, b), tol);
      const Tensor wide = host_random(Shape{c.b[0], c.b[c.b.size() - 1] * 2}, 4, dt);
      if (c.b.size() == 2) {
        const Tensor bs = slice(wide, 0, wide.shape(1), 2, 1);  // column stride 2
        check_close(matmul(a.to(kGpu), bs.to(kGpu)), matmul(a, bs), tol);
      }
    }
    // K = 0: zeros.
    check_close(matmul(zeros({3, 0}, dt).to(kGpu), zeros({0, 4}, dt).to(kGpu)), zeros({3, 4}, dt),
                0.0);
  }
}
