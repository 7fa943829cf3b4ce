// trace: heavy-ball / Nesterov momentum (optax.trace); ema: the moving average of the updates.
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/tape.hpp"
#include "elegy/optim/detail.hpp"
#include "elegy/optim/transforms.hpp"

namespace elegy::optim {

GradientTransformation trace(double decay, TraceOptions options) {
  detail::check_range("trace", "decay", decay, 0.0, 1.0);
  return {[options](const Tree& params) {
            return Tree{{"trace", detail::full_like_tree(params, 0.0, options.accumulator_dtype)}};
          },
          [decay, options](const Tree& updates, const OptState& state, const Tree&) {
            detail::check_state_keys("trace", state, {"trace"});
            const Tree& old_trace = state["trace"];
            detail::check_matches_updates("trace", "trace", updates, old_trace);
            autodiff::NoGrad no_grad;
            auto plus_decayed = [decay](std::span<const Tensor> x) { return x[0] + x[1] * decay; };
            const Tree new_trace = detail::zip_map({&updates, &old_trace}, plus_decayed);
            Tree out_updates = options.nesterov
                                   ? detail::zip_map({&updates, &new_trace}, plus_decayed)
                                   : new_trace;
            // The state keeps its dtype step after step (the accumulator's, or the trace's own).
            return UpdateResult{std::move(out_updates),
                                Tree{{"trace", detail::cast_like(new_trace, old_trace)}}};
          }};
}

GradientTransformation ema(double decay, EmaOptions options) {
  constexpr const char* op = "ema";
  detail::check_range(op, "decay", decay, 0.0, 1.0, /*hi_open=*/options.debias);
  return {[options](const Tree& params) {
            return Tree{{"count", detail::make_count(0)},
                        {"ema", detail::full_like_tree(params, 0.0, options.accumulator_dtype)}};
          },
          [decay, options](const Tree& updates, const OptState& state, const Tree&) {
            detail::check_state_keys(op, state, {"count", "ema"});
            const Tree& old = state["ema"];
            detail::check_matches_updates(op, "ema", updates, old);
            const std::int32_t count = detail::safe_increment(detail::read_count(op, state));
            autodiff::NoGrad no_grad;
            const Tree new_ema = detail::update_moment(updates, old, decay, 1);
            Tree out = options.debias ? detail::bias_corrected(new_ema, decay, count) : new_ema;
            return UpdateResult{std::move(out), Tree{{"count", detail::make_count(count)},
                                                     {"ema", detail::cast_like(new_ema, old)}}};
          }};
}

}  // namespace elegy::optim
