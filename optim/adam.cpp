// scale_by_adam: Adam's bias-corrected moment estimates (optax.scale_by_adam), with NAdam's
// Nesterov variant.
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/tape.hpp"
#include "elegy/optim/detail.hpp"
#include "elegy/optim/transforms.hpp"

namespace elegy::optim {

GradientTransformation scale_by_adam(ScaleByAdamOptions o) {
  constexpr const char* op = "scale_by_adam";
  detail::check_range(op, "b1", o.b1, 0.0, 1.0, /*hi_open=*/true);
  detail::check_range(op, "b2", o.b2, 0.0, 1.0, /*hi_open=*/true);
  detail::check_finite_nonnegative(op, "eps", o.eps);
  detail::check_finite_nonnegative(op, "eps_root", o.eps_root);
  return {[o](const Tree& params) {
            return Tree{{"count", detail::make_count(0)},
                        {"mu", detail::full_like_tree(params, 0.0, o.mu_dtype)},
                        {"nu", detail::full_like_tree(params, 0.0)}};
          },
          [o](const Tree& updates, const OptState& state, const Tree&) {
            detail::check_state_keys(op, state, {"count", "mu", "nu"});
            const Tree& old_mu = state["mu"];
            const Tree& old_nu = state["nu"];
            detail::check_matches_updates(op, "mu", updates, old_mu);
            detail::check_matches_updates(op, "nu", updates, old_nu);
            const std::int32_t count = detail::safe_increment(detail::read_count(op, state));
            const std::int32_t next = detail::safe_increment(count);
            autodiff::NoGrad no_grad;

            Tree mu = detail::zip_map({&updates, &old_mu}, [&](std::span<const Tensor> x) {
              return x[0] * (1.0 - o.b1) + x[1] * o.b1;
            });
            // g * g rather than square(g): the same rounding, with a kernel on every device.
            Tree nu = detail::zip_map({&updates, &old_nu}, [&](std::span<const Tensor> x) {
              return (x[0] * x[0]) * (1.0 - o.b2) + x[1] * o.b2;
            });
            Tree out = detail::zip_map({&updates, &mu, &nu}, [&](std::span<const Tensor> x) {
              const Tensor &g = x[0], &m = x[1], &v = x[2];
              Tensor m_hat;
              if (o.nesterov) {
                // b1 * mu_hat(t+1) + (1 - b1) * g_hat(t) (Dozat 2016, as optax writes it).
                const Tensor m_next = m / detail::bias_correction(o.b1, next, m.dtype());
                const Tensor g_hat = g / detail::bias_correction(o.b1, count, g.dtype());
                m_hat = m_next * o.b1 + g_hat * (1.0 - o.b1);
              } else {
                m_hat = m / detail::bias_correction(o.b1, count, m.dtype());
              }
              Tensor v_hat = v / detail::bias_correction(o.b2, count, v.dtype());
              if (o.eps_root != 0.0) v_hat = v_hat + o.eps_root;
              return m_hat / (sqrt(v_hat) + o.eps);
            });
            // The moments keep their dtypes (mu_dtype, or the params').
            return UpdateResult{std::move(out), Tree{{"count", detail::make_count(count)},
                                                     {"mu", detail::cast_like(mu, old_mu)},
                                                     {"nu", detail::cast_like(nu, old_nu)}}};
          }};
}

}  // namespace elegy::optim
