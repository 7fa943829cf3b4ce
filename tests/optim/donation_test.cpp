// Donated update_and_apply (optim/transform.hpp): the fused optimizers write the new params and
// moments over the old buffers exactly where nothing else holds them, with the values of the
// non-donating call bit for bit; buffers someone else holds, and a caller's wrapped memory, keep
// their values; a failing update gives both trees back as they were.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/optim/aliases.hpp"
#include "elegy/optim/transforms.hpp"

#include "grad_check.hpp"

namespace elegy {
namespace {

using namespace optim;

// Leaves around the SIMD widths and one that spreads over the thread pool.
Tree params_of(DType dtype, std::uint64_t seed) {
  const std::vector<Shape> shapes = {Shape{1}, Shape{17}, Shape{40, 25}, Shape{100003}};
  Tree t;
  for (std::size_t i = 0; i < shapes.size(); ++i)
    t["layer" + std::to_string(i)] = random::normal(Key(seed + i), shapes[i], dtype);
  return t;
}

using testing::addresses;
using testing::values_of;

struct Case {
  std::string name;
  GradientTransformation opt;
  // The state's moment trees (what the step may write in place).
  std::vector<std::string> moments;
};

std::vector<Case> cases() {
  return {{"adam", adam(1e-2), {"mu", "nu"}},
          {"adamw", adamw(1e-2, {.weight_decay = 0.1}), {"mu", "nu"}},
          {"lamb", lamb(1e-2, {.weight_decay = 0.01}), {"mu", "nu"}},
          {"sgd momentum", sgd(0.1, {.momentum = 0.9}), {"trace"}},
          {"sgd nesterov", sgd(0.1, {.momentum = 0.5, .nesterov = true}), {"trace"}}};
}

std::vector<const void*> moment_addresses(const OptState& s, const Case& c) {
  std::vector<const void*> out;
  for (const std::string& m : c.moments)
    for (const void* a : addresses(s[0][m])) out.push_back(a);
  return out;
}

TEST_CASE("donated update_and_apply writes in place, with the values of a copying step") {
  for (DType dtype : {DType::f32, DType::f64}) {
    for (const Case& c : cases()) {
      INFO(c.name << " in " << dtype);
      // Separate buffers with equal values: one pair donated, one passed by const reference.
      Tree p = params_of(dtype, 1), p_ref = params_of(dtype, 1);
      OptState s = c.opt.init(p), s_ref = c.opt.init(p_ref);
      for (int step = 0; step < 3; ++step) {
        const Tree grads = params_of(dtype, 100 + step);
        const std::vector<const void*> p_at = addresses(p);
        const std::vector<const void*> m_at = step > 0 ? moment_addresses(s, c) : p_at;
        StepResult r = update_and_apply(c.opt, grads, std::move(s), std::move(p));
        StepResult r_ref = update_and_apply(c.opt, grads, s_ref, p_ref);
        CHECK(values_of(r.params) == values_of(r_ref.params));
        CHECK(values_of(r.state) == values_of(r_ref.state));
        CHECK(addresses(r.params) == p_at);
        // The first state comes from init (its zeros may share one buffer); from then on the
        // moments are the step's own.
        if (step > 0) CHECK(moment_addresses(r.state, c) == m_at);
        // Passed by const reference, the caller's trees stay: fresh buffers.
        CHECK(addresses(r_ref.params) != addresses(p_ref));
        p = std::move(r.params);
        s = std::move(r.state);
        p_ref = r_ref.params;
        s_ref = r_ref.state;
      }
    }
  }
}

TEST_CASE("donated trees whose buffers someone else holds keep their values") {
  const auto opt = adam(1e-2);
  Tree p = params_of(DType::f32, 1);
  OptState s = opt.init(p);
  const Tree grads = params_of(DType::f32, 7);
  StepResult r = update_and_apply(opt, grads, std::move(s), std::move(p));
  // The caller keeps a copy of the params and of one moment: those buffers are not written.
  const Tree kept_params = r.params;
  const Tree kept_mu = r.state[0]["mu"];
  const auto params_before = values_of(kept_params);
  const auto mu_before = values_of(kept_mu);
  const auto nu_at = addresses(r.state[0]["nu"]);
  const StepResult r2 = update_and_apply(opt, grads, std::move(r.state), std::move(r.params));
  CHECK(values_of(kept_params) == params_before);
  CHECK(values_of(kept_mu) == mu_before);
  CHECK(addresses(r2.params) != addresses(kept_params));
  CHECK(values_of(r2.params) != params_before);
  // nu was held by nobody else: written in place.
  CHECK(addresses(r2.state[0]["nu"]) == nu_at);
}

TEST_CASE("a caller's wrapped buffer is never written in place") {
  std::vector<float> buffer(64, 1.0f);
  // The tree holds the only reference: only is_wrapped keeps the step from writing in place.
  Tree p{{"w", Tensor::view_of(
                   Storage::wrap(buffer.data(), buffer.size() * sizeof(float), Device::cpu(), {}),
                   Shape{64}, contiguous_strides(Shape{64}), 0, DType::f32)}};
  CHECK(p["w"].tensor().storage().use_count() == 1);
  CHECK(p["w"].tensor().is_sole_owner() == false);
  const auto opt = sgd(0.5, {.momentum = 0.9});
  OptState s = opt.init(p);
  const Tree grads{{"w", full({64}, 1.0)}};
  const StepResult r = update_and_apply(opt, grads, std::move(s), std::move(p));
  CHECK(buffer == std::vector<float>(64, 1.0f));
  CHECK(testing::values(r.params["w"]) == std::vector<double>(64, 0.5));
}

TEST_CASE("a donated update that fails gives both trees back as they were") {
  const auto opt = adam(1e-2);
  Tree p = params_of(DType::f32, 1);
  OptState s = opt.init(p);
  StepResult r = update_and_apply(opt, params_of(DType::f32, 5), std::move(s), std::move(p));
  p = std::move(r.params);
  s = std::move(r.state);
  const auto p_values = values_of(p), s_values = values_of(s);
  const auto p_at = addresses(p);
  // Gradients missing a leaf: the fused path declines and the chain raises.
  Tree bad = params_of(DType::f32, 9);
  Tree::Map fewer = bad.items();
  fewer.erase("layer3");
  CHECK_THROWS_AS(update_and_apply(opt, Tree::from_map(fewer), std::move(s), std::move(p)), Error);
  CHECK(values_of(p) == p_values);
  CHECK(values_of(s) == s_values);
  CHECK(addresses(p) == p_at);
}

}  // namespace
}  // namespace elegy
