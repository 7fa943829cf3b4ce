// The optimizers of aliases.hpp, chained as optax's alias.py chains them.
#include "elegy/optim/aliases.hpp"

#include <cmath>
#include <vector>

#include "elegy/optim/detail.hpp"
#include "elegy/optim/fused.hpp"

namespace elegy::optim {

namespace {

// Checked here so that the error names the optimizer the user called.
void check_learning_rate(const char* op, const ScalarOrSchedule& lr) {
  if (const double* v = std::get_if<double>(&lr))
    detail::check_finite_nonnegative(op, "learning_rate", *v);
  else
    ELEGY_CHECK(static_cast<bool>(std::get<Schedule>(lr)), op,
                "the learning_rate schedule is an empty function");
}

void check_adam(const char* op, double b1, double b2, double eps, double eps_root) {
  detail::check_range(op, "b1", b1, 0.0, 1.0, /*hi_open=*/true);
  detail::check_range(op, "b2", b2, 0.0, 1.0, /*hi_open=*/true);
  detail::check_finite_nonnegative(op, "eps", eps);
  detail::check_finite_nonnegative(op, "eps_root", eps_root);
}

}  // namespace

GradientTransformation sgd(const ScalarOrSchedule& learning_rate, SgdOptions o) {
  check_learning_rate("sgd", learning_rate);
  if (o.momentum) detail::check_range("sgd", "momentum", *o.momentum, 0.0, 1.0);
  GradientTransformation composed =
      chain({o.momentum ? trace(*o.momentum,
                                {.nesterov = o.nesterov, .accumulator_dtype = o.accumulator_dtype})
                        : identity(),
             scale_by_learning_rate(learning_rate)});
  // Plain SGD is one multiplication per leaf already; momentum fuses its two.
  if (!o.momentum || o.accumulator_dtype) return composed;
  return detail::fused_momentum(std::move(composed), *o.momentum, o.nesterov, learning_rate);
}

GradientTransformation adam(const ScalarOrSchedule& learning_rate, AdamOptions o) {
  check_learning_rate("adam", learning_rate);
  check_adam("adam", o.b1, o.b2, o.eps, o.eps_root);
  GradientTransformation composed = chain({scale_by_adam({.b1 = o.b1,
                                                          .b2 = o.b2,
                                                          .eps = o.eps,
                                                          .eps_root = o.eps_root,
                                                          .mu_dtype = o.mu_dtype,
                                                          .nesterov = o.nesterov}),
                                           scale_by_learning_rate(learning_rate)});
  if (o.mu_dtype) return composed;
  return detail::fused_adam(std::move(composed), {.b1 = o.b1,
                                                  .b2 = o.b2,
                                                  .eps = o.eps,
                                                  .eps_root = o.eps_root,
                                                  .nesterov = o.nesterov,
                                                  .learning_rate = learning_rate});
}

GradientTransformation nadam(const ScalarOrSchedule& learning_rate, AdamOptions o) {
  o.nesterov = true;
  return adam(learning_rate, o);
}

GradientTransformation adamw(const ScalarOrSchedule& learning_rate, AdamWOptions o) {
  check_learning_rate("adamw", learning_rate);
  check_adam("adamw", o.b1, o.b2, o.eps, o.eps_root);
  if (const double* wd = std::get_if<double>(&o.weight_decay))
    detail::check_finite_nonnegative("adamw", "weight_decay", *wd);
  GradientTransformation composed = chain({scale_by_adam({.b1 = o.b1,
                                                          .b2 = o.b2,
                                                          .eps = o.eps,
                                                          .eps_root = o.eps_root,
                                                          .mu_dtype = o.mu_dtype,
                                                          .nesterov = o.nesterov}),
                                           add_decayed_weights(o.weight_decay, {.mask = o.mask}),
                                           scale_by_learning_rate(learning_rate)});
  if (o.mu_dtype) return composed;
  return detail::fused_adam(std::move(composed), {.b1 = o.b1,
                                                  .b2 = o.b2,
                                                  .eps = o.eps,
                                                  .eps_root = o.eps_root,
                                                  .nesterov = o.nesterov,
                                                  .learning_rate = learning_rate,
                                                  .weight_decay = o.weight_decay,
                                                  .mask = std::move(o.mask)});
}

GradientTransformation rmsprop(const ScalarOrSchedule& learning_rate, RmspropOptions o) {
  constexpr const char* op = "rmsprop";
  check_learning_rate(op, learning_rate);
  detail::check_range(op, "decay", o.decay, 0.0, 1.0, /*hi_open=*/o.bias_correction);
  detail::check_finite_nonnegative(op, "eps", o.eps);
  detail::check_finite_nonnegative(op, "initial_scale", o.initial_scale);
  if (o.momentum) detail::check_range(op, "momentum", *o.momentum, 0.0, 1.0);
  const ScaleByRmsOptions rms{.decay = o.decay,
                              .eps = o.eps,
                              .initial_scale = o.initial_scale,
                              .eps_in_sqrt = o.eps_in_sqrt,
                              .bias_correction = o.bias_correction};
  return chain({o.centered ? scale_by_stddev(rms) : scale_by_rms(rms),
                scale_by_learning_rate(learning_rate),
                o.momentum ? trace(*o.momentum, {.nesterov = o.nesterov}) : identity()});
}

GradientTransformation nadamw(const ScalarOrSchedule& learning_rate, AdamWOptions o) {
  o.nesterov = true;
  return adamw(learning_rate, std::move(o));
}

namespace {

void check_weight_decay(const char* op, const ScalarOrSchedule& wd) {
  if (const double* v = std::get_if<double>(&wd))
    detail::check_finite_nonnegative(op, "weight_decay", *v);
  else
    ELEGY_CHECK(static_cast<bool>(std::get<Schedule>(wd)), op,
                "the weight_decay schedule is an empty function");
}

// A mask selecting the whole tree (optax's mask=True).
Mask everything_if_unset(Mask mask) {
  if (!std::holds_alternative<std::monostate>(mask)) return mask;
  return Tree(Tensor::from_vector(std::vector<std::uint8_t>{1}, Shape{}).astype(DType::bool_));
}

}  // namespace

GradientTransformation amsgrad(const ScalarOrSchedule& learning_rate, AmsgradOptions o) {
  check_learning_rate("amsgrad", learning_rate);
  check_adam("amsgrad", o.b1, o.b2, o.eps, o.eps_root);
  return chain({scale_by_amsgrad({.b1 = o.b1,
                                  .b2 = o.b2,
                                  .eps = o.eps,
                                  .eps_root = o.eps_root,
                                  .mu_dtype = o.mu_dtype,
                                  .bias_correction_mu = o.bias_correction_mu,
                                  .bias_correction_nu = o.bias_correction_nu}),
                scale_by_learning_rate(learning_rate)});
}

GradientTransformation adamax(const ScalarOrSchedule& learning_rate, AdamaxOptions o) {
  check_learning_rate("adamax", learning_rate);
  check_adam("adamax", o.b1, o.b2, o.eps, 0.0);
  return chain({scale_by_adamax({.b1 = o.b1, .b2 = o.b2, .eps = o.eps}),
                scale_by_learning_rate(learning_rate)});
}

GradientTransformation adamaxw(const ScalarOrSchedule& learning_rate, AdamaxWOptions o) {
  check_learning_rate("adamaxw", learning_rate);
  check_adam("adamaxw", o.b1, o.b2, o.eps, 0.0);
  check_weight_decay("adamaxw", o.weight_decay);
  return chain({scale_by_adamax({.b1 = o.b1, .b2 = o.b2, .eps = o.eps}),
                add_decayed_weights(o.weight_decay, {.mask = std::move(o.mask)}),
                scale_by_learning_rate(learning_rate)});
}

GradientTransformation radam(const ScalarOrSchedule& learning_rate, RadamOptions o) {
  check_learning_rate("radam", learning_rate);
  check_adam("radam", o.b1, o.b2, o.eps, o.eps_root);
  return chain({scale_by_radam({.b1 = o.b1,
                                .b2 = o.b2,
                                .eps = o.eps,
                                .eps_root = o.eps_root,
                                .threshold = o.threshold,
                                .nesterov = o.nesterov}),
                scale_by_learning_rate(learning_rate)});
}

GradientTransformation adabelief(const ScalarOrSchedule& learning_rate, AdabeliefOptions o) {
  check_learning_rate("adabelief", learning_rate);
  check_adam("adabelief", o.b1, o.b2, o.eps, o.eps_root);
  return chain(
      {scale_by_belief(
           {.b1 = o.b1, .b2 = o.b2, .eps = o.eps, .eps_root = o.eps_root, .nesterov = o.nesterov}),
       scale_by_learning_rate(learning_rate)});
}

GradientTransformation adagrad(const ScalarOrSchedule& learning_rate, AdagradOptions o) {
  check_learning_rate("adagrad", learning_rate);
  detail::check_finite_nonnegative("adagrad", "initial_accumulator_value",
                                   o.initial_accumulator_value);
  detail::check_finite_nonnegative("adagrad", "eps", o.eps);
  return chain(
      {scale_by_rss({.initial_accumulator_value = o.initial_accumulator_value, .eps = o.eps}),
       scale_by_learning_rate(learning_rate)});
}

GradientTransformation adadelta(std::optional<ScalarOrSchedule> learning_rate, AdadeltaOptions o) {
  if (learning_rate) check_learning_rate("adadelta", *learning_rate);
  check_weight_decay("adadelta", o.weight_decay);
  return chain({add_decayed_weights(o.weight_decay, {.mask = std::move(o.weight_decay_mask)}),
                scale_by_adadelta({.rho = o.rho, .eps = o.eps}),
                learning_rate ? scale_by_learning_rate(*learning_rate) : identity()});
}

GradientTransformation yogi(const ScalarOrSchedule& learning_rate, YogiOptions o) {
  check_learning_rate("yogi", learning_rate);
  check_adam("yogi", o.b1, o.b2, o.eps, 0.0);
  return chain({scale_by_yogi({.b1 = o.b1, .b2 = o.b2, .eps = o.eps}),
                scale_by_learning_rate(learning_rate)});
}

GradientTransformation lamb(const ScalarOrSchedule& learning_rate, LambOptions o) {
  check_learning_rate("lamb", learning_rate);
  check_adam("lamb", o.b1, o.b2, o.eps, o.eps_root);
  check_weight_decay("lamb", o.weight_decay);
  GradientTransformation composed =
      chain({scale_by_adam({.b1 = o.b1, .b2 = o.b2, .eps = o.eps, .eps_root = o.eps_root}),
             add_decayed_weights(o.weight_decay, {.mask = o.mask}), scale_by_trust_ratio(),
             scale_by_learning_rate(learning_rate)});
  return detail::fused_adam(std::move(composed), {.b1 = o.b1,
                                                  .b2 = o.b2,
                                                  .eps = o.eps,
                                                  .eps_root = o.eps_root,
                                                  .learning_rate = learning_rate,
                                                  .weight_decay = o.weight_decay,
                                                  .mask = std::move(o.mask),
                                                  .lamb = true});
}

GradientTransformation lars(const ScalarOrSchedule& learning_rate, LarsOptions o) {
  check_learning_rate("lars", learning_rate);
  check_weight_decay("lars", o.weight_decay);
  detail::check_range("lars", "momentum", o.momentum, 0.0, 1.0);
  return chain(
      {add_decayed_weights(o.weight_decay,
                           {.mask = everything_if_unset(std::move(o.weight_decay_mask))}),
       masked(scale_by_trust_ratio({.trust_coefficient = o.trust_coefficient, .eps = o.eps}),
              everything_if_unset(std::move(o.trust_ratio_mask))),
       scale_by_learning_rate(learning_rate), trace(o.momentum, {.nesterov = o.nesterov})});
}

GradientTransformation lion(const ScalarOrSchedule& learning_rate, LionOptions o) {
  check_learning_rate("lion", learning_rate);
  check_weight_decay("lion", o.weight_decay);
  return chain({scale_by_lion({.b1 = o.b1, .b2 = o.b2, .mu_dtype = o.mu_dtype}),
                add_decayed_weights(o.weight_decay, {.mask = std::move(o.mask)}),
                scale_by_learning_rate(learning_rate)});
}

GradientTransformation novograd(const ScalarOrSchedule& learning_rate, NovogradOptions o) {
  check_learning_rate("novograd", learning_rate);
  return chain({scale_by_novograd({.b1 = o.b1,
                                   .b2 = o.b2,
                                   .eps = o.eps,
                                   .eps_root = o.eps_root,
                                   .weight_decay = o.weight_decay}),
                scale_by_learning_rate(learning_rate)});
}

GradientTransformation fromage(const ScalarOrSchedule& learning_rate, FromageOptions o) {
  check_learning_rate("fromage", learning_rate);
  detail::check_finite_nonnegative("fromage", "min_norm", o.min_norm);
  if (const double* lr = std::get_if<double>(&learning_rate)) {
    const double mult = 1.0 / std::pow(1.0 + *lr * *lr, 0.5);
    return chain({scale_by_trust_ratio({.min_norm = o.min_norm}),
                  scale_by_learning_rate(*lr * mult),
                  detail::add_decayed_weights_as(mult - 1.0, {}, /*check_nonnegative=*/false)});
  }
  const Schedule fn = std::get<Schedule>(learning_rate);
  auto mult = [fn](std::int64_t c) {
    const double lr = fn(c);
    return 1.0 / std::pow(1.0 + lr * lr, 0.5);
  };
  return chain(
      {scale_by_trust_ratio({.min_norm = o.min_norm}),
       scale_by_learning_rate([fn, mult](std::int64_t c) { return mult(c) * fn(c); }),
       detail::add_decayed_weights_as(Schedule([mult](std::int64_t c) { return mult(c) - 1.0; }),
                                      {}, /*check_nonnegative=*/false)});
}

GradientTransformation sm3(const ScalarOrSchedule& learning_rate, Sm3Options o) {
  check_learning_rate("sm3", learning_rate);
  return chain({scale_by_sm3({.b1 = o.momentum}), scale_by_learning_rate(learning_rate)});
}

GradientTransformation noisy_sgd(const ScalarOrSchedule& learning_rate, NoisySgdOptions o) {
  check_learning_rate("noisy_sgd", learning_rate);
  return chain({add_noise(o.eta, o.gamma, {.key = o.key}), scale_by_learning_rate(learning_rate)});
}

GradientTransformation adafactor(std::optional<ScalarOrSchedule> learning_rate,
                                 AdafactorOptions o) {
  constexpr const char* op = "adafactor";
  if (learning_rate) check_learning_rate(op, *learning_rate);
  if (o.weight_decay_rate) check_weight_decay(op, *o.weight_decay_rate);
  std::vector<GradientTransformation> tx{
      scale_by_factored_rms({.factored = o.factored,
                             .decay_rate = o.decay_rate,
                             .step_offset = o.decay_offset,
                             .min_dim_size_to_factor = o.min_dim_size_to_factor,
                             .epsilon = o.eps})};
  if (o.clipping_threshold) tx.push_back(clip_by_block_rms(*o.clipping_threshold));
  if (learning_rate) tx.push_back(scale_by_learning_rate(*learning_rate, {.flip_sign = false}));
  if (o.multiply_by_parameter_scale) tx.push_back(scale_by_param_block_rms());
  if (o.momentum)
    tx.push_back(ema(*o.momentum, {.debias = false, .accumulator_dtype = o.dtype_momentum}));
  if (o.weight_decay_rate)
    tx.push_back(
        add_decayed_weights(*o.weight_decay_rate, {.mask = std::move(o.weight_decay_mask)}));
  tx.push_back(scale(-1.0));
  return chain(std::move(tx));
}

}  // namespace elegy::optim
