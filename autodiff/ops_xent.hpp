// Softmax cross-entropy from logits and integer labels as one op (optax's
// softmax_cross_entropy_with_integer_labels), forward and backward each one kernel: no
// log-softmax, one-hot or gather of [rows, classes] reaches memory, and the backward is
// g * (softmax - one_hot) in one pass.
#pragma once

#include "elegy/core/tensor.hpp"

namespace elegy {

// loss[...] = logsumexp(logits[..., :]) - logits[..., labels[...]] for logits [..., K] (float32
// or float64) and integer labels [...] in [0, K). Equal bit for bit to
// -take_along_axis(log_softmax(logits), labels) on the CPU. Labels of CPU tensors are checked
// (an Error names the first one out of range); on other devices reading them back would stall
// the stream, so an out-of-range label gives a NaN loss and NaN gradients instead (the losses
// check them first unless told not to). Derivatives of any order: a first-order backward runs
// the fused kernel, a recorded one (grad of grad) the composed ops.
Tensor softmax_cross_entropy_with_integer_labels(const Tensor& logits, const Tensor& labels);

}  // namespace elegy
