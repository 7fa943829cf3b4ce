// Recording state and the one function every op calls to put itself on the tape.
//
// An op records when (a) some value_and_grad is open on this thread, (b) no NoGrad scope is
// active, and (c) at least one input carries a Node (i.e. depends on a variable). Otherwise the
// cost is the one branch in should_record().
#pragma once

#include <initializer_list>
#include <span>

#include "elegy/autodiff/node.hpp"

namespace elegy::autodiff {

struct RecordingState {
  int open_tapes = 0;  // nesting depth of value_and_grad on this thread
  int no_grad = 0;     // nesting depth of NoGrad scopes
};
RecordingState& recording_state();  // thread-local

inline bool is_recording() {
  const RecordingState& s = recording_state();
  return s.open_tapes > 0 && s.no_grad == 0;
}

template <class... Ts>
bool should_record(const Ts&... inputs) {
  return is_recording() && ((inputs.node() != nullptr) || ...);
}

// Attaches a Node to `out`: its inputs' nodes, their shapes, and the rule. Call only when
// should_record(inputs...) is true. With keep_output the rule receives `out` (re-attached to
// its node, so second derivatives flow through it) as its second argument.
void record(const char* op, Tensor& out, std::initializer_list<const Tensor*> inputs, Vjp vjp,
            bool keep_output = false);
// The same for ops with a variable number of inputs (concatenate, stack).
void record(const char* op, Tensor& out, std::span<const Tensor> inputs, Vjp vjp,
            bool keep_output = false);

// RAII scope in which nothing records (inference, optimizer updates, metrics).
class NoGrad {
 public:
  NoGrad() { ++recording_state().no_grad; }
  ~NoGrad() { --recording_state().no_grad; }
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;
};

// RAII scope that opens one tape level (used by value_and_grad). Inside it, an enclosing NoGrad
// is suspended: differentiating is what the caller asked for.
class TapeScope {
 public:
  TapeScope() : saved_no_grad_(recording_state().no_grad) {
    ++recording_state().open_tapes;
    recording_state().no_grad = 0;
  }
  ~TapeScope() {
    --recording_state().open_tapes;
    recording_state().no_grad = saved_no_grad_;
  }
  TapeScope(const TapeScope&) = delete;
  TapeScope& operator=(const TapeScope&) = delete;

 private:
  int saved_no_grad_;
};

}  // namespace elegy::autodiff
