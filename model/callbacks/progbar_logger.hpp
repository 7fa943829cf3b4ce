// ProgbarLogger and History: the two callbacks fit adds itself (Keras' defaults). ProgbarLogger
// draws the progress bar of fit and of a direct evaluate/predict; History records each epoch's
// logs, and is what fit returns.
#pragma once

#include <memory>
#include <optional>

#include "elegy/model/callbacks/callback.hpp"
#include "elegy/model/progbar.hpp"

namespace elegy::callbacks {

class ProgbarLogger : public Callback {
 public:
  void on_train_begin(Logs& logs) override;
  void on_train_end(Logs& logs) override;
  void on_epoch_begin(int epoch, Logs& logs) override;
  void on_train_batch_end(std::int64_t batch, Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  void on_test_begin(Logs& logs) override;
  void on_test_batch_end(std::int64_t batch, Logs& logs) override;
  void on_test_end(Logs& logs) override;
  void on_predict_begin(Logs& logs) override;
  void on_predict_batch_end(std::int64_t batch, Logs& logs) override;
  void on_predict_end(Logs& logs) override;

 private:
  void start();
  std::optional<ProgressBar> bar_;
  std::int64_t seen_ = 0;
  bool in_fit_ = false;  // fit's validation pass draws no bar of its own
};

class HistoryCallback : public Callback {
 public:
  void on_train_begin(Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  History history;
};

}  // namespace elegy::callbacks
