// The arithmetic behind the conv ops (autodiff/ops_conv.cpp): im2col / col2im kernels chained
// with the Matmul kernel, chunk by chunk through one reused column buffer. Internal to the
// autodiff layer; no checks and no tape here, the ops have done both.
#pragma once

#include "elegy/autodiff/ops_bias_act.hpp"
#include "elegy/core/tensor.hpp"
#include "elegy/kernels/conv_geometry.hpp"

namespace elegy::autodiff::conv {

// Preconditions shared by the three: one dtype (float32 / float64) and device; `w` and `gy`
// dense; `x` any strides; the output dense, allocated by the caller with the shapes the
// geometry implies (out [N, *out, C_out], dx [N, *in, C_in], dw [*kernel, C_in/groups, C_out]).
// What forward does to each chunk of output rows right after its GEMM, while the rows are in
// cache: out = act(out + bias) (bias [C_out] dense or undefined). The default does nothing.
struct Epilogue {
  Tensor bias;
  FusedActivation act = FusedActivation::none;
  bool active() const { return bias.defined() || act != FusedActivation::none; }
};

// Off the CPU, the most column elements one chunk may hold (default 2^24); returns the previous
// value, <= 0 restores the default. For tests: a small cap runs the multi-chunk paths on a GPU.
std::int64_t set_max_device_chunk_elements(std::int64_t elements);

void forward(const Tensor& x, const Tensor& w, const Tensor& out, const kernels::ConvGeometry& g,
             const Epilogue& epilogue = {});
void input_grad(const Tensor& gy, const Tensor& w, const Tensor& dx,
                const kernels::ConvGeometry& g);
void filter_grad(const Tensor& x, const Tensor& gy, const Tensor& dw,
                 const kernels::ConvGeometry& g);

// The backward pass of act(conv(x, w) + b) (y its output, gy y's cotangent) in one sweep over
// the images, where the direct kernels apply (CPU, one group, stride 1, 1-D/2-D; see
// conv_compute.cpp): the activation's mask, the bias sum, the filter and the input gradients
// from each image's masked cotangent while it is in cache. Fills the non-null outputs (dx like
// x, dw like w, db [C_out]) and returns true; returns false, computing nothing, elsewhere.
bool fused_backward(const Tensor& x, const Tensor& w, const Tensor& gy, const Tensor& y,
                    FusedActivation act, const kernels::ConvGeometry& g, Tensor* dx, Tensor* dw,
                    Tensor* db);

}  // namespace elegy::autodiff::conv
