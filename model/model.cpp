// Model's default steps (Elegy 0.7.4's call graph) and the *_on_batch methods.
#include "elegy/model/model.hpp"

#include "elegy/autodiff/deferred_checks.hpp"
#include "elegy/autodiff/grad.hpp"
#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/model/fit_profile.hpp"
#include "elegy/model/logs.hpp"
#include "elegy/model/metrics/running_means.hpp"
#include "elegy/model/nn/context.hpp"
#include "elegy/model/summary.hpp"

#include <cstdio>
#include <exception>
#include <new>
#include <tuple>

namespace elegy {

Model::Model(Options options)
    : options_(std::move(options)), losses_(options_.loss), metrics_(options_.metrics) {}

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

PredStep Model::pred_step(const StepArgs& args) {
  ELEGY_CHECK(static_cast<bool>(options_.module), "pred_step",
              "this Model has no module and does not override pred_step: pass one "
              "(Model({.module = MyNet(), ...})) or override pred_step to return {y_pred, states} "
              "(predict and summary need it; fit and evaluate need only test_step)");
  nn::Context ctx = nn::Context::for_step(args);
  Tree y_pred = options_.module->call_root(ctx, args.x);
  return ctx.pred_step(std::move(y_pred), args.states);
}

namespace {

// Samples in a batch: the leading dimension of its first leaf (1 for a scalar or empty x).
double batch_size_of(const Tree& x) {
  const std::vector<Tensor> leaves = x.leaves();
  if (leaves.empty() || leaves.front().ndim() == 0) return 1.0;
  return double(leaves.front().shape()[0]);
}

}  // namespace

TestStep Model::test_step(const StepArgs& args) {
  const bool has_loss = !losses_.empty();
  ELEGY_CHECK(has_loss || args.initializing || !metrics_.empty(), "test_step",
              "this Model has no loss and does not override test_step, which fit and evaluate "
              "need: pass a loss (Model({.loss = {losses::MeanSquaredError()}, ...})) or override "
              "test_step to return {loss, logs, states} (or override train_step)");
  PredStep p = pred_step(args);
  const LossArgs la{.x = args.x,
                    .y_true = args.y_true,
                    .y_pred = p.y_pred,
                    .sample_weight = args.sample_weight,
                    .class_weight = args.class_weight,
                    .net_params = p.states.net_params(),
                    .training = args.training};
  Tensor loss;
  StepLogs batch_values;
  if (has_loss || !p.aux_losses.empty()) {
    losses::LossValues v = losses_(la, p.aux_losses);
    loss = v.total;
    batch_values = std::move(v.logs);
  } else {
    ELEGY_CHECK(args.initializing || !args.training, "test_step",
                "the model has metrics but no loss, so there is nothing to train: pass a loss "
                "(Model({.loss = {...}})) or only evaluate it");
    loss = scalar(0.0);
  }

  // Metric states and running means never need gradients.
  NoGrad no_grad;
  for (const auto& [name, value] : p.aux_metrics) batch_values[name] = value;
  batch_values = detached(batch_values);
  Tree loss_state, metric_state;
  StepLogs logs;
  if (args.initializing) {
    // The initial (reset) states: zeros, not yet counting this batch.
    loss_state = metrics::running_means_init(batch_values);
    metric_state = metrics_.init(la);
    logs = metrics::running_means_result(loss_state);
    for (auto& [name, value] : metrics_.results(metric_state)) logs[name] = value;
  } else {
    const Tree& ms = p.states.metrics_states();
    std::tie(loss_state, logs) =
        metrics::running_means_step(ms["losses"], batch_values, batch_size_of(args.x));
    auto [updated, results] = metrics_.step(ms["metrics"], la);
    metric_state = std::move(updated);
    for (auto& [name, value] : results) logs[name] = value;
  }
  for (const auto& [name, value] : logs) running_log_names_.insert(name);
  States states =
      p.states.update("metrics_states", Tree{{"losses", loss_state}, {"metrics", metric_state}});
  return {loss, std::move(logs), std::move(states)};
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
  if (donation_.args == &args && !donation_.taken)
    if (std::optional<TrainStep> r = donated_update(g)) return std::move(*r);
  const Tree& params = g.states.net_params();
  optim::StepResult s =
      optim::update_and_apply(*options_.optimizer, g.grads, g.states.optimizer_states(), params);
  return {g.logs, g.states.update({{"net_params", s.params}, {"optimizer_states", s.state}})};
}

namespace {

// True when both trees have the same leaves in the same buffers.
bool same_buffers(const Tree& a, const Tree& b) {
  const std::vector<Tensor> la = a.leaves(), lb = b.leaves();
  if (la.size() != lb.size()) return false;
  for (std::size_t i = 0; i < la.size(); ++i)
    if (la[i].storage() != lb[i].storage() || la[i].address() != lb[i].address()) return false;
  return true;
}

}  // namespace

std::optional<TrainStep> Model::donated_update(GradStep& g) {
  StepArgs& donor = *donation_.args;
  if (!same_buffers(g.states.net_params(), donor.states.net_params()) ||
      !same_buffers(g.states.optimizer_states(), donor.states.optimizer_states()))
    return std::nullopt;
  // A log that cannot be read, or a deferred check that fails (labels out of range), must fail
  // the step before anything is written in place.
  check_logs("train_step", g.logs);
  DeferredChecks::resolve_current();
  // From here the trees below are the only holders of the old params and optimizer states
  // (train_on_batch emptied states_), so the optimizer may write over them.
  Tree params = g.states.net_params();
  optim::OptState opt_state = g.states.optimizer_states();
  const States rest = g.states.update({{"net_params", Tree()}, {"optimizer_states", Tree()}});
  g.states = States();
  donor.states = donor.states.update({{"net_params", Tree()}, {"optimizer_states", Tree()}});
  donation_.taken = true;
  try {
    optim::StepResult s = optim::update_and_apply(*options_.optimizer, g.grads,
                                                  std::move(opt_state), std::move(params));
    // The donor holds the new values from now on (its old buffers may hold them already): code
    // that fails after this step, or reads the args again, sees valid, updated states.
    donor.states = donor.states.update({{"net_params", s.params}, {"optimizer_states", s.state}});
    return TrainStep{std::move(g.logs),
                     rest.update({{"net_params", s.params}, {"optimizer_states", s.state}})};
  } catch (...) {
    // update_and_apply gave both trees back (as they were unless its kernel failed partway).
    donor.states = donor.states.update({{"net_params", params}, {"optimizer_states", opt_state}});
    throw;
  }
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
  std::vector<SummaryTableEntry> entries;
  entries.push_back({.path = "", .module_type_name = "Inputs", .output_value = args.x});
  for (SummaryTableEntry e : p.summaries) {
    count_own_params(p.states.net_params(), e.path, e.trainable_params_count,
                     e.trainable_params_size);
    count_own_params(p.states.net_states(), e.path, e.non_trainable_params_count,
                     e.non_trainable_params_size);
    entries.push_back(std::move(e));
  }
  SummaryTableEntry totals{.path = "", .module_type_name = "Total"};
  count(p.states.net_params(), totals.trainable_params_count, totals.trainable_params_size);
  count(p.states.net_states(), totals.non_trainable_params_count, totals.non_trainable_params_size);
  entries.push_back(std::move(totals));
  return entries;
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

Tree Model::on_model_device(const Tree& t) const {
  if (!options_.device) return t;
  return t.map([&](const Tensor& v) { return v.to(*options_.device); });
}

std::optional<Tensor> Model::on_model_device(const std::optional<Tensor>& t) const {
  if (!options_.device || !t) return t;
  return t->to(*options_.device);
}

StepArgs Model::batch_args(const Tree& x, const Tree& y, const std::optional<Tensor>& sample_weight,
                           const std::optional<Tensor>& class_weight, bool initializing,
                           bool training) const {
  return StepArgs{on_model_device(x),
                  on_model_device(y),
                  on_model_device(sample_weight),
                  on_model_device(class_weight),
                  states_,
                  initializing,
                  training};
}

void Model::init_on_batch(const Tree& x, const Tree& y_true, std::optional<Tensor> sample_weight,
                          std::optional<Tensor> class_weight) {
  if (initialized_) return;
  const StepArgs a = batch_args(x, y_true, sample_weight, class_weight, /*initializing=*/true,
                                /*training=*/true);
  const States s = detached(call_init_step(a));
  states_ = states_.maybe_update(s);
  initial_states_ = initial_states_.maybe_update(s);
  initialized_ = true;
}

namespace {

// Thrown by a recorded train step that ran out of memory (train_on_batch then runs it eagerly).
struct RecordingOutOfMemory {};

bool is_out_of_memory(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const OutOfMemoryError&) {
    return true;
  } catch (const std::bad_alloc&) {
    return true;
  } catch (...) {
    return false;
  }
}

// An evaluation step (test or pred) under a recording: out of memory while the recording
// starts, or while the step it watches runs, drops it and leaves the step eager (`give_up`;
// false when there is nothing to mark, and the error stands). Nothing was written yet, so the
// step then runs again unrecorded.
template <class Begin, class GiveUp>
void begin_recording_or_give_up(std::unique_ptr<autodiff::StepRecording>& recording, Begin begin,
                                GiveUp give_up) {
  try {
    recording = begin();
  } catch (...) {
    recording.reset();
    if (!is_out_of_memory(std::current_exception()) || !give_up()) throw;
  }
}

template <class Run, class GiveUp>
auto run_or_rerun_unrecorded(std::unique_ptr<autodiff::StepRecording>& recording, Run run,
                             GiveUp give_up) -> decltype(run()) {
  try {
    return run();
  } catch (...) {
    if (!recording || !is_out_of_memory(std::current_exception())) throw;
    recording.reset();
    give_up();
  }
  return run();
}

}  // namespace

Logs Model::train_on_batch(const Tree& x, const Tree& y, std::optional<Tensor> sample_weight,
                           std::optional<Tensor> class_weight) {
  init_on_batch(x, y, sample_weight, class_weight);
  const bool compile = compiled_step_enabled();
  if (compile)
    if (std::optional<Logs> logs = replay_train_step(x, y, sample_weight, class_weight))
      return std::move(*logs);
  try {
    return run_train_step(x, y, sample_weight, class_weight, compile);
  } catch (const RecordingOutOfMemory&) {
    // A recording keeps every buffer of its step, so it needs more memory than the eager step,
    // which runs now (and from now on for this batch signature: compiled_step_status says so).
    return run_train_step(x, y, sample_weight, class_weight, compile);
  }
}

Logs Model::run_train_step(const Tree& x, const Tree& y, const std::optional<Tensor>& sample_weight,
                           const std::optional<Tensor>& class_weight, bool compile) {
  auto give_up_recording = [this] {
    if (!compiled_.step) return false;
    compiled_.step->train.stay_eager(
        "recording the step ran out of memory (a recording keeps every buffer of its step)");
    return true;
  };
  // Runs last, once the step's locals below are gone.
  struct Settle {
    Model& m;
    ~Settle() { m.settle_compiled_step(); }
  } settle{*this};
  // Checks of a GPU batch's labels, indices and ids wait here, not mid-step
  // (deferred_checks.hpp).
  DeferredChecks checks;
  StepArgs a = batch_args(x, y, sample_weight, class_weight, /*initializing=*/false,
                          /*training=*/true);
  std::unique_ptr<autodiff::StepRecording> recording;
  if (compile)  // (its private copies need memory too)
    begin_recording_or_give_up(
        recording, [&] { return begin_train_recording(a); }, give_up_recording);
  const std::optional<RngSeq> rng =
      a.states.has_rng() ? std::optional<RngSeq>(a.states.rng()) : std::nullopt;
  detail::FitProfile::mark_current(detail::FitProfile::kCopyIn);
  // Donation: while the step runs, `a` holds the only copy of the model's states, so the default
  // train_step can update the parameters and optimizer states in place (donated_update). `a`
  // always holds valid states: the old ones until the optimizer has run, then the new params and
  // optimizer states; a failure takes states_ from it.
  if (options_.donate_states) {
    states_ = States();
    donation_.args = &a;
  }
  struct EndOfStep {  // (Donation's assignment copies nothing, by design: reset by hand)
    Donation& d;
    ~EndOfStep() {
      d.args = nullptr;
      d.taken = false;
    }
  } end_of_step{donation_};
  TrainStep r;
  try {
    r = call_train_step(a);
  } catch (...) {
    states_ = std::move(a.states);
    // Nothing was written in place yet: the step can run again, eagerly.
    if (recording && !donation_.taken && is_out_of_memory(std::current_exception())) {
      recording.reset();
      give_up_recording();
      throw RecordingOutOfMemory{};
    }
    throw;
  }
  detail::FitProfile::mark_current(detail::FitProfile::kStep);
  try {
    checks.resolve();
    if (recording) finish_train_recording(std::move(recording), a, r, rng);
    Logs logs = to_logs("train_step", r.logs);  // before states change: a bad log changes nothing
    states_ = detached(r.states);
    return logs;
  } catch (...) {
    // The default train_step checked its logs before writing in place, so this is an override
    // that added a bad log after calling it: the old values may be gone, keep the step's.
    states_ = donation_.taken ? detached(r.states) : std::move(a.states);
    throw;
  }
}

Logs Model::test_on_batch(const Tree& x, const Tree& y, std::optional<Tensor> sample_weight,
                          std::optional<Tensor> class_weight) {
  init_on_batch(x, y, sample_weight, class_weight);
  const bool compile = compiled_step_enabled();
  if (compile)
    if (std::optional<Logs> logs = replay_test_step(x, y, sample_weight, class_weight))
      return std::move(*logs);
  DeferredChecks checks;
  StepArgs a = batch_args(x, y, sample_weight, class_weight, /*initializing=*/false,
                          /*training=*/false);
  std::unique_ptr<autodiff::StepRecording> recording;
  const auto give_up_recording = [this] {
    if (!compiled_.step) return false;
    compiled_.step->test.stay_eager("recording the step ran out of memory");
    return true;
  };
  if (compile)
    begin_recording_or_give_up(
        recording, [&] { return begin_test_recording(a); }, give_up_recording);
  const std::optional<RngSeq> rng =
      a.states.has_rng() ? std::optional<RngSeq>(a.states.rng()) : std::nullopt;
  TestStep r = run_or_rerun_unrecorded(
      recording,
      [&] {
        NoGrad no_grad;  // evaluation never differentiates
        return call_test_step(a);
      },
      give_up_recording);
  checks.resolve();
  if (recording) {
    // The recording writes the new metric states into the model's state buffers: a bad log
    // must fail the step before.
    check_logs("test_step", r.logs);
    finish_test_recording(std::move(recording), a, r, rng);
  }
  Logs logs = to_logs("test_step", r.logs);
  states_ = detached(r.states);
  return logs;
}

Tree Model::predict_on_batch(const Tree& x) {
  ELEGY_CHECK(initialized_, "predict",
              "the model is not initialized: call init, fit or evaluate first");
  const bool compile = compiled_step_enabled();
  if (compile)
    if (std::optional<Tree> y = replay_predict_step(x)) return std::move(*y);
  DeferredChecks checks;  // an embedding's ids on a GPU: checked once the step is queued
  StepArgs a;
  a.x = on_model_device(x);
  a.states = states_;
  a.training = false;
  std::unique_ptr<autodiff::StepRecording> recording;
  const auto give_up_recording = [this] {
    if (!compiled_.predict) return false;
    compiled_.predict->step.stay_eager("recording the step ran out of memory");
    return true;
  };
  if (compile)
    begin_recording_or_give_up(
        recording, [&] { return begin_predict_recording(a); }, give_up_recording);
  PredStep r = run_or_rerun_unrecorded(
      recording,
      [&] {
        NoGrad no_grad;
        return call_pred_step(a);
      },
      give_up_recording);
  checks.resolve();
  if (recording) finish_predict_recording(std::move(recording), a, r);
  states_ = detached(r.states);
  return r.y_pred;
}

std::string Model::summary(const Tree& x, int depth, bool print) {
  ELEGY_CHECK(depth >= 0, "summary", "depth must be >= 0, got ", depth);
  StepArgs a;
  a.states = states_;
  NoGrad no_grad;
  std::vector<SummaryTableEntry> entries;
  try {
    // Shapes only (Elegy's jax.eval_shape): on meta tensors no kernel runs and no memory is
    // used. A step that needs values (item(), data-dependent checks) or mixes in tensors of
    // another device raises an Error, and the summary is then computed for real.
    a.x = x.map([](const Tensor& t) { return t.to(Device::meta()); });
    entries = call_summary_step(a);
    // The inputs row shows the caller's tensors, not their meta twins.
    if (!entries.empty() && entries.front().module_type_name == "Inputs")
      entries.front().output_value = x;
  } catch (const Error&) {
    a.x = on_model_device(x);
    entries = call_summary_step(a);
  }
  const std::string table = format_summary(entries, depth);
  if (print) std::fputs(table.c_str(), stdout);
  return table;
}

void Model::reset() {
  states_ = initial_states_;
}

void Model::reset_metrics() {
  if (initial_states_.has("metrics_states") || states_.has("metrics_states"))
    states_ = states_.update("metrics_states", initial_states_.metrics_states());
}

}  // namespace elegy
