#include "elegy/model/callbacks/callback.hpp"

namespace elegy::callbacks {

CallbackList::CallbackList(const CallbackVector& callbacks, Model* model, Params params) {
  for (const AnyCallback& c : callbacks) {
    c->model = model;
    c->params = params;
    callbacks_.push_back(c.get());
  }
}

#define ELEGY_DISPATCH(hook, ...) \
  for (const auto& c : callbacks_) c->hook(__VA_ARGS__);

void CallbackList::on_train_begin(Logs& logs) {
  ELEGY_DISPATCH(on_train_begin, logs)
}
void CallbackList::on_train_end(Logs& logs) {
  ELEGY_DISPATCH(on_train_end, logs)
}
void CallbackList::on_epoch_begin(int epoch, Logs& logs) {
  ELEGY_DISPATCH(on_epoch_begin, epoch, logs)
}
void CallbackList::on_epoch_end(int epoch, Logs& logs) {
  ELEGY_DISPATCH(on_epoch_end, epoch, logs)
}
void CallbackList::on_train_batch_begin(std::int64_t batch, Logs& logs) {
  ELEGY_DISPATCH(on_train_batch_begin, batch, logs)
}
void CallbackList::on_train_batch_end(std::int64_t batch, Logs& logs) {
  ELEGY_DISPATCH(on_train_batch_end, batch, logs)
}
void CallbackList::on_test_begin(Logs& logs) {
  ELEGY_DISPATCH(on_test_begin, logs)
}
void CallbackList::on_test_end(Logs& logs) {
  ELEGY_DISPATCH(on_test_end, logs)
}
void CallbackList::on_test_batch_begin(std::int64_t batch, Logs& logs) {
  ELEGY_DISPATCH(on_test_batch_begin, batch, logs)
}
void CallbackList::on_test_batch_end(std::int64_t batch, Logs& logs) {
  ELEGY_DISPATCH(on_test_batch_end, batch, logs)
}
void CallbackList::on_predict_begin(Logs& logs) {
  ELEGY_DISPATCH(on_predict_begin, logs)
}
void CallbackList::on_predict_end(Logs& logs) {
  ELEGY_DISPATCH(on_predict_end, logs)
}
void CallbackList::on_predict_batch_begin(std::int64_t batch, Logs& logs) {
  ELEGY_DISPATCH(on_predict_batch_begin, batch, logs)
}
void CallbackList::on_predict_batch_end(std::int64_t batch, Logs& logs) {
  ELEGY_DISPATCH(on_predict_batch_end, batch, logs)
}

#undef ELEGY_DISPATCH

}  // namespace elegy::callbacks
