// The stateless and count-only scalings: identity, scale, scale_by_schedule,
// scale_by_learning_rate.
#include <cmath>

#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/tape.hpp"
#include "elegy/optim/detail.hpp"
#include "elegy/optim/transforms.hpp"

namespace elegy::optim {

namespace {

OptState empty_init(const Tree&) {
  return Tree();
}

OptState count_state(std::int32_t count) {
  return Tree{{"count", detail::make_count(count)}};
}

}  // namespace

GradientTransformation identity() {
  return {empty_init, [](const Tree& updates, const OptState& state, const Tree&) {
            detail::check_empty_state("identity", state);
            return UpdateResult{updates, state};
          }};
}

GradientTransformation scale(double step_size) {
  ELEGY_CHECK(std::isfinite(step_size), "scale", "step_size must be finite, got ", step_size);
  return {empty_init, [step_size](const Tree& updates, const OptState& state, const Tree&) {
            detail::check_empty_state("scale", state);
            autodiff::NoGrad no_grad;
            return UpdateResult{updates.map([&](const Tensor& g) { return g * step_size; }), state};
          }};
}

namespace {

// scale_by_schedule with a name for errors and an optional check of each value.
GradientTransformation scheduled_scale(std::string op, Schedule fn, double sign,
                                       bool check_nonnegative) {
  ELEGY_CHECK(static_cast<bool>(fn), op, "the schedule is an empty function");
  return {[](const Tree&) { return count_state(0); },
          [op = std::move(op), fn = std::move(fn), sign, check_nonnegative](
              const Tree& updates, const OptState& state, const Tree&) {
            detail::check_state_keys(op, state, {"count"});
            const std::int32_t count = detail::read_count(op, state);
            const double value = check_nonnegative
                                     ? detail::eval_checked(op, "learning-rate", fn, count)
                                     : fn(count);
            const double step = sign * value;
            autodiff::NoGrad no_grad;
            // g * step rounds step to g's dtype first, as optax's jnp.array(step, g.dtype) * g.
            Tree out = updates.map([&](const Tensor& g) { return g * step; });
            return UpdateResult{std::move(out), count_state(detail::safe_increment(count))};
          }};
}

}  // namespace

GradientTransformation scale_by_schedule(Schedule step_size_fn) {
  return scheduled_scale("scale_by_schedule", std::move(step_size_fn), 1.0, false);
}

GradientTransformation scale_by_learning_rate(const ScalarOrSchedule& learning_rate,
                                              ScaleByLearningRateOptions options) {
  const double sign = options.flip_sign ? -1.0 : 1.0;
  if (const double* lr = std::get_if<double>(&learning_rate)) {
    detail::check_finite_nonnegative("scale_by_learning_rate", "learning_rate", *lr);
    return scale(sign * *lr);
  }
  return scheduled_scale("scale_by_learning_rate", std::get<Schedule>(learning_rate), sign, true);
}

}  // namespace elegy::optim
