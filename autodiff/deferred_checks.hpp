// Checks of values that live on a GPU, without stopping the host mid-step. An op that must
// validate integers it was given (take/index_add's indices, an embedding's ids, sparse
// cross-entropy's labels) reduces them to [min, max] on the device and queues the copy; Model's
// steps run the check before anything is written in place (the donated optimizer update) and
// before the step's states are kept, so a bad batch still fails with the op's Error and changes
// nothing. By then the copy has usually landed: the host spent the time queueing the backward
// pass. Outside a Model step (no scope open) the checks run at once, as on the CPU.
#pragma once

#include <functional>
#include <span>
#include <vector>

#include "elegy/autodiff/pending_read.hpp"

namespace elegy {

// Runs check(values of `t`, int64, at most 32): at once when no DeferredChecks scope is open on
// this thread or `t` is on the CPU; else, on a GPU, when the innermost scope resolves. Never on
// the meta device (no values).
void check_later(const Tensor& t, std::function<void(std::span<const std::int64_t>)> check,
                 const char* op);

// check_later of [min(values), max(values)] (an integer tensor with at least one element):
// on_bad(min, max) runs when a value lies outside [lo, hi); it is expected to raise.
void check_range_later(const Tensor& values, std::int64_t lo, std::int64_t hi,
                       std::function<void(std::int64_t, std::int64_t)> on_bad, const char* op);

// A scope collecting check_later's checks on this thread (scopes nest; the innermost collects).
// Checks still pending when it ends are dropped: the step they belonged to failed already.
class DeferredChecks {
 public:
  DeferredChecks();
  ~DeferredChecks();
  DeferredChecks(const DeferredChecks&) = delete;
  DeferredChecks& operator=(const DeferredChecks&) = delete;

  // Waits for each pending read and runs its check, in the order they were made; the first
  // Error propagates (the rest are dropped with it).
  void resolve();
  // resolve() on this thread's innermost scope, if any.
  static void resolve_current();

 private:
  struct Pending {
    PendingRead read;
    std::function<void(std::span<const std::int64_t>)> check;
  };
  friend void check_later(const Tensor&, std::function<void(std::span<const std::int64_t>)>,
                          const char*);
  std::vector<Pending> pending_;
  DeferredChecks* outer_;
};

}  // namespace elegy
