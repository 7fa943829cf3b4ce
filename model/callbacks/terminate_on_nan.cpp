#include "elegy/model/callbacks/terminate_on_nan.hpp"

#include <cmath>
#include <cstdio>

#include "elegy/model/model.hpp"

namespace elegy::callbacks {

void TerminateOnNaN::on_train_batch_end(std::int64_t batch, Logs& logs) {
  const auto it = logs.find("loss");
  if (it == logs.end() || std::isfinite(it->second)) return;
  std::printf("Batch %lld: Invalid loss, terminating training\n", (long long)batch);
  terminated_at_batch = batch;
  if (model) model->stop_training = true;
}

}  // namespace elegy::callbacks
