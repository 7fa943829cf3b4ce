// Errors of the optimizers: bad hyperparameters when building, and states or trees that do not
// belong together when updating. Each names the optimizer or transform and the offending value.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "elegy/optim/aliases.hpp"
#include "elegy/optim/schedules.hpp"
#include "elegy/optim/transforms.hpp"

namespace elegy {
namespace {

using namespace optim;
using doctest::Contains;

Tensor vec(std::vector<float> v, Shape shape = {}) {
  if (shape.size() == 0) shape = Shape{std::int64_t(v.size())};
  return Tensor::from_vector(v, shape);
}

Tensor flag(bool v) {
  return Tensor::from_vector(std::vector<std::uint8_t>{v}, Shape{}).astype(DType::bool_);
}

const Tree kParams{{"layer", Tree{{"b", vec({1, 2})}, {"w", vec({1, 2, 3, 4}, Shape{2, 2})}}}};

TEST_CASE("bad hyperparameters are errors naming the optimizer, the field and the value") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS(
      sgd(-0.1), Contains("sgd: learning_rate must be a finite number >= 0, got -0.1"), Error);
  CHECK_THROWS_WITH_AS(adam(nan), Contains("adam: learning_rate"), Error);
  CHECK_THROWS_WITH_AS(sgd(0.1, {.momentum = 1.5}),
                       Contains("sgd: momentum must be in [0, 1], got 1.5"), Error);
  CHECK_THROWS_WITH_AS(adam(1e-3, {.b1 = 1.0}), Contains("adam: b1 must be in [0, 1), got 1"),
                       Error);
  CHECK_THROWS_WITH_AS(adamw(1e-3, {.b2 = -0.1}), Contains("adamw: b2 must be in [0, 1), got -0.1"),
                       Error);
  CHECK_THROWS_WITH_AS(adam(1e-3, {.eps = -1e-8}),
                       Contains("adam: eps must be a finite number >= 0"), Error);
  CHECK_THROWS_WITH_AS(adamw(1e-3, {.weight_decay = -0.01}),
                       Contains("adamw: weight_decay must be a finite number >= 0, got -0.01"),
                       Error);
  CHECK_THROWS_WITH_AS(rmsprop(1e-3, {.decay = 2.0}),
                       Contains("rmsprop: decay must be in [0, 1], got 2"), Error);
  CHECK_THROWS_WITH_AS(rmsprop(1e-3, {.initial_scale = -1.0}),
                       Contains("rmsprop: initial_scale must be a finite number >= 0, got -1"),
                       Error);
  CHECK_THROWS_WITH_AS(sgd(Schedule()),
                       Contains("sgd: the learning_rate schedule is an empty function"), Error);
  CHECK_THROWS_WITH_AS(trace(-0.5), Contains("trace: decay must be in [0, 1], got -0.5"), Error);
  CHECK_THROWS_WITH_AS(scale_by_adam({.b2 = 1.0}), Contains("scale_by_adam: b2 must be in [0, 1)"),
                       Error);
  CHECK_THROWS_WITH_AS(scale_by_stddev({.eps = -1.0}), Contains("scale_by_stddev: eps"), Error);
  CHECK_THROWS_WITH_AS(scale(nan), Contains("scale: step_size must be finite"), Error);
  CHECK_THROWS_WITH_AS(
      scale_by_learning_rate(-1.0),
      Contains("scale_by_learning_rate: learning_rate must be a finite number >= 0"), Error);
  CHECK_THROWS_WITH_AS(clip_by_global_norm(0.0),
                       Contains("clip_by_global_norm: max_norm must be a finite number > 0, got 0"),
                       Error);
  CHECK_THROWS_WITH_AS(add_decayed_weights(-1.0), Contains("add_decayed_weights: weight_decay"),
                       Error);
  CHECK_THROWS_WITH_AS(masked(identity(), Mask()), Contains("masked: no mask given"), Error);
  CHECK_THROWS_WITH_AS(masked(identity(), MaskFn()), Contains("masked: the mask function is empty"),
                       Error);
}

TEST_CASE("a schedule's bad value is an error at the step that produces it") {
  const auto opt = sgd([](std::int64_t c) { return c < 1 ? 0.1 : -0.1; });
  const auto r = opt.update(kParams, opt.init(kParams), kParams);
  CHECK_THROWS_WITH_AS(
      opt.update(kParams, r.state, kParams),
      Contains("scale_by_learning_rate: the learning-rate schedule returned -0.1 at step 1"),
      Error);
  const auto wd = add_decayed_weights([](std::int64_t) { return std::nan(""); });
  CHECK_THROWS_WITH_AS(
      wd.update(kParams, wd.init(kParams), kParams),
      Contains("add_decayed_weights: the weight_decay schedule returned nan at step 0"), Error);
}

TEST_CASE("a state from another optimizer, or none, asks to call init first") {
  const auto sgd_opt = sgd(0.1);
  const auto adam_opt = adam(0.1);
  // Same chain length (2): the transform that gets the foreign state says so.
  CHECK_THROWS_WITH_AS(sgd_opt.update(kParams, adam_opt.init(kParams), kParams),
                       Contains("identity: this transform has no state"), Error);
  CHECK_THROWS_WITH_AS(sgd_opt.update(kParams, adam_opt.init(kParams), kParams),
                       Contains("call init first"), Error);
  CHECK_THROWS_WITH_AS(adam_opt.update(kParams, sgd_opt.init(kParams), kParams),
                       Contains("scale_by_adam: expected a state {count, mu, nu}"), Error);
  // A different chain length.
  CHECK_THROWS_WITH_AS(adamw(0.1).update(kParams, adam_opt.init(kParams), kParams),
                       Contains("chain: the optimizer state does not belong to this chain of 3"),
                       Error);
  // No state at all.
  CHECK_THROWS_WITH_AS(adam_opt.update(kParams, OptState(), kParams), Contains("call init first"),
                       Error);
  CHECK_THROWS_WITH_AS(trace(0.9).update(kParams, OptState(), kParams),
                       Contains("trace: expected a state {trace}"), Error);
  CHECK_THROWS_WITH_AS(clip_by_global_norm(1.0).update(kParams, adam_opt.init(kParams), kParams),
                       Contains("clip_by_global_norm: this transform has no state"), Error);
  // A count that is not an int32 scalar on the cpu.
  OptState bad = scale_by_schedule(constant_schedule(1.0)).init(kParams);
  bad["count"] = Tensor::from_vector(std::vector<float>{1.0f}, Shape{});
  CHECK_THROWS_WITH_AS(
      scale_by_schedule(constant_schedule(1.0)).update(kParams, bad, kParams),
      Contains("scale_by_schedule: the state's count must be an int32 scalar on the "
               "cpu, got float32[] on cpu"),
      Error);
}

TEST_CASE("updates of another structure or shape than the state's name the first differing path") {
  const auto opt = adam(0.1);
  const OptState s = opt.init(kParams);
  const Tree missing{{"layer", Tree{{"b", vec({1, 2})}}}};
  CHECK_THROWS_WITH_AS(
      opt.update(missing, s, missing),
      Contains("scale_by_adam: the updates do not have the structure of the params "
               "the state's 'mu' was initialised for: at 'layer': keys {b} vs {b, w}"),
      Error);
  const Tree reshaped{{"layer", Tree{{"b", vec({1, 2})}, {"w", vec({1, 2, 3, 4}, Shape{4})}}}};
  CHECK_THROWS_WITH_AS(
      opt.update(reshaped, s, reshaped),
      Contains("scale_by_adam: the update at 'layer/w' is float32[4] on cpu but the state's 'mu' "
               "holds float32[2,2] on cpu there; call init with params of these shapes first"),
      Error);
  const auto mom = sgd(0.1, {.momentum = 0.9});
  CHECK_THROWS_WITH_AS(mom.update(missing, mom.init(kParams), missing),
                       Contains("trace: the updates do not have the structure"), Error);
  const auto rms = rmsprop(0.1, {.centered = true});
  CHECK_THROWS_WITH_AS(rms.update(reshaped, rms.init(kParams), reshaped),
                       Contains("scale_by_stddev: the update at 'layer/w'"), Error);
}

TEST_CASE("weight decay needs params that match the updates") {
  const auto opt = adamw(0.1);
  const OptState s = opt.init(kParams);
  CHECK_THROWS_WITH_AS(opt.update(kParams, s, Tree()),
                       Contains("add_decayed_weights: needs the current params"), Error);
  const Tree other{{"layer", Tree{{"b", vec({1, 2})}, {"v", vec({1, 2, 3, 4}, Shape{2, 2})}}}};
  CHECK_THROWS_WITH_AS(add_decayed_weights(0.1).update(kParams, Tree(), other),
                       Contains("add_decayed_weights: the two trees differ in structure"), Error);
}

TEST_CASE("masks that do not fit the params") {
  const auto wrong_key = add_decayed_weights(0.1, {.mask = Tree{{"other", flag(true)}}});
  CHECK_THROWS_WITH_AS(
      wrong_key.init(kParams),
      Contains("add_decayed_weights: the mask does not match the tree at the root"), Error);
  const auto not_a_flag =
      masked(scale(2.0), Tree{{"layer", Tree{{"b", flag(true)}, {"w", vec({1, 0})}}}});
  CHECK_THROWS_WITH_AS(
      not_a_flag.init(kParams),
      Contains(
          "masked: the mask's leaf at 'layer/w' must be one value (true/false), got float32[2]"),
      Error);
  const auto deeper_mask =
      masked(scale(2.0), Tree{{"layer", Tree{{"b", Tree{{"x", flag(true)}}}, {"w", flag(true)}}}});
  CHECK_THROWS_WITH_AS(deeper_mask.init(kParams),
                       Contains("masked: the mask does not match the tree at 'layer/b'"), Error);
  const auto masked_adam = masked(adam(0.1), Tree{{"layer", flag(true)}});
  CHECK_THROWS_WITH_AS(masked_adam.update(kParams, adam(0.1).init(kParams), kParams),
                       Contains("masked: expected a state {inner_state}"), Error);
}

TEST_CASE("schedules with impossible arguments") {
  CHECK_THROWS_WITH_AS(cosine_decay_schedule(1.0, 0),
                       Contains("cosine_decay_schedule: decay_steps must be > 0, got 0"), Error);
  CHECK_THROWS_WITH_AS(
      warmup_cosine_decay_schedule(0.0, 1.0, 10, 10),
      Contains("warmup_cosine_decay_schedule: decay_steps (10) must be larger than "
               "warmup_steps (10)"),
      Error);
  CHECK_THROWS_WITH_AS(
      piecewise_constant_schedule(1.0, {.boundaries_and_scales = {{5, -0.5}}}),
      Contains("piecewise_constant_schedule: scales must be >= 0, got -0.5 at step 5"), Error);
  CHECK_THROWS_WITH_AS(join_schedules({constant_schedule(1.0)}, {3}),
                       Contains("join_schedules: needs one boundary fewer than schedules, got 1 "
                                "schedules and 1 boundaries"),
                       Error);
  // Degenerate but valid, as in optax: a constant schedule.
  CHECK(exponential_decay(0.5, 0, 0.9)(100) == 0.5);
  CHECK(polynomial_schedule(0.5, 0.0, 2.0, -1)(100) == 0.5);
}

}  // namespace
}  // namespace elegy
