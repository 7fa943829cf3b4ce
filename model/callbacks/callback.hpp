// Callbacks with Keras' hooks. fit/evaluate/predict call every hook of every callback in order;
// hooks receive the logs so far and may add to them (the learning rate, say), and reach the
// model through `model` (stop training by setting model->stop_training).
//
//   auto early = std::make_shared<callbacks::EarlyStopping>(callbacks::EarlyStoppingOptions{
//       .monitor = "val_loss", .patience = 3, .restore_best_weights = true});
//   model.fit({..., .callbacks = {early, callbacks::CSVLogger("train.csv")}});
//   early->stopped_epoch;   // a shared_ptr keeps access after fit; a value is copied in
#pragma once

#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "elegy/model/steps.hpp"

namespace elegy {
class Model;
}

namespace elegy::callbacks {

// What the running method tells its callbacks (Keras' callback.params).
struct Params {
  int verbose = 1;
  int epochs = 1;
  std::optional<std::int64_t> steps{};  // batches per epoch (or per evaluate/predict run)
};

class Callback {
 public:
  virtual ~Callback() = default;

  virtual void on_train_begin(Logs&) {}
  virtual void on_train_end(Logs&) {}
  virtual void on_epoch_begin(int /*epoch*/, Logs&) {}
  virtual void on_epoch_end(int /*epoch*/, Logs&) {}
  virtual void on_train_batch_begin(std::int64_t /*batch*/, Logs&) {}
  virtual void on_train_batch_end(std::int64_t /*batch*/, Logs&) {}
  virtual void on_test_begin(Logs&) {}
  virtual void on_test_end(Logs&) {}
  virtual void on_test_batch_begin(std::int64_t /*batch*/, Logs&) {}
  virtual void on_test_batch_end(std::int64_t /*batch*/, Logs&) {}
  virtual void on_predict_begin(Logs&) {}
  virtual void on_predict_end(Logs&) {}
  virtual void on_predict_batch_begin(std::int64_t /*batch*/, Logs&) {}
  virtual void on_predict_batch_end(std::int64_t /*batch*/, Logs&) {}

  Model* model = nullptr;  // set by the running method for the duration of the call
  Params params{};
};

// A callback held by the method options: a shared_ptr the caller keeps, or a value copied in.
class AnyCallback {
 public:
  template <class C>
  requires std::derived_from<C, Callback> AnyCallback(std::shared_ptr<C> callback)
      : ptr_(std::move(callback)) {}  // NOLINT: implicit
  template <class C>
  requires std::derived_from<std::decay_t<C>, Callback> AnyCallback(
      C&& callback)  // NOLINT: implicit
      : ptr_(std::make_shared<std::decay_t<C>>(std::forward<C>(callback))) {}

  Callback& operator*() const { return *ptr_; }
  Callback* operator->() const { return ptr_.get(); }
  const std::shared_ptr<Callback>& get() const { return ptr_; }

 private:
  std::shared_ptr<Callback> ptr_;
};

using CallbackVector = std::vector<AnyCallback>;

// Dispatches each hook to every callback, in order.
class CallbackList {
 public:
  CallbackList(const CallbackVector& callbacks, Model* model, Params params);

  void on_train_begin(Logs& logs);
  void on_train_end(Logs& logs);
  void on_epoch_begin(int epoch, Logs& logs);
  void on_epoch_end(int epoch, Logs& logs);
  void on_train_batch_begin(std::int64_t batch, Logs& logs);
  void on_train_batch_end(std::int64_t batch, Logs& logs);
  void on_test_begin(Logs& logs);
  void on_test_end(Logs& logs);
  void on_test_batch_begin(std::int64_t batch, Logs& logs);
  void on_test_batch_end(std::int64_t batch, Logs& logs);
  void on_predict_begin(Logs& logs);
  void on_predict_end(Logs& logs);
  void on_predict_batch_begin(std::int64_t batch, Logs& logs);
  void on_predict_batch_end(std::int64_t batch, Logs& logs);

 private:
  std::vector<std::shared_ptr<Callback>> callbacks_;
};

}  // namespace elegy::callbacks
