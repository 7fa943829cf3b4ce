// The views of one RunningMeans call (kernels/op.hpp), in a ViewList (view_list.hpp): running
// means (a step's loss logs, Keras' loss tracker, and a metric's {total, count}; model/metrics/
// running_means.hpp) updated and read in one kernel where a MulAdd or Add per log, an Add for the
// count and a DivNoNan per log took one launch each. All views are 0-d float32:
//   views[0] count, views[1] the new count = count + scalar[1] (rounded to float32);
//   then per log: value, total, new total, mean, where
//     new total = value * scalar[0] + total (the product rounded first: MulAdd's bits; with
//                 scalar[0] = 1 an Add's),
//     mean      = new count == 0 ? 0 : new total / new count (DivNoNan's bits).
//   A log with no value this batch has null value and new-total views: its total stays and its
//   mean is total / new count.
#pragma once

#include "elegy/kernels/view_list.hpp"

namespace elegy::kernels {

inline constexpr int kRunningMeansHeader = 2;  // the count and the new count
inline constexpr int kRunningMeansPerLog = 4;  // value, total, new total, mean

}  // namespace elegy::kernels
