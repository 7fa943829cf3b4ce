// Learning-rate (and weight-decay) schedules, optax's formulas: each returns a Schedule, a
// function from the step count (updates applied so far, from 0) to a value, evaluated on the host
// in double precision. Pass one wherever a ScalarOrSchedule is taken:
//
//   optim::adam(optim::warmup_cosine_decay_schedule(0.0, 1e-3, 1000, 50000));
//
// Argument style as in aliases.hpp: optax's required arguments positional, those with defaults in
// an options struct. Invalid arguments (non-positive step counts where optax needs them, negative
// scales) raise an Error naming the schedule and the value.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string_view>
#include <vector>

#include "elegy/optim/transform.hpp"

namespace elegy::optim {

// Always `value`.
Schedule constant_schedule(double value);

struct PolynomialScheduleOptions {
  std::int64_t transition_begin = 0;  // steps at init_value before the transition starts
};
// (init - end) * (1 - t / transition_steps)^power + end, t = clip(count - begin, 0, steps).
// transition_steps <= 0 gives the constant init_value (as optax).
Schedule polynomial_schedule(double init_value, double end_value, double power,
                             std::int64_t transition_steps, PolynomialScheduleOptions options = {});
// polynomial_schedule with power 1.
Schedule linear_schedule(double init_value, double end_value, std::int64_t transition_steps,
                         PolynomialScheduleOptions options = {});

struct PiecewiseConstantScheduleOptions {
  // From each boundary step on, the value is multiplied by its scale (scales >= 0).
  std::map<std::int64_t, double> boundaries_and_scales = {};
};
Schedule piecewise_constant_schedule(double init_value,
                                     PiecewiseConstantScheduleOptions options = {});

struct ExponentialDecayOptions {
  std::int64_t transition_begin = 0;
  bool staircase = false;  // decay in whole transitions, not continuously
  std::optional<double> end_value =
      std::nullopt;  // bound (below when decaying, above when growing)
};
// init * decay_rate^((count - begin) / transition_steps) after transition_begin, else init.
// transition_steps <= 0 or decay_rate == 0 give the constant init_value (as optax).
Schedule exponential_decay(double init_value, std::int64_t transition_steps, double decay_rate,
                           ExponentialDecayOptions options = {});

struct CosineDecayScheduleOptions {
  double alpha = 0.0;     // the final multiplier
  double exponent = 1.0;  // applied to the cosine factor
};
// init * ((1 - alpha) * (0.5 (1 + cos(pi min(count, T) / T)))^exponent + alpha), T = decay_steps >
// 0.
Schedule cosine_decay_schedule(double init_value, std::int64_t decay_steps,
                               CosineDecayScheduleOptions options = {});

struct WarmupCosineDecayScheduleOptions {
  double end_value = 0.0;
  double exponent = 1.0;
};
// Linear warmup from init_value to peak_value over warmup_steps, then cosine decay to end_value
// at decay_steps (which counts the warmup too).
Schedule warmup_cosine_decay_schedule(double init_value, double peak_value,
                                      std::int64_t warmup_steps, std::int64_t decay_steps,
                                      WarmupCosineDecayScheduleOptions options = {});
// Linear warmup from init_value to peak_value, then constant.
Schedule warmup_constant_schedule(double init_value, double peak_value, std::int64_t warmup_steps);

// schedules[0] until boundaries[0], then schedules[1] counted from that boundary, and so on
// (boundaries.size() == schedules.size() - 1).
Schedule join_schedules(std::vector<Schedule> schedules, std::vector<std::int64_t> boundaries);

struct WarmupExponentialDecayScheduleOptions {
  std::int64_t transition_begin = 0;
  bool staircase = false;
  std::optional<double> end_value = std::nullopt;
};
// Linear warmup from init_value to peak_value over warmup_steps, then exponential_decay from
// peak_value (counted from the end of the warmup).
Schedule warmup_exponential_decay_schedule(double init_value, double peak_value,
                                           std::int64_t warmup_steps, std::int64_t transition_steps,
                                           double decay_rate,
                                           WarmupExponentialDecayScheduleOptions options = {});

enum class Interpolation { linear, cosine };
struct PiecewiseInterpolateScheduleOptions {
  // At each boundary step the value reaches the previous value times its scale (scales >= 0),
  // interpolated in between; constant after the last boundary.
  std::map<std::int64_t, double> boundaries_and_scales = {};
};
Schedule piecewise_interpolate_schedule(Interpolation interpolate_type, double init_value,
                                        PiecewiseInterpolateScheduleOptions options = {});

struct LinearOnecycleScheduleOptions {
  double pct_start = 0.3;         // fraction of the steps spent rising to peak_value
  double pct_final = 0.85;        // fraction at which the value is back at its start
  double div_factor = 25.0;       // start value = peak_value / div_factor
  double final_div_factor = 1e4;  // final value = start value / final_div_factor
};
// The 1cycle policy (Smith & Topin 2018) with linear pieces. transition_steps > 0.
Schedule linear_onecycle_schedule(std::int64_t transition_steps, double peak_value,
                                  LinearOnecycleScheduleOptions options = {});

struct CosineOnecycleScheduleOptions {
  double pct_start = 0.3;
  double div_factor = 25.0;
  double final_div_factor = 1e4;
};
// The 1cycle policy with cosine pieces: up to peak_value, then down to
// peak_value / (div_factor * final_div_factor). transition_steps > 0.
Schedule cosine_onecycle_schedule(std::int64_t transition_steps, double peak_value,
                                  CosineOnecycleScheduleOptions options = {});

// One cycle of sgdr_schedule: warmup_cosine_decay_schedule's arguments.
struct SgdrCycle {
  double init_value = 0.0;
  double peak_value = 0.0;
  std::int64_t warmup_steps = 0;
  std::int64_t decay_steps = 0;
  double end_value = 0.0;
  double exponent = 1.0;
};
// SGD with warm restarts (Loshchilov & Hutter 2017): the cycles' warmup-cosine schedules one
// after the other, each lasting its decay_steps.
Schedule sgdr_schedule(std::vector<SgdrCycle> cycles);

}  // namespace elegy::optim
