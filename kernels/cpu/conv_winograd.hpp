// Winograd F(2x2, 3x3) for the direct conv kernels' 3x3, stride-1, undilated float32 convs
// (conv_winograd.cpp, conv_winograd_filter.cpp): the forward pass, the input gradient and the
// filter gradient of the CNN's 32->64 layer.
//
// Why: those convs already run at the FMA units' peak (conv_direct.cpp), so only fewer
// multiply-adds make them faster. Each 2x2 block of outputs ("tile") is computed from its 4x4
// input patch as Y = Aᵀ [sum over c of (G g Gᵀ) ⊙ (Bᵀ d B)] A (Lavin & Gray, 2015): 16 products
// per input channel and output channel instead of 36, i.e. 2.25x fewer. The transforms are
// additions only (G's halves are applied in double, once per call, to the weights).
//
// Results differ from the direct kernel's by rounding: the transforms add and subtract inputs
// before they are multiplied, so the error grows with the inputs' magnitudes rather than the
// outputs' (measured in tests/autodiff/conv_test.cpp against float64). Like the direct
// kernel, every output is computed the same way whatever the thread count or banding (tiles are
// always aligned to even rows and columns of the image). Float64 keeps the direct kernel, and
// ELEGY_CONV_WINOGRAD=0 in the environment (or set_conv_winograd(false), autodiff/ops_conv.hpp)
// turns this off for float32 too.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "elegy/kernels/conv_algorithm.hpp"
#include "elegy/kernels/conv_geometry.hpp"
#include "elegy/kernels/cpu/conv_direct.hpp"

namespace elegy::kernels::conv_winograd {

// Whether ConvDirect (or the input gradient inside ConvDirectBackward) of geometry g in float32
// runs here: a 3x3 undilated stride-1 kernel, at least kMinChannels input channels, a SIMD target
// with fixed-size vectors of more than one lane, and not turned off.
bool applies(const ConvGeometry& g);
// applies() reads winograd_enabled() (kernels/conv_algorithm.hpp).

// The transformed weights U = G g Gᵀ laid out as [co_blocks][16][C][block] (zero past Co),
// and the bias as conv_direct::pack lays it out; `transposed` as for conv_direct::pack.
conv_direct::Packed<float> pack(const ConvGeometry& g, const float* w, bool transposed,
                                const float* b, std::int64_t b_stride, std::int64_t co,
                                std::int64_t block);

// Output rows [oh0, oh1) (oh0 even) of image n, every channel block, like conv_direct::rows;
// t.packed holds pack()'s weights. pad holds at least pad_elements(g, oh1 - oh0) values.
void rows(const conv_direct::Task<float>& t, std::int64_t n, std::int64_t oh0, std::int64_t oh1,
          float* pad);
std::int64_t pad_elements(const ConvGeometry& g, std::int64_t rows);

// The filter gradient (conv_winograd_filter.cpp) in the transformed space: since U = G g Gᵀ,
// dL/dg = Gᵀ S G with S = sum over tiles of (A gy Aᵀ) ⊙ (Bᵀ x B), 16 products per input and
// output channel and tile instead of 36. add_filter_rows adds image n's output rows [oh0, oh1)
// (oh0 even) into slot S, dense [16][C][Co] (pad as for rows); filter_from_transformed writes
// dw [9][C][Co] = Gᵀ S G.
void add_filter_rows(const conv_direct::FilterTask<float>& t, std::int64_t n, std::int64_t oh0,
                     std::int64_t oh1, float* pad, float* slot);
void filter_from_transformed(const float* slot, std::int64_t C, std::int64_t co, float* dw);
// Positions of a transformed 4x4 tile: a slot's first dimension.
constexpr std::int64_t kTransformedTaps = 16;

// ---- the direct kernels' callers choose per call through these (float64: always direct) -----

inline bool applies(const ConvGeometry& g, float) {
  return conv_winograd::applies(g);
}
inline bool applies(const ConvGeometry&, double) {
  return false;
}

// The weights (and bias) as the chosen kernel reads them.
template <class T>
conv_direct::Packed<T> pack_weights(bool winograd, const ConvGeometry& g, const T* w,
                                    bool transposed, const T* b, std::int64_t b_stride,
                                    std::int64_t co, std::int64_t block) {
  if constexpr (std::is_same_v<T, float>)
    if (winograd) return conv_winograd::pack(g, w, transposed, b, b_stride, co, block);
  return conv_direct::pack(g, w, transposed, b, b_stride, co, block);
}

// Values of the per-thread padded copy of `rows` output rows' inputs.
inline std::int64_t pad_size(bool winograd, const ConvGeometry& g, std::int64_t rows) {
  return winograd ? pad_elements(g, rows)
                  : conv_direct::padded_rows(g, rows) * conv_direct::padded_width(g) * g.channels;
}

// Output rows [oh0, oh1) of image n (conv_direct::rows or rows above).
template <class T>
void output_rows(bool winograd, const conv_direct::Task<T>& t, std::int64_t n, std::int64_t oh0,
                 std::int64_t oh1, T* pad) {
  if constexpr (std::is_same_v<T, float>)
    if (winograd) return conv_winograd::rows(t, n, oh0, oh1, pad);
  conv_direct::rows(t, n, oh0, oh1, pad);
}

// A filter gradient sums each thread part's images into a slot of its own: dw-shaped, or
// transformed ([16][C][Co]) for Winograd.
inline std::int64_t filter_slot_size(bool winograd, const ConvGeometry& g, std::int64_t co) {
  return (winograd ? kTransformedTaps : g.taps()) * g.channels * co;
}
template <class T>
void add_filter_rows(bool winograd, const conv_direct::FilterTask<T>& t, std::int64_t n,
                     std::int64_t oh0, std::int64_t oh1, T* pad, T* slot) {
  if constexpr (std::is_same_v<T, float>)
    if (winograd) return conv_winograd::add_filter_rows(t, n, oh0, oh1, pad, slot);
  conv_direct::add_rows(t, n, oh0, oh1, pad, slot);
}
// dw from the parts' slots, added in part order (so the result depends on the thread count but
// never on timing), then transformed back for Winograd.
template <class T>
void filter_from_slots(bool winograd, std::vector<std::vector<T>>& slots, const ConvGeometry& g,
                       std::int64_t co, T* dw) {
  std::vector<T>& sum = slots[0];
  for (std::size_t p = 1; p < slots.size(); ++p)
    for (std::size_t i = 0; i < sum.size(); ++i) sum[i] += slots[p][i];
  if constexpr (std::is_same_v<T, float>)
    if (winograd) return conv_winograd::filter_from_transformed(sum.data(), g.channels, co, dw);
  std::copy(sum.begin(), sum.end(), dw);
}

}  // namespace elegy::kernels::conv_winograd
