// The views of one RunningMeans call (kernels/op.hpp), in a ViewList (view_list.hpp): the
// running means of a step's loss logs (Keras' loss tracker; model/metrics/running_means.hpp)
// updated and read in one kernel where a MulAdd per log, an Add for the count and a DivNoNan per
// log took one launch each. All views are 0-d float32:
//   views[0] count, views[1] the new count = count + weight (scalar[0], rounded to float32);
//   then per log: value, total, new total, mean, where
//     new total = value * weight + total (the product rounded first: MulAdd's bits),
//     mean      = new count == 0 ? 0 : new total / new count (DivNoNan's bits).
//   A log with no value this batch has null value and new-total views: its total stays and its
//   mean is total / new count.
#pragma once

#include "elegy/kernels/view_list.hpp"

namespace elegy::kernels {

inline constexpr int kRunningMeansHeader = 2;  // the count and the new count
inline constexpr int kRunningMeansPerLog = 4;  // value, total, new total, mean

}  // namespace elegy::kernels
