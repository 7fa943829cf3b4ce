// Fused layer epilogues: a bias and an activation in one pass over a layer's output, and relu's
// backward in one pass. Linear and Conv modules end in these (nn::LinearOptions::activation,
// nn::ConvOptions::activation), as Keras layers take activation="relu".
//
// Why: in eager mode `relu(matmul(x, w) + b)` writes the product, then the sum, then the relu,
// and its backward compares, then selects; each is a full pass over the layer's output, which
// for a conv layer is megabytes. bias_act makes it one pass, conv_bias_act (ops_conv.hpp) none
// at all (it runs on each chunk of rows while the GEMM's output is still in cache), and
// relu_backward one. Results equal the unfused ops bit for bit.
#pragma once

#include "elegy/core/tensor.hpp"

namespace elegy {

enum class FusedActivation { none, relu };

// act(y + b), b [C] broadcast over the last axis of y [..., C]; an undefined b adds nothing.
// float32 / float64; y, b on one device.
Tensor bias_act(const Tensor& y, const Tensor& b, FusedActivation act = FusedActivation::none);

// relu's backward given its output: g where y = relu(x) > 0 (exactly where x > 0), else 0.
// g and y share shape, dtype and device. Linear in g; y's own cotangent is zero.
Tensor relu_backward(const Tensor& g, const Tensor& y);

}  // namespace elegy
