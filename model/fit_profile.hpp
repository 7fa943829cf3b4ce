// ELEGY_FIT_PROFILE=1: where fit's time goes, per epoch, on stderr. Each step of fit is cut into
// waiting for the batch (gathered on the host, or prefetched), train_on_batch (the step itself,
// including its read-back of the logs), the running means of the logs, and the callbacks (the
// progress bar among them); validation is timed as a whole. For comparing the loop with the
// bare step of bench/train (on a GPU host fit's steps measured 10x the bare step's time).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace elegy::detail {

class FitProfile {
 public:
  enum Part { kBatch, kStep, kMeans, kCallbacks, kValidation, kParts };

  // One per epoch.
  FitProfile() {
    static const bool enabled = [] {
      const char* env = std::getenv("ELEGY_FIT_PROFILE");
      return env && std::strcmp(env, "0") != 0;
    }();
    enabled_ = enabled;
  }

  // Adds the time since the previous mark (or since start()) to `part`.
  void mark(Part part) {
    if (!enabled_) return;
    const auto now = Clock::now();
    seconds_[part] += std::chrono::duration<double>(now - last_).count();
    last_ = now;
  }
  void start() {
    if (enabled_) last_ = Clock::now();
  }
  void step_done() { ++steps_; }

  // Prints the epoch's figures.
  void report(int epoch) const {
    if (!enabled_) return;
    const double per = steps_ ? 1e3 / double(steps_) : 0.0;
    std::fprintf(stderr,
                 "[fit profile] epoch %d: %lld steps; per step: batch %.3f ms, train_on_batch %.3f "
                 "ms, running means %.3f ms, callbacks %.3f ms; validation %.1f ms\n",
                 epoch + 1, static_cast<long long>(steps_), seconds_[kBatch] * per,
                 seconds_[kStep] * per, seconds_[kMeans] * per, seconds_[kCallbacks] * per,
                 seconds_[kValidation] * 1e3);
  }

 private:
  using Clock = std::chrono::steady_clock;
  bool enabled_ = false;
  Clock::time_point last_{};
  double seconds_[kParts] = {};
  std::int64_t steps_ = 0;
};

}  // namespace elegy::detail
