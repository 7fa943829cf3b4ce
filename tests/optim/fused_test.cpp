// The fused fast path (optim/fused.hpp) against the composed chains it replaces: adam, adamw
// (constant, scheduled and masked weight decay), nadam, lamb and sgd with momentum, over trees of
// odd sizes around the SIMD widths and one that spreads over the thread pool, in float32 and
// float64. Same updates and states (bit for bit; lamb's norms to 1e-6), and the fused path is
// really the one taken; non-fusable inputs fall back to the chain.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_shape.hpp"
#include "elegy/optim/aliases.hpp"
#include "elegy/optim/fused.hpp"
#include "elegy/optim/schedules.hpp"
#include "elegy/optim/transforms.hpp"

#include "grad_check.hpp"

namespace elegy {
namespace {

using namespace optim;

// Leaves of 1, 15, 16, 17, 1000 and 100003 elements (the last one spans several pool chunks).
Tree tree_of(DType dtype, std::uint64_t seed) {
  const std::vector<Shape> shapes = {Shape{1},  Shape{15},     Shape{16},
                                     Shape{17}, Shape{40, 25}, Shape{100003}};
  Tree t;
  for (std::size_t i = 0; i < shapes.size(); ++i)
    t["layer" + std::to_string(i)] = random::normal(Key(seed + i), shapes[i], dtype);
  return t;
}

Tree flag_tree(const Tree& like, bool (*keep)(const Tensor&)) {
  return like.map([&](const Tensor& x) {
    return Tensor::from_vector(std::vector<std::uint8_t>{keep(x)}, Shape{}).astype(DType::bool_);
  });
}

// Largest |a - b| / max(|b|, 1e-3) over two trees of one structure.
double max_rel_diff(const Tree& a, const Tree& b) {
  REQUIRE(Tree::structure_difference(a, b) == "");
  const auto la = a.leaves(), lb = b.leaves();
  double worst = 0.0;
  for (std::size_t i = 0; i < la.size(); ++i) {
    REQUIRE(la[i].dtype() == lb[i].dtype());
    const auto va = testing::values(la[i]), vb = testing::values(lb[i]);
    REQUIRE(va.size() == vb.size());
    for (std::size_t j = 0; j < va.size(); ++j) {
      const double d = std::abs(va[j] - vb[j]) / std::max(std::abs(vb[j]), 1e-3);
      worst = std::max(worst, std::isnan(d) ? INFINITY : d);
    }
  }
  return worst;
}

struct Case {
  std::string name;
  GradientTransformation fused, composed;
  double tolerance;  // 0: bit for bit
};

std::vector<Case> cases() {
  auto big_only = [](const Tensor& x) { return x.numel() > 16; };
  const Schedule lr_schedule = exponential_decay(1e-2, 2, 0.5);
  std::vector<Case> out;
  out.push_back({"adam", adam(1e-2), chain({scale_by_adam(), scale_by_learning_rate(1e-2)}), 0.0});
  out.push_back({"adam nesterov eps_root schedule",
                 adam(lr_schedule, {.b1 = 0.8, .eps_root = 1e-6, .nesterov = true}),
                 chain({scale_by_adam({.b1 = 0.8, .eps_root = 1e-6, .nesterov = true}),
                        scale_by_learning_rate(lr_schedule)}),
                 0.0});
  out.push_back({"nadam", nadam(1e-3),
                 chain({scale_by_adam({.nesterov = true}), scale_by_learning_rate(1e-3)}), 0.0});
  out.push_back({"adamw", adamw(1e-2, {.weight_decay = 0.1}),
                 chain({scale_by_adam(), add_decayed_weights(0.1), scale_by_learning_rate(1e-2)}),
                 0.0});
  const Schedule wd_schedule = linear_schedule(0.2, 0.0, 3);
  out.push_back(
      {"adamw masked, scheduled weight decay",
       adamw(1e-2, {.weight_decay = wd_schedule,
                    .mask = MaskFn([=](const Tree& p) { return flag_tree(p, big_only); })}),
       chain({scale_by_adam(), add_decayed_weights(wd_schedule, {.mask = MaskFn([=](const Tree& p) {
                                                                   return flag_tree(p, big_only);
                                                                 })}),
              scale_by_learning_rate(1e-2)}),
       0.0});
  out.push_back({"lamb", lamb(1e-2, {.weight_decay = 0.01}),
                 chain({scale_by_adam({.eps = 1e-6}), add_decayed_weights(0.01),
                        scale_by_trust_ratio(), scale_by_learning_rate(1e-2)}),
                 1e-6});
  out.push_back({"sgd momentum", sgd(0.1, {.momentum = 0.9}),
                 chain({trace(0.9), scale_by_learning_rate(0.1)}), 0.0});
  out.push_back({"sgd nesterov schedule", sgd(lr_schedule, {.momentum = 0.5, .nesterov = true}),
                 chain({trace(0.5, {.nesterov = true}), scale_by_learning_rate(lr_schedule)}),
                 0.0});
  return out;
}

TEST_CASE("fused optimizer updates equal the composed chains") {
  for (DType dtype : {DType::f32, DType::f64}) {
    for (Case& c : cases()) {
      INFO(c.name << " in " << dtype);
      Tree pf = tree_of(dtype, 1), pc = pf;
      OptState sf = c.fused.init(pf), sc = c.composed.init(pc);
      for (int step = 0; step < 3; ++step) {
        const Tree grads = tree_of(dtype, 100 + step);
        const std::int64_t before = detail::fused_update_count();
        UpdateResult rf = c.fused.update(grads, sf, pf);
        CHECK(detail::fused_update_count() == before + 1);  // the fused path ran
        UpdateResult rc = c.composed.update(grads, sc, pc);
        CHECK(max_rel_diff(rf.updates, rc.updates) <= c.tolerance);
        CHECK(max_rel_diff(rf.state, rc.state) <= c.tolerance);
        pf = apply_updates(pf, rf.updates);
        pc = apply_updates(pc, rc.updates);
        sf = rf.state;
        sc = rc.state;
      }
      CHECK(max_rel_diff(pf, pc) <= c.tolerance);
    }
  }
}

TEST_CASE("update_and_apply equals update followed by apply_updates") {
  // The fused aliases write the new params in the update pass; every other optimizer (and a
  // non-fusable tree) runs the two steps. Either way: the same params and state as the two-step
  // path of the same optimizer, bit for bit (lamb included: both paths sum its norms alike).
  for (DType dtype : {DType::f32, DType::f64}) {
    std::vector<Case> all = cases();
    all.push_back({"rmsprop (no fused path)", rmsprop(1e-2), rmsprop(1e-2), 0.0});
    for (Case& c : all) {
      INFO(c.name << " in " << dtype);
      CHECK(static_cast<bool>(c.fused.update_and_apply) == (c.name.find("rmsprop") != 0));
      Tree pa = tree_of(dtype, 1), pb = pa;
      OptState sa = c.fused.init(pa), sb = sa;
      for (int step = 0; step < 3; ++step) {
        const Tree grads = tree_of(dtype, 100 + step);
        StepResult ra = update_and_apply(c.fused, grads, sa, pa);
        UpdateResult rb = c.fused.update(grads, sb, pb);
        pb = apply_updates(pb, rb.updates);
        CHECK(max_rel_diff(ra.params, pb) == 0.0);
        CHECK(max_rel_diff(ra.state, rb.state) == 0.0);
        pa = ra.params;
        sa = ra.state;
        sb = rb.state;
      }
    }
  }
  // A transposed gradient cannot be fused: the fallback still applies the update.
  const Tree params{{"a", random::normal(Key(1), Shape{3, 4})}};
  const Tree grads{{"a", transpose(random::normal(Key(3), Shape{4, 3}))}};
  const auto opt = adam(1e-2);
  const OptState s = opt.init(params);
  const std::int64_t before = detail::fused_update_count();
  const StepResult r = update_and_apply(opt, grads, s, params);
  CHECK(detail::fused_update_count() == before);
  CHECK(max_rel_diff(r.params, apply_updates(params, opt.update(grads, s, params).updates)) == 0.0);
}

TEST_CASE("non-fusable trees fall back to the composed chain") {
  const Tree params{{"a", random::normal(Key(1), Shape{3, 4})},
                    {"b", random::normal(Key(2), Shape{5})}};
  const auto opt = adam(1e-2);
  const auto chained = chain({scale_by_adam(), scale_by_learning_rate(1e-2)});
  const OptState s = opt.init(params);
  // A transposed (non-contiguous) gradient.
  const Tree grads{{"a", transpose(random::normal(Key(3), Shape{4, 3}))},
                   {"b", random::normal(Key(4), Shape{5})}};
  const std::int64_t before = detail::fused_update_count();
  const UpdateResult r = opt.update(grads, s, params);
  CHECK(detail::fused_update_count() == before);
  CHECK(max_rel_diff(r.updates, chained.update(grads, s, params).updates) == 0.0);
  // Mixed dtypes.
  const Tree mixed{{"a", random::normal(Key(5), Shape{3, 4}, DType::f64)},
                   {"b", random::normal(Key(6), Shape{5})}};
  const UpdateResult m = opt.update(mixed, opt.init(mixed), mixed);
  CHECK(detail::fused_update_count() == before);
  CHECK(m.updates["a"].tensor().dtype() == DType::f64);
  // mu_dtype set: the composed chain itself.
  const auto low = adam(1e-2, {.mu_dtype = DType::f64});
  low.update(params, low.init(params), params);
  CHECK(detail::fused_update_count() == before);
}

TEST_CASE("fused states keep optax's layout and ask for init on foreign states") {
  const Tree params = tree_of(DType::f32, 7);
  const auto opt = adamw(1e-3, {.weight_decay = linear_schedule(0.1, 0.0, 10)});
  OptState s = opt.init(params);
  const UpdateResult r = opt.update(params, s, params);
  REQUIRE(r.state.is_list());
  CHECK(r.state.size() == 3);
  CHECK(r.state[0]["count"].tensor().item<std::int32_t>() == 1);
  CHECK(r.state[1]["count"].tensor().item<std::int32_t>() == 1);
  CHECK(r.state[2].is_none());
  CHECK_THROWS_WITH_AS(opt.update(params, sgd(0.1).init(params), params),
                       doctest::Contains("call init first"), Error);
  CHECK_THROWS_WITH_AS(lamb(1e-3).update(params, adam(1e-3).init(params), params),
                       doctest::Contains("chain: the optimizer state does not belong"), Error);
}

}  // namespace

// Gradients of 200 elements whose magnitude class is fixed per position: the first 100 mix, lane
// by lane, tiny values (their moments are below the range where the CPU kernel replaces the
// bias-correction divisions with multiplies and FMAs), huge ones (their squares overflow), zeros
// of both signs, infinities and NaNs with ordinary values; the last 100 are ordinary. No value
// makes a denormal on the composed path, which the fused kernel would flush.
template <class T>
Tree extreme_gradients(std::uint64_t seed) {
  const bool f32 = sizeof(T) == 4;
  std::vector<T> g(200);
  const std::vector<double> u = testing::values(random::uniform(Key(seed), {200}, DType::f64));
  for (std::size_t i = 0; i < g.size(); ++i) {
    const double sign = u[i] < 0.5 ? -1.0 : 1.0, r = 1.0 + u[i];
    const int kind = i < 100 ? int(i % 9) : 0;
    const double tiny = f32 ? 1e-30 : 1e-300, huge = f32 ? 1e34 : 1e304;
    switch (kind) {
      case 1:
        g[i] = T(sign * r * tiny * std::pow(10.0, double(i % 6)));
        break;
      case 2:
        g[i] = T(sign * r * huge / std::pow(10.0, double(i % 6)));
        break;
      case 3:
        g[i] = T(0.0);
        break;
      case 4:
        g[i] = T(-0.0);
        break;
      case 5:
        g[i] = std::numeric_limits<T>::infinity() * T(sign);
        break;
      case 6:
        g[i] = std::numeric_limits<T>::quiet_NaN();
        break;
      default:
        g[i] = T(sign * r * std::pow(10.0, double(i % 11) - 6.0));
        break;
    }
  }
  return Tree{{"w", Tensor::from_vector(g, Shape{200})}};
}

template <class T>
bool same_bits(const Tree& a, const Tree& b) {
  const auto la = a.leaves(), lb = b.leaves();
  if (la.size() != lb.size()) return false;
  for (std::size_t i = 0; i < la.size(); ++i) {
    if (la[i].dtype() != lb[i].dtype()) return false;
    if (la[i].dtype() != dtype_of<T>()) continue;  // the int32 count
    const std::vector<T> va = la[i].to_vector<T>(), vb = lb[i].to_vector<T>();
    if (va.size() != vb.size() || std::memcmp(va.data(), vb.data(), va.size() * sizeof(T)) != 0)
      return false;
  }
  return true;
}

template <class T>
void check_extreme_gradients() {
  for (bool nesterov : {false, true}) {
    INFO("nesterov = " << nesterov << ", " << dtype_of<T>());
    const auto fused = adam(1e-2, {.nesterov = nesterov});
    const auto composed =
        chain({scale_by_adam({.nesterov = nesterov}), scale_by_learning_rate(1e-2)});
    const Tree params{{"w", zeros({200}, dtype_of<T>())}};
    OptState sf = fused.init(params), sc = composed.init(params);
    for (int step = 0; step < 4; ++step) {
      const Tree g = extreme_gradients<T>(50 + std::uint64_t(step));
      const UpdateResult rf = fused.update(g, sf, params), rc = composed.update(g, sc, params);
      CHECK(same_bits<T>(rf.updates, rc.updates));
      CHECK(same_bits<T>(rf.state, rc.state));
      sf = rf.state;
      sc = rc.state;
    }
  }
}

TEST_CASE("the fused adam's divisions give the composed chain's bits at every magnitude") {
  check_extreme_gradients<float>();
  check_extreme_gradients<double>();
}

TEST_CASE("the fused update flushes moments that decay into denormals to zero") {
  // A parameter whose gradient stays zero after one step: mu shrinks by b1 each step and would
  // be denormal (|mu| < 2^-126) after ~800 steps, where every CPU multiply is ~100x slower.
  const Tree params{{"w", full({1000}, 0.5)}};
  const auto opt = adam(1e-3);
  OptState s = opt.init(params);
  s = opt.update(Tree{{"w", full({1000}, 1e-3)}}, s, params).state;
  const Tree zero{{"w", zeros({1000})}};
  for (int step = 0; step < 1000; ++step) s = opt.update(zero, s, params).state;
  std::int64_t denormal = 0, flushed = 0;
  for (const Tensor& t : s.leaves()) {
    if (t.dtype() != DType::f32) continue;
    for (const float v : t.to_vector<float>()) {
      denormal += v != 0.0f && std::fabs(v) < 1.17549435e-38f;
      flushed += v == 0.0f;
    }
  }
  CHECK(denormal == 0);
  CHECK(flushed >= 1000);  // every mu reached zero (b1^1000 * 1e-4 is far below 2^-126)
  // The composed chain keeps IEEE denormals: the values the flush replaced.
  const auto chained = chain({scale_by_adam(), scale_by_learning_rate(1e-3)});
  OptState c = chained.init(params);
  c = chained.update(Tree{{"w", full({1000}, 1e-3)}}, c, params).state;
  for (int step = 0; step < 800; ++step) c = chained.update(zero, c, params).state;
  const float mu = c[0]["mu"]["w"].tensor().to_vector<float>()[0];
  CHECK(mu != 0.0f);
  CHECK(std::fabs(mu) < 1.17549435e-38f);
}

}  // namespace elegy
