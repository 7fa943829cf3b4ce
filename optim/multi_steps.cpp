// MultiSteps: gradient accumulation over k mini-steps (optax/transforms/_accumulation.py).
#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/tape.hpp"
#include "elegy/optim/detail.hpp"
#include "elegy/optim/wrappers.hpp"

namespace elegy::optim {

namespace {

constexpr const char* kOp = "MultiSteps";

std::int32_t read_int(const OptState& state, const char* field) {
  const Tensor& t = state[field].tensor();
  ELEGY_CHECK(t.dtype() == DType::i32 && t.numel() == 1 && t.device().is_cpu(), kOp, "the state's ",
              field, " must be an int32 scalar on the cpu, got ", describe(t), "; call init first");
  return *t.data<std::int32_t>();
}

}  // namespace

MultiSteps::MultiSteps(GradientTransformation opt, EveryK every_k_schedule,
                       MultiStepsOptions options)
    : opt_(std::move(opt)), every_k_(std::move(every_k_schedule)), options_(std::move(options)) {
  if (const int* k = std::get_if<int>(&every_k_))
    ELEGY_CHECK(*k >= 1, kOp, "every_k_schedule must be >= 1, got ", *k);
  else
    ELEGY_CHECK(static_cast<bool>(std::get<1>(every_k_)), kOp,
                "the every_k_schedule function is empty");
}

OptState MultiSteps::init(const Tree& params) const {
  return Tree{{"mini_step", detail::make_count(0)},
              {"gradient_step", detail::make_count(0)},
              {"inner_opt_state", opt_.init(params)},
              {"acc_grads", detail::full_like_tree(params, 0.0, options_.accumulator_dtype)},
              {"skip_state", Tree()}};
}

UpdateResult MultiSteps::update(const Tree& updates, const OptState& state,
                                const Tree& params) const {
  detail::check_state_keys(
      kOp, state, {"mini_step", "gradient_step", "inner_opt_state", "acc_grads", "skip_state"});
  detail::check_matches_updates(kOp, "acc_grads", updates, state["acc_grads"]);
  const std::int32_t mini_step = read_int(state, "mini_step");
  const std::int32_t gradient_step = read_int(state, "gradient_step");
  const int k = std::holds_alternative<int>(every_k_) ? std::get<int>(every_k_)
                                                      : std::get<1>(every_k_)(gradient_step);
  ELEGY_CHECK(k >= 1, kOp, "every_k_schedule returned ", k, " at step ", gradient_step,
              "; it must be >= 1");
  autodiff::NoGrad no_grad;
  if (options_.should_skip_update && options_.should_skip_update(updates, gradient_step, params))
    return UpdateResult{updates.map([](const Tensor& g) { return zeros_like(g); }), state};

  const Tree& old_acc = state["acc_grads"];
  // The running mean (or sum) in the wider of the two dtypes, stored in accumulator_dtype.
  const double n = double(mini_step) + 1.0;
  const Tree acc = detail::zip_map({&updates, &old_acc}, [&](std::span<const Tensor> x) {
    return options_.use_grad_mean ? x[1] + (x[0] - x[1]) / n : x[0] + x[1];
  });
  const bool emit = mini_step == k - 1;
  Tree out;
  Tree inner_state = state["inner_opt_state"];
  if (emit) {
    UpdateResult r = opt_.update(detail::cast_like(acc, updates), inner_state, params);
    out = std::move(r.updates);
    inner_state = std::move(r.state);
  } else {
    out = updates.map([](const Tensor& g) { return zeros_like(g); });
  }
  const Tree new_acc =
      emit ? detail::full_like_tree(updates, 0.0, options_.accumulator_dtype)
           : acc.map([&](const Tensor& a) { return a.astype(options_.accumulator_dtype); });
  return UpdateResult{
      std::move(out),
      Tree{{"mini_step", detail::make_count(detail::safe_increment(mini_step) % k)},
           {"gradient_step",
            detail::make_count(emit ? detail::safe_increment(gradient_step) : gradient_step)},
           {"inner_opt_state", std::move(inner_state)},
           {"acc_grads", new_acc},
           {"skip_state", Tree()}}};
}

bool MultiSteps::has_updated(const OptState& state) {
  return read_int(state, "mini_step") == 0 && read_int(state, "gradient_step") > 0;
}

GradientTransformation MultiSteps::gradient_transformation() const {
  auto self = std::make_shared<const MultiSteps>(*this);
  return {[self](const Tree& params) { return self->init(params); },
          [self](const Tree& updates, const OptState& state, const Tree& params) {
            return self->update(updates, state, params);
          }};
}

}  // namespace elegy::optim
