#include "elegy/model/losses/losses.hpp"

#include <set>

#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_shape.hpp"
#include "elegy/core/error.hpp"

namespace elegy::losses {

std::string loss_log_name(const std::string& name) {
  if (name.size() >= 4 && name.compare(name.size() - 4, 4, "loss") == 0) return name;
  return name + "_loss";
}

Losses::Losses(std::vector<Loss> losses) : losses_(std::move(losses)) {
  std::set<std::string> taken{"loss"};
  for (const Loss& l : losses_) {
    const std::string base = loss_log_name(l.name());
    std::string name = base;
    for (int i = 1; taken.count(name); ++i) name = base + "_" + std::to_string(i);
    taken.insert(name);
    names_.push_back(name);
  }
}

LossValues Losses::operator()(const LossArgs& args,
                              const std::map<std::string, Tensor>& aux_losses) const {
  LossValues v;
  for (std::size_t i = 0; i < losses_.size(); ++i) {
    const Tensor value = losses_[i](args);
    ELEGY_CHECK(value.numel() == 1, losses_[i].name().c_str(),
                "the Model sums losses into one scalar, but this loss gives ", describe(value),
                " (Reduction::none is for calling the loss directly)");
    const Tensor s = reshape(value, Shape{});
    v.logs[names_[i]] = s;
    v.total = v.total.defined() ? v.total + s : s;
  }
  for (const auto& [name, value] : aux_losses) {
    const std::string key = loss_log_name(name);
    const Tensor s = reshape(value, Shape{});
    auto [it, inserted] = v.logs.try_emplace(key, s);
    if (!inserted) it->second = it->second + s;
    v.total = v.total.defined() ? v.total + s : s;
  }
  if (!v.total.defined()) v.total = scalar(0.0);
  v.logs["loss"] = v.total;
  return v;
}

}  // namespace elegy::losses
