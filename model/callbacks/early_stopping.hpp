// EarlyStopping (Keras): stop fit when `monitor` has not improved by more than min_delta for
// `patience` epochs; optionally put back the weights of the best epoch (the whole States, so
// optimizer and BatchNorm statistics match the weights).
#pragma once

#include <optional>
#include <string>

#include "elegy/model/callbacks/callback.hpp"
#include "elegy/model/states.hpp"

namespace elegy::callbacks {

enum class Mode { auto_, min, max };

// min for losses and errors, max for accuracies and similar ("acc", "accuracy", "auc", "f1",
// "precision", "recall" in the name), as Keras decides for mode "auto".
Mode resolve_mode(Mode mode, const std::string& monitor);

struct EarlyStoppingOptions {
  std::string monitor = "val_loss";
  double min_delta = 0.0;
  int patience = 0;
  int verbose = 0;
  Mode mode = Mode::auto_;
  std::optional<double> baseline{};  // stop unless the monitor beats it within patience epochs
  bool restore_best_weights = false;
};

class EarlyStopping : public Callback {
 public:
  explicit EarlyStopping(EarlyStoppingOptions options = {});
  void on_train_begin(Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  void on_train_end(Logs& logs) override;

  int stopped_epoch = 0;  // 0 when fit ran to the end
  int best_epoch = 0;
  double best = 0.0;

 private:
  bool improved(double current, double reference) const;
  EarlyStoppingOptions options_;
  Mode mode_;
  int wait_ = 0;
  std::optional<States> best_states_;
};

}  // namespace elegy::callbacks
