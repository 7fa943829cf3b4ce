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

#include "elegy/core/error.hpp"
#include "elegy/kernels/view_list.hpp"

namespace elegy::kernels {

inline constexpr int kRunningMeansHeader = 2;  // the count and the new count
inline constexpr int kRunningMeansPerLog = 4;  // value, total, new total, mean

// The number of logs in `list`, after checking its layout: Error naming `op` otherwise.
inline int running_means_logs(const char* op, const ViewList& list) {
  ELEGY_CHECK(list.count >= kRunningMeansHeader &&
                  (list.count - kRunningMeansHeader) % kRunningMeansPerLog == 0,
              op, "a list of ", list.count,
              " views is not a count, a new count and four views per log");
  const auto scalar = [](const BufferView& v) {
    return v.data != nullptr && v.dtype == DType::f32 && v.numel() == 1;
  };
  for (int i = 0; i < list.count; ++i) {
    const int role = i < kRunningMeansHeader ? -1 : (i - kRunningMeansHeader) % kRunningMeansPerLog;
    // A log's value and new total are both there, or both absent (null).
    const bool optional = role == 0 || role == 2;
    const BufferView& v = list.views[i];
    const bool absent =
        optional && v.data == nullptr && list.views[role == 0 ? i + 2 : i - 2].data == nullptr;
    ELEGY_CHECK(absent || scalar(v), op, "view ", i, " of the list must be one float32 element (",
                name(v.dtype), ", ", v.numel(), " elements", v.data == nullptr ? ", null" : "",
                ")");
  }
  return (list.count - kRunningMeansHeader) / kRunningMeansPerLog;
}

}  // namespace elegy::kernels
