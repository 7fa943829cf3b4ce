// Model's default steps (Elegy 0.7.4's call graph) and the *_on_batch methods.
#include "elegy/model/model.hpp"

#include "elegy/autodiff/grad.hpp"
#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/model/logs.hpp"

namespace elegy {

Model::Model(Options options) : options_(std::move(options)) {}

States Model::states_step() {
  return States{{"net_params", Tree()},
                {"net_states", Tree()},
                {"metrics_states", Tree()},
                {"optimizer_states", Tree()}}
      .update_rng(RngSeq(std::uint64_t(options_.seed)));
}

States Model::init_step(const StepArgs& args) {
  StepArgs a = args;
  a.states = args.states.maybe_update(states_step());
  a.initializing = true;
  a.training = true;
  return train_step(a).states;
}

PredStep Model::pred_step(const StepArgs&) {
  fail("pred_step",
       "this Model has no module and does not override pred_step: override pred_step to return "
       "{y_pred, states} (predict and summary need it; fit and evaluate need only test_step)");
}

TestStep Model::test_step(const StepArgs& args) {
  // Initializing needs only the parameters pred_step creates; no loss is computed.
  if (args.initializing) return {scalar(0.0), {}, pred_step(args).states};
  fail("test_step",
       "this Model has no loss and does not override test_step, which fit and evaluate need: "
       "override test_step to return {loss, logs, states} (or override train_step)");
}

GradStep Model::grad_step(const StepArgs& args) {
  const Tree& params = args.states.net_params();
  ELEGY_CHECK(!params.is_none() && params.num_leaves() > 0, "grad_step",
              "states.net_params is empty, so there is nothing to differentiate: test_step must "
              "create the parameters when `initializing` is true and return them in "
              "states.net_params");
  auto r = value_and_grad(
      [&](const Tree& p) {
        StepArgs inner = args;
        inner.states = args.states.update("net_params", p);
        TestStep t = test_step(inner);
        ELEGY_CHECK(t.loss.defined() && t.loss.numel() == 1 && is_floating(t.loss.dtype()),
                    "test_step", "returned a loss that is ", describe(t.loss),
                    "; expected a scalar float loss");
        return std::pair<Tensor, std::pair<StepLogs, States>>{t.loss, {t.logs, t.states}};
      },
      params);
  return {r.value, detached(r.aux.first), detached(r.aux.second), std::move(r.grads)};
}

TrainStep Model::train_step(const StepArgs& args) {
  if (args.initializing) {
    TestStep t = test_step(args);
    States states = detached(t.states);
    if (options_.optimizer)
      states = states.update("optimizer_states", options_.optimizer->init(states.net_params()));
    return {detached(t.logs), states};
  }
  ELEGY_CHECK(options_.optimizer.has_value(), "train_step",
              "the model has no optimizer: pass one (Model({.optimizer = optim::adam(1e-3)})) or "
              "override train_step");
  GradStep g = grad_step(args);
  NoGrad no_grad;
  const Tree& params = g.states.net_params();
  optim::UpdateResult u = options_.optimizer->update(g.grads, g.states.optimizer_states(), params);
  const Tree new_params = optim::apply_updates(params, u.updates);
  return {g.logs, g.states.update({{"net_params", new_params}, {"optimizer_states", u.state}})};
}

std::vector<SummaryTableEntry> Model::summary_step(const StepArgs& args) {
  StepArgs a = args;
  a.states = args.states.maybe_update(states_step());
  a.initializing = true;
  a.training = true;
  PredStep p = pred_step(a);
  auto count = [](const Tree& t, std::int64_t& n, std::int64_t& bytes) {
    for (const Tensor& leaf : t.leaves()) {
      n += leaf.numel();
      bytes += std::int64_t(leaf.nbytes());
    }
  };
  SummaryTableEntry inputs{.path = "", .module_type_name = "Inputs", .output_value = args.x};
  SummaryTableEntry outputs{.path = "", .module_type_name = "Outputs", .output_value = p.y_pred};
  SummaryTableEntry totals{.path = "", .module_type_name = "Total"};
  count(p.states.net_params(), totals.trainable_params_count, totals.trainable_params_size);
  count(p.states.net_states(), totals.non_trainable_params_count, totals.non_trainable_params_size);
  return {inputs, outputs, totals};
}

PredStep Model::call_pred_step(const StepArgs& args) {
  return pred_step(args);
}
TestStep Model::call_test_step(const StepArgs& args) {
  return test_step(args);
}
TrainStep Model::call_train_step(const StepArgs& args) {
  return train_step(args);
}
States Model::call_init_step(const StepArgs& args) {
  return init_step(args);
}
std::vector<SummaryTableEntry> Model::call_summary_step(const StepArgs& args) {
  return summary_step(args);
}

void Model::init_on_batch(const Tree& x, const Tree& y_true, std::optional<Tensor> sample_weight,
                          std::optional<Tensor> class_weight) {
  if (initialized_) return;
  StepArgs a{x, y_true, std::move(sample_weight), std::move(class_weight), states_, true, true};
  const States s = detached(call_init_step(a));
  states_ = states_.maybe_update(s);
  initial_states_ = initial_states_.maybe_update(s);
  initialized_ = true;
}

Logs Model::train_on_batch(const Tree& x, const Tree& y, std::optional<Tensor> sample_weight,
                           std::optional<Tensor> class_weight) {
  init_on_batch(x, y, sample_weight, class_weight);
  StepArgs a{x, y, std::move(sample_weight), std::move(class_weight), states_, false, true};
  TrainStep r = call_train_step(a);
  Logs logs = to_logs("train_step", r.logs);  // before states change: a bad log changes nothing
  states_ = detached(r.states);
  return logs;
}

Logs Model::test_on_batch(const Tree& x, const Tree& y, std::optional<Tensor> sample_weight,
                          std::optional<Tensor> class_weight) {
  init_on_batch(x, y, sample_weight, class_weight);
  StepArgs a{x, y, std::move(sample_weight), std::move(class_weight), states_, false, false};
  TestStep r = [&] {
    NoGrad no_grad;  // evaluation never differentiates
    return call_test_step(a);
  }();
  Logs logs = to_logs("test_step", r.logs);
  states_ = detached(r.states);
  return logs;
}

Tree Model::predict_on_batch(const Tree& x) {
  ELEGY_CHECK(initialized_, "predict",
              "the model is not initialized: call init, fit or evaluate first");
  StepArgs a;
  a.x = x;
  a.states = states_;
  a.training = false;
  NoGrad no_grad;
  PredStep r = call_pred_step(a);
  states_ = detached(r.states);
  return r.y_pred;
}

void Model::reset() {
  states_ = initial_states_;
}

void Model::reset_metrics() {
  if (initial_states_.has("metrics_states") || states_.has("metrics_states"))
    states_ = states_.update("metrics_states", initial_states_.metrics_states());
}

}  // namespace elegy
