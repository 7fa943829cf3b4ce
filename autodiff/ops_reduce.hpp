// Reductions and normalisations. `axes` empty = all axes; `keepdims` keeps reduced axes as 1.
#pragma once

#include <span>

#include "elegy/autodiff/axes.hpp"
#include "elegy/core/tensor.hpp"

namespace elegy {

// Integer and bool inputs sum in int64 (int32 stays int32), floats in their own dtype.
Tensor sum(const Tensor& x, const Axes& axes = {}, bool keepdims = false);
Tensor mean(const Tensor& x, const Axes& axes = {}, bool keepdims = false);  // float result
Tensor prod(const Tensor& x, const Axes& axes = {}, bool keepdims = false);
Tensor max(const Tensor& x, const Axes& axes = {}, bool keepdims = false);
Tensor min(const Tensor& x, const Axes& axes = {}, bool keepdims = false);
// Variance with `ddof` delta degrees of freedom (numpy's var).
Tensor var(const Tensor& x, const Axes& axes = {}, bool keepdims = false, int ddof = 0);
// log(sum(exp(x))) computed without overflow.
Tensor logsumexp(const Tensor& x, const Axes& axes = {}, bool keepdims = false);
// Index (int32) of the first maximum along `axis`; over the flattened tensor without an axis.
Tensor argmax(const Tensor& x, int axis, bool keepdims = false);
Tensor argmin(const Tensor& x, int axis, bool keepdims = false);
Tensor argmax(const Tensor& x);
Tensor argmin(const Tensor& x);
// 1.0f where argmax(y_pred, -1) equals `labels` (integer class indices, y_pred's shape without
// its last axis), else 0.0f: float32 of labels' shape, one kernel where argmax, equal and a
// cast took three (SparseCategoricalAccuracy's hits). A label out of range matches nothing.
// Not differentiable (its values are constants). Error for a non-float y_pred, an empty class
// axis, non-integer (int32/int64/uint8) labels or shapes that do not match.
Tensor argmax_matches(const Tensor& y_pred, const Tensor& labels);
// sum(argmax_matches(y_pred, labels)) as one kernel: a float32 0-d count of the rows whose
// argmax is their label, counted exactly as an integer and rounded once (below 2^24 rows, the
// bits of that sum). The same operands and Errors.
Tensor argmax_match_count(const Tensor& y_pred, const Tensor& labels);
// True when any / all elements are nonzero.
Tensor any(const Tensor& x, const Axes& axes = {}, bool keepdims = false);
Tensor all(const Tensor& x, const Axes& axes = {}, bool keepdims = false);

Tensor softmax(const Tensor& x, int axis = -1);
Tensor log_softmax(const Tensor& x, int axis = -1);

// Σ over the tensors of Σ x² (optax's tree_l2_norm, squared): one float scalar in the widest of
// their dtypes, on their device, in that dtype. Cheaper than the composed sum(square(x)) + ...
// on the tape: one node whose backward is 2 g x per tensor, and forward one SumSquaresMany kernel
// for all the tensors (no squared temporary; a strided tensor is made dense first). On the CPU
// it sums each tensor as a SumSquares would, then adds the per-tensor sums; on CUDA it adds all
// tensors' partial sums in one pass (within a few ulp of the CPU). Tensors of different dtypes
// are each summed in their own dtype (a SumSquares each) and the sums widened. The L2
// regularizer runs it every step. Error when empty, non-float, or on mixed devices. With
// `scale`: scale * Σ, the product taken by the kernel that adds the sums (the bits of scale *
// sum_of_squares(xs), one kernel fewer backward).
Tensor sum_of_squares(std::span<const Tensor> xs, double scale = 1.0);

// Sums `x` down to `shape` (the reverse of broadcasting): what the tape applies to a cotangent
// whose input was broadcast. Error when `shape` does not broadcast to x's shape.
Tensor sum_to(const Tensor& x, const Shape& shape);

}  // namespace elegy
