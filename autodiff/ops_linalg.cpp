// matmul with numpy semantics on top of the Matmul kernel (rank-3 [B,M,K] x [B,K,N] views).
// Operands go to the kernel as the views they are: a transposed operand reaches BLAS as a
// transpose flag, a broadcast batch dimension as stride 0. A stack of matrices times one matrix
// whose batch folds into the rows ([B,T,D] @ [D,E]) is one [B*T,D] @ [D,E] GEMM; other batch
// dimensions that cannot be merged into one strided batch are walked here, one kernel call per
// merged run.
#include "elegy/autodiff/ops_linalg.hpp"

#include <sstream>

#include "elegy/autodiff/kernel_call.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_shape.hpp"
#include "elegy/autodiff/tape.hpp"
#include "elegy/kernels/layout.hpp"

namespace elegy {

using autodiff::check_defined;

namespace {

// "float32[64,784]": the operand as the user wrote it, for shape errors.
std::string dtype_and_shape(const Tensor& t) {
  std::ostringstream os;
  os << name(t.dtype()) << t.shape();
  return os.str();
}

// One operand seen as a stack of matrices: numpy's promotion of a 1-D left operand to a row
// [1,K] and of a 1-D right operand to a column [K,1], without building a view tensor.
struct Operand {
  const Tensor& t;
  int batch_rank;  // leading dims before the matrix
  std::int64_t rows, cols, row_stride, col_stride;

  Operand(const Tensor& x, bool left) : t(x) {
    const int r = x.ndim();
    if (r == 1) {
      batch_rank = 0;
      rows = left ? 1 : x.shape()[0];
      cols = left ? x.shape()[0] : 1;
      row_stride = left ? x.shape()[0] : x.strides()[0];  // a single row: any stride
      col_stride = left ? x.strides()[0] : 1;
    } else {
      batch_rank = r - 2;
      rows = x.shape()[r - 2];
      cols = x.shape()[r - 1];
      row_stride = x.strides()[r - 2];
      col_stride = x.strides()[r - 1];
    }
  }
  Operand(const Tensor& x, int batch_dims, std::int64_t m, std::int64_t n, std::int64_t rs,
          std::int64_t cs)
      : t(x), batch_rank(batch_dims), rows(m), cols(n), row_stride(rs), col_stride(cs) {}
  Shape batch() const { return Shape(t.shape().span().first(std::size_t(batch_rank))); }

  // The rank-3 kernel view of `count` matrices (or one matrix of `rows` rows) starting `offset`
  // elements into the tensor.
  kernels::BufferView run(std::int64_t offset, std::int64_t count, std::int64_t batch_stride,
                          std::int64_t num_rows) const {
    kernels::BufferView v;
    v.data = static_cast<char*>(t.address()) + offset * std::int64_t(t.itemsize());
    v.dtype = t.dtype();
    v.rank = 3;
    v.sizes[0] = count;
    v.sizes[1] = num_rows;
    v.sizes[2] = cols;
    v.strides[0] = batch_stride;
    v.strides[1] = row_stride;
    v.strides[2] = col_stride;
    return v;
  }
};

// The batch part of `op` seen with `batch` (which it broadcasts to): stride 0 on expanded dims.
kernels::BufferView batch_view(const Operand& op, const Shape& batch) {
  kernels::BufferView v;
  v.rank = batch.size();
  const int extra = batch.size() - op.batch_rank;
  for (int i = 0; i < v.rank; ++i) {
    v.sizes[i] = batch[i];
    const int j = i - extra;
    v.strides[i] = (j < 0 || op.t.shape()[j] == 1) ? 0 : op.t.strides()[j];
  }
  return v;
}

// When the batch dims and the rows of `op` are one strided run (a dense [B,T,D] stack, say),
// returns that row stride; the stack is then a single matrix of B*T rows.
bool rows_fold(const Operand& op, std::int64_t& stride) {
  stride = op.row_stride;
  std::int64_t extent = op.rows;
  bool found = op.rows != 1;
  for (int i = op.batch_rank - 1; i >= 0; --i) {
    const std::int64_t size = op.t.shape()[i], s = op.t.strides()[i];
    if (size == 1) continue;
    if (!found) {
      stride = s;
      extent = size;
      found = true;
    } else if (s == stride * extent) {
      extent *= size;
    } else {
      return false;
    }
  }
  if (!found) stride = op.cols;  // a single row
  return true;
}

void launch(const kernels::BufferView& a, const kernels::BufferView& b,
            const kernels::BufferView& c, Device device) {
  kernels::KernelArgs args;
  args.out = c;
  args.in[0] = a;
  args.in[1] = b;
  args.num_inputs = 2;
  args.device = device;
  kernels::run("matmul", kernels::Op::Matmul, c.dtype, args);
}

// out (dense, batch + [M, N]) = a @ b.
void run_matmul(const Operand& a, const Operand& b, const Tensor& out, const Shape& batch) {
  const std::int64_t m = a.rows, n = b.cols;
  // The output as a dense matrix stack batch + [M, N] (whatever dims numpy dropped from it).
  const Operand oc{out, batch.size(), m, n, n, 1};

  std::int64_t fold_stride;
  if (b.batch_rank == 0 && rows_fold(a, fold_stride)) {
    // Every product shares b: one GEMM over all rows of the stack.
    const std::int64_t rows = batch.numel() * m;
    Operand fa = a;
    fa.row_stride = fold_stride;
    launch(fa.run(0, 1, 0, rows), b.run(0, 1, 0, b.rows), oc.run(0, 1, 0, rows), out.device());
    return;
  }
  const kernels::BufferView vc = batch_view(oc, batch), va = batch_view(a, batch),
                            vb = batch_view(b, batch);
  const kernels::BufferView* views[3] = {&vc, &va, &vb};
  const kernels::Layout<3> l = kernels::coalesce(views);
  const std::int64_t runs = l.num_rows(), count = l.inner_size();
  for (std::int64_t r = 0; r < runs; ++r) {
    std::int64_t off[3];
    l.row_offsets(r, off);
    launch(a.run(off[1], count, l.inner_stride(1), m),
           b.run(off[2], count, l.inner_stride(2), b.rows),
           oc.run(off[0], count, l.inner_stride(0), m), out.device());
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

Tensor matmul_same_dtype(const Tensor& a, const Tensor& b) {
  const Operand oa{a, true}, ob{b, false};
  Shape batch;
  if (oa.batch_rank > 0 || ob.batch_rank > 0)
    batch = oa.batch_rank == 0   ? ob.batch()
            : ob.batch_rank == 0 ? oa.batch()
                                 : broadcast_shapes("matmul", oa.batch(), ob.batch());
  // numpy drops the dimension a 1-D operand was promoted with.
  Shape shape = batch;
  if (a.ndim() > 1) shape.push_back(oa.rows);
  if (b.ndim() > 1) shape.push_back(ob.cols);
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  if (out.numel() > 0) run_matmul(oa, ob, out, batch);
  if (autodiff::should_record(a, b)) {
    autodiff::record("matmul", out, {&a, &b},
                     [a, b](const Tensor& g, const Tensor&) { return matmul_vjp(a, b, g); });
  }
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_defined("matmul", a, "left operand");
  check_defined("matmul", b, "right operand");
  autodiff::check_same_device("matmul", a, b);
  ELEGY_CHECK(a.ndim() > 0 && b.ndim() > 0, "matmul",
              "operands must have at least one dimension, got ", describe(a), " x ", describe(b));
  ELEGY_CHECK(is_floating(a.dtype()) && is_floating(b.dtype()), "matmul",
              "only float32 and float64 operands are supported, got ", describe(a), " x ",
              describe(b), "; cast with astype first");
  const std::int64_t k_a = a.shape(-1), k_b = b.ndim() == 1 ? b.shape(0) : b.shape(-2);
  ELEGY_CHECK(k_a == k_b, "matmul", "inner dimensions differ: ", dtype_and_shape(a), " x ",
              dtype_and_shape(b));
  if (a.dtype() == b.dtype()) return matmul_same_dtype(a, b);
  // float32 with float64: the float32 side is cast (a recorded astype, so its gradient returns
  // as float32).
  const DType dtype = promote_types(a.dtype(), b.dtype());
  return matmul_same_dtype(a.dtype() == dtype ? a : astype(a, dtype),
                           b.dtype() == dtype ? b : astype(b, dtype));
}

}  // namespace elegy
