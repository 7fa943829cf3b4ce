// Checks of class-index labels given as floats (Keras accepts 3.0 for class 3, not 0.4): shared
// by the sparse losses and metrics. On a GPU the check is a deferred count (check_later), so a
// Model step does not stop the host between its forward and backward passes for it.
#pragma once

#include "elegy/core/tensor.hpp"

namespace elegy::losses {

// Raises `who`: "y_true <described> holds <n> non-integer value(s): <hint>" when a value of the
// float tensor `labels` is not a whole number (NaN included), at once on the CPU, when the
// step's checks resolve on a GPU.
void check_integral_labels(const char* who, const Tensor& y_true, const Tensor& labels,
                           const char* hint);

}  // namespace elegy::losses
