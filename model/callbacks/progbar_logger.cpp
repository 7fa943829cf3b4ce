#include "elegy/model/callbacks/progbar_logger.hpp"

#include <cstdio>

namespace elegy::callbacks {

void ProgbarLogger::start() {
  bar_.emplace(params.steps.value_or(0), params.verbose);
  seen_ = 0;
}

void ProgbarLogger::on_train_begin(Logs&) {
  in_fit_ = true;
}
void ProgbarLogger::on_train_end(Logs&) {
  in_fit_ = false;
}

void ProgbarLogger::on_epoch_begin(int epoch, Logs&) {
  if (params.verbose > 0 && params.epochs > 1)
    std::printf("Epoch %d/%d\n", epoch + 1, params.epochs);
  start();
}

void ProgbarLogger::on_train_batch_end(std::int64_t batch, Logs& logs) {
  seen_ = batch + 1;
  if (bar_) bar_->update(seen_, logs);
}

void ProgbarLogger::on_epoch_end(int, Logs& logs) {
  if (bar_) bar_->finish(seen_, logs);
  bar_.reset();
}

// evaluate/predict called directly (fit validates with its own callbacks but no bar).
void ProgbarLogger::on_test_begin(Logs&) {
  if (!in_fit_) start();
}
void ProgbarLogger::on_test_batch_end(std::int64_t batch, Logs& logs) {
  if (in_fit_) return;
  seen_ = batch + 1;
  if (bar_) bar_->update(seen_, logs);
}
void ProgbarLogger::on_test_end(Logs& logs) {
  if (in_fit_) return;
  if (bar_) bar_->finish(seen_, logs);
  bar_.reset();
}
void ProgbarLogger::on_predict_begin(Logs&) {
  start();
}
void ProgbarLogger::on_predict_batch_end(std::int64_t batch, Logs&) {
  seen_ = batch + 1;
  if (bar_) bar_->update(seen_, {});
}
void ProgbarLogger::on_predict_end(Logs&) {
  if (bar_) bar_->finish(seen_, {});
  bar_.reset();
}

void HistoryCallback::on_train_begin(Logs&) {
  history = History{};
}

void HistoryCallback::on_epoch_end(int epoch, Logs& logs) {
  history.epoch.push_back(epoch);
  for (const auto& [k, v] : logs) history.history[k].push_back(v);
}

}  // namespace elegy::callbacks
