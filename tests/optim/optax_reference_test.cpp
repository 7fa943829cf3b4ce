// elegy's optimizers replayed against optax: every configuration of tests/reference/gen_optax.py
// on every problem, float32 and float64, 50 steps, the params compared with optax's after each
// recorded step (kRecordedSteps).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "elegy/optim/schedules.hpp"
#include "elegy/optim/wrappers.hpp"
#include "optim/optax_problems.hpp"

namespace elegy {
namespace {

using optax_reference::kRuns;
using optax_reference::kSteps;

// Relative tolerances: float32 2e-6, float64 1e-12 (the issue asked 1e-6 for float32). Values
// of magnitude below kFloor are compared absolutely at rtol * kFloor: the problems' params are
// of order 1, and a param that has moved from 0.5 to 0.08 carries the absolute rounding error of
// the larger numbers it came from. Why 2e-6: optax's float32 trajectories carry XLA's own
// rounding of the gradients, which 50 steps of the variance-normalising optimizers amplify to
// about 1e-6 by themselves. Measured with ELEGY_OPTAX_VERBOSE=1 against 1e-6: with float32
// gradients summed by this machine's OpenBLAS the worst run was 0.94 (rmsprop_centered on mlp)
// and on an H200 host's Xeon 1.55 (its OpenBLAS kernels sum in another order); with the
// correctly rounded gradients used now (optax_problems.hpp), 1.27 (rmsprop_debiased on mlp) on
// any machine. A wrong formula is off by 1e-4 or more. The worst float64 run uses 0.0013.
constexpr double kFloor = 0.5;

double rtol_for(DType dtype) {
  return dtype == DType::f32 ? 2e-6 : 1e-12;
}

// The params after `step` (1-based) compared with the run's row, if that step was recorded.
const double* recorded_row(const optax_reference::Run& run, int step) {
  int row = 0;
  for (int s : optax_reference::kRecordedSteps) {
    if (s == step) return run.steps + std::ptrdiff_t(row) * run.numel;
    ++row;
  }
  return nullptr;
}

// Replays one run; returns the worst deviation in tolerance units (<= 1 passes).
double replay(const optax_reference::Run& run, std::string* where) {
  const DType dtype = std::string(run.dtype) == "float32" ? DType::f32 : DType::f64;
  const auto& p = optax_test::problem(run.problem);
  const Tree k = optax_test::constants(p, dtype);
  const bool lookahead = optax_test::uses_lookahead(run.config);
  Tree params = optax_test::initial_params(p, dtype);
  if (lookahead) params = optim::lookahead_params(params);
  const optim::GradientTransformation opt = optax_test::make_optimizer(run.config, p);
  optim::OptState state = opt.init(params);
  double worst = 0.0;
  for (int step = 0; step < kSteps; ++step) {
    Tree grads = optax_test::gradients(run.problem, lookahead ? params["fast"] : params, k);
    if (optax_test::nan_step(run.config, step)) {
      const std::string first = grads.flatten_with_paths().front().first;
      grads[first] = grads[first].tensor() * std::nan("");
    }
    optim::UpdateResult r = opt.update(grads, state, params);
    params = optim::apply_updates(params, r.updates);
    state = std::move(r.state);
    const double* want = recorded_row(run, step + 1);
    if (want == nullptr) continue;
    int i = 0;
    for (const auto& [path, leaf] : params.flatten_with_paths()) {
      REQUIRE(leaf.dtype() == dtype);
      for (double got : leaf.to_vector<double>()) {
        const double units = optax_test::tolerance_units(got, want[i], rtol_for(dtype), kFloor);
        if (!(units <= worst)) {
          worst = std::isnan(units) ? INFINITY : units;
          *where = "step " + std::to_string(step + 1) + " " + path + ": elegy " +
                   std::to_string(got) + " vs optax " + std::to_string(want[i]);
        }
        ++i;
      }
    }
    REQUIRE(i == run.numel);
  }
  return worst;
}

TEST_CASE("optimizers match optax's trajectories (50 steps, float32 2e-6 / float64 1e-12)") {
  int runs = 0;
  for (const auto& run : kRuns) {
    std::string where;
    const double worst = replay(run, &where);
    const std::string label = std::string(run.config) + " on " + run.problem + " in " + run.dtype;
    INFO(label << ": worst at " << where << " (" << worst << " x tolerance)");
    CHECK(worst <= 1.0);
    // ELEGY_OPTAX_VERBOSE=1 prints every run's worst deviation (how close each one is).
    if (std::getenv("ELEGY_OPTAX_VERBOSE"))
      MESSAGE(label << ": worst " << worst << " at " << where);
    ++runs;
  }
  CHECK(runs == 354);  // 59 configurations x 3 problems x 2 dtypes
}

TEST_CASE("adamw with a mask tree matches optax's adamw with a mask function") {
  // The same mask as gen_optax.py's function, given as a prefix tree instead.
  for (const char* dtype_name : {"float32", "float64"}) {
    const DType dtype = std::string(dtype_name) == "float32" ? DType::f32 : DType::f64;
    const auto& p = optax_test::problem("mlp");
    const Tree k = optax_test::constants(p, dtype);
    Tree params = optax_test::initial_params(p, dtype);
    auto flag = [](bool v) {
      return Tensor::from_vector(std::vector<std::uint8_t>{v}, Shape{}).astype(DType::bool_);
    };
    const Tree mask{{"b1", flag(false)}, {"w1", flag(true)}, {"w2", flag(true)}};
    const auto opt = optim::adamw(p.lr_adaptive, {.weight_decay = 0.1, .mask = mask});
    optim::OptState state = opt.init(params);
    const optax_reference::Run* ref = nullptr;
    for (const auto& run : kRuns)
      if (std::string(run.config) == "adamw_mask" && std::string(run.problem) == "mlp" &&
          std::string(run.dtype) == dtype_name)
        ref = &run;
    REQUIRE(ref != nullptr);
    double worst = 0.0;
    for (int step = 0; step < kSteps; ++step) {
      auto r = opt.update(optax_test::gradients("mlp", params, k), state, params);
      params = optim::apply_updates(params, r.updates);
      state = r.state;
      const double* want = recorded_row(*ref, step + 1);
      if (want == nullptr) continue;
      int i = 0;
      for (const Tensor& leaf : params.leaves())
        for (double got : leaf.to_vector<double>())
          worst =
              std::max(worst, optax_test::tolerance_units(got, want[i++], rtol_for(dtype), kFloor));
    }
    INFO(dtype_name);
    CHECK(worst <= 1.0);
  }
}

TEST_CASE("schedules match optax's values at steps 0..50 (1e-12 relative)") {
  using namespace optim;
  auto make = [](std::string_view name) -> Schedule {
    if (name == "constant") return constant_schedule(0.3);
    if (name == "linear") return linear_schedule(1.0, 0.1, 10, {.transition_begin = 3});
    if (name == "polynomial")
      return polynomial_schedule(1.0, 0.01, 2.0, 15, {.transition_begin = 2});
    if (name == "exponential") return exponential_decay(0.5, 4, 0.7);
    if (name == "exponential_staircase")
      return exponential_decay(0.5, 4, 0.7, {.transition_begin = 3, .staircase = true});
    if (name == "exponential_end") return exponential_decay(0.5, 4, 0.7, {.end_value = 0.2});
    if (name == "exponential_growth") return exponential_decay(0.1, 5, 1.5, {.end_value = 0.8});
    if (name == "cosine") return cosine_decay_schedule(1.0, 20, {.alpha = 0.1});
    if (name == "cosine_exponent") return cosine_decay_schedule(2.0, 25, {.exponent = 2.0});
    if (name == "warmup_cosine")
      return warmup_cosine_decay_schedule(0.0, 1.0, 5, 25, {.end_value = 0.05});
    if (name == "warmup_constant") return warmup_constant_schedule(0.1, 0.5, 8);
    if (name == "piecewise_constant")
      return piecewise_constant_schedule(
          1.0, {.boundaries_and_scales = {{5, 0.5}, {10, 0.2}, {30, 0.0}}});
    if (name == "join")
      return join_schedules(
          {constant_schedule(1.0), linear_schedule(1.0, 0.0, 10), constant_schedule(0.25)},
          {8, 20});
    if (name == "warmup_exponential")
      return warmup_exponential_decay_schedule(
          0.0, 1.0, 5, 4, 0.7, {.transition_begin = 2, .staircase = true, .end_value = 0.1});
    if (name == "piecewise_linear")
      return piecewise_interpolate_schedule(
          Interpolation::linear, 1.0, {.boundaries_and_scales = {{5, 0.5}, {10, 2.0}, {30, 0.1}}});
    if (name == "piecewise_cosine")
      return piecewise_interpolate_schedule(Interpolation::cosine, 1.0,
                                            {.boundaries_and_scales = {{4, 3.0}, {20, 0.1}}});
    if (name == "linear_onecycle") return linear_onecycle_schedule(30, 1.0);
    if (name == "cosine_onecycle") return cosine_onecycle_schedule(30, 1.0, {.pct_start = 0.25});
    if (name == "sgdr")
      return sgdr_schedule({{.init_value = 0.0,
                             .peak_value = 1.0,
                             .warmup_steps = 3,
                             .decay_steps = 10,
                             .end_value = 0.1},
                            {.init_value = 0.1,
                             .peak_value = 0.5,
                             .warmup_steps = 2,
                             .decay_steps = 15,
                             .end_value = 0.0}});
    throw std::invalid_argument("no schedule " + std::string(name));
  };
  int schedules = 0;
  for (const auto& ref : optax_reference::kSchedules) {
    const Schedule s = make(ref.name);
    for (int step = 0; step < ref.size; ++step) {
      INFO(ref.name << " at step " << step);
      CHECK(optax_test::tolerance_units(s(step), ref.data[step], 1e-12, 1e-3) <= 1.0);
    }
    ++schedules;
  }
  CHECK(schedules == 19);
}

}  // namespace
}  // namespace elegy
