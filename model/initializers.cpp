// Initializers: thin compositions of the random distributions (autodiff/random.cpp), scaled on
// the host side of the formula so each initializer is one kernel plus at most one multiply.
#include "elegy/model/initializers.hpp"

#include <cmath>
#include <vector>

#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/core/error.hpp"

namespace elegy::initializers {
namespace {

void check_float(const char* who, DType dtype) {
  ELEGY_CHECK(is_floating(dtype), who, "initializes parameters of a floating dtype, got ",
              name(dtype));
}

Tensor affine(const Tensor& standard, double scale, double shift) {
  if (scale == 1.0 && shift == 0.0) return standard;
  Tensor t = standard * scale;
  return shift == 0.0 ? t : t + shift;
}

// stddev of a standard normal truncated to [-2, 2].
constexpr double kTruncatedStddev = 0.87962566103423978;

}  // namespace

Fans compute_fans(const Shape& shape) {
  const int r = shape.size();
  if (r == 0) return {1.0, 1.0};
  if (r == 1) return {double(shape[0]), double(shape[0])};
  double receptive = 1.0;
  for (int i = 0; i < r - 2; ++i) receptive *= double(shape[i]);
  return {double(shape[r - 2]) * receptive, double(shape[r - 1]) * receptive};
}

Initializer constant(double value) {
  return [value](const Key&, const Shape& shape, DType dtype, Device device) {
    return full(shape, value, dtype, device);
  };
}
Initializer zeros() {
  return constant(0.0);
}
Initializer ones() {
  return constant(1.0);
}

Initializer uniform(double minval, double maxval) {
  ELEGY_CHECK(minval < maxval, "initializers::uniform", "expected minval < maxval, got [", minval,
              ", ", maxval, ")");
  return [=](const Key& key, const Shape& shape, DType dtype, Device device) {
    check_float("initializers::uniform", dtype);
    return random::uniform(key, shape, dtype, minval, maxval, device);
  };
}

Initializer normal(double stddev, double mean) {
  ELEGY_CHECK(stddev >= 0.0, "initializers::normal", "stddev must be >= 0, got ", stddev);
  return [=](const Key& key, const Shape& shape, DType dtype, Device device) {
    check_float("initializers::normal", dtype);
    return affine(random::normal(key, shape, dtype, device), stddev, mean);
  };
}

Initializer truncated_normal(double stddev, double mean) {
  ELEGY_CHECK(stddev >= 0.0, "initializers::truncated_normal", "stddev must be >= 0, got ", stddev);
  return [=](const Key& key, const Shape& shape, DType dtype, Device device) {
    check_float("initializers::truncated_normal", dtype);
    return affine(random::truncated_normal(key, -2.0, 2.0, shape, dtype, device), stddev, mean);
  };
}

Initializer variance_scaling(double scale, FanMode mode, Distribution distribution) {
  ELEGY_CHECK(scale > 0.0, "initializers::variance_scaling", "scale must be positive, got ", scale);
  return [=](const Key& key, const Shape& shape, DType dtype, Device device) {
    check_float("initializers::variance_scaling", dtype);
    const Fans f = compute_fans(shape);
    const double fan = mode == FanMode::fan_in    ? f.fan_in
                       : mode == FanMode::fan_out ? f.fan_out
                                                  : (f.fan_in + f.fan_out) / 2.0;
    const double variance = scale / std::max(1.0, fan);
    switch (distribution) {
      case Distribution::truncated_normal:
        return affine(random::truncated_normal(key, -2.0, 2.0, shape, dtype, device),
                      std::sqrt(variance) / kTruncatedStddev, 0.0);
      case Distribution::normal:
        return affine(random::normal(key, shape, dtype, device), std::sqrt(variance), 0.0);
      case Distribution::uniform: {
        const double limit = std::sqrt(3.0 * variance);
        return random::uniform(key, shape, dtype, -limit, limit, device);
      }
    }
    fail("initializers::variance_scaling", "unknown distribution");
  };
}

Initializer glorot_uniform() {
  return variance_scaling(1.0, FanMode::fan_avg, Distribution::uniform);
}
Initializer glorot_normal() {
  return variance_scaling(1.0, FanMode::fan_avg, Distribution::truncated_normal);
}
Initializer he_uniform() {
  return variance_scaling(2.0, FanMode::fan_in, Distribution::uniform);
}
Initializer he_normal() {
  return variance_scaling(2.0, FanMode::fan_in, Distribution::truncated_normal);
}
Initializer lecun_uniform() {
  return variance_scaling(1.0, FanMode::fan_in, Distribution::uniform);
}
Initializer lecun_normal() {
  return variance_scaling(1.0, FanMode::fan_in, Distribution::truncated_normal);
}

Initializer orthogonal(double scale) {
  return [scale](const Key& key, const Shape& shape, DType dtype, Device device) {
    check_float("initializers::orthogonal", dtype);
    ELEGY_CHECK(shape.size() >= 2, "initializers::orthogonal", "needs a shape of rank >= 2, got ",
                shape);
    const std::int64_t cols = shape[shape.size() - 1];
    const std::int64_t rows = shape.numel() / cols;
    // Orthonormalise the columns of the taller orientation with modified Gram-Schmidt in f64
    // (init-time only, so the host loop is fine), then transpose back when rows < cols.
    const bool tall = rows >= cols;
    const std::int64_t m = tall ? rows : cols, n = tall ? cols : rows;
    std::vector<double> a =
        random::normal(key, Shape{n, m}, DType::f64).to_vector<double>();  // n vectors of m
    for (std::int64_t j = 0; j < n; ++j) {
      double* v = &a[std::size_t(j * m)];
      for (std::int64_t k = 0; k < j; ++k) {
        const double* u = &a[std::size_t(k * m)];
        double dot = 0.0;
        for (std::int64_t i = 0; i < m; ++i) dot += u[i] * v[i];
        for (std::int64_t i = 0; i < m; ++i) v[i] -= dot * u[i];
      }
      double norm = 0.0;
      for (std::int64_t i = 0; i < m; ++i) norm += v[i] * v[i];
      norm = std::sqrt(norm);
      for (std::int64_t i = 0; i < m; ++i) v[i] /= norm;
    }
    // a holds n orthonormal vectors of length m: as [n, m] it is the transpose of the tall case.
    std::vector<double> out(std::size_t(rows * cols));
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < cols; ++c)
        out[std::size_t(r * cols + c)] =
            scale * (tall ? a[std::size_t(c * m + r)] : a[std::size_t(r * m + c)]);
    return Tensor::from_vector(out, shape).astype(dtype).to(device);
  };
}

}  // namespace elegy::initializers
