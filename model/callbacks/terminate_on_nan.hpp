// TerminateOnNaN (Keras): stops fit after the batch whose loss is NaN or infinite. (Elegy 0.7.4
// never dispatched the hook it used; here batch hooks always run.)
#pragma once

#include "elegy/model/callbacks/callback.hpp"

namespace elegy::callbacks {

class TerminateOnNaN : public Callback {
 public:
  void on_train_batch_end(std::int64_t batch, Logs& logs) override;
  std::optional<std::int64_t> terminated_at_batch{};
};

}  // namespace elegy::callbacks
