// Many mul_adds in one MulAddMany kernel (kernels/mul_add_list.hpp): the tape folds every
// parameter's held-back L2 product into its gradient at the end of the backward pass with one
// launch (grad.cpp), where a mul_add per parameter took one each.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "elegy/core/tensor.hpp"

namespace elegy::autodiff {

struct MulAddTerm {
  Tensor a, b, c;  // a * b + c; b one element
};

// a * b + c per term, with the bits of mul_add(a, b, c), as one kernel; nullopt (running
// nothing) unless every term is dense a and c of one shape and a 0-d b, all of one float dtype on
// one device, and nothing of them is being recorded for a derivative (the kernel records no
// backward rule): the caller then calls mul_add per term.
std::optional<std::vector<Tensor>> mul_add_list(std::span<const MulAddTerm> terms);

}  // namespace elegy::autodiff
