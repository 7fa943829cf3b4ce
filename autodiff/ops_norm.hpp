// Normalisation: batch statistics and the normalisations built on them (LayerNorm, BatchNorm).
//
// Everything normalises over `axes` (the statistics' axes, jax.numpy-style: negative from the
// end, empty = all): y = (x - mean) * rsqrt(var + eps) * scale + offset, with the biased
// (population) variance. scale and offset broadcast against x; an undefined Tensor() means none.
// LayerNorm uses axes = {-1}, BatchNorm all axes but the channels.
#pragma once

#include "elegy/autodiff/axes.hpp"
#include "elegy/core/tensor.hpp"

namespace elegy {

// Mean and biased variance over `axes`, both with keepdims=true shapes (jax.nn's moments). One
// fused pass per row of statistics; gradients flow through both.
struct Moments {
  Tensor mean;
  Tensor var;
};
Moments moments(const Tensor& x, const Axes& axes);

// (x - mean) * rsqrt(var + eps) * scale + offset, all broadcasting against x (scale and offset
// may be undefined: none). Differentiable in every tensor argument.
Tensor normalize(const Tensor& x, const Tensor& mean, const Tensor& var, const Tensor& scale,
                 const Tensor& offset, double eps);

// Normalises x over `axes` with its own statistics, computed and applied in one fused kernel
// over each row (the backward pass is fused too).
Tensor layer_norm(const Tensor& x, const Axes& axes, const Tensor& scale, const Tensor& offset,
                  double eps = 1e-5);

// Training-mode batch normalisation: normalises with the batch statistics over `axes` and
// returns them (keepdims shapes, biased variance) for the module's moving averages. Gradients
// flow through y, mean and var.
struct BatchNormResult {
  Tensor y;
  Tensor mean;
  Tensor var;
};
BatchNormResult batch_norm_train(const Tensor& x, const Axes& axes, const Tensor& scale,
                                 const Tensor& offset, double eps = 1e-5);

}  // namespace elegy
