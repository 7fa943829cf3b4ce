// argmax_matches: whether each row's highest score is at its label, as one ArgMaxMatches kernel
// (SparseCategoricalAccuracy's hits every step: argmax, equal and a cast before, three kernels
// and two temporaries).
#include <limits>

#include "elegy/autodiff/kernel_call.hpp"
#include "elegy/autodiff/ops_reduce.hpp"
#include "elegy/autodiff/ops_shape.hpp"
#include "elegy/core/views.hpp"

namespace elegy {

Tensor argmax_matches(const Tensor& y_pred, const Tensor& labels) {
  constexpr const char* kOp = "argmax_matches";
  autodiff::check_defined(kOp, y_pred);
  autodiff::check_defined(kOp, labels);
  autodiff::check_same_device(kOp, y_pred, labels);
  ELEGY_CHECK(is_floating(y_pred.dtype()) && y_pred.ndim() >= 1, kOp,
              "y_pred must be a float tensor with a class axis, got ", describe(y_pred));
  ELEGY_CHECK(
      labels.dtype() == DType::i32 || labels.dtype() == DType::i64 || labels.dtype() == DType::u8,
      kOp, "labels must be int32, int64 or uint8 class indices, got ", describe(labels));
  const std::int64_t classes = y_pred.shape(-1);
  ELEGY_CHECK(labels.ndim() == y_pred.ndim() - 1 &&
                  Shape(labels.shape().span()) ==
                      Shape(y_pred.shape().span().first(std::size_t(labels.ndim()))),
              kOp, "labels ", describe(labels), " must have the shape of y_pred ", describe(y_pred),
              " without its last axis");
  ELEGY_CHECK(classes > 0, kOp, "y_pred ", describe(y_pred),
              " has no classes (its last axis is 0)");
  ELEGY_CHECK(classes <= std::numeric_limits<std::int32_t>::max(), kOp, "y_pred ", describe(y_pred),
              " has too many classes for int32 indices");
  const Tensor out = Tensor::empty(labels.shape(), DType::f32, labels.device());
  const std::int64_t rows = labels.numel();
  if (rows == 0) return out;
  const Tensor scores =
      views::reshape(y_pred.is_contiguous() ? y_pred.detached() : y_pred.detached().contiguous(),
                     Shape{rows, classes});
  // (A view where labels are dense; else reshape copies them: the kernel takes any stride.)
  const Tensor flat_labels = reshape(labels.detached(), Shape{rows});
  kernels::KernelArgs args;
  args.out = autodiff::buffer_view(out);
  args.out.rank = 1;
  args.out.sizes[0] = rows;
  args.out.strides[0] = 1;
  args.in[0] = autodiff::buffer_view(scores);
  args.in[1] = autodiff::buffer_view(flat_labels);
  args.num_inputs = 2;
  args.device = out.device();
  kernels::run(kOp, kernels::Op::ArgMaxMatches, y_pred.dtype(), args);
  return out;
}

}  // namespace elegy
