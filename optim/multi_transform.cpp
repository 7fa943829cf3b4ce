// multi_transform: one optimizer per label (optax.multi_transform / optax.partition).
#include <memory>
#include <set>

#include "elegy/optim/detail.hpp"
#include "elegy/optim/wrappers.hpp"

namespace elegy::optim {

namespace {

constexpr const char* kOp = "multi_transform";

// The label of `path`: its own entry, or that of its longest prefix path.
std::string label_from_map(const LabelMap& labels, const std::string& path) {
  std::string prefix = path;
  for (;;) {
    if (auto it = labels.find(prefix); it != labels.end()) return it->second;
    const auto slash = prefix.rfind('/');
    if (slash == std::string::npos) break;
    prefix.resize(slash);
  }
  fail(kOp, "no label for the param '", path,
       "' (labels are given for the paths or their prefixes)");
}

// The label of every leaf, in leaf order.
std::vector<std::string> leaf_labels(const Labels& labels, const Tree& tree) {
  std::vector<std::string> out;
  for (const auto& [path, leaf] : tree.flatten_with_paths()) {
    if (const LabelMap* m = std::get_if<LabelMap>(&labels))
      out.push_back(label_from_map(*m, path));
    else
      out.push_back(std::get<LabelFn>(labels)(path, leaf));
  }
  return out;
}

// The mask of one label: `tree`'s structure with a true/false flag per leaf.
Tree label_mask(const Tree& tree, const std::vector<std::string>& labels,
                const std::string& label) {
  std::vector<Tensor> flags;
  for (const std::string& l : labels)
    flags.push_back(Tensor::from_vector(std::vector<std::uint8_t>{l == label}, Shape{}));
  return tree.unflatten(flags);
}

void check_labels(const std::map<std::string, GradientTransformation>& transforms,
                  const std::vector<std::string>& labels) {
  for (const std::string& l : std::set<std::string>(labels.begin(), labels.end())) {
    if (transforms.contains(l)) continue;
    std::string known;
    for (const auto& [k, t] : transforms) known += (known.empty() ? "" : ", ") + k;
    fail(kOp, "some params have the label '", l,
         "', which has no transformation (transforms: ", known, ")");
  }
}

}  // namespace

GradientTransformation multi_transform(std::map<std::string, GradientTransformation> transforms,
                                       Labels param_labels) {
  ELEGY_CHECK(!transforms.empty(), kOp, "no transforms given");
  if (const LabelFn* fn = std::get_if<LabelFn>(&param_labels))
    ELEGY_CHECK(static_cast<bool>(*fn), kOp, "the label function is empty");
  auto shared =
      std::make_shared<const std::map<std::string, GradientTransformation>>(std::move(transforms));
  // masked(transforms[label], mask of the label), built for a given tree's labels.
  auto masked_for = [shared](const std::string& label, const Tree& tree,
                             const std::vector<std::string>& labels) {
    return detail::masked_as(kOp, shared->at(label), label_mask(tree, labels, label));
  };
  return {[shared, param_labels, masked_for](const Tree& params) {
            const auto labels = leaf_labels(param_labels, params);
            check_labels(*shared, labels);
            Tree::Map states;
            for (const auto& [label, tx] : *shared)
              states.emplace(label, masked_for(label, params, labels).init(params));
            return Tree{{"inner_states", Tree::from_map(std::move(states))}};
          },
          [shared, param_labels, masked_for](const Tree& updates, const OptState& state,
                                             const Tree& params) {
            detail::check_state_keys(kOp, state, {"inner_states"});
            const Tree& inner = state["inner_states"];
            ELEGY_CHECK(inner.is_map() && inner.size() == shared->size(), kOp,
                        "the state's inner_states do not belong to these ", shared->size(),
                        " transforms (got ", inner, "); call init first");
            const auto labels = leaf_labels(param_labels, updates);
            check_labels(*shared, labels);
            Tree u = updates;
            Tree::Map states;
            for (const auto& [label, tx] : *shared) {
              ELEGY_CHECK(inner.contains(label), kOp,
                          "the state has no inner state for the label '", label,
                          "'; call init first");
              UpdateResult r = masked_for(label, updates, labels).update(u, inner[label], params);
              u = std::move(r.updates);
              states.emplace(label, std::move(r.state));
            }
            return UpdateResult{std::move(u),
                                Tree{{"inner_states", Tree::from_map(std::move(states))}}};
          }};
}

}  // namespace elegy::optim
