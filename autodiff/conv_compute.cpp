// Convolution as GEMMs (see kernels/conv_geometry.hpp for the column layout):
//
//   forward      out[rows, Co]      = cols[rows, taps*Cg] @ w[taps*Cg, Co]       per group
//   input grad   dcols[rows, taps*Cg] = gy[rows, Co] @ w^T                        then col2im
//   filter grad  dw[taps*Cg, Co]    = cols^T @ gy[rows, Co]                      summed over chunks
//
// Every operand reaches the Matmul kernel as a strided view: the groups are its batch dimension
// (a column offset into the same buffers), and w^T / cols^T are transposed views that OpenBLAS
// takes as transpose flags, so nothing is copied besides the columns themselves. The columns are
// built for a chunk of output positions at a time (about kChunkRows) into one reused buffer,
// which stays in cache between im2col writing it and the GEMM reading it. On the CPU the rows are
// first cut into one contiguous range per pool thread, and each thread runs im2col and
// single-threaded GEMMs over its own range with its own column buffer: no thread waits on
// another between the two, and each buffer stays in its own core's L2. A
// 1x1 kernel with stride 1 and no padding skips im2col: the input already is its own columns.
// Other stride-1 convs with one group (1-D/2-D) skip both: see direct() below.
#include "elegy/autodiff/conv_compute.hpp"

#include <algorithm>
#include <atomic>
#include <vector>

#include "elegy/core/thread_pool.hpp"

#include "elegy/autodiff/kernel_call.hpp"

namespace elegy::autodiff::conv {
namespace {

using kernels::BufferView;
using kernels::ConvGeometry;
using kernels::KernelArgs;
using kernels::Op;

// Chunk sizing, measured on the 2-core AVX-512 target with OpenBLAS 0.3.21 (conv 3x3 on
// [64,28,28,1] -> 32 and [64,14,14,32] -> 64): each thread's GEMM wants about kChunkRows rows,
// enough for the BLAS kernel to run at speed while its column buffer (kChunkRows x 288 floats for
// the second layer) stays in the core's 1 MiB L2. The column buffer never exceeds
// kMaxChunkElements. A range is split across threads only when each part gets at least
// kMinPartFlops multiply-adds: below that, waking a thread costs more than it saves.
constexpr std::int64_t kChunkRows = 768;
constexpr std::int64_t kMaxChunkElements = std::int64_t(1) << 20;
constexpr double kMinPartFlops = 1 << 18;
// On a GPU there is no cache to fit and every chunk costs kernel launches (im2col, GEMM,
// epilogue; for dW a GEMM and an add): a chunk is the whole batch up to 2^24 column elements
// (64 MiB in float32; the CNN's largest layer at batch 64 needs 3.6M). Measured on an H200 at
// 768-row chunks: the CNN's forward took 1.7 ms in ~250 launches, 10x PyTorch's.
constexpr std::int64_t kMaxDeviceChunkElements = std::int64_t(1) << 24;
std::atomic<std::int64_t> g_max_device_chunk_elements{kMaxDeviceChunkElements};

// `count` matrices [rows, cols] at `offset` elements into t's data, with the given strides.
BufferView matrices(const Tensor& t, std::int64_t offset, std::int64_t count, std::int64_t rows,
                    std::int64_t cols, std::int64_t batch_stride, std::int64_t row_stride,
                    std::int64_t col_stride) {
  BufferView v;
  v.data = static_cast<char*>(t.address()) + offset * std::int64_t(t.itemsize());
  v.dtype = t.dtype();
  v.rank = 3;
  v.sizes[0] = count;
  v.sizes[1] = rows;
  v.sizes[2] = cols;
  v.strides[0] = batch_stride;
  v.strides[1] = row_stride;
  v.strides[2] = col_stride;
  return v;
}

// t ([N, *spatial, C], 1 to 3 spatial dims) as the [N, D, H, W, C] view the kernels walk,
// starting at image `first` and holding `count` images.
BufferView image5(const Tensor& t, std::int64_t first, std::int64_t count) {
  BufferView v;
  v.data = static_cast<char*>(t.address()) + first * t.strides()[0] * std::int64_t(t.itemsize());
  v.dtype = t.dtype();
  v.rank = 5;
  const int dims = t.ndim() - 2, missing = ConvGeometry::kSlots - dims;
  v.sizes[0] = count;
  v.strides[0] = t.strides()[0];
  for (int s = 0; s < ConvGeometry::kSlots; ++s) {
    v.sizes[1 + s] = s < missing ? 1 : t.shape()[1 + s - missing];
    v.strides[1 + s] = s < missing ? 0 : t.strides()[1 + s - missing];
  }
  v.sizes[4] = t.shape(-1);
  v.strides[4] = t.strides()[t.ndim() - 1];
  return v;
}

// The first `rows` rows of a column buffer, [rows, row_width].
BufferView column_rows(const Tensor& col, std::int64_t rows, const ConvGeometry& g) {
  BufferView v;
  v.data = col.address();
  v.dtype = col.dtype();
  v.rank = 2;
  v.sizes[0] = rows;
  v.sizes[1] = g.row_width();
  v.strides[0] = g.row_width();
  v.strides[1] = 1;
  return v;
}

void gemm(const BufferView& out, const BufferView& a, const BufferView& b, Device device) {
  KernelArgs args;
  args.out = out;
  args.in[0] = a;
  args.in[1] = b;
  args.num_inputs = 2;
  args.device = device;
  kernels::run("conv", Op::Matmul, out.dtype, args);
}

// Columns of output positions [first, first + rows) into `col` (its first `rows` rows).
void im2col(const Tensor& x, const Tensor& col, std::int64_t first, std::int64_t rows,
            const ConvGeometry& g) {
  KernelArgs args;
  args.out = column_rows(col, rows, g);
  args.in[0] = image5(x, 0, g.batch);
  args.num_inputs = 1;
  kernels::set_geometry(args, g);
  args.ints[1] = first;
  args.device = x.device();
  kernels::run("conv", Op::Im2Col, x.dtype(), args);
}

// dx images [first, first + count) from their columns (the first rows of `col`).
void col2im(const Tensor& col, const Tensor& dx, std::int64_t first, std::int64_t count,
            const ConvGeometry& g) {
  KernelArgs args;
  args.out = image5(dx, first, count);
  args.in[0] = column_rows(col, count * g.out_positions(), g);
  args.num_inputs = 1;
  kernels::set_geometry(args, g);
  args.device = dx.device();
  kernels::run("conv", Op::Col2Im, dx.dtype(), args);
}

// 1x1 kernel, stride 1, no padding: output position i reads exactly input position i.
bool pointwise(const ConvGeometry& g) {
  for (int s = 0; s < ConvGeometry::kSlots; ++s)
    if (g.kernel[s] != 1 || g.stride[s] != 1 || g.pad_lo[s] != 0 || g.out[s] != g.in[s])
      return false;
  return true;
}

// The Matmul views every routine shares, per group (the batch dimension of the views).
struct GroupViews {
  const ConvGeometry& g;
  std::int64_t co, cog, k;  // output channels, per group, and taps * Cg (the contraction width)

  GroupViews(const ConvGeometry& geo, std::int64_t out_channels)
      : g(geo),
        co(out_channels),
        cog(out_channels / geo.groups),
        k(geo.taps() * geo.group_channels()) {}

  // w [taps, Cg, Co] as [groups][k, cog]
  BufferView weight(const Tensor& w) const { return matrices(w, 0, g.groups, k, cog, cog, co, 1); }
  // ... and transposed, [groups][cog, k]
  BufferView weight_t(const Tensor& w) const {
    return matrices(w, 0, g.groups, cog, k, cog, 1, co);
  }
  // rows [first, first + rows) of an [*, Co] tensor as [groups][rows, cog]
  BufferView outputs(const Tensor& t, std::int64_t first, std::int64_t rows) const {
    return matrices(t, first * co, g.groups, rows, cog, cog, co, 1);
  }
  // the first rows of a column buffer as [groups][rows, k]
  BufferView columns(const Tensor& col, std::int64_t rows) const {
    return matrices(col, 0, g.groups, rows, k, k, g.row_width(), 1);
  }
  // ... and transposed, [groups][k, rows]
  BufferView columns_t(const Tensor& col, std::int64_t rows) const {
    return matrices(col, 0, g.groups, k, rows, k, 1, g.row_width());
  }
};

// Rows per chunk (see kChunkRows and kMaxDeviceChunkElements), a multiple of `unit` rows, at
// least one unit.
std::int64_t chunk_rows(const GroupViews& v, Device device, std::int64_t total, std::int64_t unit) {
  const std::int64_t row_elements = v.g.row_width() + v.co;
  std::int64_t rows =
      device.is_cpu() ? std::min(kChunkRows, kMaxChunkElements / row_elements)
                      : g_max_device_chunk_elements.load(std::memory_order_relaxed) / row_elements;
  const std::int64_t units = std::max<std::int64_t>(1, rows / unit);
  return std::min(total, units * unit);
}

// How many parts [0, total) rows are cut into: one per pool thread on the CPU (each with at
// least kMinPartFlops of work and a whole `unit`), a single part elsewhere (one stream orders the
// work anyway).
std::int64_t part_count(const GroupViews& v, Device device, std::int64_t total, std::int64_t unit) {
  if (!device.is_cpu()) return 1;
  const double flops = double(total) * double(v.k) * double(v.co);
  const std::int64_t parts = std::min<std::int64_t>(num_threads(), total / unit);
  return std::max<std::int64_t>(1, std::min(parts, std::int64_t(flops / kMinPartFlops)));
}

// Runs body(part, first, rows) for each of `parts` contiguous ranges of whole `unit`s covering
// [0, total), in parallel on the pool. The ranges are a pure function of the sizes and `parts`,
// so results never depend on timing.
template <class Body>
void for_each_part(std::int64_t parts, std::int64_t total, std::int64_t unit, Body&& body) {
  if (parts == 1) return body(0, 0, total);
  const std::int64_t units = total / unit;
  parallel_for(parts, 1, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      const std::int64_t first = units * p / parts * unit, last = units * (p + 1) / parts * unit;
      if (last > first) body(p, first, last - first);
    }
  });
}

// Rows [first, first + rows) of out [*, C] = act(rows + bias), in place.
void apply_epilogue(const Epilogue& e, const Tensor& out, std::int64_t first, std::int64_t rows) {
  const std::int64_t c = out.shape(-1);
  KernelArgs args;
  args.out.data = static_cast<char*>(out.address()) + first * c * std::int64_t(out.itemsize());
  args.out.dtype = out.dtype();
  args.out.rank = 2;
  args.out.sizes[0] = rows;
  args.out.sizes[1] = c;
  args.out.strides[0] = c;
  args.out.strides[1] = 1;
  args.in[0] = args.out;
  args.num_inputs = 1;
  if (e.bias.defined()) {
    args.in[1] = buffer_view(e.bias);
    args.num_inputs = 2;
  }
  args.ints[0] = std::int64_t(e.act == FusedActivation::relu ? kernels::Activation::relu
                                                             : kernels::Activation::none);
  args.device = out.device();
  kernels::run("conv_bias_act", Op::BiasAct, out.dtype(), args);
}

// Whether the direct kernels (kernels/cpu/conv_direct*.cpp) compute this conv: CPU, one group,
// stride 1, no depth kernel, padding inside [0, dilated kernel - 1] (so the transposed conv of
// the input gradient needs none negative either), at least kMinDirectChannels output channels
// (a register tile holds 2 vectors of them: 32 floats with AVX-512; with 16 or fewer half of it
// or more is padding and im2col + GEMM wins), and a block of 32 channels' weights small enough
// to stay in L2 while the tiles stream through it (kMaxDirectWeights values, 1 MiB of floats).
// There they skip im2col's copy and OpenBLAS's packing of it. Measured on the 2-core AVX-512
// target at 2 threads, against im2col + GEMM: the CNN's 1->32 first layer forward 0.39 -> 0.21
// ms and filter gradient 0.31 -> 0.11 ms; its 32->64 layer forward 1.69 -> 1.21 ms, input
// gradient 1.67 -> 1.24 ms, filter gradient 1.82 -> 1.34 ms; 256->256 3x3 on 14x14 forward
// 1.3x faster (1 core); 16->16 forward 1.9x slower (hence the channel minimum).
constexpr std::int64_t kMinDirectChannels = 32;
constexpr std::int64_t kMaxDirectWeights = std::int64_t(1) << 18;

bool direct(const ConvGeometry& g, const Tensor& x, std::int64_t out_channels) {
  // 1-D/2-D only: the depth slot must be trivial (no depth kernel, size or padding).
  if (!x.device().is_cpu() || g.groups != 1 || g.kernel[0] != 1 || g.in[0] != 1 || g.out[0] != 1 ||
      g.pad_lo[0] != 0)
    return false;
  if (x.dtype() != DType::f32 && x.dtype() != DType::f64) return false;
  for (int s = 1; s < ConvGeometry::kSlots; ++s)
    if (g.stride[s] != 1 || g.pad_lo[s] < 0 || g.pad_lo[s] > (g.kernel[s] - 1) * g.dilation[s])
      return false;
  return out_channels >= kMinDirectChannels &&
         g.row_width() * kMinDirectChannels <= kMaxDirectWeights;
}

// out = act(conv(x, w) + bias) through ConvDirect; `transposed`: w is the kernel of the conv
// whose input gradient this is (see kernels/conv_geometry.hpp).
void conv_direct(const Tensor& x, const Tensor& w, const Tensor& out, const ConvGeometry& g,
                 const Epilogue& e, bool transposed) {
  KernelArgs args;
  args.out = image5(out, 0, g.batch);
  args.in[0] = image5(x, 0, g.batch);
  args.in[1] = buffer_view(w);
  args.num_inputs = 2;
  if (e.bias.defined()) {
    args.in[2] = buffer_view(e.bias);
    args.num_inputs = 3;
  }
  kernels::set_geometry(args, g);
  args.ints[1] = std::int64_t(e.act == FusedActivation::relu ? kernels::Activation::relu
                                                             : kernels::Activation::none);
  args.ints[2] = transposed ? 1 : 0;
  args.device = out.device();
  kernels::run("conv", Op::ConvDirect, out.dtype(), args);
}

// acc += term, elementwise over equal shapes.
void add_into(const Tensor& acc, const Tensor& term) {
  KernelArgs args;
  args.out = buffer_view(acc);
  args.in[0] = buffer_view(acc);
  args.in[1] = buffer_view(term);
  args.num_inputs = 2;
  args.device = acc.device();
  kernels::run("conv", Op::Add, acc.dtype(), args);
}

}  // namespace

std::int64_t set_max_device_chunk_elements(std::int64_t elements) {
  return g_max_device_chunk_elements.exchange(elements > 0 ? elements : kMaxDeviceChunkElements);
}

void forward(const Tensor& x, const Tensor& w, const Tensor& out, const ConvGeometry& g,
             const Epilogue& epilogue) {
  const std::int64_t total = g.batch * g.out_positions();
  if (total == 0) return;
  const GroupViews v(g, out.shape(-1));
  auto finish = [&](std::int64_t first, std::int64_t rows) {
    if (epilogue.active()) apply_epilogue(epilogue, out, first, rows);
  };
  if (pointwise(g) && x.is_contiguous()) {
    gemm(v.outputs(out, 0, total), v.columns(x, total), v.weight(w), out.device());
    finish(0, total);
    return;
  }
  if (direct(g, x, v.co) && w.is_contiguous() && out.is_contiguous())
    return conv_direct(x, w, out, g, epilogue, false);
  const std::int64_t parts = part_count(v, x.device(), total, 1);
  for_each_part(parts, total, 1, [&](std::int64_t, std::int64_t begin, std::int64_t count) {
    const std::int64_t chunk = chunk_rows(v, x.device(), count, 1);
    const Tensor col = Tensor::empty(Shape{chunk, g.row_width()}, x.dtype(), x.device());
    for (std::int64_t first = begin; first < begin + count; first += chunk) {
      const std::int64_t rows = std::min(chunk, begin + count - first);
      im2col(x, col, first, rows, g);
      gemm(v.outputs(out, first, rows), v.columns(col, rows), v.weight(w), out.device());
      finish(first, rows);
    }
  });
}

void input_grad(const Tensor& gy, const Tensor& w, const Tensor& dx, const ConvGeometry& g) {
  const std::int64_t positions = g.out_positions(), total = g.batch * positions;
  if (g.batch * g.in_positions() == 0) return;
  const GroupViews v(g, gy.shape(-1));
  if (pointwise(g)) {  // dx is its own column buffer
    gemm(v.columns(dx, total), v.outputs(gy, 0, total), v.weight_t(w), dx.device());
    return;
  }
  if (const ConvGeometry t = kernels::transposed_geometry(g, v.co);
      direct(t, gy, g.channels) && w.is_contiguous() && dx.is_contiguous())
    return conv_direct(gy, w, dx, t, Epilogue{}, true);
  // Whole images per chunk: col2im sums every tap landing on an input position at once.
  const std::int64_t parts = part_count(v, gy.device(), total, positions);
  for_each_part(parts, total, positions, [&](std::int64_t, std::int64_t begin, std::int64_t count) {
    const std::int64_t chunk = chunk_rows(v, gy.device(), count, positions);
    const Tensor col = Tensor::empty(Shape{chunk, g.row_width()}, gy.dtype(), gy.device());
    for (std::int64_t first = begin; first < begin + count; first += chunk) {
      const std::int64_t rows = std::min(chunk, begin + count - first);
      gemm(v.columns(col, rows), v.outputs(gy, first, rows), v.weight_t(w), dx.device());
      col2im(col, dx, first / positions, rows / positions, g);
    }
  });
}

void filter_grad(const Tensor& x, const Tensor& gy, const Tensor& dw, const ConvGeometry& g) {
  const std::int64_t total = g.batch * g.out_positions();
  const GroupViews v(g, gy.shape(-1));
  if (total == 0) {  // an empty sum
    KernelArgs args;
    args.out = buffer_view(dw);
    args.device = dw.device();
    kernels::run("conv", Op::Fill, dw.dtype(), args);
    return;
  }
  if (pointwise(g) && x.is_contiguous()) {
    gemm(v.weight(dw), v.columns_t(x, total), v.outputs(gy, 0, total), dw.device());
    return;
  }
  if (direct(g, x, v.co) && gy.is_contiguous() && dw.is_contiguous()) {
    KernelArgs args;
    args.out = buffer_view(dw);
    args.in[0] = image5(x, 0, g.batch);
    args.in[1] = image5(gy, 0, g.batch);
    args.num_inputs = 2;
    kernels::set_geometry(args, g);
    args.device = dw.device();
    return kernels::run("conv", Op::ConvDirectFilter, dw.dtype(), args);
  }
  // Each part sums its chunks into its own dw-shaped slot (part 0's slot is dw itself; a part's
  // later chunks go through `partial`), then the other slots are added to dw in part order.
  const std::int64_t parts = part_count(v, x.device(), total, 1);
  std::vector<Tensor> sums(parts);
  sums[0] = dw;
  for (std::int64_t p = 1; p < parts; ++p)
    sums[p] = Tensor::empty(dw.shape(), dw.dtype(), dw.device());
  for_each_part(parts, total, 1, [&](std::int64_t part, std::int64_t begin, std::int64_t count) {
    const std::int64_t chunk = chunk_rows(v, x.device(), count, 1);
    const Tensor col = Tensor::empty(Shape{chunk, g.row_width()}, x.dtype(), x.device());
    const Tensor partial =
        chunk < count ? Tensor::empty(dw.shape(), dw.dtype(), dw.device()) : Tensor();
    for (std::int64_t first = begin; first < begin + count; first += chunk) {
      const std::int64_t rows = std::min(chunk, begin + count - first);
      im2col(x, col, first, rows, g);
      const bool initial = first == begin;
      gemm(v.weight(initial ? sums[part] : partial), v.columns_t(col, rows),
           v.outputs(gy, first, rows), dw.device());
      if (!initial) add_into(sums[part], partial);
    }
  });
  for (std::int64_t p = 1; p < parts; ++p) add_into(dw, sums[p]);
}

bool fused_backward(const Tensor& x, const Tensor& w, const Tensor& gy, const Tensor& y,
                    FusedActivation act, const ConvGeometry& g, Tensor* dx, Tensor* dw,
                    Tensor* db) {
  const std::int64_t co = gy.shape(-1);
  // The direct kernels on both passes; whole images per thread, so enough of them.
  if (!direct(g, x, co) || (dx && !direct(kernels::transposed_geometry(g, co), gy, g.channels)) ||
      g.batch < num_threads())
    return false;
  const Tensor xd = dense(x), wd = dense(w), gyd = dense(gy);
  const Tensor yd = act == FusedActivation::relu ? dense(y) : Tensor();
  kernels::ConvBackwardOperands ops;
  ops.x = image5(xd, 0, g.batch);
  ops.w = buffer_view(wd);
  ops.gy = image5(gyd, 0, g.batch);
  if (yd.defined()) ops.y = image5(yd, 0, g.batch);
  if (dx) {
    *dx = Tensor::empty(x.shape(), x.dtype(), x.device());
    ops.dx = buffer_view(*dx);
  }
  if (dw) {
    *dw = Tensor::empty(w.shape(), w.dtype(), w.device());
    ops.dw = buffer_view(*dw);
  }
  if (db) {
    *db = Tensor::empty(Shape{co}, gy.dtype(), gy.device());
    ops.db = buffer_view(*db);
  }
  KernelArgs args;
  kernels::set_geometry(args, g);
  args.ints[1] = static_cast<std::int64_t>(reinterpret_cast<std::intptr_t>(&ops));
  args.ints[2] = std::int64_t(act == FusedActivation::relu ? kernels::Activation::relu
                                                           : kernels::Activation::none);
  args.device = x.device();
  kernels::run("conv backward", Op::ConvDirectBackward, x.dtype(), args);
  return true;
}

}  // namespace elegy::autodiff::conv
