// TensorBoard (Elegy/Keras): real TensorBoard event files, one run folder for training
// (<logdir>/train) and one for validation (<logdir>/validation, with the "val_" prefix
// stripped so both runs share tags and plot on one chart). Scalars per epoch, and optionally
// every `update_freq` batches (tags prefixed "batch_", stepped by the global batch count).
#pragma once

#include <memory>
#include <string>

#include "elegy/model/callbacks/callback.hpp"

namespace elegy::io {
class SummaryWriter;
}

namespace elegy::callbacks {

struct TensorBoardOptions {
  // Write batch scalars every N training batches (0 = per epoch only).
  std::int64_t update_freq = 0;
};

class TensorBoard : public Callback {
 public:
  // logdir "" = "runs/<YYYY-mm-dd_HH-MM-SS>_<hostname>" (Elegy's default).
  explicit TensorBoard(std::string logdir = {}, TensorBoardOptions options = {});
  ~TensorBoard() override;
  TensorBoard(const TensorBoard&) = default;
  TensorBoard& operator=(const TensorBoard&) = default;

  void on_train_begin(Logs& logs) override;
  void on_train_batch_end(std::int64_t batch, Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  void on_train_end(Logs& logs) override;

  const std::string& logdir() const { return logdir_; }

 private:
  std::string logdir_;
  TensorBoardOptions options_;
  std::shared_ptr<io::SummaryWriter> train_, validation_;
  std::int64_t global_batch_ = 0;
};

}  // namespace elegy::callbacks
