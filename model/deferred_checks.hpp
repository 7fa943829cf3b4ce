// Checks of values that live on a GPU, without stopping the host mid-step. A loss that must
// validate its labels (sparse cross-entropy: every label in [0, classes)) reduces them to
// [min, max] on the device and queues the copy; Model's steps run the check before anything is
// written in place (the donated optimizer update) and before the step's states are kept, so a
// bad batch still fails with the loss's Error and changes nothing. By then the copy has usually
// landed: the host spent the time queueing the backward pass.
#pragma once

#include <functional>
#include <span>
#include <vector>

#include "elegy/autodiff/pending_read.hpp"

namespace elegy {

// Runs check(values of `t`, int64, at most 32): at once when no DeferredChecks scope is open on
// this thread or `t` is not on a GPU; else when the innermost scope resolves.
void check_later(const Tensor& t, std::function<void(std::span<const std::int64_t>)> check,
                 const char* op);

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
