// add_decayed_weights: decoupled weight decay, updates + weight_decay * params (optax's).
#include <cmath>

#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/tape.hpp"
#include "elegy/optim/detail.hpp"
#include "elegy/optim/transforms.hpp"

namespace elegy::optim {

namespace {

constexpr const char* kOp = "add_decayed_weights";

Tree add_scaled_params(const Tree& updates, const Tree& params, double s) {
  ELEGY_CHECK(!params.is_none() || updates.is_none(), kOp,
              "needs the current params: pass them as update's third argument");
  autodiff::NoGrad no_grad;
  return Tree::map2(
      [s](const Tensor& g, const Tensor& p) {
        ELEGY_CHECK(g.shape() == p.shape(), kOp, "the update ", describe(g),
                    " does not match the param ", describe(p));
        return g + p * s;
      },
      updates, params, kOp);
}

}  // namespace

GradientTransformation add_decayed_weights(const ScalarOrSchedule& weight_decay,
                                           AddDecayedWeightsOptions options) {
  return detail::add_decayed_weights_as(weight_decay, std::move(options.mask), true);
}

namespace detail {

GradientTransformation add_decayed_weights_as(const ScalarOrSchedule& weight_decay, Mask mask,
                                              bool check_nonnegative) {
  GradientTransformation t;
  if (const double* wd = std::get_if<double>(&weight_decay)) {
    if (check_nonnegative)
      detail::check_finite_nonnegative(kOp, "weight_decay", *wd);
    else
      ELEGY_CHECK(std::isfinite(*wd), kOp, "weight_decay must be finite, got ", *wd);
    t.init = [](const Tree&) { return Tree(); };
    t.update = [s = *wd](const Tree& updates, const OptState& state, const Tree& params) {
      detail::check_empty_state(kOp, state);
      if (s == 0.0) return UpdateResult{updates, state};  // optax skips a zero constant too
      return UpdateResult{add_scaled_params(updates, params, s), state};
    };
  } else {
    Schedule fn = std::get<Schedule>(weight_decay);
    ELEGY_CHECK(static_cast<bool>(fn), kOp, "the weight_decay schedule is an empty function");
    t.init = [](const Tree&) { return Tree{{"count", detail::make_count(0)}}; };
    t.update = [fn, check_nonnegative](const Tree& updates, const OptState& state,
                                       const Tree& params) {
      detail::check_state_keys(kOp, state, {"count"});
      const std::int32_t count = detail::read_count(kOp, state);
      const double s =
          check_nonnegative ? detail::eval_checked(kOp, "weight_decay", fn, count) : fn(count);
      return UpdateResult{add_scaled_params(updates, params, s),
                          Tree{{"count", detail::make_count(detail::safe_increment(count))}}};
    };
  }
  if (std::holds_alternative<std::monostate>(mask)) return t;
  return detail::masked_as(kOp, std::move(t), std::move(mask));
}

}  // namespace detail

}  // namespace elegy::optim
