// The optimizers of aliases.hpp, chained as optax's alias.py chains them.
#include "elegy/optim/aliases.hpp"

#include "elegy/optim/detail.hpp"

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
  return chain({o.momentum ? trace(*o.momentum, {.nesterov = o.nesterov,
                                                 .accumulator_dtype = o.accumulator_dtype})
                           : identity(),
                scale_by_learning_rate(learning_rate)});
}

GradientTransformation adam(const ScalarOrSchedule& learning_rate, AdamOptions o) {
  check_learning_rate("adam", learning_rate);
  check_adam("adam", o.b1, o.b2, o.eps, o.eps_root);
  return chain({scale_by_adam({.b1 = o.b1,
                               .b2 = o.b2,
                               .eps = o.eps,
                               .eps_root = o.eps_root,
                               .mu_dtype = o.mu_dtype,
                               .nesterov = o.nesterov}),
                scale_by_learning_rate(learning_rate)});
}

GradientTransformation adamw(const ScalarOrSchedule& learning_rate, AdamWOptions o) {
  check_learning_rate("adamw", learning_rate);
  check_adam("adamw", o.b1, o.b2, o.eps, o.eps_root);
  if (const double* wd = std::get_if<double>(&o.weight_decay))
    detail::check_finite_nonnegative("adamw", "weight_decay", *wd);
  return chain({scale_by_adam({.b1 = o.b1,
                               .b2 = o.b2,
                               .eps = o.eps,
                               .eps_root = o.eps_root,
                               .mu_dtype = o.mu_dtype,
                               .nesterov = o.nesterov}),
                add_decayed_weights(o.weight_decay, {.mask = std::move(o.mask)}),
                scale_by_learning_rate(learning_rate)});
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

}  // namespace elegy::optim
