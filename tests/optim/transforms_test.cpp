// Properties of the optimizers (dtypes, state layout and stability, purity, no tape recording)
// and hand-computed values of each transform. Errors are in optim_errors_test.cpp; agreement with
// optax in optax_reference_test.cpp.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "elegy/autodiff/grad.hpp"
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
using testing::values;

Tensor vec(std::vector<double> v, DType dtype = DType::f64, Shape shape = {}) {
  if (shape.size() == 0) shape = Shape{std::int64_t(v.size())};
  return Tensor::from_vector(v, shape).astype(dtype);
}

Tensor flag(bool v) {
  return Tensor::from_vector(std::vector<std::uint8_t>{v}, Shape{}).astype(DType::bool_);
}

// {"b": [3], "w": [2, 3]}
Tree params_of(DType dtype) {
  return Tree{{"b", vec({0.5, -1.0, 2.0}, dtype)},
              {"w", vec({1.0, 2.0, -3.0, 0.25, -0.5, 4.0}, dtype, Shape{2, 3})}};
}
Tree grads_of(DType dtype) {
  return Tree{{"b", vec({0.1, -0.2, 0.3}, dtype)},
              {"w", vec({-1.5, 0.5, 2.0, 0.0, 1.0, -0.75}, dtype, Shape{2, 3})}};
}

// Every leaf's values, in leaf order.
std::vector<std::vector<double>> snapshot(const Tree& t) {
  std::vector<std::vector<double>> out;
  for (const Tensor& leaf : t.leaves()) out.push_back(values(leaf));
  return out;
}

// Same structure, and leaf by leaf the same shape, dtype and device.
void check_same_layout(const Tree& a, const Tree& b) {
  REQUIRE(Tree::structure_difference(a, b) == "");
  const auto la = a.flatten_with_paths(), lb = b.flatten_with_paths();
  for (std::size_t i = 0; i < la.size(); ++i) {
    INFO(la[i].first);
    CHECK(la[i].second.shape() == lb[i].second.shape());
    CHECK(la[i].second.dtype() == lb[i].second.dtype());
    CHECK(la[i].second.device() == lb[i].second.device());
  }
}

std::vector<std::pair<std::string, GradientTransformation>> all_optimizers() {
  auto decay_matrices = [](const Tree& p) {
    return p.map([](const Tensor& x) { return flag(x.ndim() == 2); });
  };
  return {
      {"sgd", sgd(0.1)},
      {"sgd momentum", sgd(0.1, {.momentum = 0.9})},
      {"sgd nesterov schedule",
       sgd(exponential_decay(0.1, 3, 0.5), {.momentum = 0.5, .nesterov = true})},
      {"adam", adam(1e-2)},
      {"adam nesterov eps_root", adam(1e-2, {.eps_root = 1e-8, .nesterov = true})},
      {"adamw", adamw(1e-2, {.weight_decay = 0.1})},
      {"adamw mask", adamw(1e-2, {.weight_decay = 0.1, .mask = MaskFn(decay_matrices)})},
      {"adamw decay schedule", adamw(1e-2, {.weight_decay = linear_schedule(0.1, 0.0, 5)})},
      {"rmsprop", rmsprop(1e-2)},
      {"rmsprop centered momentum", rmsprop(1e-2, {.centered = true, .momentum = 0.9})},
      {"rmsprop debiased", rmsprop(1e-2, {.eps_in_sqrt = false, .bias_correction = true})},
      {"rmsprop centered debiased", rmsprop(1e-2, {.centered = true, .bias_correction = true})},
      {"clip + adam", chain({clip_by_global_norm(1.0), adam(1e-2)})},
      {"masked trace", masked(trace(0.9), Tree{{"b", flag(true)}, {"w", flag(false)}})},
      {"scale_by_schedule", scale_by_schedule(cosine_decay_schedule(1.0, 10))},
      {"nadam", nadam(1e-2)},
      {"nadamw", nadamw(1e-2)},
      {"amsgrad", amsgrad(1e-2)},
      {"adamax", adamax(1e-2)},
      {"adamaxw mask", adamaxw(1e-2, {.mask = MaskFn(decay_matrices)})},
      {"radam", radam(1e-2)},
      {"adabelief nesterov", adabelief(1e-2, {.nesterov = true})},
      {"adagrad", adagrad(1e-2)},
      {"adadelta", adadelta(1.0, {.weight_decay = 0.01})},
      {"adadelta without learning rate", adadelta()},
      {"yogi", yogi(1e-2)},
      {"lamb", lamb(1e-2, {.weight_decay = 0.01})},
      {"lars", lars(1e-2)},
      {"lion", lion(1e-3)},
      {"novograd", novograd(1e-2)},
      {"fromage", fromage(1e-2)},
      {"sm3", sm3(1e-2)},
      {"adafactor", adafactor(1e-2)},
      {"adafactor factored", adafactor(1e-2, {.min_dim_size_to_factor = 2})},
      {"ema", ema(0.9)},
      {"centralize clip sign",
       chain({centralize(), clip(0.5), clip_by_block_rms(1.0), scale_by_sign()})},
      {"trust ratio nonnegative", chain({scale_by_trust_ratio(), keep_params_nonnegative()})},
      {"multi_transform", multi_transform({{"train", adam(1e-2)}, {"freeze", set_to_zero()}},
                                          LabelMap{{"b", "freeze"}, {"w", "train"}})},
      {"inject_hyperparams",
       inject_hyperparams([](const Hyperparams& h) { return sgd(h.at("learning_rate")); },
                          {{"learning_rate", 0.1}})},
  };
}

TEST_CASE("every optimizer keeps dtypes, and its state's layout across steps") {
  for (DType dtype : {DType::f32, DType::f64}) {
    for (auto& [name, opt] : all_optimizers()) {
      INFO(name << " in " << dtype);
      Tree params = params_of(dtype);
      const OptState s0 = opt.init(params);
      UpdateResult r1 = opt.update(grads_of(dtype), s0, params);
      for (const Tensor& u : r1.updates.leaves()) CHECK(u.dtype() == dtype);
      params = apply_updates(params, r1.updates);
      for (const Tensor& p : params.leaves()) CHECK(p.dtype() == dtype);
      UpdateResult r2 = opt.update(grads_of(dtype), r1.state, params);
      check_same_layout(s0, r1.state);
      check_same_layout(s0, r2.state);
      for (const auto& [path, leaf] : r2.state.flatten_with_paths()) {
        INFO(path);
        if (path.ends_with("count")) {
          CHECK(leaf.dtype() == DType::i32);
          CHECK(leaf.device() == Device::cpu());
          CHECK(leaf.ndim() == 0);
        } else {
          CHECK(leaf.dtype() == dtype);  // moments in the params' dtype
        }
      }
    }
  }
}

TEST_CASE("updates are pure: the state, grads and params given are left as they were") {
  for (auto& [name, opt] : all_optimizers()) {
    INFO(name);
    const Tree params = params_of(DType::f32), grads = grads_of(DType::f32);
    const OptState s0 = opt.init(params);
    const OptState s1 = opt.update(grads, s0, params).state;  // a state with nonzero moments
    const auto before_state = snapshot(s1), before_grads = snapshot(grads),
               before_params = snapshot(params);
    const UpdateResult a = opt.update(grads, s1, params);
    const UpdateResult b = opt.update(grads, s1, params);
    CHECK(snapshot(s1) == before_state);
    CHECK(snapshot(grads) == before_grads);
    CHECK(snapshot(params) == before_params);
    // The same inputs give the same outputs.
    CHECK(snapshot(a.updates) == snapshot(b.updates));
    CHECK(snapshot(a.state) == snapshot(b.state));
  }
}

TEST_CASE("states have optax's layout") {
  const Tree p = params_of(DType::f32);
  auto keys = [](const Tree& t) {
    std::string out;
    if (t.is_none()) return std::string("None");
    for (const auto& [k, v] : t.items()) out += (out.empty() ? "" : ",") + k;
    return out;
  };
  const OptState s_sgd = sgd(0.1).init(p);
  REQUIRE(s_sgd.is_list());
  CHECK(s_sgd.size() == 2);
  CHECK(s_sgd[0].is_none());
  CHECK(s_sgd[1].is_none());
  const OptState s_mom = sgd(0.1, {.momentum = 0.9}).init(p);
  CHECK(keys(s_mom[0]) == "trace");
  CHECK(Tree::structure_difference(s_mom[0]["trace"], p) == "");
  const OptState s_sched = sgd(constant_schedule(0.1)).init(p);
  CHECK(keys(s_sched[1]) == "count");
  const OptState s_adam = adam(1e-3).init(p);
  CHECK(keys(s_adam[0]) == "count,mu,nu");
  CHECK(s_adam[0]["count"].tensor().item<std::int32_t>() == 0);
  const OptState s_adamw = adamw(1e-3).init(p);
  CHECK(s_adamw.size() == 3);
  CHECK(s_adamw[1].is_none());
  const OptState s_adamw_sched = adamw(1e-3, {.weight_decay = constant_schedule(0.1)}).init(p);
  CHECK(keys(s_adamw_sched[1]) == "count");
  const OptState s_masked =
      adamw(1e-3, {.mask = Tree{{"b", flag(false)}, {"w", flag(true)}}}).init(p);
  CHECK(keys(s_masked[1]) == "inner_state");
  const OptState s_rms = rmsprop(1e-3).init(p);
  CHECK(s_rms.size() == 3);
  CHECK(keys(s_rms[0]) == "nu");
  // (const: Tree's int index is const-only)
  const OptState s_centered = rmsprop(1e-3, {.centered = true}).init(p);
  CHECK(keys(s_centered[0]) == "mu,nu");
  const OptState s_debiased = rmsprop(1e-3, {.centered = true, .bias_correction = true}).init(p);
  CHECK(keys(s_debiased[0]) == "count,mu,nu");
  const OptState s_rms_momentum = rmsprop(1e-3, {.momentum = 0.9}).init(p);
  CHECK(keys(s_rms_momentum[2]) == "trace");
  const OptState s_scaled = rmsprop(1e-3, {.initial_scale = 0.5}).init(p);
  CHECK(values(s_scaled[0]["nu"]["b"]) == std::vector<double>{0.5, 0.5, 0.5});
}

TEST_CASE("sgd: plain, momentum and nesterov steps by hand") {
  const Tree p{{"x", vec({1.0, -2.0})}};
  const Tree g1{{"x", vec({0.5, 1.0})}}, g2{{"x", vec({-1.0, 2.0})}};
  SUBCASE("plain") {
    const auto opt = sgd(0.1);
    const auto r = opt.update(g1, opt.init(p), p);
    CHECK(values(r.updates["x"]) == std::vector<double>{-0.05, -0.1});
    CHECK(values(apply_updates(p, r.updates)["x"]) == std::vector<double>{0.95, -2.1});
  }
  SUBCASE("momentum") {
    const auto opt = sgd(0.1, {.momentum = 0.9});
    const auto r1 = opt.update(g1, opt.init(p), p);
    const auto r2 = opt.update(g2, r1.state, p);
    // trace = g2 + 0.9 * g1 = [-0.55, 2.9]; update = -0.1 * trace
    const auto u = values(r2.updates["x"]);
    CHECK(u[0] == doctest::Approx(0.055).epsilon(1e-14));
    CHECK(u[1] == doctest::Approx(-0.29).epsilon(1e-14));
    CHECK(values(r2.state[0]["trace"]["x"])[1] == doctest::Approx(2.9).epsilon(1e-14));
  }
  SUBCASE("nesterov") {
    const auto opt = sgd(0.1, {.momentum = 0.9, .nesterov = true});
    const auto r1 = opt.update(g1, opt.init(p), p);
    // trace = g1; update = -0.1 * (g1 + 0.9 * g1)
    CHECK(values(r1.updates["x"])[1] == doctest::Approx(-0.19).epsilon(1e-14));
    const auto r2 = opt.update(g2, r1.state, p);
    // trace = g2 + 0.9 g1 = [-0.55, 2.9]; update = -0.1 * (g2 + 0.9 * trace)
    CHECK(values(r2.updates["x"])[0] ==
          doctest::Approx(-0.1 * (-1.0 + 0.9 * -0.55)).epsilon(1e-14));
  }
  SUBCASE("a schedule sees the count 0, 1, 2, ...") {
    std::vector<std::int64_t> seen;
    const auto opt = sgd([&seen](std::int64_t c) {
      seen.push_back(c);
      return 0.1 * double(c + 1);
    });
    OptState s = opt.init(p);
    UpdateResult r;
    for (int i = 0; i < 3; ++i) {
      r = opt.update(g1, s, p);
      s = r.state;
    }
    CHECK(seen == std::vector<std::int64_t>{0, 1, 2});
    CHECK(values(r.updates["x"])[1] == doctest::Approx(-0.3).epsilon(1e-14));
    CHECK(std::as_const(s)[1]["count"].tensor().item<std::int32_t>() == 3);
  }
}

TEST_CASE("adam, adamw and rmsprop first steps by hand (float64)") {
  const Tree p{{"x", vec({1.0, -2.0, 0.5})}};
  const Tree g{{"x", vec({0.5, -3.0, 1e-3})}};
  SUBCASE("adam: the first step is -lr * g / (|g| + eps)") {
    const auto opt = adam(0.01);
    const auto r = opt.update(g, opt.init(p), p);
    const auto u = values(r.updates["x"]);
    const auto gv = values(g["x"]);
    for (int i = 0; i < 3; ++i)
      CHECK(u[i] == doctest::Approx(-0.01 * gv[i] / (std::abs(gv[i]) + 1e-8)).epsilon(1e-12));
    CHECK(values(r.state[0]["mu"]["x"])[1] == doctest::Approx(-0.3).epsilon(1e-14));
    CHECK(values(r.state[0]["nu"]["x"])[1] == doctest::Approx(0.009).epsilon(1e-14));
    CHECK(r.state[0]["count"].tensor().item<std::int32_t>() == 1);
  }
  SUBCASE("adamw adds weight_decay * param before the learning rate") {
    const auto opt = adamw(0.01, {.weight_decay = 0.1});
    const auto u = values(opt.update(g, opt.init(p), p).updates["x"]);
    const double adam0 = 0.5 / (0.5 + 1e-8), adam1 = -3.0 / (3.0 + 1e-8);
    CHECK(u[0] == doctest::Approx(-0.01 * (adam0 + 0.1 * 1.0)).epsilon(1e-12));
    CHECK(u[1] == doctest::Approx(-0.01 * (adam1 + 0.1 * -2.0)).epsilon(1e-12));
  }
  SUBCASE("rmsprop: -lr * g / sqrt(0.1 g^2 + eps)") {
    const auto opt = rmsprop(0.01);
    const auto u = values(opt.update(g, opt.init(p), p).updates["x"]);
    const auto gv = values(g["x"]);
    for (int i = 0; i < 3; ++i)
      CHECK(u[i] ==
            doctest::Approx(-0.01 * gv[i] / std::sqrt(0.1 * gv[i] * gv[i] + 1e-8)).epsilon(1e-12));
  }
  SUBCASE("centred rmsprop: -lr * g / sqrt(0.1 g^2 - 0.01 g^2 + eps)") {
    const auto opt = rmsprop(0.01, {.centered = true});
    const auto u = values(opt.update(g, opt.init(p), p).updates["x"]);
    const auto gv = values(g["x"]);
    for (int i = 0; i < 3; ++i)
      CHECK(u[i] ==
            doctest::Approx(-0.01 * gv[i] / std::sqrt(0.09 * gv[i] * gv[i] + 1e-8)).epsilon(1e-12));
  }
}

TEST_CASE("adam: mu_dtype keeps the first moment in its own dtype") {
  const Tree p = params_of(DType::f32);
  const auto opt = adam(1e-2, {.mu_dtype = DType::f64});
  OptState s = opt.init(p);
  CHECK(std::as_const(s)[0]["mu"]["w"].tensor().dtype() == DType::f64);
  CHECK(std::as_const(s)[0]["nu"]["w"].tensor().dtype() == DType::f32);
  Tree params = p;
  for (int i = 0; i < 2; ++i) {
    auto r = opt.update(grads_of(DType::f32), s, params);
    params = apply_updates(params, r.updates);
    s = r.state;
  }
  CHECK(std::as_const(s)[0]["mu"]["w"].tensor().dtype() == DType::f64);
  CHECK(std::as_const(s)[0]["nu"]["w"].tensor().dtype() == DType::f32);
  CHECK(params["w"].tensor().dtype() == DType::f32);
}

TEST_CASE("trace: accumulator_dtype") {
  const Tree p = params_of(DType::f64);
  const auto opt = trace(0.9, {.accumulator_dtype = DType::f32});
  const auto r = opt.update(grads_of(DType::f64), opt.init(p), p);
  CHECK(r.state["trace"]["b"].tensor().dtype() == DType::f32);
  CHECK(r.updates["b"].tensor().dtype() == DType::f64);
}

TEST_CASE("clip_by_global_norm and global_norm") {
  const Tree g{{"a", vec({3.0})}, {"b", vec({0.0, 4.0})}};  // norm 5
  CHECK(global_norm(g).item<double>() == 5.0);
  SUBCASE("above max_norm: scaled to it") {
    const auto opt = clip_by_global_norm(1.0);
    const auto r = opt.update(g, opt.init(g), Tree());
    CHECK(values(r.updates["a"])[0] == doctest::Approx(0.6).epsilon(1e-15));
    CHECK(values(r.updates["b"])[1] == doctest::Approx(0.8).epsilon(1e-15));
    CHECK(global_norm(r.updates).item<double>() == doctest::Approx(1.0).epsilon(1e-15));
    CHECK(r.state.is_none());
  }
  SUBCASE("below max_norm: unchanged") {
    const auto opt = clip_by_global_norm(10.0);
    const auto r = opt.update(g, opt.init(g), Tree());
    CHECK(snapshot(r.updates) == snapshot(g));
  }
  SUBCASE("float32 leaves, mixed with float64") {
    const Tree m{{"a", vec({3.0}, DType::f32)}, {"b", vec({0.0, 4.0})}};
    const auto r = clip_by_global_norm(2.5).update(m, Tree(), Tree());
    CHECK(r.updates["a"].tensor().dtype() == DType::f32);
    CHECK(values(r.updates["a"])[0] == doctest::Approx(1.5).epsilon(1e-7));
    CHECK(values(r.updates["b"])[1] == doctest::Approx(2.0).epsilon(1e-15));
  }
}

TEST_CASE("add_decayed_weights and masked") {
  const Tree p = params_of(DType::f64), g = grads_of(DType::f64);
  SUBCASE("updates + weight_decay * params") {
    const auto r = add_decayed_weights(0.5).update(g, Tree(), p);
    CHECK(values(r.updates["b"]) == std::vector<double>{0.1 + 0.25, -0.2 - 0.5, 0.3 + 1.0});
  }
  SUBCASE("a zero constant leaves the updates as they are") {
    const auto r = add_decayed_weights(0.0).update(g, Tree(), p);
    CHECK(snapshot(r.updates) == snapshot(g));
  }
  SUBCASE("a mask tree: masked-out leaves pass through untouched") {
    const auto opt =
        add_decayed_weights(0.5, {.mask = Tree{{"b", flag(false)}, {"w", flag(true)}}});
    const auto r = opt.update(g, opt.init(p), p);
    CHECK(values(r.updates["b"]) == values(g["b"]));
    CHECK(values(r.updates["w"])[0] == -1.5 + 0.5);
    CHECK(r.state["inner_state"].is_none());
  }
  SUBCASE("a mask that is a prefix of the params covers whole subtrees") {
    const Tree nested{{"enc", p}, {"dec", p}};
    const Tree grads{{"enc", g}, {"dec", g}};
    const auto opt = masked(scale(2.0), Tree{{"enc", flag(true)}, {"dec", flag(false)}});
    const auto r = opt.update(grads, opt.init(nested), nested);
    CHECK(values(r.updates["enc/w"])[0] == -3.0);
    CHECK(values(r.updates["dec/w"])[0] == -1.5);
  }
  SUBCASE("the inner state holds only the selected leaves") {
    const auto opt = masked(adam(0.1), [](const Tree& t) {
      return t.map([](const Tensor& x) { return flag(x.ndim() == 2); });
    });
    const OptState s = opt.init(p);
    CHECK(s["inner_state"][0]["mu"]["b"].is_none());
    CHECK(s["inner_state"][0]["mu"]["w"].is_leaf());
    const auto r = opt.update(g, s, p);
    CHECK(values(r.updates["b"]) == values(g["b"]));
    // adam's first step: -0.1 * g / (|g| + eps) for g = -1.5
    CHECK(values(r.updates["w"])[0] == doctest::Approx(0.1 * 1.5 / (1.5 + 1e-8)).epsilon(1e-12));
  }
  SUBCASE("a weight-decay schedule counts its own steps") {
    const auto opt = add_decayed_weights(linear_schedule(1.0, 0.0, 2));
    OptState s = opt.init(p);
    auto r0 = opt.update(g, s, p);
    auto r1 = opt.update(g, r0.state, p);
    CHECK(values(r0.updates["b"])[0] == doctest::Approx(0.1 + 0.5).epsilon(1e-15));
    CHECK(values(r1.updates["b"])[0] == doctest::Approx(0.1 + 0.25).epsilon(1e-15));
    CHECK(r1.state["count"].tensor().item<std::int32_t>() == 2);
  }
}

TEST_CASE("step counts saturate at the int32 maximum instead of wrapping") {
  const Tree p{{"x", vec({1.0})}};
  const std::int32_t top = std::numeric_limits<std::int32_t>::max();
  const OptState s{{"count", Tensor::from_vector(std::vector<std::int32_t>{top}, Shape{})}};
  const auto r = scale_by_schedule(constant_schedule(2.0)).update(p, s, p);
  CHECK(r.state["count"].tensor().item<std::int32_t>() == top);
  CHECK(values(r.updates["x"])[0] == 2.0);
}

TEST_CASE("identity and scale") {
  const Tree g = grads_of(DType::f32);
  CHECK(snapshot(identity().update(g, Tree(), Tree()).updates) == snapshot(g));
  CHECK(values(scale(-2.0).update(g, Tree(), Tree()).updates["b"])[0] ==
        doctest::Approx(-0.2).epsilon(1e-7));
  CHECK(values(scale_by_learning_rate(0.5, {.flip_sign = false})
                   .update(g, Tree(), Tree())
                   .updates["b"])[0] == doctest::Approx(0.05).epsilon(1e-7));
}

TEST_CASE("optimizer updates record nothing on an open tape") {
  const Tree p = params_of(DType::f64);
  const auto opt = chain({clip_by_global_norm(1.0), adamw(1e-2, {.weight_decay = 0.1})});
  const OptState s = opt.init(p);
  bool checked = false;
  auto loss = [&](const Tree& params) {
    // The params carry the tape's variables here; the update must not depend on them.
    const UpdateResult r = opt.update(params, s, params);
    for (const Tensor& u : r.updates.leaves()) CHECK(u.node() == nullptr);
    for (const Tensor& x : r.state.leaves()) CHECK(x.node() == nullptr);
    checked = true;
    return sum(params["w"].tensor() * params["w"].tensor());
  };
  auto [value, grads] = value_and_grad(loss, p);
  CHECK(checked);
  CHECK(values(grads["w"])[0] == 2.0);
}

}  // namespace
}  // namespace elegy
