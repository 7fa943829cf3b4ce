// Ready-made optimizers, each chain()ed from the transforms in transforms.hpp exactly as optax
// builds it (so the states have optax's layout: sgd's is [trace state or None, lr state]).
//
// Argument style: the learning rate (a number or a Schedule) is positional and required, as in
// optax; every other hyperparameter is a field of the optimizer's options struct, with optax's
// default, in optax's keyword order, set with C++20 designated initializers:
//
//   optim::sgd(0.1, {.momentum = 0.9, .nesterov = true});
//   optim::adam(1e-3, {.b1 = 0.8});
//   optim::adamw(1e-3, {.weight_decay = 1e-2, .mask = no_decay_on_biases});
//   optim::rmsprop([](std::int64_t step) { return 0.01 / (1.0 + step); }, {.centered = true});
//
// Hyperparameters are checked when the optimizer is built (Error naming the optimizer, the
// field and the value): learning rates and weight decays finite and >= 0 (schedule values are
// checked at each step), b1 and b2 in [0, 1), decay and momentum in [0, 1] (decay < 1 with
// bias_correction), epsilons >= 0.
#pragma once

#include <optional>

#include "elegy/optim/transforms.hpp"

namespace elegy::optim {

struct SgdOptions {
  std::optional<double> momentum = std::nullopt;  // none: plain SGD (no trace in the state)
  bool nesterov = false;
  std::optional<DType> accumulator_dtype = std::nullopt;
};
// chain(trace(momentum, nesterov) or identity(), scale_by_learning_rate(lr)).
GradientTransformation sgd(const ScalarOrSchedule& learning_rate, SgdOptions options = {});

struct AdamOptions {
  double b1 = 0.9;
  double b2 = 0.999;
  double eps = 1e-8;
  double eps_root = 0.0;
  std::optional<DType> mu_dtype = std::nullopt;
  bool nesterov = false;
};
// chain(scale_by_adam(...), scale_by_learning_rate(lr)).
GradientTransformation adam(const ScalarOrSchedule& learning_rate, AdamOptions options = {});

struct AdamWOptions {
  double b1 = 0.9;
  double b2 = 0.999;
  double eps = 1e-8;
  double eps_root = 0.0;
  std::optional<DType> mu_dtype = std::nullopt;
  ScalarOrSchedule weight_decay = 1e-4;
  Mask mask = {};  // the leaves that get weight decay (default: all)
  bool nesterov = false;
};
// chain(scale_by_adam(...), add_decayed_weights(weight_decay, mask), scale_by_learning_rate(lr)):
// decoupled weight decay (Loshchilov & Hutter), scaled by the learning rate.
GradientTransformation adamw(const ScalarOrSchedule& learning_rate, AdamWOptions options = {});

struct RmspropOptions {
  double decay = 0.9;
  double eps = 1e-8;
  double initial_scale = 0.0;
  bool eps_in_sqrt = true;
  bool centered = false;  // divide by the standard deviation instead of the RMS
  std::optional<double> momentum = std::nullopt;  // none: no trace after the learning rate
  bool nesterov = false;
  bool bias_correction = false;
};
// chain(scale_by_stddev or scale_by_rms, scale_by_learning_rate(lr), trace(momentum) or identity).
GradientTransformation rmsprop(const ScalarOrSchedule& learning_rate, RmspropOptions options = {});

}  // namespace elegy::optim
