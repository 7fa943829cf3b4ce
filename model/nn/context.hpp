// Context: what a module reads and writes while it runs (Haiku's frame, Elegy's hooks, made an
// explicit argument). Parameters and states are created or fetched by name under the path of
// the running module ("mlp/linear/w"); modules draw random keys, read the training and
// initializing flags, add auxiliary losses and metrics, and leave one summary row each.
//
//   nn::Context ctx = nn::Context::for_step(args);    // inside a custom pred_step/test_step
//   Tensor y = MyNet()(ctx, x);
//   return ctx.pred_step(y, args.states);             // new params, states, rng and aux logs
//
// Initializing, ctx.param() creates each parameter with its initializer (keys from the model's
// random sequence); otherwise it looks the parameter up and checks its shape, so a model fed
// inputs of another size fails with the module's path and both shapes rather than a GEMM error.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "elegy/core/tree.hpp"
#include "elegy/model/initializers.hpp"
#include "elegy/model/states.hpp"
#include "elegy/model/steps.hpp"

namespace elegy::nn {

struct ContextOptions {
  bool initializing = false;
  bool training = true;
  Device device = Device::cpu();  // where initializers create parameters
};

class Context {
 public:
  // `params`/`states`: the net_params/net_states trees to read (None when initializing).
  Context(Tree params, Tree states, std::optional<RngSeq> rng, ContextOptions options = {});
  // A context over a step's states and flags (net_params, net_states, rng, initializing,
  // training); new parameters go to the device of the inputs (the first leaf of args.x).
  static Context for_step(const StepArgs& args);

  bool initializing() const { return options_.initializing; }
  bool training() const { return options_.training; }
  Device device() const { return options_.device; }

  // A trainable parameter of the running module (net_params/<path>/<name>).
  Tensor param(std::string_view name, const Shape& shape, const initializers::Initializer& init,
               DType dtype = DType::f32);
  // A non-trainable state of the running module (net_states/<path>/<name>): BatchNorm's moving
  // averages, counters.
  Tensor state(std::string_view name, const Shape& shape, const initializers::Initializer& init,
               DType dtype = DType::f32);
  // Replaces a state created with state(). Ignored while initializing (as Elegy does), so
  // building a model does not count as a training step.
  void set_state(std::string_view name, const Tensor& value);

  // A fresh key from the model's random sequence (dropout masks, initializers).
  Key next_key();

  // An auxiliary loss, added to the total loss and logged as "<name>_loss" (Elegy's add_loss).
  void add_loss(std::string_view name, const Tensor& value);
  // An auxiliary metric, logged under `name` as a running mean over the epoch.
  void add_metric(std::string_view name, const Tensor& value);

  // ---- results ----
  const Tree& params() const { return params_; }
  const Tree& states() const { return states_; }
  const std::optional<RngSeq>& rng() const { return rng_; }
  const StepLogs& losses() const { return losses_; }
  const StepLogs& metrics() const { return metrics_; }
  const std::vector<SummaryTableEntry>& summaries() const { return summaries_; }
  // `states` with net_params, net_states and the rng replaced by this context's, and the aux
  // losses, metrics and summaries attached: what a pred_step returns.
  PredStep pred_step(Tree y_pred, const States& states) const;

  // ---- scopes (used by Module) ----
  // Enters a child scope named `base` made unique among its siblings in this call ("linear",
  // "linear_1", ...); the scope ends when the returned guard is destroyed.
  class [[nodiscard]] Scope {
   public:
    explicit Scope(Context* ctx) : ctx_(ctx) {}
    Scope(Scope&& other) noexcept : ctx_(std::exchange(other.ctx_, nullptr)) {}
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    Scope& operator=(Scope&&) = delete;
    ~Scope() {
      if (ctx_) ctx_->exit_scope();
    }

   private:
    Context* ctx_;
  };
  Scope enter_scope(std::string_view base, std::string type_name);
  // "mlp/linear" for the running module; "" at the root.
  const std::string& path() const { return frames_.back().path; }
  // Records a summary row for the running module (Module does this after each call).
  void add_summary(std::string type_name, Tree output);
  // A row for a parameterless function applied inside the running module ("relu"); functions
  // get no scope, so two relu calls show as two "relu" rows, as in Elegy.
  void add_function_summary(std::string_view name, Tree output);

 private:
  struct Frame {
    std::string path;
    std::string type_name;  // of the module running in this scope, for error messages
    std::map<std::string, int, std::less<>> child_counts;
  };
  Tensor get_or_create(Tree& tree, const char* kind, std::string_view name, const Shape& shape,
                       const initializers::Initializer& init, DType dtype);
  std::string full_path(std::string_view name) const;
  void exit_scope() { frames_.pop_back(); }

  Tree params_;
  Tree states_;
  std::optional<RngSeq> rng_;
  ContextOptions options_;
  std::vector<Frame> frames_;
  StepLogs losses_;
  StepLogs metrics_;
  std::vector<SummaryTableEntry> summaries_;
};

}  // namespace elegy::nn
