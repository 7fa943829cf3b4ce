// The pieces of bias_act that conv_bias_act (ops_conv.cpp) shares: the argument checks, the
// BiasAct kernel call, and the backward's two halves. Internal to the autodiff layer.
#pragma once

#include "elegy/autodiff/node.hpp"
#include "elegy/autodiff/ops_bias_act.hpp"

namespace elegy::autodiff {

// Error unless y is a float [..., C] tensor and b (when defined) a [C] one like it.
void check_bias(const char* op, const Tensor& y, const Tensor& b);
// out = act(y + b) (dense out and y of one shape, may be the same buffer; b dense or undefined).
void run_bias_act(const char* what, const Tensor& out, const Tensor& y, const Tensor& b,
                  FusedActivation act);
// The cotangent of the pre-activation sum given g, the cotangent of out = act(sum).
Tensor activation_grad(const Tensor& g, const Tensor& out, FusedActivation act);
// The bias's cotangent: gz summed over every axis but the last.
Tensor bias_grad(const Tensor& gz);

}  // namespace elegy::autodiff
