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
// chain(trace(momentum, nesterov) or identity(), scale_by_learning_rate(lr)). With momentum, fused
// like adam.
GradientTransformation sgd(const ScalarOrSchedule& learning_rate, SgdOptions options = {});

struct AdamOptions {
  double b1 = 0.9;
  double b2 = 0.999;
  double eps = 1e-8;
  double eps_root = 0.0;
  std::optional<DType> mu_dtype = std::nullopt;
  bool nesterov = false;
};
// chain(scale_by_adam(...), scale_by_learning_rate(lr)). Over a tree of contiguous float32 or
// float64 leaves on one device, update runs as one fused kernel pass per leaf (same state,
// same results as the chain; see fused.hpp).
GradientTransformation adam(const ScalarOrSchedule& learning_rate, AdamOptions options = {});
// adam with nesterov = true (NAdam, Dozat 2016).
GradientTransformation nadam(const ScalarOrSchedule& learning_rate, AdamOptions options = {});

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
// Fused like adam.
GradientTransformation adamw(const ScalarOrSchedule& learning_rate, AdamWOptions options = {});
// adamw with nesterov = true.
GradientTransformation nadamw(const ScalarOrSchedule& learning_rate, AdamWOptions options = {});

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

struct AmsgradOptions {
  double b1 = 0.9;
  double b2 = 0.999;
  double eps = 1e-8;
  double eps_root = 0.0;
  std::optional<DType> mu_dtype = std::nullopt;
  bool bias_correction_mu = true;
  bool bias_correction_nu = true;
};
// chain(scale_by_amsgrad(...), scale_by_learning_rate(lr)).
GradientTransformation amsgrad(const ScalarOrSchedule& learning_rate, AmsgradOptions options = {});

struct AdamaxOptions {
  double b1 = 0.9;
  double b2 = 0.999;
  double eps = 1e-8;
};
// chain(scale_by_adamax(...), scale_by_learning_rate(lr)).
GradientTransformation adamax(const ScalarOrSchedule& learning_rate, AdamaxOptions options = {});

struct AdamaxWOptions {
  double b1 = 0.9;
  double b2 = 0.999;
  double eps = 1e-8;
  ScalarOrSchedule weight_decay = 1e-4;
  Mask mask = {};
};
// chain(scale_by_adamax(...), add_decayed_weights(weight_decay, mask), scale_by_learning_rate(lr)).
GradientTransformation adamaxw(const ScalarOrSchedule& learning_rate, AdamaxWOptions options = {});

struct RadamOptions {
  double b1 = 0.9;
  double b2 = 0.999;
  double eps = 1e-8;
  double eps_root = 0.0;
  double threshold = 5.0;
  bool nesterov = false;
};
// chain(scale_by_radam(...), scale_by_learning_rate(lr)).
GradientTransformation radam(const ScalarOrSchedule& learning_rate, RadamOptions options = {});

struct AdabeliefOptions {
  double b1 = 0.9;
  double b2 = 0.999;
  double eps = 1e-16;
  double eps_root = 1e-16;
  bool nesterov = false;
};
// chain(scale_by_belief(...), scale_by_learning_rate(lr)).
GradientTransformation adabelief(const ScalarOrSchedule& learning_rate,
                                 AdabeliefOptions options = {});

struct AdagradOptions {
  double initial_accumulator_value = 0.1;
  double eps = 1e-7;
};
// chain(scale_by_rss(...), scale_by_learning_rate(lr)).
GradientTransformation adagrad(const ScalarOrSchedule& learning_rate, AdagradOptions options = {});

struct AdadeltaOptions {
  double rho = 0.9;
  double eps = 1e-6;
  ScalarOrSchedule weight_decay = 0.0;
  Mask weight_decay_mask = {};
};
// chain(add_decayed_weights(weight_decay, mask), scale_by_adadelta(rho, eps),
// scale_by_learning_rate(lr)); without a learning rate (optax's None) the last is identity().
GradientTransformation adadelta(std::optional<ScalarOrSchedule> learning_rate = std::nullopt,
                                AdadeltaOptions options = {});

struct YogiOptions {
  double b1 = 0.9;
  double b2 = 0.999;
  double eps = 1e-3;
};
// chain(scale_by_yogi(...), scale_by_learning_rate(lr)).
GradientTransformation yogi(const ScalarOrSchedule& learning_rate, YogiOptions options = {});

struct LambOptions {
  double b1 = 0.9;
  double b2 = 0.999;
  double eps = 1e-6;
  double eps_root = 0.0;
  ScalarOrSchedule weight_decay = 0.0;
  Mask mask = {};
};
// chain(scale_by_adam(...), add_decayed_weights(weight_decay, mask), scale_by_trust_ratio(),
// scale_by_learning_rate(lr)). Fused like adam (two passes per leaf: the trust ratio needs the
// update's norm).
GradientTransformation lamb(const ScalarOrSchedule& learning_rate, LambOptions options = {});

struct LarsOptions {
  ScalarOrSchedule weight_decay = 0.0;
  Mask weight_decay_mask = {};  // default: every leaf (optax's True)
  double trust_coefficient = 0.001;
  double eps = 0.0;
  Mask trust_ratio_mask = {};  // default: every leaf
  double momentum = 0.9;
  bool nesterov = false;
};
// chain(add_decayed_weights(weight_decay, weight_decay_mask),
// masked(scale_by_trust_ratio(trust_coefficient, eps), trust_ratio_mask),
// scale_by_learning_rate(lr), trace(momentum, nesterov)).
GradientTransformation lars(const ScalarOrSchedule& learning_rate, LarsOptions options = {});

struct LionOptions {
  double b1 = 0.9;
  double b2 = 0.99;
  std::optional<DType> mu_dtype = std::nullopt;
  ScalarOrSchedule weight_decay = 1e-3;
  Mask mask = {};
};
// chain(scale_by_lion(b1, b2), add_decayed_weights(weight_decay, mask),
// scale_by_learning_rate(lr)).
GradientTransformation lion(const ScalarOrSchedule& learning_rate, LionOptions options = {});

struct NovogradOptions {
  double b1 = 0.9;
  double b2 = 0.25;
  double eps = 1e-6;
  double eps_root = 0.0;
  double weight_decay = 0.0;
};
// chain(scale_by_novograd(...), scale_by_learning_rate(lr)).
GradientTransformation novograd(const ScalarOrSchedule& learning_rate,
                                NovogradOptions options = {});

struct FromageOptions {
  double min_norm = 1e-6;
};
// Frobenius matched gradient descent (Bernstein et al. 2020): chain(scale_by_trust_ratio(min_norm),
// scale_by_learning_rate(lr * m), add_decayed_weights(m - 1)), m = 1 / sqrt(1 + lr^2) (per step
// for a schedule).
GradientTransformation fromage(const ScalarOrSchedule& learning_rate, FromageOptions options = {});

struct Sm3Options {
  double momentum = 0.9;
};
// chain(scale_by_sm3(momentum), scale_by_learning_rate(lr)).
GradientTransformation sm3(const ScalarOrSchedule& learning_rate, Sm3Options options = {});

struct NoisySgdOptions {
  double eta = 0.01;
  double gamma = 0.55;
  Key key = Key(0);
};
// chain(add_noise(eta, gamma, key), scale_by_learning_rate(lr)).
GradientTransformation noisy_sgd(const ScalarOrSchedule& learning_rate,
                                 NoisySgdOptions options = {});

struct AdafactorOptions {
  std::int64_t min_dim_size_to_factor = 128;
  double decay_rate = 0.8;
  std::int64_t decay_offset = 0;
  bool multiply_by_parameter_scale = true;
  std::optional<double> clipping_threshold = 1.0;
  std::optional<double> momentum = std::nullopt;
  DType dtype_momentum = DType::f32;
  std::optional<ScalarOrSchedule> weight_decay_rate = std::nullopt;
  double eps = 1e-30;
  bool factored = true;
  Mask weight_decay_mask = {};
};
// Adafactor (Shazeer & Stern 2018): chain(scale_by_factored_rms, clip_by_block_rms(threshold),
// scale_by_learning_rate(lr, flip_sign=false), scale_by_param_block_rms(), ema(momentum),
// add_decayed_weights(weight_decay_rate), scale(-1)), the optional pieces only when set.
GradientTransformation adafactor(std::optional<ScalarOrSchedule> learning_rate = std::nullopt,
                                 AdafactorOptions options = {});

}  // namespace elegy::optim
