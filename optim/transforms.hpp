// The building blocks of optimizers, as in optax: each function returns a GradientTransformation
// whose state is a Tree (see transform.hpp). chain() them, or use the aliases in aliases.hpp.
//
// Argument style (the same in aliases.hpp): what optax takes positionally without a default is a
// positional argument here; every hyperparameter with a default lives in one options struct,
// fields in optax's keyword order, passed last with designated initializers:
//
//   trace(0.9, {.nesterov = true});  scale_by_adam({.b1 = 0.8, .eps_root = 1e-8});
//
// States (maps, keys as optax's NamedTuple fields; "count" is an int32 scalar on the CPU even when
// the params live on a GPU, so schedules and bias corrections are evaluated on the host without a
// device sync; moments live on each param's device in its dtype):
//
//   identity, scale, clip_by_global_norm              None
//   scale_by_schedule                                 {count}
//   scale_by_learning_rate                            that of scale or of scale_by_schedule
//   trace                                             {trace}
//   scale_by_adam                                     {count, mu, nu}
//   scale_by_rms                                      {nu}            ({count, nu} with
//   bias_correction) scale_by_stddev                                   {mu, nu}        ({count, mu,
//   nu} with bias_correction) add_decayed_weights                               None ({count} with
//   a schedule) masked                                            {inner_state}
//
// Updates run under autodiff::NoGrad with the public ops, so they run on any device the ops do.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <variant>

#include "elegy/optim/transform.hpp"

namespace elegy::optim {

// Leaves the updates as they are (optax.identity).
GradientTransformation identity();

// updates * step_size.
GradientTransformation scale(double step_size);

struct ScaleByLearningRateOptions {
  bool flip_sign = true;  // multiply by -learning_rate: a descent step
};
// updates * -lr (or * lr without flip_sign); a schedule is evaluated at the step count. The rate
// must be finite and >= 0 (schedule values are checked at each step).
GradientTransformation scale_by_learning_rate(const ScalarOrSchedule& learning_rate,
                                              ScaleByLearningRateOptions options = {});

// updates * step_size_fn(count), count = number of updates applied so far.
GradientTransformation scale_by_schedule(Schedule step_size_fn);

struct TraceOptions {
  bool nesterov = false;
  std::optional<DType> accumulator_dtype =
      std::nullopt;  // the trace's dtype; default: each param's
};
// Momentum: trace = updates + decay * trace; the output is the trace (or, with nesterov,
// updates + decay * new trace).
GradientTransformation trace(double decay, TraceOptions options = {});

struct ScaleByAdamOptions {
  double b1 = 0.9;                               // decay of the first moment
  double b2 = 0.999;                             // decay of the second moment
  double eps = 1e-8;                             // added to the denominator outside the square root
  double eps_root = 0.0;                         // added inside the square root
  std::optional<DType> mu_dtype = std::nullopt;  // the first moment's dtype; default: each param's
  bool nesterov = false;                         // NAdam (Dozat 2016)
};
// Adam's rescaling: mu_hat / (sqrt(nu_hat + eps_root) + eps), moments bias-corrected.
GradientTransformation scale_by_adam(ScaleByAdamOptions options = {});

struct ScaleByRmsOptions {
  double decay = 0.9;          // decay of the moving averages
  double eps = 1e-8;           // keeps the denominator away from zero
  double initial_scale = 0.0;  // the second moment's initial value
  bool eps_in_sqrt = true;     // rsqrt(nu + eps), else 1 / (sqrt(nu) + eps)
  bool bias_correction = false;
};
// updates / sqrt(EMA of updates^2) (RMSProp).
GradientTransformation scale_by_rms(ScaleByRmsOptions options = {});
// updates / sqrt(EMA of updates^2 - (EMA of updates)^2) (centred RMSProp).
GradientTransformation scale_by_stddev(ScaleByRmsOptions options = {});

// Rescales all updates together so that their global L2 norm is at most max_norm (> 0).
GradientTransformation clip_by_global_norm(double max_norm);
// The L2 norm of all leaves together, a 0-d tensor on the leaves' device (optax.global_norm).
Tensor global_norm(const Tree& updates);

// Which leaves a transform applies to: a Tree with the params' structure, or a prefix of it,
// whose leaves are one-element tensors (nonzero = apply; a leaf standing for a subtree covers the
// whole subtree), or a function from the params (at init) / updates (at update) to such a tree.
// monostate: no mask, every leaf.
using MaskFn = std::function<Tree(const Tree& params)>;
using Mask = std::variant<std::monostate, Tree, MaskFn>;

// Applies `inner` only to the leaves `mask` selects; the others pass through unchanged. The inner
// state holds entries only for the selected leaves (None elsewhere).
GradientTransformation masked(GradientTransformation inner, Mask mask);

struct AddDecayedWeightsOptions {
  Mask mask = {};  // apply weight decay to these leaves only (optax's mask)
};
// updates + weight_decay * params (needs the params in update). weight_decay: finite, >= 0.
GradientTransformation add_decayed_weights(const ScalarOrSchedule& weight_decay,
                                           AddDecayedWeightsOptions options = {});

}  // namespace elegy::optim
