// Node: how one tensor was computed, as the tape sees it. Nodes form a DAG through `inputs`;
// a tensor holds its node, so the graph lives exactly as long as something can still be
// differentiated through it, and there is no global tape to clear.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "elegy/core/tensor.hpp"

namespace elegy::autodiff {

// One input's cotangent: `value`, or value * scale when `scale` (0-d, value's dtype) is set.
// A rule returns the product unformed when the walker can fold it into that input's other
// cotangents with one mul_add (an L2 term's 2 * l2 * p meets the data loss's gradient of p): one
// pass and one kernel instead of a Mul's and an Add's. Converts from a plain Tensor, so rules
// return tensors as they are.
struct Cotangent {
  Cotangent() = default;
  Cotangent(Tensor v) : value(std::move(v)) {}  // NOLINT: implicit on purpose, see above
  Cotangent(Tensor v, Tensor s) : value(std::move(v)), scale(std::move(s)) {}

  bool defined() const { return value.defined(); }
  bool scaled() const { return scale.defined(); }

  Tensor value;
  Tensor scale;
};

// Cotangents for an op's inputs, in input order; an undefined one means "no gradient".
using Cotangents = std::vector<Cotangent>;
// The backward rule: (cotangent of the output, the output itself) -> input cotangents. Written
// with public ops, so it records on an enclosing tape and grad-of-grad works. `out` is only
// defined when the op asked to keep its output (record(..., keep_output)).
using Vjp = std::function<Cotangents(const Tensor& g, const Tensor& out)>;

struct Node {
  const char* op = "";                        // for error messages and debugging
  std::vector<std::shared_ptr<Node>> inputs;  // null where that input is not being traced
  std::vector<Shape> input_shapes;            // the walker sums cotangents back to these
  std::vector<DType> input_dtypes;
  Vjp vjp;             // empty for a leaf (a variable of value_and_grad)
  Tensor kept_output;  // detached output, when the rule reads it (exp, sigmoid, ...)
  Shape out_shape;
  DType out_dtype = DType::f32;
};

}  // namespace elegy::autodiff
