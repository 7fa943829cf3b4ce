// scale_by_rms and scale_by_stddev: RMSProp's plain and centred rescalings (optax's).
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/tape.hpp"
#include "elegy/optim/detail.hpp"
#include "elegy/optim/transforms.hpp"

namespace elegy::optim {

namespace {

void check_options(const char* op, const ScaleByRmsOptions& o) {
  detail::check_range(op, "decay", o.decay, 0.0, 1.0, /*hi_open=*/o.bias_correction);
  detail::check_finite_nonnegative(op, "eps", o.eps);
  detail::check_finite_nonnegative(op, "initial_scale", o.initial_scale);
}

// 1 / sqrt(variance + eps) or 1 / (sqrt(variance) + eps). (Written with div and sqrt, which
// every device has, rather than rsqrt; the CPU's rsqrt is this same division.)
Tensor inverse_scale(const Tensor& variance, const ScaleByRmsOptions& o) {
  return 1.0 / (o.eps_in_sqrt ? sqrt(variance + o.eps) : sqrt(variance) + o.eps);
}

// (1 - decay) * g^order + decay * moment, leafwise (g * g: as optax's g**2, on every device).
Tree update_moment(const Tree& updates, const Tree& moment, double decay, bool squared) {
  return detail::zip_map({&updates, &moment}, [&](std::span<const Tensor> x) {
    return (squared ? x[0] * x[0] : x[0]) * (1.0 - decay) + x[1] * decay;
  });
}

// The state's count, incremented, when bias correction is on (else 0, unused).
std::int32_t next_count(const char* op, const OptState& state, const ScaleByRmsOptions& o) {
  return o.bias_correction ? detail::safe_increment(detail::read_count(op, state)) : 0;
}

Tensor corrected(const Tensor& moment, std::int32_t count, const ScaleByRmsOptions& o) {
  if (!o.bias_correction) return moment;
  return moment / detail::bias_correction(o.decay, count, moment.dtype());
}

}  // namespace

GradientTransformation scale_by_rms(ScaleByRmsOptions o) {
  constexpr const char* op = "scale_by_rms";
  check_options(op, o);
  return {[o](const Tree& params) {
            Tree nu = detail::full_like_tree(params, o.initial_scale);
            if (o.bias_correction) return Tree{{"count", detail::make_count(0)}, {"nu", nu}};
            return Tree{{"nu", nu}};
          },
          [o](const Tree& updates, const OptState& state, const Tree&) {
            if (o.bias_correction)
              detail::check_state_keys(op, state, {"count", "nu"});
            else
              detail::check_state_keys(op, state, {"nu"});
            const Tree& old_nu = state["nu"];
            detail::check_matches_updates(op, "nu", updates, old_nu);
            const std::int32_t count = next_count(op, state, o);
            autodiff::NoGrad no_grad;
            Tree nu = update_moment(updates, old_nu, o.decay, /*squared=*/true);
            Tree out = detail::zip_map({&updates, &nu}, [&](std::span<const Tensor> x) {
              return inverse_scale(corrected(x[1], count, o), o) * x[0];
            });
            Tree new_state{{"nu", detail::cast_like(nu, old_nu)}};
            if (o.bias_correction) new_state["count"] = detail::make_count(count);
            return UpdateResult{std::move(out), std::move(new_state)};
          }};
}

GradientTransformation scale_by_stddev(ScaleByRmsOptions o) {
  constexpr const char* op = "scale_by_stddev";
  check_options(op, o);
  return {[o](const Tree& params) {
            Tree mu = detail::full_like_tree(params, 0.0);
            Tree nu = detail::full_like_tree(params, o.initial_scale);
            if (o.bias_correction)
              return Tree{{"count", detail::make_count(0)}, {"mu", mu}, {"nu", nu}};
            return Tree{{"mu", mu}, {"nu", nu}};
          },
          [o](const Tree& updates, const OptState& state, const Tree&) {
            if (o.bias_correction)
              detail::check_state_keys(op, state, {"count", "mu", "nu"});
            else
              detail::check_state_keys(op, state, {"mu", "nu"});
            const Tree& old_mu = state["mu"];
            const Tree& old_nu = state["nu"];
            detail::check_matches_updates(op, "mu", updates, old_mu);
            detail::check_matches_updates(op, "nu", updates, old_nu);
            const std::int32_t count = next_count(op, state, o);
            autodiff::NoGrad no_grad;
            Tree mu = update_moment(updates, old_mu, o.decay, /*squared=*/false);
            Tree nu = update_moment(updates, old_nu, o.decay, /*squared=*/true);
            Tree out = detail::zip_map({&updates, &mu, &nu}, [&](std::span<const Tensor> x) {
              const Tensor m_hat = corrected(x[1], count, o);
              const Tensor v_hat = corrected(x[2], count, o);
              return inverse_scale(v_hat - m_hat * m_hat, o) * x[0];
            });
            Tree new_state{{"mu", detail::cast_like(mu, old_mu)},
                           {"nu", detail::cast_like(nu, old_nu)}};
            if (o.bias_correction) new_state["count"] = detail::make_count(count);
            return UpdateResult{std::move(out), std::move(new_state)};
          }};
}

}  // namespace elegy::optim
