// The wrappers and the vocabulary optax's trajectories cannot check: current_learning_rate,
// apply_if_finite past max_consecutive_errors, MultiSteps bookkeeping, lookahead's params,
// noisy_sgd's noise (elegy's generator is not JAX's), every alias taking a schedule, and their
// states' layouts and errors.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_reduce.hpp"
#include "elegy/optim/aliases.hpp"
#include "elegy/optim/schedules.hpp"
#include "elegy/optim/transforms.hpp"
#include "elegy/optim/wrappers.hpp"

#include "grad_check.hpp"

namespace elegy {
namespace {

using namespace optim;
using doctest::Contains;
using testing::values;

Tensor vec(std::vector<double> v, DType dtype = DType::f64) {
  return Tensor::from_vector(v, Shape{std::int64_t(v.size())}).astype(dtype);
}

Tree params_of(DType dtype = DType::f64) {
  return Tree{{"b", vec({0.5, -1.0, 2.0}, dtype)}, {"w", vec({1.0, 2.0, -3.0, 0.25}, dtype)}};
}
Tree grads_of(DType dtype = DType::f64) {
  return Tree{{"b", vec({0.1, -0.2, 0.3}, dtype)}, {"w", vec({-1.5, 0.5, 2.0, 0.0}, dtype)}};
}

std::vector<double> flat(const Tree& t) {
  std::vector<double> out;
  for (const Tensor& leaf : t.leaves())
    for (double v : values(leaf)) out.push_back(v);
  return out;
}

// Params after `steps` updates with constant gradients.
std::vector<double> run(const GradientTransformation& opt, int steps, DType dtype = DType::f64) {
  Tree p = params_of(dtype);
  OptState s = opt.init(p);
  for (int i = 0; i < steps; ++i) {
    UpdateResult r = opt.update(grads_of(dtype), s, p);
    p = apply_updates(p, r.updates);
    s = r.state;
  }
  return flat(p);
}

TEST_CASE("current_learning_rate finds inject_hyperparams' rate anywhere in the state") {
  const auto opt =
      chain({clip_by_global_norm(1.0),
             inject_hyperparams([](const Hyperparams& h) { return adam(h.at("learning_rate")); },
                                {{"learning_rate", exponential_decay(0.1, 1, 0.5)}})});
  const Tree p = params_of();
  OptState s = opt.init(p);
  REQUIRE(current_learning_rate(s).has_value());
  CHECK(*current_learning_rate(s) == 0.1);
  for (double want : {0.1, 0.05, 0.025}) {
    s = opt.update(grads_of(), s, p).state;
    CHECK(*current_learning_rate(s) == doctest::Approx(want).epsilon(1e-15));  // the rate used
  }
  CHECK_FALSE(current_learning_rate(adam(0.1).init(p)).has_value());
  CHECK_FALSE(current_learning_rate(OptState()).has_value());
  // float32 params: the rate is stored (and rounded) in float32, as optax.
  const auto f32 = inject_hyperparams(
      [](const Hyperparams& h) { return sgd(h.at("learning_rate")); }, {{"learning_rate", 0.1}});
  CHECK(*current_learning_rate(f32.init(params_of(DType::f32))) == double(0.1f));
}

TEST_CASE("inject_hyperparams reads numbers back from the state") {
  const auto opt = inject_hyperparams(
      [](const Hyperparams& h) { return sgd(h.at("learning_rate")); }, {{"learning_rate", 0.1}});
  const Tree p = params_of();
  OptState s = opt.init(p);
  s["hyperparams"]["learning_rate"] = Tensor::from_vector(std::vector<double>{0.5}, Shape{});
  const UpdateResult r = opt.update(grads_of(), s, p);
  CHECK(values(r.updates["b"]) == std::vector<double>{-0.05, 0.1, -0.15});
  CHECK_THROWS_WITH_AS(opt.update(grads_of(), adam(0.1).init(p), p),
                       Contains("inject_hyperparams: expected a state {count, hyperparams"), Error);
}

TEST_CASE("apply_if_finite skips non-finite updates until max_consecutive_errors is exceeded") {
  const auto opt = apply_if_finite(sgd(1.0), 1);
  const Tree p = params_of();
  Tree bad = grads_of();
  bad["w"] = vec({1.0, INFINITY, 0.0, 0.0});
  OptState s = opt.init(p);
  UpdateResult r = opt.update(bad, s, p);
  CHECK(flat(r.updates) == std::vector<double>(7, 0.0));
  CHECK(r.state["notfinite_count"].tensor().item<std::int32_t>() == 1);
  CHECK(r.state["last_finite"].tensor().item<bool>() == false);
  r = opt.update(bad, r.state, p);  // the second in a row: > 1, applied
  CHECK(std::isinf(values(r.updates["w"])[1]));
  CHECK(r.state["notfinite_count"].tensor().item<std::int32_t>() == 2);
  CHECK(r.state["total_notfinite"].tensor().item<std::int32_t>() == 2);
  r = opt.update(grads_of(), r.state, p);
  CHECK(r.state["notfinite_count"].tensor().item<std::int32_t>() == 0);
  CHECK(r.state["last_finite"].tensor().item<bool>() == true);
  CHECK(r.state["total_notfinite"].tensor().item<std::int32_t>() == 2);
}

TEST_CASE("MultiSteps: k mini-steps per update, mean of their gradients") {
  const MultiSteps ms(sgd(1.0), 3);
  const auto opt = ms.gradient_transformation();
  const Tree p = params_of();
  OptState s = opt.init(p);
  Tree g2 = grads_of();
  g2["b"] = vec({0.4, 0.4, 0.4});
  const std::vector<Tree> grads{grads_of(), g2, grads_of()};
  for (int i = 0; i < 3; ++i) {
    UpdateResult r = opt.update(grads[i], s, p);
    s = r.state;
    if (i < 2) {
      CHECK(flat(r.updates) == std::vector<double>(7, 0.0));
      CHECK_FALSE(MultiSteps::has_updated(s));
    } else {
      const auto b = values(r.updates["b"]);  // -(0.1 + 0.4 + 0.1) / 3, ...
      CHECK(b[0] == doctest::Approx(-0.2));
      CHECK(b[1] == doctest::Approx(-0.0));
      CHECK(b[2] == doctest::Approx(-1.0 / 3.0));
      CHECK(MultiSteps::has_updated(s));
    }
  }
  CHECK(s["gradient_step"].tensor().item<std::int32_t>() == 1);
  CHECK(s["acc_grads"]["b"].tensor().dtype() == DType::f32);  // accumulator_dtype
  CHECK_THROWS_WITH_AS(MultiSteps(sgd(1.0), 0), Contains("MultiSteps: every_k_schedule"), Error);
}

TEST_CASE("lookahead updates {fast, slow} params and syncs every sync_period steps") {
  const auto opt = lookahead(sgd(0.1), 2, 0.5);
  Tree p = lookahead_params(params_of());
  OptState s = opt.init(p);
  for (int i = 0; i < 2; ++i) {
    UpdateResult r = opt.update(grads_of(), s, p);
    p = apply_updates(p, r.updates);
    s = r.state;
  }
  // After the sync: slow moved halfway to the fast params' two steps, fast reset to slow.
  const auto slow = values(p["slow"]["b"]), fast = values(p["fast"]["b"]);
  CHECK(slow[0] == doctest::Approx(0.5 - 0.5 * 0.02));
  CHECK(fast == slow);
  CHECK(s["steps_since_sync"].tensor().item<std::int32_t>() == 0);
  CHECK_THROWS_WITH_AS(opt.update(grads_of(), s, params_of()),
                       Contains("lookahead: needs the params as a {fast, slow} tree"), Error);
}

TEST_CASE("noisy_sgd: optax's noise scale, and plain sgd without noise") {
  CHECK(run(noisy_sgd(0.1, {.eta = 0.0}), 3) == run(sgd(0.1), 3));
  // The noise's standard deviation at step t is sqrt(eta / t^gamma).
  const auto noise = add_noise(0.5, 0.55, {.key = Key(3)});
  const Tree zeros_tree{{"x", zeros(Shape{200000}, DType::f64)}};
  OptState s = noise.init(zeros_tree);
  for (int t = 1; t <= 3; ++t) {
    UpdateResult r = noise.update(zeros_tree, s, Tree());
    const Tensor x = r.updates["x"];
    const double sd = std::sqrt(mean(x * x).item<double>());
    CHECK(sd == doctest::Approx(std::sqrt(0.5 / std::pow(t, 0.55))).epsilon(0.01));
    s = r.state;
  }
  // Same key, same noise; the key advances each step.
  CHECK(flat(noise.update(zeros_tree, noise.init(zeros_tree), Tree()).updates) ==
        flat(noise.update(zeros_tree, noise.init(zeros_tree), Tree()).updates));
  CHECK(values(s["rng_key"]) != values(noise.init(zeros_tree)["rng_key"]));
}

TEST_CASE("every alias takes a schedule: a constant one gives the float's steps") {
  using Make = std::function<GradientTransformation(const ScalarOrSchedule&)>;
  const std::vector<std::pair<std::string, Make>> aliases{
      {"sgd", [](auto lr) { return sgd(lr, {.momentum = 0.9}); }},
      {"noisy_sgd", [](auto lr) { return noisy_sgd(lr); }},
      {"adam", [](auto lr) { return adam(lr); }},
      {"adamw", [](auto lr) { return adamw(lr); }},
      {"nadam", [](auto lr) { return nadam(lr); }},
      {"nadamw", [](auto lr) { return nadamw(lr); }},
      {"amsgrad", [](auto lr) { return amsgrad(lr); }},
      {"adamax", [](auto lr) { return adamax(lr); }},
      {"adamaxw", [](auto lr) { return adamaxw(lr); }},
      {"radam", [](auto lr) { return radam(lr); }},
      {"adabelief", [](auto lr) { return adabelief(lr); }},
      {"adagrad", [](auto lr) { return adagrad(lr); }},
      {"adadelta", [](auto lr) { return adadelta(lr); }},
      {"rmsprop", [](auto lr) { return rmsprop(lr, {.centered = true, .momentum = 0.9}); }},
      {"yogi", [](auto lr) { return yogi(lr); }},
      {"lamb", [](auto lr) { return lamb(lr); }},
      {"lars", [](auto lr) { return lars(lr); }},
      {"lion", [](auto lr) { return lion(lr); }},
      {"novograd", [](auto lr) { return novograd(lr); }},
      {"fromage", [](auto lr) { return fromage(lr); }},
      {"sm3", [](auto lr) { return sm3(lr); }},
      {"adafactor", [](auto lr) { return adafactor(lr); }},
  };
  for (const auto& [name, make] : aliases) {
    INFO(name);
    const auto a = run(make(0.01), 4), b = run(make(constant_schedule(0.01)), 4);
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i] == doctest::Approx(b[i]).epsilon(1e-14));
    CHECK(a != flat(params_of()));  // it moved
  }
}

TEST_CASE("the new transforms ask for init on a foreign state, and check their arguments") {
  const Tree p = params_of();
  const OptState foreign = trace(0.9).init(p);
  const std::vector<std::pair<std::string, GradientTransformation>> stateful{
      {"scale_by_amsgrad", scale_by_amsgrad()},
      {"scale_by_adamax", scale_by_adamax()},
      {"scale_by_rss", scale_by_rss()},
      {"scale_by_belief", scale_by_belief()},
      {"scale_by_yogi", scale_by_yogi()},
      {"scale_by_radam", scale_by_radam()},
      {"scale_by_lion", scale_by_lion()},
      {"scale_by_novograd", scale_by_novograd()},
      {"scale_by_adadelta", scale_by_adadelta()},
      {"scale_by_sm3", scale_by_sm3()},
      {"scale_by_factored_rms", scale_by_factored_rms()},
      {"ema", ema(0.9)},
      {"add_noise", add_noise(0.1, 0.5)},
      {"zero_nans", zero_nans()},
      {"MultiSteps", MultiSteps(sgd(0.1), 2).gradient_transformation()},
      {"apply_if_finite", apply_if_finite(sgd(0.1), 1)},
      {"lookahead", lookahead(sgd(0.1), 2, 0.5)},
      {"multi_transform", multi_transform({{"a", sgd(0.1)}}, LabelMap{{"b", "a"}, {"w", "a"}})},
  };
  for (const auto& [name, opt] : stateful) {
    INFO(name);
    CHECK_THROWS_WITH_AS(opt.update(grads_of(), foreign, p), Contains((name + ": ").c_str()),
                         Error);
    CHECK_THROWS_WITH_AS(opt.update(grads_of(), foreign, p), Contains("init"), Error);
  }
  for (const auto& [name, opt] : std::vector<std::pair<std::string, GradientTransformation>>{
           {"scale_by_sign", scale_by_sign()},
           {"centralize", centralize()},
           {"clip", clip(1.0)},
           {"set_to_zero", set_to_zero()},
           {"keep_params_nonnegative", keep_params_nonnegative()},
           {"scale_by_trust_ratio", scale_by_trust_ratio()}}) {
    INFO(name);
    CHECK_THROWS_WITH_AS(opt.update(grads_of(), foreign, p),
                         Contains((name + ": this transform has no state").c_str()), Error);
  }
  // A tree of another structure than the state's.
  const Tree other{{"b", vec({1.0, 2.0, 3.0})}};
  CHECK_THROWS_WITH_AS(scale_by_yogi().update(other, scale_by_yogi().init(p), other),
                       Contains("scale_by_yogi: the updates do not have the structure"), Error);
  CHECK_THROWS_WITH_AS(scale_by_sm3().update(other, scale_by_sm3().init(p), other),
                       Contains("scale_by_sm3: the updates do not have the structure"), Error);
  // Params needed.
  CHECK_THROWS_WITH_AS(scale_by_trust_ratio().update(grads_of(), Tree(), Tree()),
                       Contains("scale_by_trust_ratio: needs the current params"), Error);
  CHECK_THROWS_WITH_AS(lars(0.1).update(grads_of(), lars(0.1).init(p), Tree()),
                       Contains("needs the current params"), Error);
  // Arguments.
  CHECK_THROWS_WITH_AS(multi_transform({{"a", sgd(0.1)}}, LabelMap{{"b", "a"}, {"w", "c"}}).init(p),
                       Contains("multi_transform: some params have the label 'c'"), Error);
  CHECK_THROWS_WITH_AS(multi_transform({{"a", sgd(0.1)}}, LabelMap{{"b", "a"}}).init(p),
                       Contains("multi_transform: no label for the param 'w'"), Error);
  CHECK_THROWS_WITH_AS(clip_by_block_rms(0.0), Contains("clip_by_block_rms: threshold"), Error);
  CHECK_THROWS_WITH_AS(yogi(-1.0), Contains("yogi: learning_rate"), Error);
  CHECK_THROWS_WITH_AS(lookahead(sgd(0.1), 0, 0.5), Contains("lookahead: sync_period"), Error);
  CHECK_THROWS_WITH_AS(linear_onecycle_schedule(0, 1.0),
                       Contains("linear_onecycle_schedule: transition_steps"), Error);
}

TEST_CASE("zero_nans, keep_params_nonnegative, centralize and set_to_zero by hand") {
  const Tree p = params_of();
  Tree g = grads_of();
  g["b"] = vec({NAN, 1.0, -3.0});
  const UpdateResult z = zero_nans().update(g, zero_nans().init(p), p);
  CHECK(values(z.updates["b"]) == std::vector<double>{0.0, 1.0, -3.0});
  CHECK(z.state["found_nan"]["b"].tensor().item<bool>() == true);
  CHECK(z.state["found_nan"]["w"].tensor().item<bool>() == false);
  const UpdateResult k = keep_params_nonnegative().update(g, Tree(), p);
  CHECK(values(k.updates["b"])[2] == -2.0);  // 2 - 3 < 0: -param instead
  const Tree m{{"m", Tensor::from_vector(std::vector<double>{1, 2, 3, 5, 5, 8}, Shape{2, 3})}};
  CHECK(values(centralize().update(m, Tree(), Tree()).updates["m"]) ==
        std::vector<double>{-1, 0, 1, -1, -1, 2});
  CHECK(flat(set_to_zero().update(g, Tree(), p).updates) == std::vector<double>(7, 0.0));
}

}  // namespace
}  // namespace elegy
