// Initializers (Elegy/Haiku's elegy.initializers): functions from a key, a shape, a dtype and a
// device to a fresh tensor. Modules hand one to ctx.param(); the context draws the key from the
// model's random sequence, so a model's initial parameters follow from its seed.
//
// Fans follow Haiku: for a kernel [*receptive, fan_in_channels, fan_out_channels] (Linear's
// [in, out], a conv's [*kernel, C_in/groups, C_out]) fan_in = prod(shape[:-1]) and
// fan_out = shape[-1] * prod(receptive); a 1-D shape has fan_in = fan_out = its size.
#pragma once

#include <functional>
#include <string>

#include "elegy/core/device.hpp"
#include "elegy/core/dtype.hpp"
#include "elegy/core/random.hpp"
#include "elegy/core/shape.hpp"
#include "elegy/core/tensor.hpp"

namespace elegy::initializers {

using Initializer = std::function<Tensor(const Key&, const Shape&, DType, Device)>;

Initializer constant(double value);
Initializer zeros();
Initializer ones();
Initializer uniform(double minval = 0.0, double maxval = 1.0);  // RandomUniform
Initializer normal(double stddev = 1.0, double mean = 0.0);     // RandomNormal
// Normal truncated to mean ± 2 stddev (Haiku's TruncatedNormal; the stddev is of the untruncated
// distribution).
Initializer truncated_normal(double stddev = 1.0, double mean = 0.0);

enum class FanMode { fan_in, fan_out, fan_avg };
enum class Distribution { truncated_normal, normal, uniform };
// Haiku's VarianceScaling: variance scale / fan. The truncated normal's stddev is corrected by
// 0.87962566103423978 (the stddev of a standard normal truncated to ±2) so the resulting
// variance is exactly scale / fan.
Initializer variance_scaling(double scale = 1.0, FanMode mode = FanMode::fan_in,
                             Distribution distribution = Distribution::truncated_normal);
Initializer glorot_uniform();  // scale 1, fan_avg, uniform (Keras' default Dense kernel)
Initializer glorot_normal();   // scale 1, fan_avg, truncated normal
Initializer he_uniform();      // scale 2, fan_in, uniform
Initializer he_normal();       // scale 2, fan_in, truncated normal
Initializer lecun_uniform();   // scale 1, fan_in, uniform
Initializer lecun_normal();    // scale 1, fan_in, truncated normal
// A (semi-)orthogonal matrix over the last axis (rows = prod(shape[:-1])) times `scale`, from
// the QR decomposition of a normal matrix with the signs of R's diagonal folded in (as Haiku).
Initializer orthogonal(double scale = 1.0);

struct Fans {
  double fan_in = 1.0;
  double fan_out = 1.0;
};
Fans compute_fans(const Shape& shape);

}  // namespace elegy::initializers
