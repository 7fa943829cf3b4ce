// CUDA kernels against the CPU kernels on the same inputs: operands uploaded to both devices
// with one layout (broadcast, transposed, offset), one KernelArgs run on each device, the CUDA
// output poisoned first so an element the kernel never writes cannot match. The CPU kernels are
// the reference semantics (kernels/cpu/); these helpers only move data and compare.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "cuda/cuda_checks.hpp"

namespace elegy::cuda_test {

// One operand on both devices: the same values, viewed with the same shape/strides/offset.
struct Pair {
  Tensor cpu, gpu;
};

// `values` stored densely on each device, seen as (shape, strides, offset) of that storage.
template <class T>
Pair pair_view(const std::vector<T>& values, const Shape& shape, const Strides& strides,
               std::int64_t offset = 0) {
  const Shape flat{std::int64_t(values.size())};
  const Tensor cpu = Tensor::from_vector(values, flat);
  const Tensor gpu = Tensor::from_vector(values, flat, kGpu);
  return {view(cpu, shape, strides, offset), view(gpu, shape, strides, offset)};
}

template <class T>
Pair pair_dense(const std::vector<T>& values, const Shape& shape) {
  return pair_view(values, shape, contiguous_strides(shape));
}

// bool operands from 0/1 bytes (std::vector<bool> has no data()).
inline Pair pair_bools(const std::vector<std::uint8_t>& values, const Shape& shape,
                       const Strides& strides, std::int64_t offset = 0) {
  const Pair bytes = pair_view(values, shape, strides, offset);
  auto as_bool = [](const Tensor& t) {
    return Tensor::view_of(t.storage(), t.shape(), t.strides(), t.offset(), DType::bool_);
  };
  return {as_bool(bytes.cpu), as_bool(bytes.gpu)};
}

// A dense CUDA tensor whose every byte says "unwritten": NaN for floats, kIntPoison for wide
// integers, 0xAB for bool and uint8 (a byte no 0/1 result and few uint8 results hold).
inline Tensor poisoned_any(const Shape& shape, DType dtype) {
  if (dtype != DType::bool_ && dtype != DType::u8) return poisoned(shape, dtype);
  Tensor out = Tensor::empty(shape, dtype, kGpu);
  kernels::KernelArgs args;
  args.out = autodiff::buffer_view(out);
  args.out.dtype = DType::u8;
  args.scalar[0] = 0xAB;
  args.device = kGpu;
  kernels::run("poison", kernels::Op::Fill, DType::u8, args);
  return out;
}

// The raw bytes of a bool tensor (0xAB poison survives, unlike a conversion to bool).
inline std::vector<std::uint8_t> bool_bytes(const Tensor& t) {
  return Tensor::view_of(t.storage(), t.shape(), t.strides(), t.offset(), DType::u8)
      .to_vector<std::uint8_t>();
}

// ---- operands: values of a kind, laid out over a storage buffer ----

// What an operand holds.
enum class Values {
  general,       // floats in [-12, 12]; integers over a wide range
  small_ints,    // integers in [-3, 3] (in floats too): many ties for comparisons and argmax
  pow_base,      // floats in [-3, 3]; integers in [-5, 5]
  pow_exponent,  // halves in [-3, 3] (so integer exponents of negative bases occur); [-3, 12]
  positive,      // floats in [0.5, 2]; integers in [1, 3]: sums without cancellation
  near_one,      // floats in [0.99, 1.01]; integers in {-1, 1}: long products stay finite
};

// n values of `kind`. Every `special_every`-th value (0: none) is an edge case: for floats an
// IEEE special (NaN, infinities, signed zeros, tiny and huge magnitudes), for `general`
// integers the type's extremes, so the kernels' edge cases are compared with the CPU's too.
template <class T>
std::vector<T> make_values(std::int64_t n, std::uint32_t seed, Values kind,
                           std::int64_t special_every = 7) {
  std::mt19937_64 gen(seed);
  std::vector<T> v(static_cast<std::size_t>(n));
  auto is_special = [&](std::int64_t i) {
    return special_every > 0 && i % special_every == special_every / 2;
  };
  if constexpr (std::is_floating_point_v<T>) {
    constexpr T inf = std::numeric_limits<T>::infinity();
    const T special[] = {std::numeric_limits<T>::quiet_NaN(),
                         inf,
                         -inf,
                         T(0),
                         -T(0),
                         T(1e-30),
                         T(-1e30),
                         T(1),
                         T(-1)};
    std::uniform_real_distribution<double> real(-12.0, 12.0), unit(-3.0, 3.0), pos(0.5, 2.0),
        near(0.99, 1.01);
    for (std::int64_t i = 0; i < n; ++i) {
      double x = 0;
      switch (kind) {
        case Values::general:
          x = real(gen);
          break;
        case Values::small_ints:
          x = std::round(unit(gen));
          break;
        case Values::pow_base:
          x = unit(gen);
          break;
        case Values::pow_exponent:
          x = std::round(2 * unit(gen)) / 2;
          break;
        case Values::positive:
          x = pos(gen);
          break;
        case Values::near_one:
          x = near(gen);
          break;
      }
      v[std::size_t(i)] =
          is_special(i) ? special[std::size_t(i / special_every) % std::size(special)] : T(x);
    }
  } else {
    constexpr bool kSigned = std::is_signed_v<T>;
    std::int64_t lo = 0, hi = 0;
    switch (kind) {
      case Values::general:
        lo = kSigned ? -100000 : 0, hi = kSigned ? 100000 : 255;
        break;
      case Values::small_ints:
        lo = kSigned ? -3 : 0, hi = 3;
        break;
      case Values::pow_base:
        lo = kSigned ? -5 : 0, hi = 5;
        break;
      case Values::pow_exponent:
        lo = kSigned ? -3 : 0, hi = 12;
        break;
      case Values::positive:
        lo = 1, hi = 3;
        break;
      case Values::near_one:
        lo = kSigned ? -1 : 1, hi = 1;
        break;
    }
    std::uniform_int_distribution<std::int64_t> dist(lo, hi);
    const T extreme[] = {std::numeric_limits<T>::lowest(), std::numeric_limits<T>::max(), T(0)};
    for (std::int64_t i = 0; i < n; ++i) {
      T x = T(dist(gen));
      if (kind == Values::near_one && x == T(0)) x = T(1);
      const bool special = kind == Values::general && is_special(i);
      v[std::size_t(i)] = special ? extreme[std::size_t(i / special_every) % 3] : x;
    }
  }
  return v;
}

// One operand's view of its storage.
struct OperandLayout {
  Shape shape;
  Strides strides;
  std::int64_t offset = 0;
};

// Elements of storage the view needs (at least one).
inline std::int64_t storage_size(const OperandLayout& l) {
  std::int64_t last = l.offset;
  for (int i = 0; i < l.shape.size(); ++i) {
    if (l.shape[i] == 0) return l.offset + 1;
    last += (l.shape[i] - 1) * l.strides[i];
  }
  return last + 1;
}

// An operand of `dtype` (T is its storage type: uint8_t for bool) laid out as `l`. Bools are
// 0/1 bytes; `general` ones also hold some 2s, which the elementwise kernels of both devices
// read as true (the CPU's reductions load bools as C++ bool, for which only 0/1 are defined).
template <class T>
Pair make_operand(DType dtype, const OperandLayout& l, std::uint32_t seed, Values kind,
                  std::int64_t special_every = 7) {
  const std::int64_t n = storage_size(l);
  if (dtype == DType::bool_) {
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(n));
    std::mt19937 gen(seed);
    for (auto& b : bytes)
      b = std::uint8_t(kind == Values::general && gen() % 5 == 0 ? 2 : gen() % 2);
    return pair_bools(bytes, l.shape, l.strides, l.offset);
  }
  return pair_view(make_values<T>(n, seed, kind, special_every), l.shape, l.strides, l.offset);
}

// Everything of a kernel call but its operands.
struct Call {
  kernels::Op op = kernels::Op::Add;
  DType key = DType::f32;  // the registry's dtype key
  std::int64_t ints[4] = {0, 0, 0, 0};
  double scalar[2] = {0.0, 0.0};
  std::uint32_t rng_key[2] = {0, 0};
};

// The outputs of one call on each device.
struct Outputs {
  Tensor cpu, gpu;
};

// Runs `call` on the CPU (into a fresh tensor) and on the GPU (into a poisoned one), out of
// `out_shape` and `out_dtype`. Inputs are seen broadcast to `broadcast` when it is given
// (elementwise ops), as they are otherwise (reductions, indexing).
inline Outputs run_both(const Call& call, const Shape& out_shape, DType out_dtype,
                        const std::vector<Pair>& inputs, const Shape* broadcast = nullptr) {
  Outputs o{Tensor::empty(out_shape, out_dtype), poisoned_any(out_shape, out_dtype)};
  for (const bool on_gpu : {false, true}) {
    kernels::KernelArgs args;
    args.out = autodiff::buffer_view(on_gpu ? o.gpu : o.cpu);
    args.num_inputs = int(inputs.size());
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      const Tensor& t = on_gpu ? inputs[k].gpu : inputs[k].cpu;
      args.in[k] = broadcast ? autodiff::broadcast_view(t, *broadcast) : autodiff::buffer_view(t);
    }
    for (int i = 0; i < 4; ++i) args.ints[i] = call.ints[i];
    args.scalar[0] = call.scalar[0];
    args.scalar[1] = call.scalar[1];
    args.key[0] = call.rng_key[0];
    args.key[1] = call.rng_key[1];
    args.device = on_gpu ? kGpu : Device::cpu();
    args.in_device = args.device;
    kernels::run("cuda vs cpu", call.op, call.key, args);
  }
  return o;
}

// Exact equality of every element (bit patterns for floats, so -0 differs from 0; any NaN
// matches any NaN, as the devices' NaN payloads differ), reporting the count and the first
// difference in one assertion.
template <class T>
void check_identical(const std::vector<T>& got, const std::vector<T>& want,
                     const std::string& what) {
  REQUIRE_MESSAGE(got.size() == want.size(), what);
  std::size_t bad = 0, first = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    bool same = got[i] == want[i];
    if constexpr (std::is_floating_point_v<T>) {
      same = std::memcmp(&got[i], &want[i], sizeof(T)) == 0 ||
             (std::isnan(got[i]) && std::isnan(want[i]));
    }
    if (!same && bad++ == 0) first = i;
  }
  INFO(what, ": ", bad, " of ", got.size(), " elements differ; first at ", first,
       bad ? ": got " + std::to_string(double(got[first])) + ", want " +
                 std::to_string(double(want[first]))
           : std::string());
  CHECK(bad == 0);
}

// Elements equal within atol + rtol * |want|, where NaN matches NaN and an infinity only the
// same infinity (the CPU reference may legitimately produce either).
template <class T>
void check_matches(const std::vector<T>& got, const std::vector<T>& want, double rtol, double atol,
                   const std::string& what) {
  REQUIRE_MESSAGE(got.size() == want.size(), what);
  std::size_t bad = 0, first = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double g = double(got[i]), w = double(want[i]);
    bool ok;
    if (std::isnan(w))
      ok = std::isnan(g);
    else if (std::isinf(w))
      ok = g == w;
    else
      ok = std::abs(g - w) <= atol + rtol * std::abs(w);
    if (!ok && bad++ == 0) first = i;
  }
  INFO(what, ": ", bad, " of ", got.size(), " elements differ; first at ", first,
       bad ? ": got " + std::to_string(double(got[first])) + ", want " +
                 std::to_string(double(want[first]))
           : std::string());
  CHECK(bad == 0);
}

// Compares the two outputs of run_both as T (bools as raw bytes): exactly when rtol and atol are
// 0, within tolerance otherwise.
template <class T>
void compare_outputs(const Outputs& o, double rtol, double atol, const std::string& what) {
  if (o.cpu.dtype() == DType::bool_) {
    check_identical(bool_bytes(o.gpu), bool_bytes(o.cpu), what);
    return;
  }
  const std::vector<T> got = o.gpu.to_vector<T>(), want = o.cpu.to_vector<T>();
  if (rtol == 0.0 && atol == 0.0)
    check_identical(got, want, what);
  else
    check_matches(got, want, rtol, atol, what);
}

}  // namespace elegy::cuda_test
