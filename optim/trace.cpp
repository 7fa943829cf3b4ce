// trace: heavy-ball / Nesterov momentum (optax.trace).
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

}  // namespace elegy::optim
