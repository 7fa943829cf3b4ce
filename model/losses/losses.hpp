// Losses: the list of losses the default test_step sums (Elegy's Losses). Each is logged under
// "<name>_loss" (the name itself when it already ends in "loss"; repeated names get "_1",
// "_2"), the modules' aux losses (ctx.add_loss) join the sum, and "loss" is the total.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "elegy/model/losses/crossentropy.hpp"
#include "elegy/model/losses/loss.hpp"
#include "elegy/model/losses/regression.hpp"
#include "elegy/model/regularizers.hpp"

namespace elegy::losses {

struct LossValues {
  Tensor total;                        // differentiable scalar
  std::map<std::string, Tensor> logs;  // "loss" and one entry per loss and aux loss
};

class Losses {
 public:
  Losses() = default;
  Losses(std::vector<Loss> losses);  // NOLINT: implicit, from ModelOptions::loss

  bool empty() const { return losses_.empty(); }
  // The log name of each loss, in order.
  const std::vector<std::string>& log_names() const { return names_; }

  LossValues operator()(const LossArgs& args,
                        const std::map<std::string, Tensor>& aux_losses = {}) const;

 private:
  std::vector<Loss> losses_;
  std::vector<std::string> names_;
};

// "<name>_loss" unless `name` already ends with "loss".
std::string loss_log_name(const std::string& name);

}  // namespace elegy::losses
