// Model's checkpoints (save/load through model/io's safetensors + manifest) and what it reads
// from the optimizer state (the learning rate fit logs).
#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/core/error.hpp"
#include "elegy/model/io/checkpoint.hpp"
#include "elegy/model/model.hpp"
#include "elegy/optim/wrappers.hpp"

namespace elegy {

std::optional<double> Model::current_learning_rate() const {
  if (!states_.has("optimizer_states")) return std::nullopt;
  return optim::current_learning_rate(states_.optimizer_states());
}

void Model::save(const std::string& path) const {
  ELEGY_CHECK(initialized_, "save", "the model is not initialized: nothing to save to '", path,
              "' (call init, fit or evaluate first)");
  io::save_states(path, states_, epochs_done_);
}

void Model::load(const std::string& path) {
  // Everything is read and checked before the model changes.
  io::Checkpoint c = io::load_states(path, initialized_ ? &states_ : nullptr);
  if (!initialized_) {
    // Resetting metrics goes back to zeros, not to the counts saved mid-training.
    initial_states_ = c.states.update(
        "metrics_states",
        c.states.metrics_states().map([](const Tensor& t) { return zeros_like(t); }));
    initialized_ = true;
  }
  states_ = std::move(c.states);
  epochs_done_ = c.epoch;
}

}  // namespace elegy
