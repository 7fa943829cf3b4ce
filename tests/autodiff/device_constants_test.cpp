// Scalars on accelerators are made once per (device, dtype, value bits) and shared (on the meta
// device here, so the cache is tested without a GPU; with one, values are read back too).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include <elegy/elegy.hpp>

#include "elegy/autodiff/device_constants.hpp"
#include "elegy/autodiff/step_recording.hpp"

using namespace elegy;
using elegy::autodiff::device_constant;

TEST_CASE("device constants are shared per device, dtype and value bits") {
  const Device meta = Device::meta();
  const Tensor a = device_constant(2.0, DType::f32, meta);
  CHECK(a.ndim() == 0);
  CHECK(a.dtype() == DType::f32);
  CHECK(a.device() == meta);
  CHECK(device_constant(2.0, DType::f32, meta).storage() == a.storage());
  CHECK(device_constant(2.0, DType::f64, meta).storage() != a.storage());
  CHECK(device_constant(3.0, DType::f32, meta).storage() != a.storage());
  // -0.0 == 0.0 as numbers, but they are different constants.
  CHECK(device_constant(-0.0, DType::f32, meta).storage() !=
        device_constant(0.0, DType::f32, meta).storage());
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK(device_constant(nan, DType::f32, meta).storage() ==
        device_constant(nan, DType::f32, meta).storage());
  // `x * 2.0` on the device takes the shared constant: a second product allocates only its
  // output (without the cache, its 0-d operand too).
  const Tensor x = ones(Shape{3}, DType::f32, meta);
  CHECK((x * 7.5).shape() == Shape{3});
  const std::int64_t before = meta_allocator().stats().num_allocs;
  CHECK((x * 7.5).shape() == Shape{3});
  CHECK(meta_allocator().stats().num_allocs - before == 1);
  CHECK_THROWS_AS(device_constant(1.0, DType::f32, Device::cpu()), Error);
}

TEST_CASE("a constant made while a step is recorded is kept by the recording, not its block") {
  const Device meta = Device::meta();
  const Tensor made_before = device_constant(1234.5, DType::f64, meta);
  {
    // Made during the step (the first recording of a compiled step): no allocation of the step,
    // or the next recording, which finds it made, would not agree with this one.
    autodiff::StepRecording recording;
    const Tensor c = device_constant(4321.5, DType::f64, meta);
    recording.stop();
    CHECK(recording.bytes_allocated() == 0);
    CHECK(c.storage().use_count() == 3);  // c, the cache, the recording
  }
  {
    // Found made: the recording holds it too, so a replay still reads it after the cache (of
    // at most 4096 constants) has started over.
    autodiff::StepRecording recording;
    const Tensor c = device_constant(1234.5, DType::f64, meta);
    recording.stop();
    CHECK(c.storage() == made_before.storage());
    CHECK(c.storage().use_count() == 4);  // made_before, c, the cache, the recording
  }
  CHECK(made_before.storage().use_count() == 2);
}

TEST_CASE("a product of two constants is a constant made on the host, with the Mul's bits") {
  // (On the meta device no kernel runs at all: what shows the fold is that the product is the
  // shared constant of its value, not a new tensor.)
  using autodiff::device_constant_value;
  const Device meta = Device::meta();
  // f32: one float multiply, the CPU Mul kernel's result.
  const Tensor a = device_constant(0.1, DType::f32, meta);
  CHECK(device_constant_value(a) == double(0.1f));
  const float want = (scalar(0.1) * 3.0).item<float>();
  const Tensor p = a * 3.0;
  CHECK(p.storage() == device_constant(double(want), DType::f32, meta).storage());
  CHECK(device_constant_value(p) == double(want));
  // The backward's seed scaled twice (the mean's 1/n, then the L2 term's 2 l2).
  const Tensor seed = device_constant(1.0, DType::f32, meta);
  const Tensor twice = (seed * (1.0 / 64)) * (2.0 * 1e-3);
  const float twice_cpu = ((scalar(1.0) * (1.0 / 64)) * (2.0 * 1e-3)).item<float>();
  CHECK(device_constant_value(twice) == double(twice_cpu));
  CHECK(twice.storage() == device_constant(double(twice_cpu), DType::f32, meta).storage());
  // f64: the double product.
  const Tensor d = device_constant(0.1, DType::f64, meta) * 3.0;
  CHECK(device_constant_value(d) == 0.1 * 3.0);
  CHECK(d.dtype() == DType::f64);
  // Not folded: a tensor that is not a constant, mixed dtypes (the promoting Mul runs), CPU
  // scalars (written directly), a view of a constant of another shape.
  const Tensor x = ones(Shape{}, DType::f32, meta);
  CHECK_FALSE(device_constant_value(x));
  CHECK_FALSE(device_constant_value(x * 3.0));
  const Tensor mixed = a * device_constant(3.0, DType::f64, meta);
  CHECK(mixed.dtype() == DType::f64);
  CHECK_FALSE(device_constant_value(mixed));
  CHECK_FALSE(device_constant_value(scalar(2.0)));
  CHECK_FALSE(device_constant_value(reshape(a, Shape{1})));
}

TEST_CASE("cuda: shared constants hold their values through ops and training" *
          doctest::skip(!cuda_available())) {
  const Device gpu = Device::cuda();
  const Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3}, Shape{3}).to(gpu);
  CHECK((x * 2.0).to(Device::cpu()).to_vector<float>() == std::vector<float>{2, 4, 6});
  CHECK((x * 2.0 + 2.0).to(Device::cpu()).to_vector<float>() == std::vector<float>{4, 6, 8});
  CHECK(device_constant(2.0, DType::f32, gpu).to(Device::cpu()).item<float>() == 2.0f);
  CHECK(device_constant(-0.0, DType::f32, gpu).to(Device::cpu()).item<float>() == 0.0f);
  CHECK(std::signbit(device_constant(-0.0, DType::f32, gpu).to(Device::cpu()).item<float>()));
  // A product folded on the host holds what the GPU's Mul gives.
  const Tensor folded = device_constant(0.1, DType::f32, gpu) * 3.0;
  const Tensor launched = Tensor::from_vector(std::vector<float>{0.1f}, Shape{}).to(gpu) * 3.0;
  CHECK(folded.to(Device::cpu()).item<float>() == launched.to(Device::cpu()).item<float>());
}
