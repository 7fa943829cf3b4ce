// Model: Elegy's step hierarchy under Keras' high-level methods.
//
//   summary  predict   evaluate                       fit             init
//      |        |          |                           |               |
//   summary_step -> pred_step <- test_step <- grad_step <- train_step <- init_step
//
// A user overrides the steps they need (often only test_step, or only pred_step with a module
// later); fit/evaluate/predict call the call_*_step entry points, which run the steps and can be
// overridden on their own. Steps are pure: they take StepArgs (states included) and return new
// states; the model replaces its states only when a step succeeded, so an exception leaves
// model.states() exactly as it was.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "elegy/model/fit_options.hpp"
#include "elegy/model/states.hpp"
#include "elegy/model/steps.hpp"
#include "elegy/optim/transform.hpp"

namespace elegy {

// The model's own options (Elegy's Model(...) keywords, in Elegy's order; `module`, `loss` and
// `metrics` join them with the high-level API).
struct ModelOptions {
  std::optional<optim::GradientTransformation> optimizer;
  int seed = 42;
  // Elegy's flag: steps run eagerly op by op. elegy has no compiled step path yet, so this is
  // the only mode; the flag is kept so code written for Elegy reads the same.
  bool run_eagerly = false;
};

class Model {
 public:
  using Options = ModelOptions;

  explicit Model(Options options = {});
  virtual ~Model() = default;
  Model(const Model&) = default;
  Model& operator=(const Model&) = default;

  // ---- steps (override what you need) ----
  // The default fields: rng (seeded), net_params, net_states, metrics_states, optimizer_states.
  virtual States states_step();
  // states_step() defaults, then train_step with initializing = true; returns the new states.
  virtual States init_step(const StepArgs& args);
  // Needs a module (the high-level API); without one, raises an Error saying what to override.
  virtual PredStep pred_step(const StepArgs& args);
  // Needs a loss (the high-level API); without one, raises an Error saying what to override.
  virtual TestStep test_step(const StepArgs& args);
  // value_and_grad of test_step with respect to states.net_params.
  virtual GradStep grad_step(const StepArgs& args);
  // Initializing: test_step then the optimizer's init. Otherwise: grad_step, optimizer update,
  // apply_updates.
  virtual TrainStep train_step(const StepArgs& args);
  // pred_step on the given input with initializing = true; one entry for the inputs and a totals
  // entry with the parameter counts.
  virtual std::vector<SummaryTableEntry> summary_step(const StepArgs& args);
  // Elegy builds its jitted call_*_step functions here; elegy runs steps eagerly, so the
  // default does nothing. Kept as the hook where a compiled path will plug in.
  virtual void jit_step() {}

  // ---- entry points the high-level methods call (override one to change one method) ----
  virtual PredStep call_pred_step(const StepArgs& args);
  virtual TestStep call_test_step(const StepArgs& args);
  virtual TrainStep call_train_step(const StepArgs& args);
  virtual States call_init_step(const StepArgs& args);
  virtual std::vector<SummaryTableEntry> call_summary_step(const StepArgs& args);

  // ---- high-level methods ----
  void init(const InitOptions& options);
  void init_on_batch(const Tree& x, const Tree& y_true = {},
                     std::optional<Tensor> sample_weight = std::nullopt,
                     std::optional<Tensor> class_weight = std::nullopt);
  History fit(const FitOptions& options);
  Logs evaluate(const EvaluateOptions& options);
  Tree predict(const PredictOptions& options);
  Logs train_on_batch(const Tree& x, const Tree& y = {},
                      std::optional<Tensor> sample_weight = std::nullopt,
                      std::optional<Tensor> class_weight = std::nullopt);
  Logs test_on_batch(const Tree& x, const Tree& y = {},
                     std::optional<Tensor> sample_weight = std::nullopt,
                     std::optional<Tensor> class_weight = std::nullopt);
  Tree predict_on_batch(const Tree& x);
  // Back to the states right after init (parameters included).
  void reset();
  // Back to the initial metrics states (called at each epoch start and in evaluate).
  void reset_metrics();

  const States& states() const { return states_; }
  void set_states(States states) { states_ = std::move(states); }
  const States& initial_states() const { return initial_states_; }
  bool initialized() const { return initialized_; }
  const History& history() const { return history_; }
  const Options& options() const { return options_; }
  // Set by callbacks (or a step) to end fit after the current batch.
  bool stop_training = false;

 protected:
  Options options_;
  States states_;
  States initial_states_;
  bool initialized_ = false;
  History history_;
};

}  // namespace elegy
