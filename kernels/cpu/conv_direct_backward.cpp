// ConvDirectBackward: the whole backward pass of act(conv(x, w) + b) for a stride-1 conv, image
// by image. For each image it masks the cotangent by the activation (gz = gy where y > 0 for
// relu) into a buffer that stays in cache, adds its rows into the bias gradient, then runs the
// filter gradient (conv_direct_filter.cpp's tiles) and the input gradient (the flipped conv of
// conv_direct.cpp) from that buffer.
//
// Why: composed, the same step writes gz for the whole batch (a first conv layer's is 6.4 MB at
// batch 64), reads it back for the bias sum, the filter gradient and the input gradient, and
// reads gy and y once more for the mask: four sweeps of memory where this makes one.
//
// Each pool part takes a contiguous range of images and sums its filter and bias gradients into
// its own slots (part 0's are dw and db), added in part order at the end: results depend on the
// thread count but never on timing, as in the unfused path.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "elegy/kernels/cpu/conv_direct_backward.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "elegy/core/thread_pool.hpp"
#include "elegy/kernels/cpu/conv_direct.hpp"
#include "elegy/kernels/cpu/conv_winograd.hpp"
#include "elegy/kernels/dispatch.hpp"

HWY_BEFORE_NAMESPACE();
namespace elegy::kernels::conv_direct::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// gz[r, c] = (y == null || y[r, c] > 0) ? gy[r, c] : 0 over dense [rows, C], and db[c] += gz[r, c]
// row by row (db may be null).
template <class T>
void MaskRows(T* HWY_RESTRICT gz, const T* HWY_RESTRICT gy, const T* HWY_RESTRICT y,
              std::int64_t rows, std::int64_t C, T* HWY_RESTRICT db) {
  const hn::ScalableTag<T> d;
  const std::int64_t L = std::int64_t(hn::Lanes(d));
  const auto zero = hn::Zero(d);
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t o = r * C;
    std::int64_t c = 0;
    for (; c + L <= C; c += L) {
      auto v = hn::LoadU(d, gy + o + c);
      if (y) v = hn::IfThenElseZero(hn::Gt(hn::LoadU(d, y + o + c), zero), v);
      hn::StoreU(v, d, gz + o + c);
      if (db) hn::StoreU(hn::Add(hn::LoadU(d, db + c), v), d, db + c);
    }
    for (; c < C; ++c) {
      const T v = (!y || y[o + c] > T(0)) ? gy[o + c] : T(0);
      gz[o + c] = v;
      if (db) db[c] += v;
    }
  }
}

void MaskRowsF32(float* gz, const float* gy, const float* y, std::int64_t rows, std::int64_t C,
                 float* db) {
  MaskRows(gz, gy, y, rows, C, db);
}
void MaskRowsF64(double* gz, const double* gy, const double* y, std::int64_t rows, std::int64_t C,
                 double* db) {
  MaskRows(gz, gy, y, rows, C, db);
}

}  // namespace elegy::kernels::conv_direct::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace elegy::kernels {
namespace conv_direct {

HWY_EXPORT(MaskRowsF32);
HWY_EXPORT(MaskRowsF64);

}  // namespace conv_direct

namespace {

void mask_rows(float* gz, const float* gy, const float* y, std::int64_t rows, std::int64_t C,
               float* db) {
  HWY_DYNAMIC_DISPATCH(conv_direct::MaskRowsF32)(gz, gy, y, rows, C, db);
}
void mask_rows(double* gz, const double* gy, const double* y, std::int64_t rows, std::int64_t C,
               double* db) {
  HWY_DYNAMIC_DISPATCH(conv_direct::MaskRowsF64)(gz, gy, y, rows, C, db);
}

// A dense [N, 1, rows, cols, C] buffer's image as the Source the tiles read: image index
// ignored (stride 0), so every image reads the one per-thread buffer.
template <class T>
conv_direct::Source<T> image_buffer(const T* data, std::int64_t cols, std::int64_t C) {
  BufferView v;
  v.data = const_cast<T*>(data);
  v.rank = 5;
  v.strides[0] = 0;
  v.strides[1] = 0;
  v.strides[2] = cols * C;
  v.strides[3] = C;
  v.strides[4] = 1;
  return conv_direct::Source<T>(v);
}

template <class T>
void conv_direct_backward_kernel(const KernelArgs& a) {
  const ConvGeometry& g = geometry_of(a);
  const auto& ops =
      *reinterpret_cast<const ConvBackwardOperands*>(static_cast<std::intptr_t>(a.ints[1]));
  const bool relu = Activation(a.ints[2]) == Activation::relu;
  const std::int64_t C = g.channels, co = ops.gy.sizes[4], positions = g.out_positions();
  const std::int64_t K = g.taps() * C;
  T* dw = static_cast<T*>(ops.dw.data);
  T* db = static_cast<T*>(ops.db.data);
  T* dx = static_cast<T*>(ops.dx.data);
  if (dw) std::fill(dw, dw + K * co, T(0));
  if (db) std::fill(db, db + co, T(0));
  if (g.batch * positions * co == 0) {  // nothing flows back; dx is otherwise written whole
    if (dx) std::fill(dx, dx + g.batch * g.in_positions() * C, T(0));
    return;
  }
  const T* gy = static_cast<const T*>(ops.gy.data);
  const T* y = relu ? static_cast<const T*>(ops.y.data) : nullptr;

  // The input gradient: the flipped conv over gz (C output channels).
  const ConvGeometry tg = transposed_geometry(g, co);
  const std::int64_t block = conv_direct::block_width(T());
  conv_direct::Packed<T> packed;
  const std::vector<std::int64_t> dx_taps = conv_direct::tap_offsets(tg),
                                  dw_taps = conv_direct::tap_offsets(g);
  conv_direct::Task<T> dx_task(ops.x);  // x replaced per thread by its gz buffer
  dx_task.taps = dx_taps.data();
  // The input and filter gradients of a 3x3 float32 conv run as Winograd F(2x2, 3x3)
  // (conv_winograd.hpp).
  const bool winograd_dx = dx && conv_winograd::applies(tg, T());
  const bool winograd_dw = dw && conv_winograd::applies(g, T());
  if (dx) {
    packed = conv_winograd::pack_weights(winograd_dx, tg, static_cast<const T*>(ops.w.data), true,
                                         static_cast<const T*>(nullptr), 0, C, block);
    dx_task.g = &tg;
    dx_task.packed = packed.weights.get();
    dx_task.out = dx;
    dx_task.co = C;
    dx_task.block = block;
    dx_task.co_blocks = (C + block - 1) / block;
  }
  conv_direct::FilterTask<T> dw_task(ops.x);  // gy replaced per thread by its gz buffer
  dw_task.g = &g;
  dw_task.taps = dw_taps.data();
  dw_task.co = co;

  // One part per thread, whole images each, summing its filter gradient into a slot of its own
  // and its bias gradient into db (part 0) or a slot.
  const std::int64_t parts = std::clamp<std::int64_t>(num_threads(), 1, g.batch);
  std::vector<std::vector<T>> dw_slots(dw ? std::size_t(parts) : 0),
      db_slots(std::size_t(parts - 1));
  for (auto& slot : dw_slots)
    slot.assign(std::size_t(conv_winograd::filter_slot_size(winograd_dw, g, co)), T(0));
  for (auto& slot : db_slots) slot.assign(std::size_t(db ? co : 0), T(0));
  const std::int64_t x_pad = conv_winograd::pad_size(winograd_dw, g, g.out[1]);
  const std::int64_t gz_pad = conv_winograd::pad_size(winograd_dx, tg, tg.out[1]);
  parallel_for(parts, 1, [&](std::int64_t p0, std::int64_t p1) {
    thread_local std::vector<T> gz, pad_x, pad_gz;
    if (std::int64_t(gz.size()) < positions * co) gz.resize(std::size_t(positions * co));
    if (dw && std::int64_t(pad_x.size()) < x_pad) pad_x.resize(std::size_t(x_pad));
    if (dx && std::int64_t(pad_gz.size()) < gz_pad) pad_gz.resize(std::size_t(gz_pad));
    conv_direct::FilterTask<T> filter = dw_task;
    filter.gy = gz.data();
    filter.gy_n = 0;
    conv_direct::Task<T> input = dx_task;
    input.x = image_buffer(gz.data(), g.out[2], co);
    for (std::int64_t p = p0; p < p1; ++p) {
      T* dw_slot = dw ? dw_slots[std::size_t(p)].data() : nullptr;
      T* db_slot = p == 0 ? db : (db ? db_slots[std::size_t(p - 1)].data() : nullptr);
      for (std::int64_t n = g.batch * p / parts; n < g.batch * (p + 1) / parts; ++n) {
        const std::int64_t at = n * positions * co;
        mask_rows(gz.data(), gy + at, y ? y + at : nullptr, positions, co, db_slot);
        if (dw)
          conv_winograd::add_filter_rows(winograd_dw, filter, n, 0, g.out[1], pad_x.data(),
                                         dw_slot);
        if (dx) conv_winograd::output_rows(winograd_dx, input, n, 0, tg.out[1], pad_gz.data());
      }
    }
  });
  if (dw) conv_winograd::filter_from_slots(winograd_dw, dw_slots, g, co, dw);
  for (std::int64_t p = 1; p < parts; ++p)
    if (db)
      for (std::int64_t i = 0; i < co; ++i) db[i] += db_slots[std::size_t(p - 1)][std::size_t(i)];
}

}  // namespace

void register_cpu_conv_direct_backward(Registry& r) {
  r.add(Op::ConvDirectBackward, DeviceKind::cpu, DType::f32, conv_direct_backward_kernel<float>);
  r.add(Op::ConvDirectBackward, DeviceKind::cpu, DType::f64, conv_direct_backward_kernel<double>);
}

}  // namespace elegy::kernels
#endif  // HWY_ONCE
