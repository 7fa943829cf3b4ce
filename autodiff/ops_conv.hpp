// Convolutions, channels-last, with the semantics of XLA's conv_general_dilated (Haiku's
// ConvND) and its transpose. float32 and float64, 1 to 3 spatial dimensions.
//
// On the CPU, stride-1 convs with one group (1-D/2-D) run as direct implicit-GEMM kernels
// (kernels/cpu/conv_direct*.cpp: register tiles read a zero-padded copy of each image); the
// others as im2col + GEMM: the input windows of a chunk of output positions are copied into a
// reused column buffer and one OpenBLAS GEMM per group contracts them with the weight, and the
// backward passes use the same two pieces (GEMM then col2im for the input gradient, im2col then
// GEMM for the filter gradient). Each op's backward rule is written with the ops of this header,
// so derivatives of any order work; a first-order backward of conv_bias_act on the direct path
// runs as one fused kernel (see autodiff/conv_compute.hpp).
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "elegy/autodiff/ops_bias_act.hpp"
#include "elegy/core/tensor.hpp"

namespace elegy {

struct ConvOptions {
  std::vector<std::int64_t> strides{};  // per spatial dim; empty = all 1
  // (low, high) zero padding per spatial dim; empty = none. Negative values crop, as in XLA.
  std::vector<std::pair<std::int64_t, std::int64_t>> padding{};
  std::vector<std::int64_t> dilation{};  // kernel (rhs) dilation per spatial dim; empty = all 1
  std::int64_t groups = 1;               // feature_group_count; depthwise when groups == C_in
};

// lax.conv_general_dilated(x, w, strides, padding, rhs_dilation=dilation,
// dimension_numbers=("N...C", "...IO", "N...C"), feature_group_count=groups):
//   x: [N, *spatial, C_in], w: [*kernel, C_in / groups, C_out] -> [N, *out_spatial, C_out],
//   out[n, o, co] = sum_{k, ci} x[n, o * stride + k * dilation - pad_low, g * C_in/groups + ci]
//                               * w[k, ci, co]      (g = co / (C_out / groups); zero outside x)
//   out_spatial = (spatial + pad_low + pad_high - dilated_kernel) / stride + 1 (floor), with
//   dilated_kernel = (kernel - 1) * dilation + 1.
Tensor conv(const Tensor& x, const Tensor& w, const ConvOptions& options = {});

// act(conv(x, w) + b), b [C_out] (undefined: no bias), equal bit for bit to
// bias_act(conv(x, w), b, act) but with no pass of its own: the bias and activation are applied
// to each output as it is stored (direct path) or to each chunk of output rows right after its
// GEMM, while it is in cache (ops_bias_act.hpp). Its gradients equal the unfused ops' to
// rounding.
Tensor conv_bias_act(const Tensor& x, const Tensor& w, const Tensor& b, const ConvOptions& options,
                     FusedActivation act);

// Whether float32 3x3 stride-1 convs on the CPU (forward, input and filter gradients) run as
// Winograd F(2x2, 3x3): 2.25x fewer multiply-adds, rounded differently from the direct sum (its
// errors are the same size: ~4e-6 against float64 on the CNN's 32->64 layer, where the direct
// sum's are ~6e-6). On by default; ELEGY_CONV_WINOGRAD=0 in the environment starts it off. For
// every later call, from any thread.
void set_conv_winograd(bool enabled);
bool conv_winograd();

struct ConvTransposeOptions {
  std::vector<std::int64_t> strides{};
  std::vector<std::pair<std::int64_t, std::int64_t>> padding{};
  std::vector<std::int64_t> dilation{};
};

// The transpose of conv: x: [N, *spatial, C_in], w: [*kernel, C_in, C_out] -> [N, *out, C_out],
//   out[n, s, co] = sum over (o, k, ci) with o * stride + k * dilation - pad_low == s
//                   of x[n, o, ci] * w[k, ci, co],
//   out = (spatial - 1) * stride + dilated_kernel - pad_low - pad_high.
// It is the gradient with respect to its input of a conv with the same strides, padding and
// dilation whose kernel is w with its two channel axes swapped, and equals PyTorch's
// ConvTranspose (padding = the forward conv's padding). Haiku's ConvNDTranspose
// (lax.conv_transpose with kernel [*kernel, C_out, C_in], transpose_kernel=False and padding
// (P_lo, P_hi)) equals conv_transpose(x, flip(swapaxes(w_haiku, -1, -2)), padding
// {dk - 1 - P_lo, dk - 1 - P_hi}), flip reversing the kernel's spatial axes;
// conv_transpose_padding gives those pads for "SAME" / "VALID", so a transposed-conv module has
// Haiku's output sizes (SAME: spatial * stride).
Tensor conv_transpose(const Tensor& x, const Tensor& w, const ConvTransposeOptions& options = {});

// The two halves of conv's backward pass, as ops of their own (their backward rules close the
// family, so conv has derivatives of every order). With the same options as the conv:
//   conv_backward_input(g, w, input_spatial): the cotangent of x given g = the cotangent of
//     conv(x, w) ([N, *out_spatial, C_out]); `input_spatial` is x's spatial shape (several
//     sizes give the same output when stride > 1).
//   conv_backward_filter(x, g, kernel_spatial): the cotangent of w, [*kernel, C_in/groups, C_out].
Tensor conv_backward_input(const Tensor& g, const Tensor& w,
                           std::span<const std::int64_t> input_spatial,
                           const ConvOptions& options = {});
Tensor conv_backward_filter(const Tensor& x, const Tensor& g,
                            std::span<const std::int64_t> kernel_spatial,
                            const ConvOptions& options = {});

enum class Padding { same, valid };

// "SAME" / "VALID" padding as XLA (and so Haiku) computes it for a conv: VALID is none; SAME
// gives out = ceil(in / stride) with total padding max((out - 1) * stride + dk - in, 0), the
// extra element (when odd) on the high side. Empty strides / dilation mean all 1.
std::vector<std::pair<std::int64_t, std::int64_t>> conv_padding(
    Padding padding, std::span<const std::int64_t> input_spatial,
    std::span<const std::int64_t> kernel_spatial, std::span<const std::int64_t> strides,
    std::span<const std::int64_t> dilation);

// The conv_transpose padding giving lax.conv_transpose's "SAME" / "VALID" output sizes
// (SAME: in * stride; VALID: in * stride + max(dk - stride, 0)): its pads (P_lo, P_hi) mapped
// to {dk - 1 - P_lo, dk - 1 - P_hi} (see conv_transpose; values may be negative).
std::vector<std::pair<std::int64_t, std::int64_t>> conv_transpose_padding(
    Padding padding, std::span<const std::int64_t> kernel_spatial,
    std::span<const std::int64_t> strides, std::span<const std::int64_t> dilation);

}  // namespace elegy
