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
//   identity, scale, clip, clip_by_global_norm, clip_by_block_rms,
//   scale_by_trust_ratio, scale_by_sign, scale_by_param_block_rms,
//   centralize, keep_params_nonnegative, set_to_zero       None
//   scale_by_schedule                                      {count}
//   scale_by_learning_rate                                 that of scale or of scale_by_schedule
//   trace                                                  {trace}
//   ema                                                    {count, ema}
//   scale_by_adam, scale_by_adamax, scale_by_belief,
//   scale_by_yogi, scale_by_radam, scale_by_novograd       {count, mu, nu}
//   scale_by_amsgrad                                       {count, mu, nu, nu_max}
//   scale_by_lion                                          {count, mu}
//   scale_by_rms                                           {nu} (+ count: bias_correction)
//   scale_by_stddev                                        {mu, nu} (+ count likewise)
//   scale_by_rss                                           {sum_of_squares}
//   scale_by_adadelta                                      {e_g, e_x}
//   scale_by_sm3                                           {mu (a list per leaf), nu}
//   scale_by_factored_rms                                  {count, v_row, v_col, v}
//   add_decayed_weights                                    None ({count} with a schedule)
//   add_noise                                              {count, rng_key (uint32[2] as int32)}
//   zero_nans                                              {found_nan (a bool per leaf)}
//   masked                                                 {inner_state}
//
// Updates run under autodiff::NoGrad with the public ops, so they run on any device the ops do.
// The combinators and wrappers (multi_transform, MultiSteps, apply_if_finite, inject_hyperparams,
// lookahead) are in wrappers.hpp.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <variant>

#include "elegy/core/random.hpp"
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

// ---- more of optax's rescalings (optax/_src/transform.py) ----

struct ScaleByAmsgradOptions {
  double b1 = 0.9;
  double b2 = 0.999;
  double eps = 1e-8;
  double eps_root = 0.0;
  std::optional<DType> mu_dtype = std::nullopt;
  bool bias_correction_mu = true;
  bool bias_correction_nu = true;
};
// AMSGrad: Adam with the running maximum of the (corrected) second moment in the denominator.
GradientTransformation scale_by_amsgrad(ScaleByAmsgradOptions options = {});

struct ScaleByAdamaxOptions {
  double b1 = 0.9;
  double b2 = 0.999;
  double eps = 1e-8;
};
// AdaMax: the first moment over an exponentially weighted infinity norm of the updates.
GradientTransformation scale_by_adamax(ScaleByAdamaxOptions options = {});

struct ScaleByRssOptions {
  double initial_accumulator_value = 0.1;
  double eps = 1e-7;
};
// AdaGrad: updates / sqrt(sum of all past squared updates) (0 where that sum is 0).
GradientTransformation scale_by_rss(ScaleByRssOptions options = {});

struct ScaleByBeliefOptions {
  double b1 = 0.9;
  double b2 = 0.999;
  double eps = 1e-16;
  double eps_root = 1e-16;
  bool nesterov = false;
};
// AdaBelief: Adam with the EMA of (g - mu)^2 (the "belief" in the gradient) as second moment.
GradientTransformation scale_by_belief(ScaleByBeliefOptions options = {});

struct ScaleByYogiOptions {
  double b1 = 0.9;
  double b2 = 0.999;
  double eps = 1e-3;
  double eps_root = 0.0;
  double initial_accumulator_value = 1e-6;
};
// Yogi: Adam with an additive, sign-controlled second-moment update.
GradientTransformation scale_by_yogi(ScaleByYogiOptions options = {});

struct ScaleByRadamOptions {
  double b1 = 0.9;
  double b2 = 0.999;
  double eps = 1e-8;
  double eps_root = 0.0;
  double threshold = 5.0;  // use the adaptive step once the SMA length reaches this
  bool nesterov = false;
};
// Rectified Adam: the bias-corrected first moment until the variance estimate is tractable, then
// Adam's step times the rectification factor r_t.
GradientTransformation scale_by_radam(ScaleByRadamOptions options = {});

enum class LionMode { hard, smooth, refined };
struct ScaleByLionOptions {
  double b1 = 0.9;   // interpolation for the update direction
  double b2 = 0.99;  // decay of the momentum
  std::optional<DType> mu_dtype = std::nullopt;
  LionMode mode = LionMode::hard;  // sign (hard), tanh(smooth_beta x), or x clipped to sign
  double smooth_beta = 1.0;
};
// Lion: sign((1 - b1) g + b1 mu), then mu = EMA(g, b2).
GradientTransformation scale_by_lion(ScaleByLionOptions options = {});

struct ScaleByNovogradOptions {
  double b1 = 0.9;
  double b2 = 0.25;
  double eps = 1e-8;
  double eps_root = 0.0;
  double weight_decay = 0.0;
  std::optional<DType> mu_dtype = std::nullopt;
};
// NovoGrad: layer-wise second moments (nu is one scalar per leaf: the EMA of ||g||^2).
// Needs the params (weight decay).
GradientTransformation scale_by_novograd(ScaleByNovogradOptions options = {});

struct ScaleByTrustRatioOptions {
  double min_norm = 0.0;
  double trust_coefficient = 1.0;
  double eps = 0.0;
};
// LARS/LAMB's layer-wise trust ratio: each leaf's update * coef * ||param|| / (||update|| + eps)
// (1 when either norm is 0). Needs the params.
GradientTransformation scale_by_trust_ratio(ScaleByTrustRatioOptions options = {});

// sign(updates).
GradientTransformation scale_by_sign();

struct ScaleByAdadeltaOptions {
  double rho = 0.9;
  double eps = 1e-6;
};
// AdaDelta: updates * sqrt(E[dx^2] + eps) / sqrt(E[g^2] + eps).
GradientTransformation scale_by_adadelta(ScaleByAdadeltaOptions options = {});

struct ScaleBySm3Options {
  double b1 = 0.9;  // momentum
  double b2 = 1.0;  // decay of the accumulators (1: plain sums)
  double eps = 1e-8;
};
// SM3: memory-efficient AdaGrad with one accumulator per dimension of each leaf (a cover of the
// leaf's second moments by its row/column maxima).
GradientTransformation scale_by_sm3(ScaleBySm3Options options = {});

struct ScaleByFactoredRmsOptions {
  bool factored = true;
  double decay_rate = 0.8;
  std::int64_t step_offset = 0;
  std::int64_t min_dim_size_to_factor = 128;
  double epsilon = 1e-30;
};
// Adafactor's rescaling: leaves whose second-largest dim is >= min_dim_size_to_factor keep row
// and column second moments only (v_row, v_col); the others a full one (v). Decay rate
// 1 - (step + 1)^-decay_rate. Needs the params.
GradientTransformation scale_by_factored_rms(ScaleByFactoredRmsOptions options = {});

// updates * max(rms(param), min_scale) per leaf (Adafactor's multiply_by_parameter_scale).
// Needs the params.
GradientTransformation scale_by_param_block_rms(double min_scale = 1e-3);

struct EmaOptions {
  bool debias = true;
  std::optional<DType> accumulator_dtype = std::nullopt;
};
// Exponential moving average of the updates (bias-corrected with debias).
GradientTransformation ema(double decay, EmaOptions options = {});

struct AddNoiseOptions {
  Key key = Key(0);
};
// updates + N(0, eta / (count + 1)^gamma) (noisy SGD, Neelakantan et al. 2015). The key is split
// at each step. elegy draws with its own generator (Philox), not JAX's threefry: the noise has
// optax's distribution, not its exact values.
GradientTransformation add_noise(double eta, double gamma, AddNoiseOptions options = {});

// Subtracts from each leaf of rank > 1 its mean over all axes but the first (gradient
// centralization).
GradientTransformation centralize();

// Clips each update element to [-max_delta, max_delta].
GradientTransformation clip(double max_delta);
// Divides each leaf by max(1, rms(leaf) / threshold).
GradientTransformation clip_by_block_rms(double threshold);

// Replaces updates that would make a param negative by -param (the param becomes 0). Needs the
// params.
GradientTransformation keep_params_nonnegative();
// Replaces NaNs in the updates by 0; the state records, per leaf, whether one was found.
GradientTransformation zero_nans();
// Zero updates (freezes the params it is applied to, e.g. in multi_transform).
GradientTransformation set_to_zero();

}  // namespace elegy::optim
