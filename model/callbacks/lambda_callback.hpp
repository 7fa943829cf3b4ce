// LambdaCallback (Keras): a callback from plain functions, for one-off hooks.
//   callbacks::LambdaCallback({.on_epoch_end = [](int e, Logs& l) { std::cout << l["loss"]; }})
#pragma once

#include <functional>

#include "elegy/model/callbacks/callback.hpp"

namespace elegy::callbacks {

struct LambdaCallbackOptions {
  std::function<void(int, Logs&)> on_epoch_begin{};
  std::function<void(int, Logs&)> on_epoch_end{};
  std::function<void(std::int64_t, Logs&)> on_train_batch_begin{};
  std::function<void(std::int64_t, Logs&)> on_train_batch_end{};
  std::function<void(Logs&)> on_train_begin{};
  std::function<void(Logs&)> on_train_end{};
};

class LambdaCallback : public Callback {
 public:
  explicit LambdaCallback(LambdaCallbackOptions fns) : fns_(std::move(fns)) {}
  void on_epoch_begin(int epoch, Logs& logs) override {
    if (fns_.on_epoch_begin) fns_.on_epoch_begin(epoch, logs);
  }
  void on_epoch_end(int epoch, Logs& logs) override {
    if (fns_.on_epoch_end) fns_.on_epoch_end(epoch, logs);
  }
  void on_train_batch_begin(std::int64_t batch, Logs& logs) override {
    if (fns_.on_train_batch_begin) fns_.on_train_batch_begin(batch, logs);
  }
  void on_train_batch_end(std::int64_t batch, Logs& logs) override {
    if (fns_.on_train_batch_end) fns_.on_train_batch_end(batch, logs);
  }
  void on_train_begin(Logs& logs) override {
    if (fns_.on_train_begin) fns_.on_train_begin(logs);
  }
  void on_train_end(Logs& logs) override {
    if (fns_.on_train_end) fns_.on_train_end(logs);
  }

 private:
  LambdaCallbackOptions fns_;
};

}  // namespace elegy::callbacks
