// matmul with numpy semantics on top of the Matmul kernel (rank-3 [B,M,K] x [B,K,N] views).
// Operands go to the kernel as the views they are: a transposed operand reaches BLAS as a
// transpose flag, a broadcast batch dimension as stride 0. Batch dimensions that cannot be
// merged into one strided batch are walked here, one kernel call per merged run.
#include "elegy/autodiff/ops_linalg.hpp"

#include <sstream>

#include "elegy/autodiff/kernel_call.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_shape.hpp"
#include "elegy/autodiff/tape.hpp"
#include "elegy/core/views.hpp"
#include "elegy/kernels/layout.hpp"

namespace elegy {

using autodiff::buffer_view;
using autodiff::check_defined;

namespace {

// "float32[64,784]": the operand as the user wrote it, for shape errors.
std::string dtype_and_shape(const Tensor& t) {
  std::ostringstream os;
  os << name(t.dtype()) << t.shape();
  return os.str();
}

// The batch part (all but the last two dims) of matrix stack `t`, seen with `batch` (which it
// broadcasts to): stride 0 on expanded dims.
kernels::BufferView batch_view(const Tensor& t, const Shape& batch) {
  kernels::BufferView v;
  v.data = t.raw_data();
  v.dtype = t.dtype();
  v.rank = batch.size();
  const int extra = batch.size() - (t.ndim() - 2);
  for (int i = 0; i < v.rank; ++i) {
    v.sizes[i] = batch[i];
    const int j = i - extra;
    v.strides[i] = (j < 0 || t.shape()[j] == 1) ? 0 : t.strides()[j];
  }
  return v;
}

// The rank-3 kernel view of one run of `count` matrices starting `offset` elements into `t`.
kernels::BufferView matrix_run(const Tensor& t, std::int64_t offset, std::int64_t count,
                               std::int64_t batch_stride) {
  kernels::BufferView v;
  v.data = static_cast<char*>(t.raw_data()) + offset * std::int64_t(t.itemsize());
  v.dtype = t.dtype();
  v.rank = 3;
  v.sizes[0] = count;
  v.sizes[1] = t.shape()[t.ndim() - 2];
  v.sizes[2] = t.shape()[t.ndim() - 1];
  v.strides[0] = batch_stride;
  v.strides[1] = t.strides()[t.ndim() - 2];
  v.strides[2] = t.strides()[t.ndim() - 1];
  return v;
}

// out = a @ b for matrix stacks (rank >= 2) whose batch dims broadcast to `batch`; out is
// dense batch + [M, N].
void run_matmul(const Tensor& a, const Tensor& b, const Tensor& out, const Shape& batch) {
  const kernels::BufferView vc = batch_view(out, batch), va = batch_view(a, batch),
                            vb = batch_view(b, batch);
  const kernels::BufferView* views[3] = {&vc, &va, &vb};
  const kernels::Layout<3> l = kernels::coalesce(views);
  const std::int64_t runs = l.num_rows(), count = l.inner_size();
  for (std::int64_t r = 0; r < runs; ++r) {
    std::int64_t off[3];
    l.row_offsets(r, off);
    kernels::KernelArgs args;
    args.out = matrix_run(out, off[0], count, l.inner_stride(0));
    args.in[0] = matrix_run(a, off[1], count, l.inner_stride(1));
    args.in[1] = matrix_run(b, off[2], count, l.inner_stride(2));
    args.num_inputs = 2;
    args.device = out.device();
    kernels::run("matmul", kernels::Op::Matmul, out.dtype(), args);
  }
}

// matmul's backward. 1-D operands are promoted to matrices again, so both cotangents are plain
// matrix products; batch dims an operand was broadcast over are summed by the tape (sum_to),
// except that a 2-D right operand gets its gradient from one GEMM over the flattened batch.
autodiff::Cotangents matmul_vjp(const Tensor& a, const Tensor& b, const Tensor& g) {
  const bool a_vec = a.ndim() == 1, b_vec = b.ndim() == 1;
  const Tensor a2 = a_vec ? expand_dims(a, 0) : a;
  const Tensor b2 = b_vec ? expand_dims(b, 1) : b;
  Tensor g2 = g;
  if (a_vec && b_vec)
    g2 = expand_dims(expand_dims(g, -1), -1);
  else if (a_vec)
    g2 = expand_dims(g, -2);
  else if (b_vec)
    g2 = expand_dims(g, -1);

  Tensor da, db;
  if (a.node()) {
    da = matmul(g2, swapaxes(b2, -1, -2));
    if (a_vec) da = squeeze(da, -2);
  }
  if (b.node()) {
    if (b2.ndim() == 2 && a2.ndim() > 2) {
      const std::int64_t k = a2.shape(-1), n = g2.shape(-1);
      db = matmul(transpose(reshape(a2, Shape{-1, k})), reshape(g2, Shape{-1, n}));
    } else {
      db = matmul(swapaxes(a2, -1, -2), g2);
    }
    if (b_vec) db = squeeze(db, -1);
  }
  return {da, db};
}

}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  check_defined("matmul", a_in, "left operand");
  check_defined("matmul", b_in, "right operand");
  autodiff::check_same_device("matmul", a_in, b_in);
  ELEGY_CHECK(a_in.ndim() > 0 && b_in.ndim() > 0, "matmul",
              "operands must have at least one dimension, got ", describe(a_in), " x ",
              describe(b_in));
  ELEGY_CHECK(is_floating(a_in.dtype()) && is_floating(b_in.dtype()), "matmul",
              "only float32 and float64 operands are supported, got ", describe(a_in), " x ",
              describe(b_in), "; cast with astype first");
  const DType dtype = promote_types(a_in.dtype(), b_in.dtype());
  const Tensor a = a_in.dtype() == dtype ? a_in : astype(a_in, dtype);
  const Tensor b = b_in.dtype() == dtype ? b_in : astype(b_in, dtype);

  // numpy: a 1-D left operand is a row [1,K], a 1-D right operand a column [K,1]; the added
  // dimension is dropped from the result.
  const bool a_vec = a.ndim() == 1, b_vec = b.ndim() == 1;
  const Tensor a2 = a_vec ? views::expand_dims(a.detached(), 0) : a.detached();
  const Tensor b2 = b_vec ? views::expand_dims(b.detached(), 1) : b.detached();
  const std::int64_t m = a2.shape(-2), k = a2.shape(-1), n = b2.shape(-1);
  ELEGY_CHECK(k == b2.shape(-2), "matmul", "inner dimensions differ: ", dtype_and_shape(a_in),
              " x ", dtype_and_shape(b_in));
  const Shape a_batch(a2.shape().span().first(std::size_t(a2.ndim() - 2)));
  const Shape b_batch(b2.shape().span().first(std::size_t(b2.ndim() - 2)));
  const Shape batch = broadcast_shapes("matmul", a_batch, b_batch);

  Shape full = batch, shape = batch;
  full.push_back(m);
  full.push_back(n);
  if (!a_vec) shape.push_back(m);
  if (!b_vec) shape.push_back(n);
  Tensor out = Tensor::empty(shape, dtype, a.device());
  if (out.numel() > 0) {
    const Tensor out_full = views::reshape(out, full);  // dense: a view
    run_matmul(a2, b2, out_full, batch);
  }

  if (autodiff::should_record(a, b)) {
    autodiff::record("matmul", out, {&a, &b},
                     [a, b](const Tensor& g, const Tensor&) { return matmul_vjp(a, b, g); });
  }
  return out;
}

}  // namespace elegy
