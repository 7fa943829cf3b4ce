// ConvGeometry: the shape arithmetic of a channels-last convolution, shared by the conv ops
// (autodiff/conv_compute.cpp) and the Im2Col / Col2Im kernels of both backends.
//
// Spatial dimensions are right-aligned into three slots (depth, height, width): a 1-D
// convolution uses only the last slot, the others hold size 1, stride 1, no padding, so every
// kernel walks the same three nested loops whatever the rank.
//
// Column ("im2col") layout: one row per output position (n, od, oh, ow), row-major over them,
// and inside a row the values grouped as [groups, taps, channels per group], taps row-major over
// (kd, kh, kw). So for group j the columns j*taps*Cg .. (j+1)*taps*Cg are exactly the rows of the
// weight [taps, Cg, C_out] seen as a [taps*Cg, C_out] matrix, and one GEMM per group does the
// contraction.
#pragma once

#include <cstdint>

#include "elegy/core/host_device.hpp"
#include "elegy/kernels/buffer_view.hpp"

namespace elegy::kernels {

struct ConvGeometry {
  static constexpr int kSlots = 3;  // depth, height, width
  std::int64_t batch = 0;
  std::int64_t channels = 0;  // input channels of the convolution (x's last dim)
  std::int64_t groups = 1;
  std::int64_t in[kSlots] = {1, 1, 1};  // input spatial sizes
  std::int64_t out[kSlots] = {1, 1, 1};
  std::int64_t kernel[kSlots] = {1, 1, 1};
  std::int64_t stride[kSlots] = {1, 1, 1};
  std::int64_t dilation[kSlots] = {1, 1, 1};
  std::int64_t pad_lo[kSlots] = {0, 0, 0};  // may be negative (a crop), as in XLA

  ELEGY_HOST_DEVICE std::int64_t taps() const { return kernel[0] * kernel[1] * kernel[2]; }
  ELEGY_HOST_DEVICE std::int64_t in_positions() const { return in[0] * in[1] * in[2]; }
  ELEGY_HOST_DEVICE std::int64_t out_positions() const { return out[0] * out[1] * out[2]; }
  ELEGY_HOST_DEVICE std::int64_t group_channels() const { return channels / groups; }
  // Values per column row: taps * channels.
  ELEGY_HOST_DEVICE std::int64_t row_width() const { return taps() * channels; }
};

// Kernel-call encoding. Im2Col: out = columns [rows, row_width] (inner stride 1), in[0] = x as a
// 5-D view [N, D, H, W, C], ints[1] = the global output position of the first row. Col2Im: out =
// dx images as a 5-D view [count, D, H, W, C] (overwritten), in[0] = their columns
// [count * out_positions, row_width] (inner stride 1); each dx element is the sum of the column
// entries that im2col would have copied it to (a gather: no write conflicts, no zeroing pass).
// ConvDirect (CPU only; groups 1, stride 1, depth kernel 1): out = dense [N, 1, Ho, Wo, Co],
// in[0] = x as a 5-D view, in[1] = dense w [taps, C, Co], in[2] = bias [Co] (optional), ints[1]
// = kernels::Activation applied after the bias, ints[2] = 1 for the transposed mode: in[1] is
// then [taps, Co, C] and tap t of the conv reads its tap taps-1-t (a conv's input gradient).
// ConvDirectFilter (same conditions): out = dense dw [taps, C, Co] (overwritten), in[0] = x as
// a 5-D view, in[1] = dense gy [N, 1, Ho, Wo, Co].
// ConvDirectBackward (same conditions): the backward pass of act(conv(x, w) + b), operands by
// address in ints[1] (ConvBackwardOperands), ints[2] = kernels::Activation; out is unused.
// The geometry travels by address in ints[0]: it outlives the synchronous host-side call, and
// CUDA launchers copy it into the kernel parameters.
// ConvDirectBackward's operands, all dense: x, w and y as for ConvDirect's input and output (y,
// the activation's output, is read only for relu), gy the cotangent of y. The gradients wanted
// have data: dx [N, 1, H, W, C], dw [taps, C, Co], db [Co].
struct ConvBackwardOperands {
  BufferView x, w, gy, y;
  BufferView dx, dw, db;
};

// The stride-1 conv whose output is g's input gradient (its kernel flipped, channel axes
// swapped): it runs over gy, whose `out_channels` channels are its input channels, with the
// complementary padding.
inline ConvGeometry transposed_geometry(const ConvGeometry& g, std::int64_t out_channels) {
  ConvGeometry t = g;
  t.channels = out_channels;
  for (int s = 0; s < ConvGeometry::kSlots; ++s) {
    t.in[s] = g.out[s];
    t.out[s] = g.in[s];
    t.pad_lo[s] = (g.kernel[s] - 1) * g.dilation[s] - g.pad_lo[s];
  }
  return t;
}

inline void set_geometry(KernelArgs& args, const ConvGeometry& g) {
  args.ints[0] = static_cast<std::int64_t>(reinterpret_cast<std::intptr_t>(&g));
}
inline const ConvGeometry& geometry_of(const KernelArgs& args) {
  return *reinterpret_cast<const ConvGeometry*>(static_cast<std::intptr_t>(args.ints[0]));
}

}  // namespace elegy::kernels
