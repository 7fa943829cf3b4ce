// Adam's relatives with the {count, mu, nu} state family: scale_by_amsgrad, scale_by_adamax,
// scale_by_belief, scale_by_yogi, scale_by_radam (optax/_src/transform.py), written op for op as
// optax writes them so that the float32 roundings agree.
#include <cmath>

#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/tape.hpp"
#include "elegy/optim/detail.hpp"
#include "elegy/optim/transforms.hpp"

namespace elegy::optim {

namespace {

void check_betas(const char* op, double b1, double b2, double eps, double eps_root) {
  detail::check_range(op, "b1", b1, 0.0, 1.0, /*hi_open=*/true);
  detail::check_range(op, "b2", b2, 0.0, 1.0, /*hi_open=*/true);
  detail::check_finite_nonnegative(op, "eps", eps);
  detail::check_finite_nonnegative(op, "eps_root", eps_root);
}

// Validates a {count, mu, nu, ...} state against the updates; returns the incremented count.
std::int32_t check_moments(const char* op, const Tree& updates, const OptState& state,
                           std::initializer_list<std::string_view> keys) {
  detail::check_state_keys(op, state, keys);
  for (std::string_view k : keys)
    if (k != "count") detail::check_matches_updates(op, k, updates, state[k]);
  return detail::safe_increment(detail::read_count(op, state));
}

// m / (sqrt(v + eps_root) + eps), eps_root added only when nonzero (x + 0 == x).
Tensor adam_ratio(const Tensor& m, const Tensor& v, double eps, double eps_root) {
  return m / (sqrt(eps_root != 0.0 ? v + eps_root : v) + eps);
}

// The first moment's estimate: bias-corrected, or NAdam's b1 * mu_hat(t+1) + (1 - b1) * g_hat(t).
Tree first_moment_hat(const Tree& updates, const Tree& mu, double b1, std::int32_t count,
                      bool nesterov) {
  if (!nesterov) return detail::bias_corrected(mu, b1, count);
  const Tree m_next = detail::bias_corrected(mu, b1, detail::safe_increment(count));
  const Tree g_hat = detail::bias_corrected(updates, b1, count);
  return detail::zip_map({&m_next, &g_hat},
                         [&](std::span<const Tensor> x) { return x[0] * b1 + x[1] * (1.0 - b1); });
}

// The dtype JAX computes host scalars in: float64 when any leaf is (x64 runs), else float32.
DType scalar_dtype(const Tree& updates) {
  for (const Tensor& t : updates.leaves())
    if (t.dtype() == DType::f64) return DType::f64;
  return DType::f32;
}

}  // namespace

GradientTransformation scale_by_amsgrad(ScaleByAmsgradOptions o) {
  constexpr const char* op = "scale_by_amsgrad";
  check_betas(op, o.b1, o.b2, o.eps, o.eps_root);
  return {[o](const Tree& params) {
            return Tree{{"count", detail::make_count(0)},
                        {"mu", detail::full_like_tree(params, 0.0, o.mu_dtype)},
                        {"nu", detail::full_like_tree(params, 0.0)},
                        {"nu_max", detail::full_like_tree(params, 0.0)}};
          },
          [o](const Tree& updates, const OptState& state, const Tree&) {
            const std::int32_t count =
                check_moments(op, updates, state, {"count", "mu", "nu", "nu_max"});
            autodiff::NoGrad no_grad;
            const Tree mu = detail::update_moment(updates, state["mu"], o.b1, 1);
            const Tree nu = detail::update_moment(updates, state["nu"], o.b2, 2);
            const Tree mu_hat = o.bias_correction_mu ? detail::bias_corrected(mu, o.b1, count) : mu;
            const Tree nu_eff = o.bias_correction_nu ? detail::bias_corrected(nu, o.b2, count) : nu;
            const Tree& old_max = state["nu_max"];
            Tree nu_max = detail::zip_map(
                {&old_max, &nu_eff}, [](std::span<const Tensor> x) { return maximum(x[0], x[1]); });
            Tree out = detail::zip_map({&mu_hat, &nu_max}, [&](std::span<const Tensor> x) {
              return adam_ratio(x[0], x[1], o.eps, o.eps_root);
            });
            return UpdateResult{std::move(out),
                                Tree{{"count", detail::make_count(count)},
                                     {"mu", detail::cast_like(mu, state["mu"])},
                                     {"nu", detail::cast_like(nu, state["nu"])},
                                     {"nu_max", detail::cast_like(nu_max, old_max)}}};
          }};
}

GradientTransformation scale_by_adamax(ScaleByAdamaxOptions o) {
  constexpr const char* op = "scale_by_adamax";
  check_betas(op, o.b1, o.b2, o.eps, 0.0);
  return {[](const Tree& params) {
            return Tree{{"count", detail::make_count(0)},
                        {"mu", detail::full_like_tree(params, 0.0)},
                        {"nu", detail::full_like_tree(params, 0.0)}};
          },
          [o](const Tree& updates, const OptState& state, const Tree&) {
            const std::int32_t count = check_moments(op, updates, state, {"count", "mu", "nu"});
            autodiff::NoGrad no_grad;
            const Tree mu = detail::update_moment(updates, state["mu"], o.b1, 1);
            const Tree& old_nu = state["nu"];
            // The infinity norm's EMA: max(|g| + eps, b2 * nu).
            Tree nu = detail::zip_map({&updates, &old_nu}, [&](std::span<const Tensor> x) {
              return maximum(abs(x[0]) + o.eps, x[1] * o.b2);
            });
            const Tree mu_hat = detail::bias_corrected(mu, o.b1, count);
            Tree out = detail::zip_map({&mu_hat, &nu},
                                       [](std::span<const Tensor> x) { return x[0] / x[1]; });
            return UpdateResult{std::move(out), Tree{{"count", detail::make_count(count)},
                                                     {"mu", detail::cast_like(mu, state["mu"])},
                                                     {"nu", detail::cast_like(nu, old_nu)}}};
          }};
}

GradientTransformation scale_by_belief(ScaleByBeliefOptions o) {
  constexpr const char* op = "scale_by_belief";
  check_betas(op, o.b1, o.b2, o.eps, o.eps_root);
  return {[](const Tree& params) {
            return Tree{{"count", detail::make_count(0)},
                        {"mu", detail::full_like_tree(params, 0.0)},
                        {"nu", detail::full_like_tree(params, 0.0)}};
          },
          [o](const Tree& updates, const OptState& state, const Tree&) {
            const std::int32_t count = check_moments(op, updates, state, {"count", "mu", "nu"});
            autodiff::NoGrad no_grad;
            const Tree mu = detail::update_moment(updates, state["mu"], o.b1, 1);
            const Tree prediction_error = detail::zip_map(
                {&updates, &mu}, [](std::span<const Tensor> x) { return x[0] - x[1]; });
            Tree nu = detail::update_moment(prediction_error, state["nu"], o.b2, 2);
            nu = nu.map([&](const Tensor& v) { return v + o.eps_root; });  // kept in the state
            const Tree mu_hat = first_moment_hat(updates, mu, o.b1, count, o.nesterov);
            const Tree nu_hat = detail::bias_corrected(nu, o.b2, count);
            Tree out = detail::zip_map({&mu_hat, &nu_hat}, [&](std::span<const Tensor> x) {
              return adam_ratio(x[0], x[1], o.eps, 0.0);
            });
            return UpdateResult{std::move(out), Tree{{"count", detail::make_count(count)},
                                                     {"mu", detail::cast_like(mu, state["mu"])},
                                                     {"nu", detail::cast_like(nu, state["nu"])}}};
          }};
}

GradientTransformation scale_by_yogi(ScaleByYogiOptions o) {
  constexpr const char* op = "scale_by_yogi";
  check_betas(op, o.b1, o.b2, o.eps, o.eps_root);
  detail::check_finite_nonnegative(op, "initial_accumulator_value", o.initial_accumulator_value);
  return {[o](const Tree& params) {
            return Tree{{"count", detail::make_count(0)},
                        {"mu", detail::full_like_tree(params, o.initial_accumulator_value)},
                        {"nu", detail::full_like_tree(params, o.initial_accumulator_value)}};
          },
          [o](const Tree& updates, const OptState& state, const Tree&) {
            const std::int32_t count = check_moments(op, updates, state, {"count", "mu", "nu"});
            autodiff::NoGrad no_grad;
            const Tree mu = detail::update_moment(updates, state["mu"], o.b1, 1);
            const Tree& old_nu = state["nu"];
            // v - (1 - b2) * sign(v - g^2) * g^2
            Tree nu = detail::zip_map({&updates, &old_nu}, [&](std::span<const Tensor> x) {
              const Tensor g2 = x[0] * x[0];
              return x[1] - (sign(x[1] - g2) * (1.0 - o.b2)) * g2;
            });
            const Tree mu_hat = detail::bias_corrected(mu, o.b1, count);
            const Tree nu_hat = detail::bias_corrected(nu, o.b2, count);
            Tree out = detail::zip_map({&mu_hat, &nu_hat}, [&](std::span<const Tensor> x) {
              return adam_ratio(x[0], x[1], o.eps, o.eps_root);
            });
            return UpdateResult{std::move(out), Tree{{"count", detail::make_count(count)},
                                                     {"mu", detail::cast_like(mu, state["mu"])},
                                                     {"nu", detail::cast_like(nu, old_nu)}}};
          }};
}

GradientTransformation scale_by_radam(ScaleByRadamOptions o) {
  constexpr const char* op = "scale_by_radam";
  check_betas(op, o.b1, o.b2, o.eps, o.eps_root);
  ELEGY_CHECK(std::isfinite(o.threshold), op, "threshold must be finite, got ", o.threshold);
  return {[](const Tree& params) {
            return Tree{{"count", detail::make_count(0)},
                        {"mu", detail::full_like_tree(params, 0.0)},
                        {"nu", detail::full_like_tree(params, 0.0)}};
          },
          [o](const Tree& updates, const OptState& state, const Tree&) {
            const std::int32_t count = check_moments(op, updates, state, {"count", "mu", "nu"});
            autodiff::NoGrad no_grad;
            const Tree mu = detail::update_moment(updates, state["mu"], o.b1, 1);
            const Tree nu = detail::update_moment(updates, state["nu"], o.b2, 2);
            // The length of the approximated SMA, rho_t, and the rectification r_t: host scalars,
            // each operation rounded as JAX rounds it (float32 unless x64).
            const DType t = scalar_dtype(updates);
            auto r = [t](double x) { return detail::round_to(x, t); };
            const double ro_inf = 2.0 / (1.0 - o.b2) - 1.0;  // a Python float in optax
            const double b2t = detail::power_as(o.b2, count, t);
            const double ro = r(r(ro_inf) - r(r(r(2.0 * count) * b2t) / r(1.0 - b2t)));
            const Tree mu_hat = first_moment_hat(updates, mu, o.b1, count, o.nesterov);
            Tree out;
            if (ro >= r(o.threshold)) {
              const double num = r(r(r(r(ro - 4.0) * r(ro - 2.0)) * r(ro_inf)));
              const double den = r(r((ro_inf - 4.0) * (ro_inf - 2.0)) * ro);
              const double rect = r(std::sqrt(r(num / den)));
              const Tree nu_hat = detail::bias_corrected(nu, o.b2, count);
              out = detail::zip_map({&mu_hat, &nu_hat}, [&](std::span<const Tensor> x) {
                return (x[0] * rect) / (sqrt(o.eps_root != 0.0 ? x[1] + o.eps_root : x[1]) + o.eps);
              });
            } else {
              out = mu_hat;
            }
            return UpdateResult{std::move(out), Tree{{"count", detail::make_count(count)},
                                                     {"mu", detail::cast_like(mu, state["mu"])},
                                                     {"nu", detail::cast_like(nu, state["nu"])}}};
          }};
}

}  // namespace elegy::optim
