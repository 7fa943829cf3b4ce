// argmax_matches: whether each row's highest score is at its label, as one ArgMaxMatches kernel
// (argmax, equal and a cast before: three kernels and two temporaries); argmax_match_count: how
// many rows, as one ArgMaxMatchCount kernel (SparseCategoricalAccuracy's hits every step, where
// it needs no per-row weights: the hits and their Sum before).
#include <limits>

#include "elegy/autodiff/kernel_call.hpp"
#include "elegy/autodiff/ops_reduce.hpp"
#include "elegy/autodiff/ops_shape.hpp"
#include "elegy/core/views.hpp"

namespace elegy {

namespace {

// The operands of ArgMaxMatches / ArgMaxMatchCount: y_pred's rows as dense [rows, classes]
// scores and the labels as [rows] (any stride), checked for `op`.
struct MatchOperands {
  Tensor scores, labels;
  std::int64_t rows = 0;
};

MatchOperands match_operands(const char* op, const Tensor& y_pred, const Tensor& labels) {
  autodiff::check_defined(op, y_pred);
  autodiff::check_defined(op, labels);
  autodiff::check_same_device(op, y_pred, labels);
  ELEGY_CHECK(is_floating(y_pred.dtype()) && y_pred.ndim() >= 1, op,
              "y_pred must be a float tensor with a class axis, got ", describe(y_pred));
  ELEGY_CHECK(
      labels.dtype() == DType::i32 || labels.dtype() == DType::i64 || labels.dtype() == DType::u8,
      op, "labels must be int32, int64 or uint8 class indices, got ", describe(labels));
  const std::int64_t classes = y_pred.shape(-1);
  ELEGY_CHECK(labels.ndim() == y_pred.ndim() - 1 &&
                  Shape(labels.shape().span()) ==
                      Shape(y_pred.shape().span().first(std::size_t(labels.ndim()))),
              op, "labels ", describe(labels), " must have the shape of y_pred ", describe(y_pred),
              " without its last axis");
  ELEGY_CHECK(classes > 0, op, "y_pred ", describe(y_pred), " has no classes (its last axis is 0)");
  ELEGY_CHECK(classes <= std::numeric_limits<std::int32_t>::max(), op, "y_pred ", describe(y_pred),
              " has too many classes for int32 indices");
  MatchOperands m;
  m.rows = labels.numel();
  m.scores =
      views::reshape(y_pred.is_contiguous() ? y_pred.detached() : y_pred.detached().contiguous(),
                     Shape{m.rows, classes});
  // (A view where labels are dense; else reshape copies them: the kernel takes any stride.)
  m.labels = reshape(labels.detached(), Shape{m.rows});
  return m;
}

kernels::KernelArgs match_args(const MatchOperands& m, const Tensor& out) {
  kernels::KernelArgs args;
  args.out = autodiff::buffer_view(out);
  args.in[0] = autodiff::buffer_view(m.scores);
  args.in[1] = autodiff::buffer_view(m.labels);
  args.num_inputs = 2;
  args.device = out.device();
  return args;
}

}  // namespace

Tensor argmax_matches(const Tensor& y_pred, const Tensor& labels) {
  constexpr const char* kOp = "argmax_matches";
  const MatchOperands m = match_operands(kOp, y_pred, labels);
  const Tensor out = Tensor::empty(labels.shape(), DType::f32, labels.device());
  if (m.rows == 0) return out;
  kernels::KernelArgs args = match_args(m, out);
  args.out.rank = 1;
  args.out.sizes[0] = m.rows;
  args.out.strides[0] = 1;
  kernels::run(kOp, kernels::Op::ArgMaxMatches, y_pred.dtype(), args);
  return out;
}

Tensor argmax_match_count(const Tensor& y_pred, const Tensor& labels) {
  constexpr const char* kOp = "argmax_match_count";
  const MatchOperands m = match_operands(kOp, y_pred, labels);
  const Tensor out = Tensor::empty(Shape{}, DType::f32, labels.device());
  kernels::run(kOp, kernels::Op::ArgMaxMatchCount, y_pred.dtype(), match_args(m, out));
  return out;
}

}  // namespace elegy
