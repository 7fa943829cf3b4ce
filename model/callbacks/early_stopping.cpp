#include "elegy/model/callbacks/early_stopping.hpp"

#include <cmath>
#include <cstdio>
#include <limits>

#include "elegy/core/error.hpp"
#include "elegy/model/model.hpp"

namespace elegy::callbacks {

Mode resolve_mode(Mode mode, const std::string& monitor) {
  if (mode != Mode::auto_) return mode;
  for (const char* word : {"acc", "auc", "f1", "precision", "recall", "fmeasure"})
    if (monitor.find(word) != std::string::npos) return Mode::max;
  return Mode::min;
}

EarlyStopping::EarlyStopping(EarlyStoppingOptions options)
    : options_(std::move(options)), mode_(resolve_mode(options_.mode, options_.monitor)) {
  ELEGY_CHECK(options_.patience >= 0, "EarlyStopping", "patience must be >= 0, got ",
              options_.patience);
}

bool EarlyStopping::improved(double current, double reference) const {
  const double delta = std::abs(options_.min_delta);
  return mode_ == Mode::min ? current < reference - delta : current > reference + delta;
}

void EarlyStopping::on_train_begin(Logs&) {
  wait_ = 0;
  stopped_epoch = 0;
  best_epoch = 0;
  best = mode_ == Mode::min ? std::numeric_limits<double>::infinity()
                            : -std::numeric_limits<double>::infinity();
  if (options_.baseline) best = *options_.baseline;
  best_states_.reset();
}

void EarlyStopping::on_epoch_end(int epoch, Logs& logs) {
  const auto it = logs.find(options_.monitor);
  if (it == logs.end()) {
    std::string present;
    for (const auto& [k, v] : logs) present += (present.empty() ? "" : ", ") + k;
    std::fprintf(stderr,
                 "EarlyStopping: monitor '%s' is not in the logs (available: %s); skipping\n",
                 options_.monitor.c_str(), present.c_str());
    return;
  }
  const double current = double(it->second);
  // The first epoch's states are the fallback best, so restore always has something.
  if (options_.restore_best_weights && !best_states_ && model) best_states_ = model->states();
  ++wait_;
  if (std::isfinite(current) && improved(current, best)) {
    best = current;
    best_epoch = epoch;
    if (options_.restore_best_weights && model) best_states_ = model->states();
    // With a baseline, patience restarts only once the baseline is beaten (Keras).
    if (!options_.baseline || improved(current, *options_.baseline)) wait_ = 0;
  }
  if (wait_ >= options_.patience && epoch > 0) {
    stopped_epoch = epoch;
    if (model) model->stop_training = true;
  }
}

void EarlyStopping::on_train_end(Logs&) {
  if (stopped_epoch > 0 && options_.verbose > 0)
    std::printf("Epoch %05d: early stopping\n", stopped_epoch + 1);
  if (options_.restore_best_weights && best_states_ && model) {
    if (options_.verbose > 0)
      std::printf("Restoring model weights from the end of the best epoch: %d.\n", best_epoch + 1);
    model->set_states(*best_states_);
  }
}

}  // namespace elegy::callbacks
