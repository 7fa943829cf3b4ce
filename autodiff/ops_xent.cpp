// softmax_cross_entropy_with_integer_labels: checks, the SoftmaxXent kernels, backward rule.
#include "elegy/autodiff/ops_xent.hpp"

#include "elegy/autodiff/kernel_call.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_index.hpp"
#include "elegy/autodiff/ops_reduce.hpp"
#include "elegy/autodiff/ops_shape.hpp"
#include "elegy/autodiff/step_recording.hpp"
#include "elegy/autodiff/tape.hpp"

namespace elegy {
namespace {

using autodiff::buffer_view;
using autodiff::dense;
using kernels::Op;

constexpr const char* kOp = "softmax_cross_entropy_with_integer_labels";

// logits as dense [rows, K] and labels as dense int32 or int64 [rows]: the kernels read both
// (labels come as int32 from the datasets), so neither is cast by a kernel of its own each step.
struct Operands {
  Tensor logits, labels;
  std::int64_t rows = 0, classes = 0;
};

Operands operands(const Tensor& logits, const Tensor& labels) {
  Operands o;
  o.classes = logits.shape(-1);
  o.rows = labels.numel();
  o.logits = reshape(dense(logits), Shape{o.rows, o.classes});
  const bool as_is = labels.dtype() == DType::i32 || labels.dtype() == DType::i64;
  o.labels = reshape(dense(as_is ? labels : labels.astype(DType::i32)), Shape{o.rows});
  return o;
}

// A non-empty g whose every element is one value (all strides 0): what a mean's backward hands
// the loss per row.
bool broadcast_value(const Tensor& g) {
  if (g.ndim() == 0 || g.numel() == 0) return false;
  for (std::int64_t s : g.strides().span())
    if (s != 0) return false;
  return true;
}

kernels::KernelArgs args_of(const Operands& o) {
  kernels::KernelArgs args;
  args.in[0] = buffer_view(o.logits);
  args.in[1] = buffer_view(o.labels);
  args.num_inputs = 2;
  args.device = o.logits.device();
  return args;
}

// The first label outside [0, K) of a CPU tensor, as an Error (again at each replay of a
// compiled step).
void check_labels(const Operands& o, const Tensor& logits, const Tensor& labels) {
  if (!o.labels.device().is_cpu()) return;
  autodiff::check_on_host(
      kOp, {o.labels},
      // (Detached: a compiled step keeps the check, and must not keep the tape with it.)
      [values = o.labels.detached(), rows = o.rows, classes = o.classes, logits = logits.detached(),
       labels = labels.detached()] {
        const bool i32 = values.dtype() == DType::i32;
        const void* data = values.raw_data();  // (one host access, not one per label)
        for (std::int64_t i = 0; i < rows; ++i) {
          const std::int64_t v = i32 ? static_cast<const std::int32_t*>(data)[i]
                                     : static_cast<const std::int64_t*>(data)[i];
          ELEGY_CHECK(v >= 0 && v < classes, kOp, "label ", v, " at flat index ", i,
                      " is outside [0, ", classes, ") for logits ", describe(logits), " (labels ",
                      describe(labels), ")");
        }
      });
}

// g * (softmax(logits) - one_hot(labels)): the backward with ops, so it records for grad of grad.
Tensor composed_backward(const Tensor& logits, const Tensor& labels, const Tensor& g) {
  const Tensor p = softmax(logits, -1);
  return (p - one_hot(labels, logits.shape(-1), logits.dtype())) * expand_dims(g, -1);
}

}  // namespace

Tensor softmax_cross_entropy_with_integer_labels(const Tensor& logits, const Tensor& labels) {
  autodiff::check_defined(kOp, logits, "logits");
  autodiff::check_defined(kOp, labels, "labels");
  autodiff::check_same_device(kOp, logits, labels);
  ELEGY_CHECK(is_floating(logits.dtype()) && logits.ndim() >= 1, kOp,
              "logits must be float [..., num_classes], got ", describe(logits));
  ELEGY_CHECK(!is_floating(labels.dtype()) && labels.dtype() != DType::bool_, kOp,
              "labels must be integer class indices, got ", describe(labels));
  ELEGY_CHECK(labels.ndim() == logits.ndim() - 1 &&
                  Shape(labels.shape().span()) ==
                      Shape(logits.shape().span().first(std::size_t(logits.ndim() - 1))),
              kOp, "labels ", describe(labels), " must hold one class index per row of logits ",
              describe(logits));
  ELEGY_CHECK(logits.shape(-1) > 0 || labels.numel() == 0, kOp,
              "logits have no classes: ", describe(logits));
  const Operands o = operands(logits, labels);
  check_labels(o, logits, labels);
  Tensor loss = Tensor::empty(labels.shape(), logits.dtype(), logits.device());
  if (o.rows > 0) {
    kernels::KernelArgs args = args_of(o);
    args.out = buffer_view(loss);
    kernels::run(kOp, Op::SoftmaxXent, logits.dtype(), args);
  }
  if (autodiff::should_record(logits)) {
    // The forward's dense operands are kept for the fused backward, not rebuilt.
    autodiff::record(kOp, loss, {&logits}, [logits, labels, o](const Tensor& g, const Tensor&) {
      // Nothing records this backward (no grad of grad): the fused kernel.
      if (autodiff::is_recording())
        return autodiff::Cotangents{composed_backward(logits, labels, g)};
      Tensor dz = Tensor::empty(Shape{o.rows, o.classes}, logits.dtype(), logits.device());
      if (o.rows * o.classes > 0) {
        const Tensor gt = g.dtype() == logits.dtype() ? g : g.astype(logits.dtype());
        // A mean's gradient is one value broadcast to every row: read as it is (stride 0), not
        // copied out first.
        const Tensor gd = broadcast_value(gt) ? Tensor::view_of(gt.storage(), Shape{o.rows},
                                                                Strides{0}, gt.offset(), gt.dtype())
                                              : reshape(dense(gt), Shape{o.rows});
        kernels::KernelArgs args = args_of(o);
        args.in[2] = buffer_view(gd);
        args.num_inputs = 3;
        args.out = buffer_view(dz);
        kernels::run(kOp, Op::SoftmaxXentBackward, logits.dtype(), args);
      }
      return autodiff::Cotangents{reshape(dz, logits.shape())};
    });
  }
  return loss;
}

}  // namespace elegy
