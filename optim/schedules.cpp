// optax's schedules (optax/schedules/_schedule.py, _join.py), evaluated in double on the host.
#include "elegy/optim/schedules.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <utility>

#include "elegy/core/error.hpp"

namespace elegy::optim {

Schedule constant_schedule(double value) {
  return [value](std::int64_t) { return value; };
}

Schedule polynomial_schedule(double init_value, double end_value, double power,
                             std::int64_t transition_steps, PolynomialScheduleOptions options) {
  if (transition_steps <= 0) return constant_schedule(init_value);
  const std::int64_t begin = std::max<std::int64_t>(options.transition_begin, 0);
  return [=](std::int64_t count) {
    const std::int64_t t = std::clamp<std::int64_t>(count - begin, 0, transition_steps);
    const double frac = 1.0 - double(t) / double(transition_steps);
    return (init_value - end_value) * std::pow(frac, power) + end_value;
  };
}

Schedule linear_schedule(double init_value, double end_value, std::int64_t transition_steps,
                         PolynomialScheduleOptions options) {
  return polynomial_schedule(init_value, end_value, 1.0, transition_steps, options);
}

Schedule piecewise_constant_schedule(double init_value, PiecewiseConstantScheduleOptions options) {
  for (const auto& [boundary, scale] : options.boundaries_and_scales)
    ELEGY_CHECK(scale >= 0.0, "piecewise_constant_schedule", "scales must be >= 0, got ", scale,
                " at step ", boundary);
  return [init_value, table = std::move(options.boundaries_and_scales)](std::int64_t count) {
    double v = init_value;
    for (const auto& [boundary, scale] : table)  // sorted by boundary
      if (count >= boundary) v *= scale;
    return v;
  };
}

Schedule exponential_decay(double init_value, std::int64_t transition_steps, double decay_rate,
                           ExponentialDecayOptions options) {
  if (transition_steps <= 0 || decay_rate == 0.0) return constant_schedule(init_value);
  const std::int64_t begin = std::max<std::int64_t>(options.transition_begin, 0);
  return [=](std::int64_t count) {
    const std::int64_t since = count - begin;
    double p = double(since) / double(transition_steps);
    if (options.staircase) p = std::floor(p);
    double v = since <= 0 ? init_value : init_value * std::pow(decay_rate, p);
    if (options.end_value)
      v = decay_rate < 1.0 ? std::max(v, *options.end_value) : std::min(v, *options.end_value);
    return v;
  };
}

Schedule cosine_decay_schedule(double init_value, std::int64_t decay_steps,
                               CosineDecayScheduleOptions options) {
  ELEGY_CHECK(decay_steps > 0, "cosine_decay_schedule", "decay_steps must be > 0, got ",
              decay_steps);
  return [=](std::int64_t count) {
    const double t = double(std::min(count, decay_steps));
    const double cosine = 0.5 * (1.0 + std::cos(std::numbers::pi * t / double(decay_steps)));
    return init_value *
           ((1.0 - options.alpha) * std::pow(cosine, options.exponent) + options.alpha);
  };
}

Schedule warmup_cosine_decay_schedule(double init_value, double peak_value,
                                      std::int64_t warmup_steps, std::int64_t decay_steps,
                                      WarmupCosineDecayScheduleOptions options) {
  ELEGY_CHECK(decay_steps > warmup_steps, "warmup_cosine_decay_schedule", "decay_steps (",
              decay_steps, ") must be larger than warmup_steps (", warmup_steps,
              "): decay_steps counts the warmup too");
  const double alpha = peak_value == 0.0 ? 0.0 : options.end_value / peak_value;
  return join_schedules({linear_schedule(init_value, peak_value, warmup_steps),
                         cosine_decay_schedule(peak_value, decay_steps - warmup_steps,
                                               {.alpha = alpha, .exponent = options.exponent})},
                        {warmup_steps});
}

Schedule warmup_constant_schedule(double init_value, double peak_value, std::int64_t warmup_steps) {
  return linear_schedule(init_value, peak_value, warmup_steps);
}

Schedule join_schedules(std::vector<Schedule> schedules, std::vector<std::int64_t> boundaries) {
  ELEGY_CHECK(!schedules.empty() && boundaries.size() + 1 == schedules.size(), "join_schedules",
              "needs one boundary fewer than schedules, got ", schedules.size(), " schedules and ",
              boundaries.size(), " boundaries");
  for (const Schedule& s : schedules)
    ELEGY_CHECK(static_cast<bool>(s), "join_schedules", "a schedule is an empty function");
  return [schedules = std::move(schedules), boundaries = std::move(boundaries)](std::int64_t step) {
    double v = schedules[0](step);
    for (std::size_t i = 0; i < boundaries.size(); ++i)
      if (step >= boundaries[i]) v = schedules[i + 1](step - boundaries[i]);
    return v;
  };
}

}  // namespace elegy::optim
