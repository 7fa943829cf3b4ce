// optax's design in C++: a GradientTransformation is a pair of pure functions over Trees.
//
//   GradientTransformation opt = chain({clip_by_global_norm(1.0), adam(1e-3)});
//   Tree state = opt.init(params);
//   auto [updates, new_state] = opt.update(grads, state, params);
//   params = apply_updates(params, updates);
//
// States are Trees (maps of tensors: counts, moments), returned and never mutated. Updates run
// without recording on any tape. Learning rates are a number or a Schedule everywhere.
//
// This header is the interface; the transforms (scale_by_adam, trace, clip_by_global_norm,
// add_decayed_weights, masked, ...) are in transforms.hpp, the optimizers built from them (sgd,
// adam, adamw, rmsprop) in aliases.hpp, and optax's schedules in schedules.hpp. Each optimizer
// matches optax's trajectories to float32 2e-6 / float64 1e-12 (tests/optim/).
#pragma once

#include <cstdint>
#include <functional>
#include <utility>
#include <variant>
#include <vector>

#include "elegy/core/tree.hpp"

namespace elegy::optim {

using OptState = Tree;

// (updates, new state)
struct UpdateResult {
  Tree updates;
  OptState state;
};

// (new params, new state): an update already applied to the params.
struct StepResult {
  Tree params;
  OptState state;
};

struct GradientTransformation {
  // Builds the initial state for `params`.
  std::function<OptState(const Tree& params)> init;
  // Transforms `updates` (gradients) given the state from init/previous update and, for
  // transforms that need them (weight decay, trust ratios), the current params (may be None).
  std::function<UpdateResult(const Tree& updates, const OptState& state, const Tree& params)>
      update;
  // Optional fast path, empty unless an alias sets it: the same new params and state as
  // apply_updates(params, update(updates, state, params).updates), bit for bit, in fewer passes
  // over memory (the fused adam/sgd kernels write the new params directly). Call it through
  // update_and_apply() below, which falls back to the two-step path when it is empty. A wrapper
  // that copies a transformation and replaces its `update` must clear this too (or set its own).
  // `state` and `params` are donated: it may take them over and write the new values into the
  // buffers nobody else holds (Tensor::is_sole_owner). When it returns, they are valid but
  // unspecified (moved from). When it throws, it gives both back: as they were when the failure
  // came before its kernel (every check and allocation does), holding partly updated buffers
  // when the kernel itself failed partway (a CUDA launch error).
  std::function<StepResult(const Tree& updates, OptState&& state, Tree&& params)> update_and_apply =
      nullptr;
};

// A schedule maps the step count (0-based number of updates applied so far) to a value.
using Schedule = std::function<double(std::int64_t count)>;
// A learning rate: a constant or a schedule.
using ScalarOrSchedule = std::variant<double, Schedule>;

// params + updates, leafwise, cast back to each param's dtype (optax.apply_updates).
Tree apply_updates(const Tree& params, const Tree& updates);

// update followed by apply_updates, through opt.update_and_apply when the optimizer has it
// (Model's train_step runs this). `state` and `params` stay as they are.
StepResult update_and_apply(const GradientTransformation& opt, const Tree& updates,
                            const OptState& state, const Tree& params);
// The same, donating `state` and `params` (pass them with std::move): the fused optimizers then
// write the new moments and params over the old ones wherever no other tree or tensor shares
// them, like an in-place torch.optim step, saving the memory traffic of fresh outputs. When it
// throws, both are given back (see GradientTransformation::update_and_apply).
StepResult update_and_apply(const GradientTransformation& opt, const Tree& updates,
                            OptState&& state, Tree&& params);

// Applies the transforms in order; the state is the list of their states.
GradientTransformation chain(std::vector<GradientTransformation> transforms);

}  // namespace elegy::optim
