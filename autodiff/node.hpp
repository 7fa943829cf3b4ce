// Node: how one tensor was computed, as the tape sees it. Nodes form a DAG through `inputs`;
// a tensor holds its node, so the graph lives exactly as long as something can still be
// differentiated through it, and there is no global tape to clear.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "elegy/core/tensor.hpp"

namespace elegy::autodiff {

// Cotangents for an op's inputs, in input order; an undefined Tensor means "no gradient".
using Cotangents = std::vector<Tensor>;
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
