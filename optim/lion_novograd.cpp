// scale_by_lion and scale_by_novograd (optax/_src/transform.py).
#include <cmath>

#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_reduce.hpp"
#include "elegy/autodiff/tape.hpp"
#include "elegy/optim/detail.hpp"
#include "elegy/optim/transforms.hpp"

namespace elegy::optim {

GradientTransformation scale_by_lion(ScaleByLionOptions o) {
  constexpr const char* op = "scale_by_lion";
  detail::check_range(op, "b1", o.b1, 0.0, 1.0);
  detail::check_range(op, "b2", o.b2, 0.0, 1.0);
  ELEGY_CHECK(std::isfinite(o.smooth_beta), op, "smooth_beta must be finite, got ", o.smooth_beta);
  return {[o](const Tree& params) {
            return Tree{{"count", detail::make_count(0)},
                        {"mu", detail::full_like_tree(params, 0.0, o.mu_dtype)}};
          },
          [o](const Tree& updates, const OptState& state, const Tree&) {
            detail::check_state_keys(op, state, {"count", "mu"});
            const Tree& old_mu = state["mu"];
            detail::check_matches_updates(op, "mu", updates, old_mu);
            const std::int32_t count = detail::safe_increment(detail::read_count(op, state));
            autodiff::NoGrad no_grad;
            Tree out = detail::zip_map({&updates, &old_mu}, [&](std::span<const Tensor> x) {
              const Tensor c = x[0] * (1.0 - o.b1) + x[1] * o.b1;
              switch (o.mode) {
                case LionMode::smooth:
                  return tanh(c * o.smooth_beta);
                case LionMode::refined:
                  return where(abs(c) < 1.0, c, sign(c));
                case LionMode::hard:
                  break;
              }
              return sign(c);
            });
            const Tree mu = detail::update_moment(updates, old_mu, o.b2, 1);
            return UpdateResult{std::move(out), Tree{{"count", detail::make_count(count)},
                                                     {"mu", detail::cast_like(mu, old_mu)}}};
          }};
}

GradientTransformation scale_by_novograd(ScaleByNovogradOptions o) {
  constexpr const char* op = "scale_by_novograd";
  detail::check_range(op, "b1", o.b1, 0.0, 1.0, /*hi_open=*/true);
  detail::check_range(op, "b2", o.b2, 0.0, 1.0, /*hi_open=*/true);
  detail::check_finite_nonnegative(op, "eps", o.eps);
  detail::check_finite_nonnegative(op, "eps_root", o.eps_root);
  detail::check_finite_nonnegative(op, "weight_decay", o.weight_decay);
  return {[o](const Tree& params) {
            // nu: one scalar per leaf (the layer's squared-norm average).
            Tree nu = params.map(
                [](const Tensor& p) { return full(Shape{}, 0.0, p.dtype(), p.device()); });
            return Tree{{"count", detail::make_count(0)},
                        {"mu", detail::full_like_tree(params, 0.0, o.mu_dtype)},
                        {"nu", std::move(nu)}};
          },
          [o](const Tree& updates, const OptState& state, const Tree& params) {
            detail::check_state_keys(op, state, {"count", "mu", "nu"});
            const Tree& old_mu = state["mu"];
            const Tree& old_nu = state["nu"];
            detail::check_matches_updates(op, "mu", updates, old_mu);
            const std::string d = Tree::structure_difference(updates, old_nu);
            ELEGY_CHECK(d.empty(), op,
                        "the updates do not have the structure of the params the state's 'nu' "
                        "was initialised for: ",
                        d, " (updates vs state); call init with params of this structure first");
            detail::check_params(op, updates, params);
            const std::int32_t count = detail::safe_increment(detail::read_count(op, state));
            const bool first = count == 1;
            autodiff::NoGrad no_grad;
            // ||g||^2 as optax computes it: jnp.linalg.norm(g) ** 2.
            const Tree sq_norms = updates.map([](const Tensor& g) {
              const Tensor n = sqrt(sum(g * g));
              return n * n;
            });
            Tree nu = first ? detail::cast_like(sq_norms, old_nu)
                            : detail::update_moment(sq_norms, old_nu, o.b2, 1);
            const Tree added =
                detail::zip_map({&updates, &params, &nu}, [&](std::span<const Tensor> x) {
                  const Tensor v = o.eps_root != 0.0 ? x[2] + o.eps_root : x[2];
                  const Tensor u = x[0] / (sqrt(v) + o.eps);
                  return o.weight_decay != 0.0 ? u + x[1] * o.weight_decay : u;
                });
            Tree mu =
                first ? added : detail::zip_map({&old_mu, &added}, [&](std::span<const Tensor> x) {
                  return x[0] * o.b1 + x[1];
                });
            mu = detail::cast_like(mu, old_mu);
            return UpdateResult{mu, Tree{{"count", detail::make_count(count)},
                                         {"mu", mu},
                                         {"nu", detail::cast_like(nu, old_nu)}}};
          }};
}

}  // namespace elegy::optim
