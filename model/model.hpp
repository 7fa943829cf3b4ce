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
#include <set>
#include <string>
#include <vector>

#include "elegy/model/compiled_step.hpp"
#include "elegy/model/fit_options.hpp"
#include "elegy/model/losses/loss.hpp"
#include "elegy/model/losses/losses.hpp"
#include "elegy/model/metrics/metric.hpp"
#include "elegy/model/metrics/metrics.hpp"
#include "elegy/model/nn/module.hpp"
#include "elegy/model/states.hpp"
#include "elegy/model/steps.hpp"
#include "elegy/optim/transform.hpp"

namespace elegy {

// The model's own options (Elegy's Model(...) keywords, in Elegy's order):
//   Model model({.module = MLP(),
//                .loss = {losses::SparseCategoricalCrossentropy({.from_logits = true}),
//                         regularizers::GlobalL2(1e-5)},
//                .metrics = {metrics::SparseCategoricalAccuracy()},
//                .optimizer = optim::rmsprop(1e-3)});
struct ModelOptions {
  // Run by the default pred_step (initializing: creates net_params/net_states).
  nn::AnyModule module{};
  // Summed into the loss by the default test_step; each logged as "<name>_loss", the total as
  // "loss".
  std::vector<losses::Loss> loss{};
  // Updated by the default test_step (states in metrics_states, reset at each epoch).
  std::vector<metrics::Metric> metrics{};
  std::optional<optim::GradientTransformation> optimizer{};
  int seed = 42;
  // Where the steps run. Set (e.g. Device::cuda()), every batch fit/evaluate/predict and the
  // *_on_batch methods see is copied there first, so parameters, optimizer and metric states
  // are created and stay there; fit gathers the next batch on the host while a step runs on the
  // device. Unset, steps run where the data already is.
  std::optional<Device> device{};
  // train_on_batch and fit donate the model's states to the default train_step (as jax.jit's
  // donate_argnums): parameters and optimizer states are updated in place wherever nothing else
  // (a States copy a user keeps, initial_states, a callback's best weights) shares their buffers,
  // like a torch.optim step, which saves a third of the optimizer's memory traffic. A failing
  // step still leaves the states as they were, with one exception: an override of train_step
  // that fails after Model::train_step(args) has returned leaves the model with that step's new
  // params and optimizer states (the old buffers hold them now) and its other states as they
  // were. Such an override also finds the new values in args.states afterwards, and
  // model.states() is empty while a step runs. false: every step writes fresh buffers.
  bool donate_states = true;
  // Elegy's flag. false: train_on_batch and fit replay a recorded train step once two steps of a
  // batch signature have run the same way (model/compiled_step.hpp: no tape, allocation or host
  // work per op; states updated in place), test_on_batch / evaluate likewise once the train
  // step is compiled, and predict_on_batch / predict while the states stay in the buffers its
  // recording read; steps that cannot be replayed run eagerly, and compiled_step_status() says
  // why. As with jax.jit, an overridden step's host side effects happen only in eager steps. true:
  // every step runs op by op (as does the environment variable ELEGY_RUN_EAGERLY=1;
  // ELEGY_JIT_DEBUG=1 prints why a step stays eager).
  bool run_eagerly = false;
  // With a compiled step on a GPU: true launches each run of its kernels between host work as
  // one CUDA graph (core/stream_graph.hpp; what torch.compile's "reduce-overhead" mode does), so
  // a replayed step costs the host a few launches instead of one per kernel; the same kernels
  // run in the same order, so results are bit for bit those of the kernel-by-kernel replay.
  // compiled_step_status() reports the graphs and why a run is not one. Off by default until it
  // has been measured on a GPU; the environment variable ELEGY_CUDA_GRAPHS=1 (or 0) overrides it.
  bool cuda_graphs = false;
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
  // Runs options.module (initializing: creating its parameters) in an nn::Context over the
  // states; without a module, raises an Error saying what to override.
  virtual PredStep pred_step(const StepArgs& args);
  // pred_step, then options.loss (plus the modules' aux losses) and options.metrics. Logs: "loss"
  // (the total), one "<name>_loss" per loss and the metrics, all running means over the epoch
  // (their states live in metrics_states). Without a loss, raises an Error saying what to
  // override.
  virtual TestStep test_step(const StepArgs& args);
  // value_and_grad of test_step with respect to states.net_params.
  virtual GradStep grad_step(const StepArgs& args);
  // Initializing: test_step then the optimizer's init. Otherwise: grad_step, optimizer update,
  // apply_updates (in place when the states were donated: ModelOptions::donate_states).
  virtual TrainStep train_step(const StepArgs& args);
  // pred_step on the given input with initializing = true: an "Inputs" entry, one entry per
  // module call (path, type, output, the parameters it owns), and a "Total" entry.
  virtual std::vector<SummaryTableEntry> summary_step(const StepArgs& args);
  // Elegy builds its jitted call_*_step functions here. elegy compiles the train step by
  // recording it (run_eagerly), which needs no set-up, so the default does nothing.
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

  // Elegy's summary table for input x (a batch, e.g. x_train.slice(0, 64)): one row per module
  // up to `depth` path components, output shapes, parameter counts and sizes, totals. Printed to
  // stdout unless print is false; returned either way.
  std::string summary(const Tree& x, int depth = 2, bool print = true);
  // Writes everything needed to resume: the states (parameters, non-trainable states, optimizer
  // and metric states, rng) as a safetensors file at `path` with its JSON manifest beside it
  // (the epochs done included). Atomic: a crash mid-save keeps the previous checkpoint.
  void save(const std::string& path) const;
  // Reads a checkpoint written by save. An Error (and the model unchanged) when the file is
  // corrupt or its structure differs from this model's; an uninitialized model takes the file's
  // states as they are.
  void load(const std::string& path);
  // The learning rate the optimizer reports (inject_hyperparams), which fit logs as "lr".
  std::optional<double> current_learning_rate() const;
  // Epochs completed by fit (restored by load, so fit({.initial_epoch = epochs_done()})
  // resumes).
  int epochs_done() const { return epochs_done_; }

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
  // Whether train_on_batch replays a recorded step, how often it did, and why not when not.
  CompiledStepStatus compiled_step_status() const;
  // Set by callbacks (or a step) to end fit after the current batch.
  bool stop_training = false;

 protected:
  // fit over the batches of options.loader.
  History fit_from_loader(const FitOptions& options);
  // evaluate's loop over the data, reporting to `cbs` (fit validates through its own list).
  Logs evaluate_loop(const EvaluateOptions& options, callbacks::CallbackList& cbs);

  Options options_;
  States states_;
  States initial_states_;
  bool initialized_ = false;
  History history_;
  int epochs_done_ = 0;
  // Logs that the steps report already as running means over the epoch (the default
  // test_step's losses and metrics): fit and evaluate show their latest value instead of
  // averaging them again, as Keras treats stateful metrics.
  std::set<std::string> running_log_names_;
  // `t` on options_.device (unchanged when no device is set or it is there already).
  Tree on_model_device(const Tree& t) const;
  std::optional<Tensor> on_model_device(const std::optional<Tensor>& t) const;
  // The StepArgs of a batch: its tensors on the model's device, the current states.
  StepArgs batch_args(const Tree& x, const Tree& y, const std::optional<Tensor>& sample_weight,
                      const std::optional<Tensor>& class_weight, bool initializing,
                      bool training) const;

  // The args train_on_batch gave the running step when it donated the model's states to it
  // (else null): the default train_step may then take their params and optimizer states over
  // (`taken`). A copy of the model (made inside a step) does not inherit it.
  struct Donation {
    StepArgs* args = nullptr;
    bool taken = false;
    Donation() = default;
    Donation(const Donation&) {}
    Donation& operator=(const Donation&) { return *this; }
  };
  Donation donation_;
  // train_step's optimizer update over the donor's states; nullopt when the step's states no
  // longer hold the donor's buffers (a test_step that returned other params), so that a failure
  // could not restore them exactly.
  std::optional<TrainStep> donated_update(GradStep& g);

  // train_on_batch's step run op by op (recorded when `compile` and it is time to).
  Logs run_train_step(const Tree& x, const Tree& y, const std::optional<Tensor>& sample_weight,
                      const std::optional<Tensor>& class_weight, bool compile);
  // The compiled train step (compiled_step.hpp).
  compiled::CompiledStepsHolder compiled_;
  bool compiled_step_enabled() const;
  bool cuda_graphs_enabled() const;
  // The logs of a replayed step, or nullopt: run it eagerly.
  std::optional<Logs> replay_step(compiled::RecordedStep compiled::CompiledSteps::*which,
                                  const char* step, const Tree& x, const Tree& y,
                                  const std::optional<Tensor>& sample_weight,
                                  const std::optional<Tensor>& class_weight);
  std::optional<Logs> replay_train_step(const Tree& x, const Tree& y,
                                        const std::optional<Tensor>& sample_weight,
                                        const std::optional<Tensor>& class_weight);
  std::optional<Logs> replay_test_step(const Tree& x, const Tree& y,
                                       const std::optional<Tensor>& sample_weight,
                                       const std::optional<Tensor>& class_weight);
  // Gives `a` private copies of its batch and states and starts recording (null: not now).
  std::unique_ptr<autodiff::StepRecording> begin_train_recording(StepArgs& a);
  // Moves the step's new states into the buffers it read (recorded too), stops recording, and
  // compares it with the previous recording or keeps it for the next.
  void finish_train_recording(std::unique_ptr<autodiff::StepRecording> recording, const StepArgs& a,
                              TrainStep& r, const std::optional<RngSeq>& rng);
  // The same for test_on_batch, once the train step is compiled: over its state buffers.
  std::unique_ptr<autodiff::StepRecording> begin_test_recording(StepArgs& a);
  void finish_test_recording(std::unique_ptr<autodiff::StepRecording> recording, const StepArgs& a,
                             TestStep& r, const std::optional<RngSeq>& rng);
  // predict_on_batch's compiled pred step (model/compiled_predict.cpp): the outputs of a
  // replay (copies of them), or nullopt: run it eagerly.
  std::optional<Tree> replay_predict_step(const Tree& x);
  // Gives `a` a private copy of its batch and starts recording over the states' buffers as they
  // are (null: not now).
  std::unique_ptr<autodiff::StepRecording> begin_predict_recording(StepArgs& a);
  // Stops recording and moves the plan on; `r.y_pred` becomes copies the next replay leaves alone.
  void finish_predict_recording(std::unique_ptr<autodiff::StepRecording> recording,
                                const StepArgs& a, PredStep& r);
  // Counts the references a replay expects to find on the states (after a new plan's step).
  void settle_compiled_step();
  // Makes states_ the plan's slots (copying in the leaves that are not); false when somebody
  // else holds a slot or the states changed structure.
  bool bind_states(compiled::CompiledSteps& c);

  // options_.loss and options_.metrics as the collections the default test_step runs.
  losses::Losses losses_;
  metrics::Metrics metrics_;
};

}  // namespace elegy
