// optax's combinators and wrappers beyond chain and masked: multi_transform (one optimizer per
// label), MultiSteps (gradient accumulation), apply_if_finite, inject_hyperparams (hyperparameters
// in the state, so they can be read — the learning rate for logging — or changed between steps)
// and lookahead. Each keeps optax's state layout (keys as optax's NamedTuple fields).
//
//   auto opt = optim::multi_transform({{"train", optim::adam(1e-3)}, {"freeze", set_to_zero()}},
//                                     [](const std::string& path, const Tensor&) {
//                                       return path.starts_with("encoder") ? "freeze" : "train";
//                                     });
//   auto acc = optim::MultiSteps(optim::adam(1e-3), 4).gradient_transformation();
//   auto inj = optim::inject_hyperparams(
//       [](const optim::Hyperparams& h) { return optim::adam(h.at("learning_rate")); },
//       {{"learning_rate", optim::cosine_decay_schedule(1e-3, 1000)}});
//   std::optional<double> lr = optim::current_learning_rate(state);
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>

#include "elegy/optim/transform.hpp"

namespace elegy::optim {

// ---- multi_transform (optax.multi_transform / optax.partition) ----

// The label of one leaf, from its path ("mlp/linear/w") and value.
using LabelFn = std::function<std::string(const std::string& path, const Tensor& leaf)>;
// Labels by path: a leaf's label is that of its own path or of the longest prefix path (a
// subtree: "encoder" labels every leaf under encoder/).
using LabelMap = std::map<std::string, std::string, std::less<>>;
using Labels = std::variant<LabelMap, LabelFn>;

// Applies transforms.at(label) to the leaves with that label (each transform sees a masked tree:
// masked(transforms[label], leaves with that label)). Every leaf needs a label with a transform.
// State: {inner_states: {label: {inner_state}}}.
GradientTransformation multi_transform(std::map<std::string, GradientTransformation> transforms,
                                       Labels param_labels);

// ---- MultiSteps (optax.MultiSteps): gradient accumulation ----

struct MultiStepsOptions {
  bool use_grad_mean = true;  // average the k gradients (else sum them)
  // Returns true to drop this mini-step's gradients entirely (e.g. non-finite ones); optional.
  std::function<bool(const Tree& updates, std::int32_t gradient_step, const Tree& params)>
      should_skip_update = {};
  DType accumulator_dtype = DType::f32;
};

// Accumulates k mini-step gradients and applies the inner optimizer once per k calls; the calls
// in between return zero updates. k is a number or a function of the number of applied steps.
// State: {mini_step, gradient_step, inner_opt_state, acc_grads, skip_state (None)}.
class MultiSteps {
 public:
  using EveryK = std::variant<int, std::function<int(std::int64_t gradient_step)>>;
  MultiSteps(GradientTransformation opt, EveryK every_k_schedule, MultiStepsOptions options = {});

  OptState init(const Tree& params) const;
  UpdateResult update(const Tree& updates, const OptState& state, const Tree& params) const;
  // True right after a call that applied the inner optimizer.
  static bool has_updated(const OptState& state);
  GradientTransformation gradient_transformation() const;
  const GradientTransformation& inner_opt() const { return opt_; }

 private:
  GradientTransformation opt_;
  EveryK every_k_;
  MultiStepsOptions options_;
};

// ---- apply_if_finite ----

// Applies `inner` only when every update is finite; otherwise returns zero updates and keeps the
// inner state — unless more than max_consecutive_errors non-finite steps came in a row, then the
// update goes through. State: {notfinite_count, last_finite, total_notfinite, inner_state}
// (host scalars: deciding costs one device sync per step for GPU params).
GradientTransformation apply_if_finite(GradientTransformation inner, int max_consecutive_errors);

// ---- inject_hyperparams ----

// Hyperparameter values for one step, by name.
using Hyperparams = std::map<std::string, double, std::less<>>;
// Builds the optimizer from hyperparameter values (called at init and at every update).
using HyperparamsFactory = std::function<GradientTransformation(const Hyperparams&)>;

struct InjectHyperparamsOptions {
  // The dtype the values are stored (and rounded) in; default: the params' widest float dtype,
  // as optax.
  std::optional<DType> hyperparam_dtype = std::nullopt;
};

// Keeps `hyperparams` in the state: numbers are stored and read back from the state at each step
// (so a caller may change them there); schedules are evaluated at their own step count. State:
// {count, hyperparams: {name: 0-d tensor on the cpu}, hyperparams_states: {name: {count}} for
// the schedules, inner_state}. As in optax, each value is rounded to the hyperparameter dtype
// before the factory sees it (list every numeric hyperparameter to reproduce optax, which
// injects all of the factory's numeric arguments).
GradientTransformation inject_hyperparams(HyperparamsFactory factory,
                                          std::map<std::string, ScalarOrSchedule> hyperparams,
                                          InjectHyperparamsOptions options = {});

// The learning rate that inject_hyperparams recorded (state "hyperparams" entry
// "learning_rate"), searched for anywhere in the state tree (chains, masks, wrappers), depth
// first; nullopt when there is none. After an update it is the rate that update used.
std::optional<double> current_learning_rate(const OptState& state);

// ---- lookahead ----

struct LookaheadOptions {
  bool reset_state = false;  // re-initialise the fast optimizer's state at each sync
};
// Lookahead (Zhang et al. 2019): the fast optimizer steps the fast params; every sync_period
// steps the slow params move slow_step_size of the way towards them and the fast params are reset
// to the slow ones. Params and updates are {fast, slow} trees (see lookahead_params); the
// gradients passed to update are those of the fast params. State: {fast_state, steps_since_sync}.
GradientTransformation lookahead(GradientTransformation fast_optimizer, int sync_period,
                                 double slow_step_size, LookaheadOptions options = {});
// {fast: params, slow: params} (optax.LookaheadParams.init_synced).
Tree lookahead_params(const Tree& params);

}  // namespace elegy::optim
