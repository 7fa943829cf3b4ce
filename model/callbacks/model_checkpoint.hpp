// ModelCheckpoint (Keras): saves the model (Model::save: states as safetensors + manifest) at
// the end of each epoch or every `save_freq` batches, to a path formatted from the epoch and
// the logs: "ckpt/epoch{epoch:02d}-{val_loss:.4f}". With save_best_only, only when `monitor`
// improved.
#pragma once

#include <optional>
#include <string>

#include "elegy/model/callbacks/callback.hpp"
#include "elegy/model/callbacks/early_stopping.hpp"

namespace elegy::callbacks {

struct ModelCheckpointOptions {
  std::string monitor = "val_loss";
  int verbose = 0;
  bool save_best_only = false;
  Mode mode = Mode::auto_;
  // Save every N training batches instead of at each epoch end (0 = at each epoch end).
  std::int64_t save_freq = 0;
};

class ModelCheckpoint : public Callback {
 public:
  explicit ModelCheckpoint(std::string filepath, ModelCheckpointOptions options = {});
  void on_train_begin(Logs& logs) override;
  void on_train_batch_end(std::int64_t batch, Logs& logs) override;
  void on_epoch_begin(int epoch, Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;

  std::optional<double> best{};
  std::string last_saved{};  // path of the last checkpoint written

 private:
  void save(int epoch, const Logs& logs);
  std::string filepath_;
  ModelCheckpointOptions options_;
  Mode mode_;
  int epoch_ = 0;
  std::int64_t batches_seen_ = 0;
};

// Python-style "{name}" / "{name:spec}" fields (spec: [0][width][.precision](d|f|e|g)) filled
// from `values`; Error naming the field when a name is unknown.
std::string format_path(const std::string& pattern, const Logs& values);

}  // namespace elegy::callbacks
