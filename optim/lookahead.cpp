// lookahead: slow and fast weights (optax/_src/lookahead.py).
#include <memory>

#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/tape.hpp"
#include "elegy/optim/detail.hpp"
#include "elegy/optim/wrappers.hpp"

namespace elegy::optim {

namespace {

constexpr const char* kOp = "lookahead";

bool is_lookahead_params(const Tree& t) {
  return t.is_map() && t.size() == 2 && t.contains("fast") && t.contains("slow");
}

}  // namespace

Tree lookahead_params(const Tree& params) {
  return Tree{{"fast", params}, {"slow", params}};
}

GradientTransformation lookahead(GradientTransformation fast_optimizer, int sync_period,
                                 double slow_step_size, LookaheadOptions options) {
  ELEGY_CHECK(sync_period >= 1, kOp, "sync_period must be >= 1, got ", sync_period);
  detail::check_range(kOp, "slow_step_size", slow_step_size, 0.0, 1.0);
  auto fast = std::make_shared<const GradientTransformation>(std::move(fast_optimizer));
  return {[fast](const Tree& params) {
            // {fast, slow} params, or (as optax allows) the fast params alone.
            const Tree& fast_params = is_lookahead_params(params) ? params["fast"] : params;
            return Tree{{"fast_state", fast->init(fast_params)},
                        {"steps_since_sync", detail::make_count(0)}};
          },
          [fast, sync_period, slow_step_size, options](const Tree& updates, const OptState& state,
                                                       const Tree& params) {
            detail::check_state_keys(kOp, state, {"fast_state", "steps_since_sync"});
            ELEGY_CHECK(is_lookahead_params(params), kOp,
                        "needs the params as a {fast, slow} tree (see lookahead_params), got ",
                        params);
            const Tree& fast_params = params["fast"];
            const Tree& slow_params = params["slow"];
            const Tensor& steps_t = state["steps_since_sync"].tensor();
            ELEGY_CHECK(
                steps_t.dtype() == DType::i32 && steps_t.numel() == 1 && steps_t.device().is_cpu(),
                kOp, "the state's steps_since_sync must be an int32 scalar on the cpu, got ",
                describe(steps_t), "; call init first");
            const std::int32_t steps = *steps_t.data<std::int32_t>();
            UpdateResult r = fast->update(updates, state["fast_state"], fast_params);
            const bool sync = steps == sync_period - 1;
            autodiff::NoGrad no_grad;
            Tree fast_updates, slow_updates;
            if (sync) {
              // The difference the slow params move along: fast + update - slow.
              const Tree diff =
                  detail::zip_map({&fast_params, &r.updates, &slow_params},
                                  [](std::span<const Tensor> x) { return (x[0] + x[1]) - x[2]; });
              slow_updates = diff.map([&](const Tensor& d) { return d * slow_step_size; });
              fast_updates = detail::zip_map({&r.updates, &diff}, [&](std::span<const Tensor> x) {
                return x[0] - x[1] * (1.0 - slow_step_size);
              });
            } else {
              fast_updates = r.updates;
              slow_updates = slow_params.map([](const Tensor& s) { return zeros_like(s); });
            }
            Tree fast_state =
                sync && options.reset_state ? fast->init(fast_params) : std::move(r.state);
            return UpdateResult{
                Tree{{"fast", std::move(fast_updates)}, {"slow", std::move(slow_updates)}},
                Tree{{"fast_state", std::move(fast_state)},
                     {"steps_since_sync", detail::make_count((steps + 1) % sync_period)}}};
          }};
}

}  // namespace elegy::optim
