// Stateless leafwise transforms: scale_by_sign, scale_by_trust_ratio, centralize, clip,
// clip_by_block_rms, keep_params_nonnegative, set_to_zero; and zero_nans (its state only records
// what it found). optax/_src/transform.py, optax/transforms/_clipping.py, _constraining.py.
#include <cmath>
#include <vector>

#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_reduce.hpp"
#include "elegy/autodiff/tape.hpp"
#include "elegy/optim/detail.hpp"
#include "elegy/optim/transforms.hpp"

namespace elegy::optim {

namespace {

OptState empty_init(const Tree&) {
  return Tree();
}

// A stateless transform applying `fn` to each leaf (with its param when `needs_params`).
GradientTransformation leafwise(const char* op, bool needs_params,
                                std::function<Tensor(const Tensor& g, const Tensor& p)> fn) {
  return {
      empty_init, [op, needs_params, fn = std::move(fn)](const Tree& updates, const OptState& state,
                                                         const Tree& params) {
        detail::check_empty_state(op, state);
        autodiff::NoGrad no_grad;
        if (!needs_params)
          return UpdateResult{updates.map([&](const Tensor& g) { return fn(g, Tensor()); }), state};
        detail::check_params(op, updates, params);
        return UpdateResult{
            detail::zip_map({&updates, &params},
                            [&](std::span<const Tensor> x) { return fn(x[0], x[1]); }),
            state};
      }};
}

// optax's numerics.safe_norm: the L2 norm, or min_norm where the norm is <= min_norm.
Tensor safe_norm(const Tensor& x, double min_norm) {
  const Tensor n = sqrt(sum(x * x));
  return min_norm > 0.0 ? where(n <= min_norm, min_norm, n) : n;
}

// jnp.mean (sum / count).
Tensor jax_mean(const Tensor& x, const Axes& axes = {}, bool keepdims = false) {
  const Tensor s = sum(x, axes, keepdims);
  return s / double(x.numel() / std::max<std::int64_t>(s.numel(), 1));
}

}  // namespace

GradientTransformation scale_by_sign() {
  return leafwise("scale_by_sign", false, [](const Tensor& g, const Tensor&) { return sign(g); });
}

GradientTransformation scale_by_trust_ratio(ScaleByTrustRatioOptions o) {
  constexpr const char* op = "scale_by_trust_ratio";
  detail::check_finite_nonnegative(op, "min_norm", o.min_norm);
  detail::check_finite_nonnegative(op, "trust_coefficient", o.trust_coefficient);
  detail::check_finite_nonnegative(op, "eps", o.eps);
  return leafwise(op, true, [o](const Tensor& u, const Tensor& p) {
    const Tensor param_norm = safe_norm(p, o.min_norm);
    const Tensor update_norm = safe_norm(u, o.min_norm);
    const Tensor ratio = (param_norm * o.trust_coefficient) / (update_norm + o.eps);
    const Tensor zero_norm = (param_norm == 0.0) | (update_norm == 0.0);
    return u * where(zero_norm, 1.0, ratio);
  });
}

GradientTransformation centralize() {
  return leafwise("centralize", false, [](const Tensor& g, const Tensor&) {
    if (g.ndim() <= 1) return g;
    std::vector<int> axes;
    for (int i = 1; i < g.ndim(); ++i) axes.push_back(i);
    return g - jax_mean(g, Axes(axes), /*keepdims=*/true);
  });
}

GradientTransformation clip(double max_delta) {
  detail::check_finite_nonnegative("clip", "max_delta", max_delta);
  return leafwise("clip", false, [max_delta](const Tensor& g, const Tensor&) {
    return elegy::clip(g, -max_delta, max_delta);
  });
}

GradientTransformation clip_by_block_rms(double threshold) {
  ELEGY_CHECK(std::isfinite(threshold) && threshold > 0.0, "clip_by_block_rms",
              "threshold must be a finite number > 0, got ", threshold);
  return leafwise("clip_by_block_rms", false, [threshold](const Tensor& u, const Tensor&) {
    return u / maximum(sqrt(jax_mean(u * u)) / threshold, 1.0);
  });
}

GradientTransformation keep_params_nonnegative() {
  return leafwise("keep_params_nonnegative", true,
                  [](const Tensor& u, const Tensor& p) { return where((p + u) < 0.0, -p, u); });
}

GradientTransformation set_to_zero() {
  return leafwise("set_to_zero", false,
                  [](const Tensor& g, const Tensor&) { return zeros_like(g); });
}

GradientTransformation zero_nans() {
  constexpr const char* op = "zero_nans";
  return {[](const Tree& params) {
            return Tree{{"found_nan", params.map([](const Tensor& p) {
                           return zeros(Shape{}, DType::bool_, p.device());
                         })}};
          },
          [](const Tree& updates, const OptState& state, const Tree&) {
            detail::check_state_keys(op, state, {"found_nan"});
            const std::string d = Tree::structure_difference(updates, state["found_nan"]);
            ELEGY_CHECK(d.empty(), op,
                        "the updates do not have the structure of the params the state was "
                        "initialised for: ",
                        d, "; call init with params of this structure first");
            autodiff::NoGrad no_grad;
            // x != x exactly where x is NaN.
            Tree found = updates.map([](const Tensor& g) { return any(g != g); });
            Tree out = updates.map([](const Tensor& g) { return where(g != g, 0.0, g); });
            return UpdateResult{std::move(out), Tree{{"found_nan", std::move(found)}}};
          }};
}

}  // namespace elegy::optim
