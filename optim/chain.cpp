#include <memory>

#include "elegy/optim/transform.hpp"

namespace elegy::optim {

GradientTransformation chain(std::vector<GradientTransformation> transforms) {
  auto shared = std::make_shared<const std::vector<GradientTransformation>>(std::move(transforms));
  GradientTransformation t;
  t.init = [shared](const Tree& params) {
    Tree::List states;
    for (const auto& tr : *shared) states.push_back(tr.init(params));
    return Tree::from_list(std::move(states));
  };
  t.update = [shared](const Tree& updates, const OptState& state, const Tree& params) {
    ELEGY_CHECK(state.is_list() && state.size() == shared->size(), "chain",
                "the optimizer state does not belong to this chain of ", shared->size(),
                " transforms (got ", state,
                "): call init first, then pass each update the state the previous one returned");
    Tree u = updates;
    Tree::List new_states;
    for (std::size_t i = 0; i < shared->size(); ++i) {
      UpdateResult r = (*shared)[i].update(u, state.elements()[i], params);
      u = std::move(r.updates);
      new_states.push_back(std::move(r.state));
    }
    return UpdateResult{std::move(u), Tree::from_list(std::move(new_states))};
  };
  return t;
}

}  // namespace elegy::optim
