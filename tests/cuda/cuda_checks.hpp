// Helpers shared by the CUDA tests: random inputs, host-side references for strided and
// broadcast views, element-by-element comparison with one summary assertion (a 1M-element
// CHECK loop would take seconds), and direct kernel calls on poisoned outputs.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include <elegy/autodiff/kernel_call.hpp>
#include <elegy/elegy.hpp>

namespace elegy::cuda_test {

inline constexpr Device kGpu = Device::cuda(0);

template <class T>
std::vector<T> random_values(std::int64_t n, std::uint32_t seed, double lo, double hi) {
  std::mt19937_64 gen(seed);
  std::vector<T> v(static_cast<std::size_t>(n));
  if constexpr (std::is_floating_point_v<T>) {
    std::uniform_real_distribution<double> dist(lo, hi);
    for (auto& x : v) x = T(dist(gen));
  } else {
    std::uniform_int_distribution<std::int64_t> dist{std::int64_t(lo), std::int64_t(hi)};
    for (auto& x : v) x = T(dist(gen));
  }
  return v;
}

// Values with |x| in [0.5, 2] and a random sign: safe divisors.
template <class T>
std::vector<T> nonzero_values(std::int64_t n, std::uint32_t seed) {
  std::vector<T> v = random_values<T>(n, seed, 0.5, 2.0);
  std::mt19937 gen(seed + 1);
  for (auto& x : v)
    if (gen() & 1) x = -x;
  return v;
}

// The dense row-major contents of the view (shape, strides, offset) of `data`: the reference
// for what a kernel reading that view sees. Broadcast dims have stride 0.
template <class T>
std::vector<T> materialize(const std::vector<T>& data, const Shape& shape, const Strides& strides,
                           std::int64_t offset = 0) {
  std::vector<T> out(static_cast<std::size_t>(shape.numel()));
  for (std::int64_t i = 0; i < shape.numel(); ++i) {
    std::int64_t rest = i, at = offset;
    for (int d = shape.size() - 1; d >= 0; --d) {
      at += (rest % shape[d]) * strides[d];
      rest /= shape[d];
    }
    out[std::size_t(i)] = data[std::size_t(at)];
  }
  return out;
}

// Every element within atol + rtol * |want| (NaN never matches: an unwritten poisoned output
// fails). Reports the count and the first mismatch.
template <class T>
void check_close(const std::vector<T>& got, const std::vector<T>& want, double rtol,
                 const std::string& what, double atol = 0.0) {
  REQUIRE_MESSAGE(got.size() == want.size(), what);
  std::size_t bad = 0, first = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double g = double(got[i]), w = double(want[i]);
    if (!(std::abs(g - w) <= atol + rtol * std::abs(w))) {
      if (bad++ == 0) first = i;
    }
  }
  INFO(what, ": ", bad, " of ", got.size(), " elements differ; first at ", first,
       bad ? ": got " + std::to_string(double(got[first])) + ", want " +
                 std::to_string(double(want[first]))
           : std::string());
  CHECK(bad == 0);
}

// The message of the elegy::Error `fn` throws; FAILs when it throws none.
template <class Fn>
std::string error_message(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  FAIL("expected an elegy::Error");
  return {};
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A view of `t`'s storage (for transposed, strided or misaligned device operands).
inline Tensor view(const Tensor& t, const Shape& shape, const Strides& strides,
                   std::int64_t offset = 0) {
  return Tensor::view_of(t.storage(), shape, strides, t.offset() + offset, t.dtype());
}

// Marks every element of a device tensor as unwritten: NaN for floats, and for integers a value
// no test result comes near.
inline constexpr double kIntPoison = -123456789.0;

inline Tensor poisoned(const Shape& shape, DType dtype) {
  Tensor out = Tensor::empty(shape, dtype, kGpu);
  kernels::KernelArgs args;
  args.out = autodiff::buffer_view(out);
  args.scalar[0] = is_floating(dtype) ? std::numeric_limits<double>::quiet_NaN() : kIntPoison;
  args.device = kGpu;
  kernels::run("poison", kernels::Op::Fill, dtype, args);
  return out;
}

// Runs the CUDA kernel of `op` directly on a poisoned output of `shape`; `a` and `b` are
// broadcast to it (b undefined for a unary op).
inline Tensor run_kernel(kernels::Op op, const Shape& shape, const Tensor& a,
                         const Tensor& b = Tensor()) {
  Tensor out = poisoned(shape, a.dtype());
  kernels::KernelArgs args;
  args.out = autodiff::buffer_view(out);
  args.in[0] = autodiff::broadcast_view(a, shape);
  args.num_inputs = 1;
  if (b.defined()) {
    args.in[1] = autodiff::broadcast_view(b, shape);
    args.num_inputs = 2;
  }
  args.device = kGpu;
  kernels::run("cuda test", op, a.dtype(), args);
  return out;
}

}  // namespace elegy::cuda_test
