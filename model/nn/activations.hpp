// Activation functions beyond the ops (relu, sigmoid, tanh, gelu, softplus live in
// autodiff/ops_elementwise.hpp), written with ops so they differentiate to any order, and
// `nn::Activation` objects that name them, so Sequential can hold them and summary() shows a
// row for each ("relu").
#pragma once

#include <string>

#include "elegy/core/tensor.hpp"

namespace elegy {

Tensor elu(const Tensor& x, double alpha = 1.0);
Tensor celu(const Tensor& x, double alpha = 1.0);
Tensor selu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
Tensor relu6(const Tensor& x);
Tensor silu(const Tensor& x);          // x * sigmoid(x), a.k.a. swish
Tensor hard_sigmoid(const Tensor& x);  // relu6(x + 3) / 6 (JAX's definition)
Tensor hard_tanh(const Tensor& x);     // clip(x, -1, 1)
Tensor log_sigmoid(const Tensor& x);   // -softplus(-x), stable for large |x|
Tensor softsign(const Tensor& x);      // x / (1 + |x|)
Tensor mish(const Tensor& x);          // x * tanh(softplus(x))

}  // namespace elegy

namespace elegy::nn {

class Context;

// A named activation: callable like the function, and a layer of Sequential. Called with the
// context, it also leaves a summary row: `h = nn::relu(ctx, h);`.
struct Activation {
  const char* name;
  Tensor (*fn)(const Tensor&);
  Tensor operator()(const Tensor& x) const { return fn(x); }
  Tensor operator()(Context& ctx, const Tensor& x) const;
};

extern const Activation relu;
extern const Activation sigmoid;
extern const Activation tanh;
extern const Activation gelu;  // tanh approximation (as jax.nn.gelu's default)
extern const Activation softplus;
extern const Activation elu;
extern const Activation celu;
extern const Activation selu;
extern const Activation leaky_relu;
extern const Activation relu6;
extern const Activation silu;
extern const Activation hard_sigmoid;
extern const Activation hard_tanh;
extern const Activation log_sigmoid;
extern const Activation softsign;
extern const Activation mish;
extern const Activation softmax;      // over the last axis
extern const Activation log_softmax;  // over the last axis

}  // namespace elegy::nn
