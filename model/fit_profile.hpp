// ELEGY_FIT_PROFILE=1: where fit's time goes, per epoch, on stderr. Each step of fit is cut into
// waiting for the batch (gathered on the host, or prefetched), train_on_batch's three parts
// (copying the batch in, running the step: on a GPU the time to enqueue its kernels, and reading
// its logs back: on a GPU the wait for the device), the running means of the logs, and the
// callbacks (the progress bar among them); validation is timed as a whole. It also counts the
// kernels each step runs on fit's thread (on a GPU, launches) and, with a GPU visible, the
// host's waits for it and the staging ring's (cuda:0's). For comparing the loop
// with the bare step of bench/train (on a GPU host fit's steps measured 10x the bare step's time).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "elegy/core/device.hpp"
#include "elegy/kernels/dispatch.hpp"

namespace elegy::detail {

class FitProfile {
 public:
  enum Part { kBatch, kCopyIn, kStep, kLogs, kMeans, kCallbacks, kValidation, kParts };

  // One per epoch; while it lives, train_on_batch on this thread marks its parts in it.
  FitProfile() {
    static const bool enabled = [] {
      const char* env = std::getenv("ELEGY_FIT_PROFILE");
      return env && std::strcmp(env, "0") != 0;
    }();
    enabled_ = enabled;
    if (enabled_) {
      previous_ = current();
      current() = this;
    }
  }
  ~FitProfile() {
    if (enabled_) current() = previous_;
  }
  FitProfile(const FitProfile&) = delete;
  FitProfile& operator=(const FitProfile&) = delete;

  // Adds the time since the previous mark (or since start()) to `part`.
  void mark(Part part) {
    if (!enabled_) return;
    const auto now = Clock::now();
    seconds_[part] += std::chrono::duration<double>(now - last_).count();
    last_ = now;
    const std::uint64_t kernels = kernels::kernels_run_by_this_thread();
    kernels_[part] += kernels - last_kernels_;
    last_kernels_ = kernels;
  }
  // mark() on the profile of this thread's running epoch, if any (train_on_batch's parts).
  static void mark_current(Part part) {
    if (FitProfile* p = current()) p->mark(part);
  }
  void start() {
    if (!enabled_) return;
    last_ = Clock::now();
    last_kernels_ = kernels::kernels_run_by_this_thread();
    gpu_ = cuda_available();
    if (gpu_) {
      host_waits_ = cuda_host_waits();
      staging_waits_ = cuda_staging_stats().waits;
    }
  }
  void step_done() { ++steps_; }

  // Prints the epoch's figures.
  void report(int epoch) const {
    if (!enabled_) return;
    const double per = steps_ ? 1e3 / double(steps_) : 0.0;
    std::fprintf(stderr,
                 "[fit profile] epoch %d: %lld steps; per step (ms): batch %.3f, copy in %.3f, "
                 "step %.3f, logs %.3f, running means %.3f, callbacks %.3f; validation %.1f ms; "
                 "kernels per step: %.1f in the step, %.1f in all\n",
                 epoch + 1, static_cast<long long>(steps_), seconds_[kBatch] * per,
                 seconds_[kCopyIn] * per, seconds_[kStep] * per, seconds_[kLogs] * per,
                 seconds_[kMeans] * per, seconds_[kCallbacks] * per, seconds_[kValidation] * 1e3,
                 kernels_per_step(kStep), all_kernels_per_step());
    // On a GPU: how often the host waited for it (a step should wait once, for its logs) and
    // how often a copy in waited for the staging ring (never, unless the host runs a ring ahead).
    if (gpu_ && steps_ > 0)
      std::fprintf(stderr,
                   "[fit profile] epoch %d on cuda:0: host waits per step %.2f, staging-ring "
                   "waits %llu\n",
                   epoch + 1, double(cuda_host_waits() - host_waits_) / double(steps_),
                   static_cast<unsigned long long>(cuda_staging_stats().waits - staging_waits_));
  }

 private:
  using Clock = std::chrono::steady_clock;
  static FitProfile*& current() {
    static thread_local FitProfile* p = nullptr;
    return p;
  }
  double kernels_per_step(Part part) const {
    return steps_ ? double(kernels_[part]) / double(steps_) : 0.0;
  }
  // Every part of a step (validation is not one).
  double all_kernels_per_step() const {
    double total = 0.0;
    for (int part = 0; part < kValidation; ++part) total += kernels_per_step(Part(part));
    return total;
  }
  bool enabled_ = false;
  FitProfile* previous_ = nullptr;
  Clock::time_point last_{};
  double seconds_[kParts] = {};
  std::uint64_t kernels_[kParts] = {};
  std::uint64_t last_kernels_ = 0;
  std::int64_t steps_ = 0;
  bool gpu_ = false;
  std::uint64_t host_waits_ = 0, staging_waits_ = 0;  // at start()
};

}  // namespace elegy::detail
