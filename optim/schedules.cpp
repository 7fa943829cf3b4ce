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

Schedule warmup_exponential_decay_schedule(double init_value, double peak_value,
                                           std::int64_t warmup_steps, std::int64_t transition_steps,
                                           double decay_rate,
                                           WarmupExponentialDecayScheduleOptions options) {
  return join_schedules({linear_schedule(init_value, peak_value, warmup_steps),
                         exponential_decay(peak_value, transition_steps, decay_rate,
                                           {.transition_begin = options.transition_begin,
                                            .staircase = options.staircase,
                                            .end_value = options.end_value})},
                        {warmup_steps});
}

Schedule piecewise_interpolate_schedule(Interpolation interpolate_type, double init_value,
                                        PiecewiseInterpolateScheduleOptions options) {
  std::vector<double> bounds{0.0}, values{init_value};
  for (const auto& [boundary, scale] : options.boundaries_and_scales) {
    ELEGY_CHECK(scale >= 0.0, "piecewise_interpolate_schedule", "scales must be >= 0, got ", scale,
                " at step ", boundary);
    bounds.push_back(double(boundary));
    values.push_back(values.back() * scale);  // cumulative product, as optax's cumprod
  }
  const bool cosine = interpolate_type == Interpolation::cosine;
  return [bounds = std::move(bounds), values = std::move(values), cosine](std::int64_t count) {
    const double c = double(count);
    // optax sums indicator * interpolation over the intervals: at most one term is nonzero.
    double v = 0.0;
    for (std::size_t i = 0; i + 1 < bounds.size(); ++i) {
      if (!(bounds[i] <= c && c < bounds[i + 1])) continue;
      const double pct = (c - bounds[i]) / std::max(bounds[i + 1] - bounds[i], 1.0);
      const double start = values[i], end = values[i + 1];
      v += cosine ? end + (start - end) / 2.0 * (std::cos(std::numbers::pi * pct) + 1.0)
                  : (end - start) * pct + start;
    }
    if (bounds.back() <= c) v += values.back();
    return v;
  };
}

Schedule linear_onecycle_schedule(std::int64_t transition_steps, double peak_value,
                                  LinearOnecycleScheduleOptions o) {
  ELEGY_CHECK(transition_steps > 0, "linear_onecycle_schedule",
              "transition_steps must be > 0, got ", transition_steps);
  // Later boundaries overwrite earlier equal ones, as a Python dict literal does.
  std::map<std::int64_t, double> b;
  b[std::int64_t(o.pct_start * double(transition_steps))] = o.div_factor;
  b[std::int64_t(o.pct_final * double(transition_steps))] = 1.0 / o.div_factor;
  b[transition_steps] = 1.0 / o.final_div_factor;
  return piecewise_interpolate_schedule(Interpolation::linear, peak_value / o.div_factor,
                                        {.boundaries_and_scales = std::move(b)});
}

Schedule cosine_onecycle_schedule(std::int64_t transition_steps, double peak_value,
                                  CosineOnecycleScheduleOptions o) {
  ELEGY_CHECK(transition_steps > 0, "cosine_onecycle_schedule",
              "transition_steps must be > 0, got ", transition_steps);
  std::map<std::int64_t, double> b;
  b[std::int64_t(o.pct_start * double(transition_steps))] = o.div_factor;
  b[transition_steps] = 1.0 / (o.div_factor * o.final_div_factor);
  return piecewise_interpolate_schedule(Interpolation::cosine, peak_value / o.div_factor,
                                        {.boundaries_and_scales = std::move(b)});
}

Schedule sgdr_schedule(std::vector<SgdrCycle> cycles) {
  ELEGY_CHECK(!cycles.empty(), "sgdr_schedule", "needs at least one cycle");
  std::vector<Schedule> schedules;
  std::vector<std::int64_t> boundaries;
  std::int64_t step = 0;
  for (const SgdrCycle& c : cycles) {
    schedules.push_back(
        warmup_cosine_decay_schedule(c.init_value, c.peak_value, c.warmup_steps, c.decay_steps,
                                     {.end_value = c.end_value, .exponent = c.exponent}));
    step += c.decay_steps;
    boundaries.push_back(step);
  }
  boundaries.pop_back();
  return join_schedules(std::move(schedules), std::move(boundaries));
}

}  // namespace elegy::optim
